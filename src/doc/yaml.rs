//! A YAML reader that builds the same located [`Node`] tree as the JSON reader.
//!
//! World files are YAML so that people can write them by hand, with comments and policies laid
//! out as YAML mappings. The events of `saphyr-parser` (a YAML 1.2 parser) are folded into a
//! tree here, plain scalars are typed by YAML 1.2's core schema, aliases are expanded, and
//! duplicate keys are rejected with the position of the second one.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};

use super::{Entry, Node, Value};
use crate::diagnostic::{Diagnostic, Pos};

/// Deeper nesting than any world needs; beyond it the input is refused.
const MAX_DEPTH: usize = 64;

/// Parses the first YAML document in `text`. An empty input is an empty object.
pub fn parse_yaml(origin: &str, text: &str) -> Result<Node, Diagnostic> {
    let mut builder = Builder {
        origin,
        frames: Vec::new(),
        anchors: HashMap::new(),
        root: None,
    };

    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| {
            Diagnostic::new(
                origin,
                pos_of(error.marker()),
                format!("invalid YAML: {}", error.info()),
            )
        })?;
        let done = builder.accept(event, pos_of(&span.start))?;
        if done {
            break;
        }
    }

    Ok(builder
        .root
        .unwrap_or_else(|| Node::new(Value::Object(Vec::new()), Pos::new(1, 1))))
}

fn pos_of(marker: &Marker) -> Pos {
    let line = u32::try_from(marker.line()).unwrap_or(u32::MAX);
    let column = u32::try_from(marker.col() + 1).unwrap_or(u32::MAX);
    Pos::new(line, column)
}

/// A collection being filled, with its anchor so that aliases can copy it when it ends.
enum Frame {
    Sequence {
        at: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        at: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        pending_key: Option<(String, Pos)>,
    },
}

struct Builder<'a> {
    origin: &'a str,
    frames: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
}

impl Builder<'_> {
    /// Takes one event; returns true once the first document is complete.
    fn accept(&mut self, event: Event<'_>, at: Pos) -> Result<bool, Diagnostic> {
        match event {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _)
                if self.frames.len() >= MAX_DEPTH =>
            {
                let _ = anchor;
                Err(Diagnostic::new(
                    self.origin,
                    at,
                    format!("YAML nested deeper than {MAX_DEPTH} levels"),
                ))
            }
            Event::SequenceStart(anchor, _) => {
                self.frames.push(Frame::Sequence {
                    at,
                    anchor,
                    items: Vec::new(),
                });
                Ok(false)
            }
            Event::MappingStart(anchor, _) => {
                self.frames.push(Frame::Mapping {
                    at,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                });
                Ok(false)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.frames.pop() {
                    Some(Frame::Sequence { at, anchor, items }) => {
                        self.remember(anchor, Node::new(Value::Array(items), at))
                    }
                    Some(Frame::Mapping {
                        at,
                        anchor,
                        entries,
                        ..
                    }) => self.remember(anchor, Node::new(Value::Object(entries), at)),
                    None => return Ok(false),
                };
                self.place(node)
            }
            Event::Scalar(text, style, anchor, tag) => {
                let is_tagged_string = tag.as_ref().is_some_and(|tag| tag.suffix == "str");
                let value = if style == ScalarStyle::Plain && !is_tagged_string {
                    plain_scalar(&text)
                } else {
                    Value::String(text.into_owned())
                };
                let node = self.remember(anchor, Node::new(value, at));
                self.place(node)
            }
            Event::Alias(anchor) => {
                let node = self.anchors.get(&anchor).cloned().ok_or_else(|| {
                    Diagnostic::new(
                        self.origin,
                        at,
                        "alias refers to an anchor that is not defined before it",
                    )
                })?;
                self.place(Node { at, ..node })
            }
            Event::DocumentEnd => Ok(self.root.is_some()),
            _ => Ok(false),
        }
    }

    fn remember(&mut self, anchor: usize, node: Node) -> Node {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        node
    }

    /// Puts a finished node into its parent: a list item, a mapping key or value, or the root.
    fn place(&mut self, node: Node) -> Result<bool, Diagnostic> {
        match self.frames.last_mut() {
            None => {
                self.root = Some(node);
                Ok(false)
            }
            Some(Frame::Sequence { items, .. }) => {
                items.push(node);
                Ok(false)
            }
            Some(Frame::Mapping {
                entries,
                pending_key,
                ..
            }) => {
                let Some((key, key_at)) = pending_key.take() else {
                    let key = node.scalar_text().ok_or_else(|| {
                        Diagnostic::new(
                            self.origin,
                            node.at,
                            format!("mapping keys must be scalars, found {}", node.kind()),
                        )
                    })?;
                    if entries.iter().any(|entry| entry.key == key) {
                        return Err(Diagnostic::new(
                            self.origin,
                            node.at,
                            format!("duplicate key `{key}`"),
                        )
                        .help("each key may appear once in a mapping; merge the two entries"));
                    }
                    *pending_key = Some((key, node.at));
                    return Ok(false);
                };
                entries.push(Entry {
                    key,
                    key_at,
                    value: node,
                });
                Ok(false)
            }
        }
    }
}

/// Types a plain scalar by YAML 1.2's core schema; anything else stays a string.
fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ if is_core_number(text) => Value::Number(text.to_owned()),
        _ => Value::String(text.to_owned()),
    }
}

fn is_core_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if unsigned.is_empty() {
        return false;
    }
    let is_integer = unsigned.bytes().all(|b| b.is_ascii_digit());
    let is_decimal = unsigned.parse::<f64>().is_ok()
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    is_integer || is_decimal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_and_positions() {
        let node = parse_yaml(
            "w.yaml",
            "accounts:\n  \"111122223333\":\n    users: [alice, bob]\n",
        )
        .unwrap();
        let accounts = &node.as_object().unwrap()[0];
        assert_eq!(accounts.key, "accounts");
        let account = &accounts.value.as_object().unwrap()[0];
        assert_eq!(account.key, "111122223333");
        assert_eq!(account.key_at, Pos::new(2, 3));
        let users = &account.value.as_object().unwrap()[0].value;
        let Value::Array(items) = &users.value else {
            panic!("not a list")
        };
        assert_eq!(items[1].at, Pos::new(3, 20));
    }

    #[test]
    fn plain_scalars_are_typed_and_quoted_ones_are_strings() {
        let node = parse_yaml(
            "w.yaml",
            "a: 012345678901\nb: '12'\nc: true\nd: ~\ne: Allow\n",
        )
        .unwrap();
        let values: Vec<_> = node
            .as_object()
            .unwrap()
            .iter()
            .map(|entry| entry.value.value.clone())
            .collect();
        assert_eq!(values[0], Value::Number("012345678901".into()));
        assert_eq!(values[1], Value::String("12".into()));
        assert_eq!(values[2], Value::Bool(true));
        assert_eq!(values[3], Value::Null);
        assert_eq!(values[4], Value::String("Allow".into()));
    }

    #[test]
    fn aliases_copy_their_anchor() {
        let node = parse_yaml("w.yaml", "a: &doc {x: 1}\nb: *doc\n").unwrap();
        let entries = node.as_object().unwrap();
        assert_eq!(entries[0].value.value, entries[1].value.value);
    }

    #[test]
    fn duplicate_keys_are_rejected_where_they_repeat() {
        let error = parse_yaml("w.yaml", "a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(error.at, Pos::new(3, 1));
        assert_eq!(error.message, "duplicate key `a`");
    }

    #[test]
    fn syntax_errors_are_located() {
        let error = parse_yaml("w.yaml", "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.message.starts_with("invalid YAML"), "{error}");
        assert_eq!(error.origin, "w.yaml");
    }

    #[test]
    fn empty_input_is_an_empty_mapping() {
        assert_eq!(
            parse_yaml("w.yaml", "").unwrap().value,
            Value::Object(vec![])
        );
    }
}
