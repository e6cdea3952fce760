//! A strict JSON reader (RFC 8259) that keeps the position of every value and key.
//!
//! IAM accepts only well-formed JSON, so this reader does too: no comments, no trailing commas,
//! no duplicate keys (IAM rejects those, and a second `Effect` silently winning would hide a
//! mistake). Nesting is capped so that hostile input cannot exhaust the stack.

use super::{Entry, Node, Value};
use crate::diagnostic::{Diagnostic, Pos};

/// Deeper nesting than any real policy needs; beyond it the input is refused.
const MAX_DEPTH: usize = 64;

/// Parses one JSON document. `origin` names the input in diagnostics.
pub fn parse_json(origin: &str, text: &str) -> Result<Node, Diagnostic> {
    let mut reader = Reader {
        origin,
        text,
        offset: 0,
        line: 1,
        column: 1,
    };

    reader.skip_whitespace();
    let node = reader.value(0)?;
    reader.skip_whitespace();

    match reader.peek() {
        None => Ok(node),
        Some(other) => Err(reader.error(format!(
            "unexpected `{other}` after the end of the JSON document"
        ))),
    }
}

struct Reader<'a> {
    origin: &'a str,
    text: &'a str,
    offset: usize,
    line: u32,
    column: u32,
}

impl Reader<'_> {
    fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }

    fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.origin, self.pos(), message)
    }

    fn peek(&self) -> Option<char> {
        self.text[self.offset..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let next = self.peek()?;
        self.offset += next.len_utf8();
        if next == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(next)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn expect(&mut self, wanted: char, context: &str) -> Result<(), Diagnostic> {
        match self.peek() {
            Some(found) if found == wanted => {
                self.bump();
                Ok(())
            }
            Some(found) => {
                Err(self.error(format!("expected `{wanted}` {context}, found `{found}`")))
            }
            None => Err(self.error(format!(
                "expected `{wanted}` {context}, found the end of the input"
            ))),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, Diagnostic> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("JSON nested deeper than {MAX_DEPTH} levels")));
        }

        let at = self.pos();
        let value = match self.peek() {
            Some('{') => self.object(depth)?,
            Some('[') => self.array(depth)?,
            Some('"') => Value::String(self.string()?),
            Some('-' | '0'..='9') => Value::Number(self.number()?),
            Some('t') => self.keyword("true", Value::Bool(true))?,
            Some('f') => self.keyword("false", Value::Bool(false))?,
            Some('n') => self.keyword("null", Value::Null)?,
            Some(other) => {
                return Err(self
                    .error(format!("expected a JSON value, found `{other}`"))
                    .help(
                        "strings need double quotes; comments and trailing commas are not JSON",
                    ));
            }
            None => return Err(self.error("expected a JSON value, found the end of the input")),
        };
        Ok(Node::new(value, at))
    }

    fn keyword(&mut self, word: &str, value: Value) -> Result<Value, Diagnostic> {
        if self.text[self.offset..].starts_with(word) {
            for _ in 0..word.len() {
                self.bump();
            }
            Ok(value)
        } else {
            let found: String = self.text[self.offset..]
                .chars()
                .take_while(|c| c.is_alphanumeric())
                .collect();
            Err(self.error(format!("expected `{word}`, found `{found}`")))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, Diagnostic> {
        self.bump();
        let mut entries: Vec<Entry> = Vec::new();

        self.skip_whitespace();
        if self.peek() == Some('}') {
            self.bump();
            return Ok(Value::Object(entries));
        }

        loop {
            self.skip_whitespace();
            let key_at = self.pos();
            if self.peek() != Some('"') {
                return Err(self.error("expected a double-quoted key in a JSON object"));
            }
            let key = self.string()?;
            if entries.iter().any(|entry| entry.key == key) {
                return Err(
                    Diagnostic::new(self.origin, key_at, format!("duplicate key `{key}`"))
                        .help("each key may appear once in an object; merge the two entries"),
                );
            }

            self.skip_whitespace();
            self.expect(':', "after an object key")?;
            self.skip_whitespace();
            let value = self.value(depth + 1)?;
            entries.push(Entry { key, key_at, value });

            self.skip_whitespace();
            match self.peek() {
                Some(',') => {
                    self.bump();
                    self.skip_whitespace();
                    if self.peek() == Some('}') {
                        return Err(self
                            .error("trailing comma before `}`")
                            .help("remove the last comma"));
                    }
                }
                Some('}') => {
                    self.bump();
                    return Ok(Value::Object(entries));
                }
                _ => {
                    self.expect('}', "or `,` after an object entry")?;
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, Diagnostic> {
        self.bump();
        let mut items = Vec::new();

        self.skip_whitespace();
        if self.peek() == Some(']') {
            self.bump();
            return Ok(Value::Array(items));
        }

        loop {
            self.skip_whitespace();
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(',') => {
                    self.bump();
                    self.skip_whitespace();
                    if self.peek() == Some(']') {
                        return Err(self
                            .error("trailing comma before `]`")
                            .help("remove the last comma"));
                    }
                }
                Some(']') => {
                    self.bump();
                    return Ok(Value::Array(items));
                }
                _ => {
                    self.expect(']', "or `,` after a list item")?;
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, Diagnostic> {
        let start = self.pos();
        self.bump();
        let mut text = String::new();

        loop {
            match self.bump() {
                None => {
                    return Err(Diagnostic::new(self.origin, start, "unterminated string")
                        .help("close the string with a double quote"));
                }
                Some('"') => return Ok(text),
                Some('\\') => text.push(self.escape()?),
                Some(c) if (c as u32) < 0x20 => {
                    return Err(self
                        .error("control character inside a string")
                        .help("write it as an escape such as `\\n`"));
                }
                Some(c) => text.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<char, Diagnostic> {
        let escaped = match self.bump() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => return self.unicode_escape(),
            Some(other) => {
                return Err(self.error(format!("unknown escape `\\{other}` in a string")));
            }
            None => return Err(self.error("unterminated escape at the end of the input")),
        };
        Ok(escaped)
    }

    fn unicode_escape(&mut self) -> Result<char, Diagnostic> {
        let high = self.hex4()?;
        if !(0xD800..0xDC00).contains(&high) {
            return char::from_u32(high).ok_or_else(|| self.error("invalid `\\u` escape"));
        }

        // A high surrogate must be followed by `\u` and a low surrogate.
        if self.bump() != Some('\\') || self.bump() != Some('u') {
            return Err(self.error("unpaired surrogate in a `\\u` escape"));
        }
        let low = self.hex4()?;
        if !(0xDC00..0xE000).contains(&low) {
            return Err(self.error("unpaired surrogate in a `\\u` escape"));
        }
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        char::from_u32(code).ok_or_else(|| self.error("invalid `\\u` escape"))
    }

    fn hex4(&mut self) -> Result<u32, Diagnostic> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .bump()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.error("expected four hex digits after `\\u`"))?;
            code = code * 16 + digit;
        }
        Ok(code)
    }

    fn number(&mut self) -> Result<String, Diagnostic> {
        let start = self.offset;

        if self.peek() == Some('-') {
            self.bump();
        }
        match self.peek() {
            Some('0') => {
                self.bump();
            }
            Some('1'..='9') => self.digits(),
            _ => return Err(self.error("expected a digit in a number")),
        }
        if self.peek() == Some('.') {
            self.bump();
            if !matches!(self.peek(), Some('0'..='9')) {
                return Err(self.error("expected a digit after the decimal point"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            if !matches!(self.peek(), Some('0'..='9')) {
                return Err(self.error("expected a digit in the exponent"));
            }
            self.digits();
        }

        Ok(self.text[start..self.offset].to_owned())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some('0'..='9')) {
            self.bump();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> Diagnostic {
        parse_json("p.json", text).unwrap_err()
    }

    #[test]
    fn values_keep_their_positions() {
        let node = parse_json(
            "p.json",
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}",
        )
        .unwrap();
        let entries = node.as_object().unwrap();
        assert_eq!(entries[0].key_at, Pos::new(2, 3));
        assert_eq!(entries[0].value.at, Pos::new(2, 14));
        assert_eq!(entries[1].value.value, Value::Array(vec![]));
    }

    #[test]
    fn strings_unescape() {
        let node = parse_json("p.json", r#""a\"b\u00e9\ud83d\ude00\/""#).unwrap();
        assert_eq!(node.as_str(), Some("a\"bé😀/"));
    }

    #[test]
    fn numbers_keep_their_text() {
        let node = parse_json("p.json", "[0, -1.50, 2e10]").unwrap();
        let Value::Array(items) = node.value else {
            panic!("not an array")
        };
        let texts: Vec<_> = items
            .iter()
            .map(|item| item.scalar_text().unwrap())
            .collect();
        assert_eq!(texts, ["0", "-1.50", "2e10"]);
    }

    #[test]
    fn trailing_comma_is_located() {
        let error = error_of("{\"a\": 1,\n }");
        assert_eq!(error.at, Pos::new(2, 2));
        assert!(error.message.contains("trailing comma"), "{error}");
    }

    #[test]
    fn duplicate_key_is_located_at_the_second_key() {
        let error = error_of("{\"Effect\": \"Allow\", \"Effect\": \"Deny\"}");
        assert_eq!(error.at, Pos::new(1, 21));
        assert_eq!(error.message, "duplicate key `Effect`");
    }

    #[test]
    fn unterminated_string_points_at_its_start() {
        let error = error_of("{\"a\": \"open");
        assert_eq!(error.at, Pos::new(1, 7));
    }

    #[test]
    fn garbage_after_document_is_rejected() {
        assert!(error_of("{} x").message.contains("after the end"));
        assert!(error_of("").message.contains("end of the input"));
        assert!(error_of("{'a': 1}").message.contains("double-quoted key"));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let text = "[".repeat(10_000);
        assert!(error_of(&text).message.contains("nested deeper"));
    }
}
