//! Policy variables: `${aws:username}` and friends in resources and condition values.
//!
//! Source: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>.
//! A variable is replaced by the single value its key has in the request context, or by its
//! default (`${aws:PrincipalTag/team, 'company-wide'}`). A key with no value leaves the whole
//! string without a value, so it matches nothing. `${*}`, `${?}` and `${$}` stand for the
//! literal characters, never for wildcards. Variables only exist in policies whose `Version` is
//! `2012-10-17`; in older policies the text is taken as it is.

use super::context::Context;
use super::pattern::{Token, tokenize};

/// A variable reference, with its key lowercased for lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub key: String,
    pub default: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// Text as written: `*` and `?` are wildcards where the operator has them.
    Text(String),
    /// A character from `${*}`, `${?}` or `${$}`: always literal.
    Escaped(char),
    Variable(Variable),
}

/// A string from a policy, with its variables located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Reads `text`; with `variables` false (a pre-2012 policy) everything is plain text.
    pub fn parse(text: &str, variables: bool) -> Result<Template, String> {
        if !variables || !text.contains("${") {
            return Ok(Template {
                parts: vec![Part::Text(text.to_owned())],
            });
        }

        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let body_start = start + 2;
            let Some(length) = rest[body_start..].find('}') else {
                return Err(format!("unterminated policy variable in `{text}`"));
            };
            parts.push(parse_variable(
                &rest[body_start..body_start + length],
                text,
            )?);
            rest = &rest[body_start + length + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    pub fn has_variables(&self) -> bool {
        self.parts
            .iter()
            .any(|part| matches!(part, Part::Variable(_)))
    }

    /// The variables this template uses.
    pub fn variables(&self) -> impl Iterator<Item = &Variable> {
        self.parts.iter().filter_map(|part| match part {
            Part::Variable(variable) => Some(variable),
            _ => None,
        })
    }

    /// The template as one string, with every variable replaced; `None` if one has no value.
    pub fn resolve(&self, context: &Context) -> Option<String> {
        let mut resolved = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => resolved.push_str(text),
                Part::Escaped(c) => resolved.push(*c),
                Part::Variable(variable) => resolved.push_str(lookup(variable, context)?),
            }
        }
        Some(resolved)
    }

    /// Wildcard tokens with every variable replaced by literal text; `None` if one has no value.
    pub fn resolve_tokens(&self, context: &Context) -> Option<Vec<Token>> {
        let mut tokens = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => tokens.extend(tokenize(text)),
                Part::Escaped(c) => tokens.push(Token::Literal(c.to_string())),
                Part::Variable(variable) => {
                    tokens.push(Token::Literal(lookup(variable, context)?.to_owned()));
                }
            }
        }
        Some(tokens)
    }

    /// Wildcard tokens of a template without variables.
    pub fn static_tokens(&self) -> Vec<Token> {
        self.resolve_tokens(&Context::new()).unwrap_or_default()
    }

    /// The text of a template without variables.
    pub fn static_text(&self) -> String {
        self.resolve(&Context::new()).unwrap_or_default()
    }
}

fn lookup<'a>(variable: &'a Variable, context: &'a Context) -> Option<&'a str> {
    context
        .single_lowercase(&variable.key)
        .or(variable.default.as_deref())
}

fn parse_variable(body: &str, whole: &str) -> Result<Part, String> {
    match body {
        "*" => return Ok(Part::Escaped('*')),
        "?" => return Ok(Part::Escaped('?')),
        "$" => return Ok(Part::Escaped('$')),
        _ => {}
    }

    let (key, default) = match body.split_once(',') {
        None => (body.trim(), None),
        Some((key, default)) => {
            let default = default.trim();
            let quoted = default
                .strip_prefix('\'')
                .and_then(|inner| inner.strip_suffix('\''))
                .ok_or_else(|| {
                    format!("the default of policy variable `${{{body}}}` in `{whole}` must be in single quotes")
                })?;
            (key.trim(), Some(quoted.to_owned()))
        }
    };

    let is_valid_key = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+=".contains(c));
    if !is_valid_key {
        return Err(format!(
            "`${{{body}}}` in `{whole}` is not a valid policy variable"
        ));
    }
    Ok(Part::Variable(Variable {
        key: key.to_ascii_lowercase(),
        default,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::context::ContextValue;

    fn context() -> Context {
        let mut context = Context::new();
        context.insert_one("aws:username", "alice");
        context.insert("aws:TagKeys", ContextValue::Many(vec!["a".into()]));
        context
    }

    #[test]
    fn replaces_variables_and_keys_ignore_case() {
        let template = Template::parse("home/${AWS:UserName}/*", true).unwrap();
        assert_eq!(
            template.resolve(&context()).as_deref(),
            Some("home/alice/*")
        );
    }

    #[test]
    fn old_version_keeps_text() {
        let template = Template::parse("home/${aws:username}", false).unwrap();
        assert!(!template.has_variables());
        assert_eq!(
            template.resolve(&context()).as_deref(),
            Some("home/${aws:username}")
        );
    }

    #[test]
    fn missing_values_and_defaults() {
        let missing = Template::parse("${aws:PrincipalTag/team}", true).unwrap();
        assert_eq!(missing.resolve(&context()), None);
        let defaulted = Template::parse("${aws:PrincipalTag/team, 'company-wide'}", true).unwrap();
        assert_eq!(
            defaulted.resolve(&context()).as_deref(),
            Some("company-wide")
        );
        let multi = Template::parse("${aws:TagKeys}", true).unwrap();
        assert_eq!(multi.resolve(&context()), None);
    }

    #[test]
    fn escapes_are_literal_in_globs() {
        let template = Template::parse("a${*}b*", true).unwrap();
        assert_eq!(
            template.resolve_tokens(&context()).unwrap(),
            vec![
                Token::Literal("a".into()),
                Token::Literal("*".into()),
                Token::Literal("b".into()),
                Token::Star
            ]
        );
    }

    #[test]
    fn malformed_variables_are_errors() {
        assert!(Template::parse("${aws:username", true).is_err());
        assert!(Template::parse("${}", true).is_err());
        assert!(Template::parse("${a, b}", true).is_err());
    }
}
