//! Condition operators and how one condition is decided against a request context.
//!
//! Sources: reference_policies_elements_condition_operators.html and
//! reference_policies_multi-value-conditions.html. The rules implemented here:
//!
//! 1. A key missing from the context makes a condition false, except that negated operators
//!    (`StringNotEquals`, `ArnNotLike`, `NotIpAddress`, ...) are then true, `...IfExists` makes
//!    any operator true, and `Null` tests for exactly that.
//! 2. Several values for one key are ORed; a negated operator is true only when the request
//!    value matches none of them.
//! 3. `ForAllValues:` is true when every request value matches (and when the key is missing or
//!    empty); `ForAnyValue:` when at least one does (and false when missing or empty).
//! 4. Variables may appear in string and ARN values only.

use std::net::IpAddr;

use base64::Engine as _;

use super::context::Context;
use super::pattern::{ArnGlob, Glob};
use super::variables::Template;

/// The operator families AWS documents, in their positive form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    ArnLike,
    Null,
}

/// A parsed operator name such as `ForAnyValue:StringNotLikeIfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operator {
    pub family: Family,
    pub negated: bool,
    pub if_exists: bool,
    pub set: SetQualifier,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetQualifier {
    Single,
    ForAllValues,
    ForAnyValue,
}

/// Every base operator name, with its family and whether it is the negated form.
const OPERATORS: &[(&str, Family, bool)] = &[
    ("StringEquals", Family::StringEquals, false),
    ("StringNotEquals", Family::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Family::StringLike, false),
    ("StringNotLike", Family::StringLike, true),
    ("NumericEquals", Family::NumericEquals, false),
    ("NumericNotEquals", Family::NumericEquals, true),
    ("NumericLessThan", Family::NumericLessThan, false),
    (
        "NumericLessThanEquals",
        Family::NumericLessThanEquals,
        false,
    ),
    ("NumericGreaterThan", Family::NumericGreaterThan, false),
    (
        "NumericGreaterThanEquals",
        Family::NumericGreaterThanEquals,
        false,
    ),
    ("DateEquals", Family::DateEquals, false),
    ("DateNotEquals", Family::DateEquals, true),
    ("DateLessThan", Family::DateLessThan, false),
    ("DateLessThanEquals", Family::DateLessThanEquals, false),
    ("DateGreaterThan", Family::DateGreaterThan, false),
    (
        "DateGreaterThanEquals",
        Family::DateGreaterThanEquals,
        false,
    ),
    ("Bool", Family::Bool, false),
    ("BinaryEquals", Family::BinaryEquals, false),
    ("IpAddress", Family::IpAddress, false),
    ("NotIpAddress", Family::IpAddress, true),
    ("ArnEquals", Family::ArnLike, false),
    ("ArnLike", Family::ArnLike, false),
    ("ArnNotEquals", Family::ArnLike, true),
    ("ArnNotLike", Family::ArnLike, true),
    ("Null", Family::Null, false),
];

impl Operator {
    /// Parses an operator name. Operator names are case-sensitive in AWS.
    pub fn parse(name: &str) -> Result<Operator, String> {
        let (set, rest) = if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, rest)
        } else if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, rest)
        } else {
            (SetQualifier::Single, name)
        };

        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let Some(&(_, family, negated)) = OPERATORS.iter().find(|(known, ..)| *known == base)
        else {
            return Err(format!("unknown condition operator `{name}`"));
        };
        if family == Family::Null && (if_exists || set != SetQualifier::Single) {
            return Err(format!(
                "`Null` takes no `IfExists` suffix or set qualifier, found `{name}`"
            ));
        }
        Ok(Operator {
            family,
            negated,
            if_exists,
            set,
        })
    }

    /// Whether policy values of this operator may hold `${...}` variables.
    pub fn allows_variables(&self) -> bool {
        matches!(
            self.family,
            Family::StringEquals
                | Family::StringEqualsIgnoreCase
                | Family::StringLike
                | Family::ArnLike
        )
    }
}

/// A policy value compiled for its operator.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyValue {
    /// A string or ARN value that uses variables: compiled per request.
    Template(Template),
    Text(String),
    /// Lowercased, for `StringEqualsIgnoreCase`.
    Folded(String),
    Glob(Glob),
    Arn(ArnGlob),
    Number(f64),
    /// Milliseconds since the epoch.
    Date(i64),
    Bool(bool),
    Binary(Vec<u8>),
    Network(Network),
}

/// An IPv4 or IPv6 network in CIDR form; a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Option<Network> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (
                address.parse::<IpAddr>().ok()?,
                Some(prefix.parse::<u8>().ok()?),
            ),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(width);
        (prefix <= width).then_some(Network { address, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.address, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// One key under one operator, with its values: the unit AWS ANDs together.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub operator: Operator,
    /// The operator name as written, for explanations.
    pub operator_name: String,
    /// Lowercased: condition key names are case-insensitive.
    pub key: String,
    pub values: Vec<PolicyValue>,
}

impl Condition {
    /// Compiles the policy values of a condition. `texts` are the values as written.
    pub fn compile(
        operator_name: &str,
        operator: Operator,
        key: &str,
        texts: &[String],
        variables: bool,
    ) -> Result<Condition, String> {
        let values = texts
            .iter()
            .map(|text| compile_value(operator, text, variables))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Condition {
            operator,
            operator_name: operator_name.to_owned(),
            key: key.to_ascii_lowercase(),
            values,
        })
    }

    /// Decides this condition for a request.
    pub fn is_satisfied(&self, context: &Context) -> bool {
        let operator = self.operator;
        let request_values = context
            .get_lowercase(&self.key)
            .map(|value| value.as_slice())
            .unwrap_or(&[]);

        // Rule 1: `Null` asks whether the key is absent.
        if operator.family == Family::Null {
            let wants_absent = matches!(self.values.first(), Some(PolicyValue::Bool(true)));
            return request_values.is_empty() == wants_absent;
        }

        // Rules 1 and 3: a missing or empty key.
        if request_values.is_empty() {
            return match operator.set {
                SetQualifier::ForAllValues => true,
                _ if operator.if_exists => true,
                SetQualifier::ForAnyValue => false,
                SetQualifier::Single => operator.negated,
            };
        }

        // Rule 2: a request value "matches" when it matches any policy value; negation inverts
        // per request value.
        let matches = |request_value: &String| -> bool {
            let any = self.values.iter().any(|policy_value| {
                value_matches(operator.family, request_value, policy_value, context)
            });
            any != operator.negated
        };
        match operator.set {
            SetQualifier::ForAllValues => request_values.iter().all(matches),
            SetQualifier::ForAnyValue => request_values.iter().any(matches),
            SetQualifier::Single if operator.negated => request_values.iter().all(matches),
            SetQualifier::Single => request_values.iter().any(matches),
        }
    }
}

fn compile_value(operator: Operator, text: &str, variables: bool) -> Result<PolicyValue, String> {
    let template = Template::parse(text, variables && operator.allows_variables())?;
    if !operator.allows_variables() && variables && text.contains("${") {
        return Err(format!(
            "policy variables are not allowed in `{}` conditions, found `{text}`",
            operator_family_name(operator.family)
        ));
    }
    if template.has_variables() {
        return Ok(PolicyValue::Template(template));
    }

    let value = match operator.family {
        Family::StringEquals => PolicyValue::Text(template.static_text()),
        Family::StringEqualsIgnoreCase => PolicyValue::Folded(template.static_text().to_lowercase()),
        Family::StringLike => PolicyValue::Glob(Glob::from_tokens(template.static_tokens())),
        Family::ArnLike => PolicyValue::Arn(ArnGlob::from_tokens(template.static_tokens())),
        Family::NumericEquals
        | Family::NumericLessThan
        | Family::NumericLessThanEquals
        | Family::NumericGreaterThan
        | Family::NumericGreaterThanEquals => PolicyValue::Number(
            parse_number(text).ok_or_else(|| format!("expected a number for a numeric condition, found `{text}`"))?,
        ),
        Family::DateEquals
        | Family::DateLessThan
        | Family::DateLessThanEquals
        | Family::DateGreaterThan
        | Family::DateGreaterThanEquals => PolicyValue::Date(parse_date(text).ok_or_else(|| {
            format!("expected an ISO 8601 date or epoch seconds for a date condition, found `{text}`")
        })?),
        Family::Bool | Family::Null => PolicyValue::Bool(
            parse_bool(text).ok_or_else(|| format!("expected `true` or `false`, found `{text}`"))?,
        ),
        Family::BinaryEquals => PolicyValue::Binary(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| format!("expected a base64 value for `BinaryEquals`, found `{text}`"))?,
        ),
        Family::IpAddress => PolicyValue::Network(
            Network::parse(text)
                .ok_or_else(|| format!("expected an IP address or CIDR range, found `{text}`"))?,
        ),
    };
    Ok(value)
}

fn operator_family_name(family: Family) -> &'static str {
    match family {
        Family::NumericEquals
        | Family::NumericLessThan
        | Family::NumericLessThanEquals
        | Family::NumericGreaterThan
        | Family::NumericGreaterThanEquals => "Numeric",
        Family::DateEquals
        | Family::DateLessThan
        | Family::DateLessThanEquals
        | Family::DateGreaterThan
        | Family::DateGreaterThanEquals => "Date",
        Family::Bool => "Bool",
        Family::BinaryEquals => "BinaryEquals",
        Family::IpAddress => "IpAddress",
        Family::Null => "Null",
        _ => "String",
    }
}

/// Whether one request value matches one policy value under an operator family.
fn value_matches(family: Family, request: &str, policy: &PolicyValue, context: &Context) -> bool {
    match policy {
        PolicyValue::Template(template) => match family {
            Family::StringEquals => template
                .resolve(context)
                .is_some_and(|text| text == request),
            Family::StringEqualsIgnoreCase => template
                .resolve(context)
                .is_some_and(|text| text.to_lowercase() == request.to_lowercase()),
            Family::StringLike => template
                .resolve_tokens(context)
                .is_some_and(|tokens| Glob::from_tokens(tokens).is_match(request)),
            Family::ArnLike => template
                .resolve_tokens(context)
                .is_some_and(|tokens| ArnGlob::from_tokens(tokens).is_match(request)),
            _ => false,
        },
        PolicyValue::Text(text) => text == request,
        PolicyValue::Folded(folded) => *folded == request.to_lowercase(),
        PolicyValue::Glob(glob) => glob.is_match(request),
        PolicyValue::Arn(glob) => glob.is_match(request),
        PolicyValue::Number(wanted) => {
            parse_number(request).is_some_and(|found| compare(family, found, *wanted))
        }
        PolicyValue::Date(wanted) => {
            parse_date(request).is_some_and(|found| compare(family, found as f64, *wanted as f64))
        }
        PolicyValue::Bool(wanted) => parse_bool(request) == Some(*wanted),
        PolicyValue::Binary(wanted) => base64::engine::general_purpose::STANDARD
            .decode(request)
            .is_ok_and(|found| found == *wanted),
        PolicyValue::Network(network) => request
            .split_once('/')
            .map_or(request, |(address, _)| address)
            .parse::<IpAddr>()
            .is_ok_and(|address| network.contains(address)),
    }
}

fn compare(family: Family, found: f64, wanted: f64) -> bool {
    match family {
        Family::NumericEquals | Family::DateEquals => found == wanted,
        Family::NumericLessThan | Family::DateLessThan => found < wanted,
        Family::NumericLessThanEquals | Family::DateLessThanEquals => found <= wanted,
        Family::NumericGreaterThan | Family::DateGreaterThan => found > wanted,
        Family::NumericGreaterThanEquals | Family::DateGreaterThanEquals => found >= wanted,
        _ => false,
    }
}

fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let is_numeric = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if is_numeric {
        text.parse().ok().filter(|n: &f64| n.is_finite())
    } else {
        None
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parses an ISO 8601 date (with or without a time and zone) or epoch seconds, into epoch
/// milliseconds. A time without a zone is UTC, as in AWS's request context.
pub fn parse_date(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};

    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok()?.checked_mul(1000);
    }
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(moment.timestamp_millis());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%MZ",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(moment) = NaiveDateTime::parse_from_str(text, format) {
            return Some(moment.and_utc().timestamp_millis());
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::context::ContextValue;

    fn condition(operator: &str, key: &str, values: &[&str]) -> Condition {
        let texts: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        Condition::compile(
            operator,
            Operator::parse(operator).unwrap(),
            key,
            &texts,
            true,
        )
        .unwrap()
    }

    fn context(pairs: &[(&str, &[&str])]) -> Context {
        let mut context = Context::new();
        for (key, values) in pairs {
            let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            let value = if values.len() == 1 {
                ContextValue::One(values[0].clone())
            } else {
                ContextValue::Many(values)
            };
            context.insert(key, value);
        }
        context
    }

    #[test]
    fn parses_operator_names() {
        let operator = Operator::parse("ForAnyValue:StringNotLikeIfExists").unwrap();
        assert_eq!(operator.family, Family::StringLike);
        assert!(operator.negated && operator.if_exists);
        assert_eq!(operator.set, SetQualifier::ForAnyValue);
        assert!(Operator::parse("StringEqual").is_err());
        assert!(Operator::parse("stringequals").is_err());
        assert!(Operator::parse("NullIfExists").is_err());
    }

    #[test]
    fn missing_key_rule() {
        let empty = Context::new();
        assert!(!condition("StringEquals", "aws:PrincipalTag/team", &["a"]).is_satisfied(&empty));
        assert!(condition("StringNotEquals", "aws:PrincipalTag/team", &["a"]).is_satisfied(&empty));
        assert!(
            condition("StringEqualsIfExists", "aws:PrincipalTag/team", &["a"]).is_satisfied(&empty)
        );
        assert!(condition("Null", "aws:PrincipalTag/team", &["true"]).is_satisfied(&empty));
        assert!(!condition("Null", "aws:PrincipalTag/team", &["false"]).is_satisfied(&empty));
    }

    #[test]
    fn negated_operators_need_every_value_to_miss() {
        let ctx = context(&[("aws:PrincipalArn", &["arn:aws:iam::1:role/BreakGlass"])]);
        assert!(
            !condition(
                "StringNotEquals",
                "aws:principalarn",
                &["x", "arn:aws:iam::1:role/BreakGlass"]
            )
            .is_satisfied(&ctx)
        );
        assert!(condition("StringNotEquals", "aws:principalarn", &["x", "y"]).is_satisfied(&ctx));
    }

    #[test]
    fn set_qualifiers() {
        let ctx = context(&[("aws:TagKeys", &["a", "b"])]);
        assert!(
            condition("ForAllValues:StringEquals", "aws:TagKeys", &["a", "b", "c"])
                .is_satisfied(&ctx)
        );
        assert!(!condition("ForAllValues:StringEquals", "aws:TagKeys", &["a"]).is_satisfied(&ctx));
        assert!(condition("ForAnyValue:StringEquals", "aws:TagKeys", &["b"]).is_satisfied(&ctx));
        assert!(condition("ForAllValues:StringEquals", "aws:Missing", &["a"]).is_satisfied(&ctx));
        assert!(!condition("ForAnyValue:StringEquals", "aws:Missing", &["a"]).is_satisfied(&ctx));
    }

    #[test]
    fn typed_operators() {
        let ctx = context(&[
            ("aws:SourceIp", &["203.0.113.7"]),
            ("aws:CurrentTime", &["2026-12-03T12:00:00Z"]),
            ("s3:max-keys", &["10"]),
            ("aws:SecureTransport", &["TRUE"]),
        ]);
        assert!(condition("IpAddress", "aws:SourceIp", &["203.0.113.0/24"]).is_satisfied(&ctx));
        assert!(condition("NotIpAddress", "aws:SourceIp", &["198.51.100.1"]).is_satisfied(&ctx));
        assert!(condition("DateLessThan", "aws:CurrentTime", &["2027-01-01"]).is_satisfied(&ctx));
        assert!(condition("NumericLessThanEquals", "s3:max-keys", &["10"]).is_satisfied(&ctx));
        assert!(condition("Bool", "aws:SecureTransport", &["true"]).is_satisfied(&ctx));
    }

    #[test]
    fn variables_only_where_allowed() {
        let operator = Operator::parse("NumericEquals").unwrap();
        let error = Condition::compile(
            "NumericEquals",
            operator,
            "k",
            &["${aws:username}".into()],
            true,
        )
        .unwrap_err();
        assert!(error.contains("not allowed"), "{error}");
    }

    #[test]
    fn networks() {
        assert!(
            Network::parse("10.0.0.0/8")
                .unwrap()
                .contains("10.2.3.4".parse().unwrap())
        );
        assert!(
            Network::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
        assert!(
            Network::parse("2001:db8::/32")
                .unwrap()
                .contains("2001:db8::1".parse().unwrap())
        );
        assert!(Network::parse("10.0.0.0/33").is_none());
    }
}
