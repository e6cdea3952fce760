//! Reading policy documents as IAM accepts them, and refusing what IAM would refuse.
//!
//! Sources: the policy grammar (reference_policies_grammar.html) and the element pages
//! (reference_policies_elements_*.html). Whatever AWS would reject becomes a located
//! [`Diagnostic`], never a silent allow or deny: an unknown element, an `Effect` other than
//! `Allow`/`Deny` (case-sensitive), an action without a service prefix, an unknown condition
//! operator, a variable where variables are not allowed, a principal in an identity policy.
//! Every statement is checked, so one run reports every problem of a document.

use super::condition::{Condition, Operator};
use super::pattern::{ArnGlob, Glob};
use super::variables::Template;
use super::{
    ActionPattern, Effect, Matcher, Policy, PolicyKind, PrincipalPattern, ResourcePattern,
    Statement, Version,
};
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::doc::{self, Entry, Node, Value};

const POLICY_ELEMENTS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
];

/// Parses a JSON policy document. `origin` names the file in diagnostics.
pub fn parse_policy(origin: &str, text: &str, kind: PolicyKind) -> Result<Policy, Diagnostics> {
    let node = doc::parse_json(origin, text)?;
    parse_policy_node(origin, &node, kind)
}

/// Reads a policy from a document tree, from JSON or from YAML in a world file.
pub fn parse_policy_node(
    origin: &str,
    node: &Node,
    kind: PolicyKind,
) -> Result<Policy, Diagnostics> {
    let reader = Reader { origin, kind };
    let mut problems = Vec::new();

    let entries = node.expect_object(origin, "a policy document")?;
    for entry in entries {
        if !POLICY_ELEMENTS.contains(&entry.key.as_str()) {
            problems.push(reader.unknown_element(entry, POLICY_ELEMENTS, "policy"));
        }
    }

    let version = match doc::get(entries, "Version") {
        None => Version::V2008,
        Some(entry) => match entry.value.as_str() {
            Some("2012-10-17") => Version::V2012,
            Some("2008-10-17") => Version::V2008,
            _ => {
                let found = entry
                    .value
                    .scalar_text()
                    .unwrap_or_else(|| entry.value.kind().to_owned());
                problems.push(
                    Diagnostic::new(
                        origin,
                        entry.value.at,
                        format!("unsupported policy version `{found}`"),
                    )
                    .help("use \"Version\": \"2012-10-17\""),
                );
                Version::V2012
            }
        },
    };

    let id = match doc::get(entries, "Id") {
        None => None,
        Some(entry) => match entry.value.expect_str(origin, "`Id`") {
            Ok(id) => Some(id.to_owned()),
            Err(problem) => {
                problems.push(problem);
                None
            }
        },
    };

    let mut statements = Vec::new();
    match doc::get(entries, "Statement") {
        None => problems.push(
            Diagnostic::new(origin, node.at, "policy has no `Statement`")
                .help("add \"Statement\": [ ... ] with at least one statement"),
        ),
        Some(entry) => {
            let nodes: Vec<&Node> = match &entry.value.value {
                Value::Array(items) => items.iter().collect(),
                Value::Object(_) => vec![&entry.value],
                _ => {
                    problems.push(Diagnostic::new(
                        origin,
                        entry.value.at,
                        format!(
                            "expected `Statement` to be an object or a list of objects, found {}",
                            entry.value.kind()
                        ),
                    ));
                    Vec::new()
                }
            };
            for (index, statement) in nodes.into_iter().enumerate() {
                match reader.statement(statement, index, version) {
                    Ok(statement) => statements.push(statement),
                    Err(mut found) => problems.append(&mut found),
                }
            }
        }
    }

    if problems.is_empty() {
        Ok(Policy {
            version,
            id,
            statements,
            document: node.to_json(),
        })
    } else {
        Err(Diagnostics(problems))
    }
}

struct Reader<'a> {
    origin: &'a str,
    kind: PolicyKind,
}

impl Reader<'_> {
    fn error(&self, at: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.origin, at, message)
    }

    fn unknown_element(&self, entry: &Entry, known: &[&str], within: &str) -> Diagnostic {
        let close = known
            .iter()
            .find(|name| name.eq_ignore_ascii_case(&entry.key));
        let help = match close {
            Some(name) => format!("element names are case-sensitive: write `{name}`"),
            None => format!("a {within} may contain {}", known.join(", ")),
        };
        self.error(
            entry.key_at,
            format!("unknown {within} element `{}`", entry.key),
        )
        .help(help)
    }

    fn statement(
        &self,
        node: &Node,
        index: usize,
        version: Version,
    ) -> Result<Statement, Vec<Diagnostic>> {
        let entries = node
            .expect_object(self.origin, "a statement")
            .map_err(|problem| vec![problem])?;
        let mut problems = Vec::new();

        for entry in entries {
            if !STATEMENT_ELEMENTS.contains(&entry.key.as_str()) {
                problems.push(self.unknown_element(entry, STATEMENT_ELEMENTS, "statement"));
            }
        }

        let sid = doc::get(entries, "Sid").and_then(|entry| {
            keep(
                entry
                    .value
                    .expect_str(self.origin, "`Sid`")
                    .map(str::to_owned),
                &mut problems,
            )
        });
        let effect = keep(self.effect(node, entries), &mut problems);
        let variables = version == Version::V2012;

        let actions = keep(
            self.pair(node, entries, "Action", "NotAction", true)
                .and_then(|found| {
                    found
                        .map(|(negated, entry)| self.actions(negated, entry))
                        .transpose()
                }),
            &mut problems,
        )
        .flatten();

        let needs_resource = !matches!(self.kind, PolicyKind::Resource | PolicyKind::Trust);
        if self.kind == PolicyKind::Trust {
            for name in ["Resource", "NotResource"] {
                if let Some(entry) = doc::get(entries, name) {
                    problems.push(
                        self.error(
                            entry.key_at,
                            format!("role trust policies cannot contain `{name}`"),
                        )
                        .help(
                            "the resource of a trust policy is the role itself; remove the element",
                        ),
                    );
                }
            }
        }
        let resources = keep(
            self.pair(node, entries, "Resource", "NotResource", needs_resource)
                .and_then(|found| {
                    found
                        .map(|(negated, entry)| self.resources(negated, entry, variables))
                        .transpose()
                }),
            &mut problems,
        )
        .flatten();

        let principals = keep(self.principals(node, entries), &mut problems).flatten();
        if let (Some(Effect::Allow), Some(matcher)) = (effect, &principals)
            && matcher.negated
        {
            let at = doc::get(entries, "NotPrincipal").map_or(node.at, |entry| entry.key_at);
            problems.push(
                self.error(at, "`NotPrincipal` must be used with \"Effect\": \"Deny\"")
                    .help("to allow everyone but some principals, allow `*` and deny the others"),
            );
        }

        let conditions = match doc::get(entries, "Condition") {
            None => Some(Vec::new()),
            Some(entry) => match self.conditions(&entry.value, variables) {
                Ok(conditions) => Some(conditions),
                Err(mut found) => {
                    problems.append(&mut found);
                    None
                }
            },
        };

        match (effect, actions, conditions) {
            (Some(effect), Some(actions), Some(conditions)) if problems.is_empty() => {
                let services = if actions.negated {
                    u64::MAX
                } else {
                    actions
                        .patterns
                        .iter()
                        .fold(0, |bits, pattern| match pattern {
                            ActionPattern::Any => u64::MAX,
                            // Services are literal; a pattern that is not cannot be summed up.
                            ActionPattern::Service { service, .. } => {
                                match service.literal_text() {
                                    Some(service) => bits | super::service_bit(service),
                                    None => u64::MAX,
                                }
                            }
                        })
                };
                Ok(Statement {
                    sid,
                    index,
                    at: node.at,
                    effect,
                    actions,
                    services,
                    resources,
                    principals,
                    conditions,
                })
            }
            _ => Err(problems),
        }
    }

    fn effect(&self, node: &Node, entries: &[Entry]) -> Result<Effect, Diagnostic> {
        let Some(entry) = doc::get(entries, "Effect") else {
            return Err(self
                .error(node.at, "statement has no `Effect`")
                .help("add \"Effect\": \"Allow\" or \"Effect\": \"Deny\""));
        };
        match entry.value.as_str() {
            Some("Allow") => Ok(Effect::Allow),
            Some("Deny") => Ok(Effect::Deny),
            other => {
                let found = other
                    .map(str::to_owned)
                    .unwrap_or_else(|| entry.value.kind().to_owned());
                Err(self
                    .error(
                        entry.value.at,
                        format!("expected `Allow` or `Deny` for `Effect`, found `{found}`"),
                    )
                    .help("`Effect` is case-sensitive"))
            }
        }
    }

    /// Finds exactly one of an element and its `Not...` form.
    fn pair<'e>(
        &self,
        node: &Node,
        entries: &'e [Entry],
        name: &str,
        not_name: &str,
        required: bool,
    ) -> Result<Option<(bool, &'e Entry)>, Diagnostic> {
        match (doc::get(entries, name), doc::get(entries, not_name)) {
            (Some(_), Some(second)) => Err(self
                .error(
                    second.key_at,
                    format!("statement has both `{name}` and `{not_name}`"),
                )
                .help(format!("keep one of `{name}` and `{not_name}`"))),
            (Some(entry), None) => Ok(Some((false, entry))),
            (None, Some(entry)) => Ok(Some((true, entry))),
            (None, None) if required => Err(self
                .error(
                    node.at,
                    format!("statement has neither `{name}` nor `{not_name}`"),
                )
                .help(format!(
                    "add \"{name}\": \"*\" or a list of what the statement covers"
                ))),
            (None, None) => Ok(None),
        }
    }

    fn actions(&self, negated: bool, entry: &Entry) -> Result<Matcher<ActionPattern>, Diagnostic> {
        let mut patterns = Vec::new();
        for (text, at) in entry
            .value
            .expect_str_or_list(self.origin, &format!("`{}`", entry.key))?
        {
            patterns.push(self.action(text, at)?);
        }
        Ok(Matcher { negated, patterns })
    }

    fn action(&self, text: &str, at: Pos) -> Result<ActionPattern, Diagnostic> {
        if text == "*" {
            return Ok(ActionPattern::Any);
        }

        let Some((service, name)) = text.split_once(':') else {
            return Err(self
                .error(at, format!("action `{text}` has no service prefix"))
                .help(
                    "write actions as `service:Action`, for example `iam:AttachUserPolicy`, or `*`",
                ));
        };
        let is_service = !service.is_empty()
            && service
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        let is_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?');
        if !is_service || !is_name {
            return Err(self
                .error(at, format!("`{text}` is not a valid action"))
                .help(
                    "write actions as `service:Action`; `*` and `?` may appear in the action name",
                ));
        }

        Ok(ActionPattern::Service {
            service: Glob::literal(&service.to_ascii_lowercase()),
            name: Glob::new(&name.to_ascii_lowercase()),
        })
    }

    fn resources(
        &self,
        negated: bool,
        entry: &Entry,
        variables: bool,
    ) -> Result<Matcher<ResourcePattern>, Diagnostic> {
        let mut patterns = Vec::new();
        for (text, at) in entry
            .value
            .expect_str_or_list(self.origin, &format!("`{}`", entry.key))?
        {
            if text != "*" && !text.starts_with("arn:") {
                return Err(self
                    .error(at, format!("resource `{text}` is not an ARN"))
                    .help("write a resource as an ARN such as `arn:aws:iam::123456789012:user/alice`, or `*`"));
            }
            let template =
                Template::parse(text, variables).map_err(|message| self.error(at, message))?;
            let pattern = if template.has_variables() {
                let prefix = text.split("${").next().unwrap_or("");
                if prefix.matches(':').count() < 5 {
                    return Err(self
                        .error(at, format!("policy variables may only appear in the resource part of an ARN, found `{text}`"))
                        .help("put variables after the fifth colon, as in `arn:aws:s3:::bucket/${aws:username}/*`"));
                }
                ResourcePattern::Template(template)
            } else {
                ResourcePattern::Arn(ArnGlob::from_tokens(template.static_tokens()))
            };
            patterns.push(pattern);
        }
        Ok(Matcher { negated, patterns })
    }

    fn principals(
        &self,
        node: &Node,
        entries: &[Entry],
    ) -> Result<Option<Matcher<PrincipalPattern>>, Diagnostic> {
        let required = matches!(
            self.kind,
            PolicyKind::Resource | PolicyKind::Trust | PolicyKind::Rcp
        );
        let found = self.pair(node, entries, "Principal", "NotPrincipal", required)?;
        let Some((negated, entry)) = found else {
            return Ok(None);
        };

        match self.kind {
            PolicyKind::Identity => {
                return Err(self
                    .error(entry.key_at, format!("identity-based policies cannot contain `{}`", entry.key))
                    .help("the principal of an identity-based policy is whoever it is attached to; remove the element"));
            }
            PolicyKind::Scp => {
                return Err(self
                    .error(
                        entry.key_at,
                        format!("service control policies cannot contain `{}`", entry.key),
                    )
                    .help("use a condition on `aws:PrincipalArn` to single out principals"));
            }
            PolicyKind::Trust if negated => {
                return Err(self
                    .error(
                        entry.key_at,
                        "role trust policies cannot contain `NotPrincipal`",
                    )
                    .help("name the principals that may assume the role in `Principal`"));
            }
            _ => {}
        }

        let patterns = self.principal_patterns(&entry.value)?;
        if self.kind == PolicyKind::Rcp && (negated || patterns != [PrincipalPattern::Any]) {
            return Err(self
                .error(
                    entry.value.at,
                    "resource control policies only accept \"Principal\": \"*\"",
                )
                .help("use conditions such as `aws:PrincipalOrgID` to single out principals"));
        }
        Ok(Some(Matcher { negated, patterns }))
    }

    fn principal_patterns(&self, node: &Node) -> Result<Vec<PrincipalPattern>, Diagnostic> {
        if node.as_str() == Some("*") {
            return Ok(vec![PrincipalPattern::Any]);
        }
        let Some(entries) = node.as_object() else {
            return Err(self
                .error(
                    node.at,
                    "expected `Principal` to be \"*\" or an object such as {\"AWS\": \"arn:...\"}",
                )
                .help("write {\"AWS\": \"arn:aws:iam::123456789012:role/Name\"}"));
        };

        let mut patterns = Vec::new();
        for entry in entries {
            let values = entry
                .value
                .expect_str_or_list(self.origin, &format!("`{}` principals", entry.key))?;
            for (text, at) in values {
                let pattern = match entry.key.as_str() {
                    "AWS" => self.aws_principal(text, at)?,
                    "Service" | "Federated" | "CanonicalUser" => PrincipalPattern::Other {
                        kind: entry.key.clone(),
                        value: text.to_owned(),
                    },
                    _ => {
                        return Err(self
                            .error(
                                entry.key_at,
                                format!("unknown principal type `{}`", entry.key),
                            )
                            .help(
                                "principal types are AWS, Service, Federated and CanonicalUser",
                            ));
                    }
                };
                patterns.push(pattern);
            }
        }
        Ok(patterns)
    }

    fn aws_principal(&self, text: &str, at: Pos) -> Result<PrincipalPattern, Diagnostic> {
        if text == "*" {
            return Ok(PrincipalPattern::Any);
        }
        if is_account_id(text) {
            return Ok(PrincipalPattern::Account(text.to_owned()));
        }
        if text.contains(['*', '?']) {
            return Err(self
                .error(
                    at,
                    format!("wildcards are not allowed in a principal ARN, found `{text}`"),
                )
                .help("use \"*\" with a condition on `aws:PrincipalArn` (ArnLike) instead"));
        }

        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let is_arn = parts.len() == 6 && parts[0] == "arn" && is_account_id(parts[4]);
        if !is_arn {
            return Err(self
                .error(at, format!("`{text}` is not an AWS principal"))
                .help("use a 12-digit account id, `*`, or an IAM user, role, or session ARN"));
        }

        let (service, account, resource) = (parts[2], parts[4], parts[5]);
        let valid = match service {
            "iam" => {
                resource == "root" || resource.starts_with("user/") || resource.starts_with("role/")
            }
            "sts" => {
                resource.starts_with("assumed-role/") || resource.starts_with("federated-user/")
            }
            _ => false,
        };
        if !valid {
            return Err(self
                .error(at, format!("`{text}` cannot be a principal"))
                .help("principals are accounts, IAM users, IAM roles, role sessions and federated users"));
        }
        if resource == "root" {
            return Ok(PrincipalPattern::Account(account.to_owned()));
        }
        Ok(PrincipalPattern::Arn(text.to_owned()))
    }

    fn conditions(&self, node: &Node, variables: bool) -> Result<Vec<Condition>, Vec<Diagnostic>> {
        let operators = node
            .expect_object(self.origin, "`Condition`")
            .map_err(|problem| vec![problem])?;
        let mut conditions = Vec::new();
        let mut problems = Vec::new();

        for operator_entry in operators {
            let operator = match Operator::parse(&operator_entry.key) {
                Ok(operator) => operator,
                Err(message) => {
                    problems.push(self.error(operator_entry.key_at, message).help(
                        "operators include StringEquals, StringLike, ArnLike, Bool, NumericLessThan, DateGreaterThan, IpAddress and Null, with IfExists and ForAllValues:/ForAnyValue: forms",
                    ));
                    continue;
                }
            };
            let keys = match operator_entry
                .value
                .expect_object(self.origin, &format!("`{}`", operator_entry.key))
            {
                Ok(keys) => keys,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };

            for key_entry in keys {
                match self.condition(&operator_entry.key, operator, key_entry, variables) {
                    Ok(condition) => conditions.push(condition),
                    Err(problem) => problems.push(problem),
                }
            }
        }

        if problems.is_empty() {
            Ok(conditions)
        } else {
            Err(problems)
        }
    }

    fn condition(
        &self,
        name: &str,
        operator: Operator,
        entry: &Entry,
        variables: bool,
    ) -> Result<Condition, Diagnostic> {
        if entry.key.is_empty() || entry.key.contains(char::is_whitespace) {
            return Err(self.error(
                entry.key_at,
                format!("`{}` is not a condition key", entry.key),
            ));
        }

        let items: Vec<&Node> = match &entry.value.value {
            Value::Array(items) => items.iter().collect(),
            _ => vec![&entry.value],
        };
        if items.is_empty() {
            return Err(self.error(
                entry.value.at,
                format!("condition key `{}` has no values", entry.key),
            ));
        }

        let mut texts = Vec::new();
        for item in &items {
            let text = match &item.value {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                    item.scalar_text().unwrap_or_default()
                }
                _ => {
                    return Err(self.error(
                        item.at,
                        format!("expected condition values to be strings, numbers or booleans, found {}", item.kind()),
                    ));
                }
            };
            texts.push(text);
        }

        Condition::compile(name, operator, &entry.key, &texts, variables).map_err(|message| {
            let at = texts
                .iter()
                .zip(&items)
                .find(|(text, _)| {
                    Condition::compile(
                        name,
                        operator,
                        &entry.key,
                        std::slice::from_ref(text),
                        variables,
                    )
                    .is_err()
                })
                .map_or(entry.value.at, |(_, item)| item.at);
            self.error(at, message)
        })
    }
}

/// Keeps a value, or records its problem so that reading can go on.
fn keep<T>(result: Result<T, Diagnostic>, problems: &mut Vec<Diagnostic>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(problem) => {
            problems.push(problem);
            None
        }
    }
}

/// A 12-digit AWS account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str, kind: PolicyKind) -> Vec<Diagnostic> {
        parse_policy("p.json", text, kind).unwrap_err().0
    }

    #[test]
    fn statement_may_be_one_object_and_values_single_strings() {
        let policy = parse_policy(
            "p.json",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        assert_eq!(policy.statements.len(), 1);
        assert_eq!(policy.version, Version::V2012);
    }

    #[test]
    fn bad_effect_is_located() {
        let found = problems(
            "{\"Version\":\"2012-10-17\",\n\"Statement\":[{\"Effect\":\"allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
            PolicyKind::Identity,
        );
        assert_eq!(found[0].at, Pos::new(2, 24));
        assert_eq!(
            found[0].message,
            "expected `Allow` or `Deny` for `Effect`, found `allow`"
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let found = problems(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"AttachUserPolicy","Resource":"*"},
                {"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"a:b":"c"}}},
                {"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"},
                {"Effect":"Allow","Action":"*","Resourse":"*"}]}"#,
            PolicyKind::Identity,
        );
        let messages: Vec<&str> = found
            .iter()
            .map(|problem| problem.message.as_str())
            .collect();
        assert!(
            messages.contains(&"action `AttachUserPolicy` has no service prefix"),
            "{messages:?}"
        );
        assert!(
            messages.contains(&"unknown condition operator `StringEqualz`"),
            "{messages:?}"
        );
        assert!(
            messages.contains(&"identity-based policies cannot contain `Principal`"),
            "{messages:?}"
        );
        assert!(
            messages.contains(&"unknown statement element `Resourse`"),
            "{messages:?}"
        );
    }

    #[test]
    fn resource_policies_need_a_principal_and_rcps_a_star() {
        let found = problems(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            PolicyKind::Resource,
        );
        assert!(
            found[0]
                .message
                .contains("neither `Principal` nor `NotPrincipal`")
        );
        let found = problems(
            r#"{"Statement":[{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}]}"#,
            PolicyKind::Rcp,
        );
        assert!(found[0].message.contains("only accept"));
    }

    #[test]
    fn principals() {
        let policy = parse_policy(
            "p.json",
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:root","arn:aws:iam::111122223333:role/R"]},"Action":"sts:AssumeRole"}]}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let principals = policy.statements[0].principals.as_ref().unwrap();
        assert_eq!(
            principals.patterns[1],
            PrincipalPattern::Account("444455556666".into())
        );
        let found = problems(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:role/R"},"Action":"sts:AssumeRole"}]}"#,
            PolicyKind::Resource,
        );
        assert!(found[0].message.contains("wildcards are not allowed"));
    }

    #[test]
    fn variables_only_in_the_resource_part() {
        let found = problems(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:${aws:username}::x"}]}"#,
            PolicyKind::Identity,
        );
        assert!(found[0].message.contains("resource part"));
    }

    #[test]
    fn wrong_version_and_missing_statement() {
        let found = problems(r#"{"Version":"2012-10-18"}"#, PolicyKind::Identity);
        assert_eq!(found.len(), 2);
        assert!(
            found[0]
                .message
                .contains("unsupported policy version `2012-10-18`")
        );
    }
}
