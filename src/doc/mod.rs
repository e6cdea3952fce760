//! A document tree that remembers where each value came from.
//!
//! Policies arrive as JSON and worlds as YAML, and both must be rejected with the line and
//! column of the offending element, not only when the syntax is broken but also when a value is
//! wrong for its place (an `Effect` of `Permit`, an account id that is not 12 digits). Both
//! parsers therefore produce the same [`Node`] tree, in which every value and every object key
//! carries its [`Pos`]; the policy and world readers work on that tree alone.

mod json;
mod yaml;

pub use json::parse_json;
pub use yaml::parse_yaml;

use crate::diagnostic::{Diagnostic, Pos};

/// A value with the position of its first character.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub at: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// A number, kept as written so that `012345678901` or `1.50` lose nothing.
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// Entries in document order; duplicates are rejected by the parsers.
    Object(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_at: Pos,
    pub value: Node,
}

impl Node {
    pub fn new(value: Value, at: Pos) -> Node {
        Node { value, at }
    }

    /// What kind of value this is, for messages such as "expected a string, found an array".
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "an object",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Object(entries) => Some(entries),
            _ => None,
        }
    }

    /// The text of a scalar: strings as they are, numbers and booleans as written.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::String(text) | Value::Number(text) => Some(text.clone()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }

    /// The entries of an object, or a diagnostic that names what was expected.
    pub fn expect_object(&self, origin: &str, what: &str) -> Result<&[Entry], Diagnostic> {
        self.as_object().ok_or_else(|| {
            Diagnostic::new(
                origin,
                self.at,
                format!("expected {what} to be an object, found {}", self.kind()),
            )
        })
    }

    /// A string, or a diagnostic that names what was expected.
    pub fn expect_str(&self, origin: &str, what: &str) -> Result<&str, Diagnostic> {
        self.as_str().ok_or_else(|| {
            Diagnostic::new(
                origin,
                self.at,
                format!("expected {what} to be a string, found {}", self.kind()),
            )
        })
    }

    /// A string or a list of strings, the shape AWS takes for `Action`, `Resource` and friends.
    pub fn expect_str_or_list(
        &self,
        origin: &str,
        what: &str,
    ) -> Result<Vec<(&str, Pos)>, Diagnostic> {
        match &self.value {
            Value::String(text) => Ok(vec![(text.as_str(), self.at)]),
            Value::Array(items) => items
                .iter()
                .map(|item| item.expect_str(origin, what).map(|text| (text, item.at)))
                .collect(),
            _ => Err(Diagnostic::new(
                origin,
                self.at,
                format!(
                    "expected {what} to be a string or a list of strings, found {}",
                    self.kind()
                ),
            )),
        }
    }

    /// A boolean, accepting YAML's `true`/`false` and the strings `"true"`/`"false"`.
    pub fn expect_bool(&self, origin: &str, what: &str) -> Result<bool, Diagnostic> {
        match &self.value {
            Value::Bool(flag) => Ok(*flag),
            Value::String(text) if text == "true" => Ok(true),
            Value::String(text) if text == "false" => Ok(false),
            _ => Err(Diagnostic::new(
                origin,
                self.at,
                format!(
                    "expected {what} to be `true` or `false`, found {}",
                    self.kind()
                ),
            )),
        }
    }
}

impl Node {
    /// The value as compact JSON text, keys in document order: how a policy written as YAML is
    /// sent to AWS.
    pub fn to_json(&self) -> String {
        let mut text = String::new();
        self.write_json(&mut text);
        text
    }

    fn write_json(&self, text: &mut String) {
        match &self.value {
            Value::Null => text.push_str("null"),
            Value::Bool(flag) => text.push_str(if *flag { "true" } else { "false" }),
            Value::Number(number) if serde_json::from_str::<serde_json::Number>(number).is_ok() => {
                text.push_str(number)
            }
            // Numbers JSON cannot carry as written (`012345678901`, `+1`) stay text.
            Value::Number(number) | Value::String(number) => {
                text.push_str(&serde_json::to_string(number).expect("strings serialize"))
            }
            Value::Array(items) => {
                text.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        text.push(',');
                    }
                    item.write_json(text);
                }
                text.push(']');
            }
            Value::Object(entries) => {
                text.push('{');
                for (index, entry) in entries.iter().enumerate() {
                    if index > 0 {
                        text.push(',');
                    }
                    text.push_str(&serde_json::to_string(&entry.key).expect("strings serialize"));
                    text.push(':');
                    entry.value.write_json(text);
                }
                text.push('}');
            }
        }
    }
}

/// Looks up a key in an object's entries, exactly as spelled.
pub fn get<'a>(entries: &'a [Entry], key: &str) -> Option<&'a Entry> {
    entries.iter().find(|entry| entry.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_documents_become_json_in_order() {
        let node = parse_yaml(
            "w.yaml",
            "Version: 2012-10-17\nStatement:\n  - {Effect: Allow, Action: [\"iam:*\"], N: 1.5, Z: 012, Q: \"a\\\"b\"}\n",
        )
        .unwrap();
        assert_eq!(
            node.to_json(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*"],"N":1.5,"Z":"012","Q":"a\"b"}]}"#
        );
    }
}
