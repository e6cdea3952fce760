//! Wildcard matching for actions, resources, `StringLike` and `ArnLike`.
//!
//! AWS uses one wildcard language in several places: `*` matches any run of characters
//! (including none) and `?` matches exactly one. Actions compare case-insensitively, resources
//! and strings case-sensitively. ARNs are matched one colon-delimited segment at a time, except
//! that a `*` ending a pattern's last segment may run on past further colons
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>).
//!
//! Patterns are compiled once when a policy is read; the common shapes (`*`, an exact name, a
//! `Prefix*`) get their own fast paths because the evaluator runs them for every statement.

/// One element of a wildcard pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Literal(String),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A compiled wildcard pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    shape: Shape,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    Any,
    Exact(Box<str>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Contains(Box<str>),
    General(Box<[Token]>),
}

impl Glob {
    /// Compiles `pattern`, in which `*` and `?` are wildcards.
    pub fn new(pattern: &str) -> Glob {
        Glob::from_tokens(tokenize(pattern))
    }

    /// A pattern that matches `text` and nothing else.
    pub fn literal(text: &str) -> Glob {
        Glob {
            shape: Shape::Exact(text.into()),
        }
    }

    /// Compiles a token sequence, merging neighbouring literals and runs of `*`.
    pub fn from_tokens(tokens: Vec<Token>) -> Glob {
        let mut merged: Vec<Token> = Vec::with_capacity(tokens.len());
        for token in tokens {
            match (merged.last_mut(), token) {
                (Some(Token::Literal(last)), Token::Literal(text)) => last.push_str(&text),
                (Some(Token::Star), Token::Star) => {}
                (_, Token::Literal(text)) if text.is_empty() => {}
                (_, token) => merged.push(token),
            }
        }

        let shape = match merged.as_slice() {
            [] => Shape::Exact("".into()),
            [Token::Star] => Shape::Any,
            [Token::Literal(text)] => Shape::Exact(text.as_str().into()),
            [Token::Literal(text), Token::Star] => Shape::Prefix(text.as_str().into()),
            [Token::Star, Token::Literal(text)] => Shape::Suffix(text.as_str().into()),
            [Token::Star, Token::Literal(text), Token::Star] => {
                Shape::Contains(text.as_str().into())
            }
            _ => Shape::General(merged.into_boxed_slice()),
        };
        Glob { shape }
    }

    pub fn is_any(&self) -> bool {
        matches!(self.shape, Shape::Any)
    }

    /// The text a wildcard-free pattern matches.
    pub fn literal_text(&self) -> Option<&str> {
        match &self.shape {
            Shape::Exact(text) => Some(text),
            _ => None,
        }
    }

    /// Whether the pattern ends in `*`, which lets an ARN pattern's last segment span colons.
    pub fn ends_with_star(&self) -> bool {
        match &self.shape {
            Shape::Any | Shape::Prefix(_) | Shape::Contains(_) => true,
            Shape::Exact(_) | Shape::Suffix(_) => false,
            Shape::General(tokens) => matches!(tokens.last(), Some(Token::Star)),
        }
    }

    #[inline]
    pub fn is_match(&self, whole: &str) -> bool {
        let text = whole.as_bytes();
        match &self.shape {
            Shape::Any => true,
            Shape::Exact(exact) => short_eq(exact.as_bytes(), text),
            Shape::Prefix(prefix) => {
                text.len() >= prefix.len() && short_eq(prefix.as_bytes(), &text[..prefix.len()])
            }
            Shape::Suffix(suffix) => {
                text.len() >= suffix.len()
                    && short_eq(suffix.as_bytes(), &text[text.len() - suffix.len()..])
            }
            Shape::Contains(part) => find_short(text, part.as_bytes()).is_some(),
            Shape::General(tokens) => match_tokens(tokens, whole),
        }
    }
}

/// Splits a pattern into literals and wildcards.
pub fn tokenize(pattern: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut literal = String::new();
    for c in pattern.chars() {
        match c {
            '*' | '?' => {
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(if c == '*' { Token::Star } else { Token::One });
            }
            _ => literal.push(c),
        }
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal));
    }
    tokens
}

/// Matches with one remembered `*`: on a mismatch, the last `*` takes one more character and
/// matching resumes after it. This is complete for `*`/`?` patterns and never recurses.
fn match_tokens(tokens: &[Token], text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut token = 0;
    let mut offset = 0;
    let mut resume: Option<(usize, usize)> = None;

    loop {
        if let Some(current) = tokens.get(token) {
            let advanced = match current {
                Token::Star => {
                    token += 1;
                    // Skip straight to where the next literal occurs: nothing before can match.
                    if let Some(Token::Literal(literal)) = tokens.get(token) {
                        match find_short(&bytes[offset..], literal.as_bytes()) {
                            Some(skip) => offset += skip,
                            None => return false,
                        }
                    }
                    resume = Some((token, offset));
                    continue;
                }
                Token::One if offset < bytes.len() => Some(offset + char_width(bytes[offset])),
                Token::Literal(literal) if text[offset..].starts_with(literal.as_str()) => {
                    Some(offset + literal.len())
                }
                _ => None,
            };
            if let Some(next) = advanced {
                token += 1;
                offset = next;
                continue;
            }
        } else if offset == bytes.len() {
            return true;
        }

        match resume {
            Some((after_star, tried)) if tried < bytes.len() => {
                let mut next = tried + char_width(bytes[tried]);
                if let Some(Token::Literal(literal)) = tokens.get(after_star) {
                    match find_short(&bytes[next..], literal.as_bytes()) {
                        Some(skip) => next += skip,
                        None => return false,
                    }
                }
                resume = Some((after_star, next));
                token = after_star;
                offset = next;
            }
            _ => return false,
        }
    }
}

/// Byte equality without a call to `memcmp`, which costs more than it saves on the few bytes
/// of an action name or ARN segment.
#[inline]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Where `needle` first occurs in `haystack`: a first-byte scan, cheaper than a two-way
/// searcher for the short texts of policies.
fn find_short(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    let last_start = haystack.len().checked_sub(needle.len())?;
    (0..=last_start)
        .find(|&at| haystack[at] == first && short_eq(&haystack[at + 1..at + needle.len()], rest))
}

/// Width in bytes of the UTF-8 character that starts with `lead`.
fn char_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// An ARN pattern, matched segment by segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArnGlob {
    /// At most six: `arn`, partition, service, region, account, and the resource part, which
    /// may itself hold colons.
    segments: Box<[Glob]>,
    /// The leading segments that are plain text, joined with their colons: matched as one
    /// prefix. Never includes the last segment.
    prefix: Box<str>,
    /// How many segments `prefix` covers.
    prefix_segments: usize,
}

impl ArnGlob {
    pub fn new(pattern: &str) -> ArnGlob {
        ArnGlob::from_tokens(tokenize(pattern))
    }

    /// Splits a token sequence at its first five colons and compiles each segment.
    pub fn from_tokens(tokens: Vec<Token>) -> ArnGlob {
        let mut segments: Vec<Vec<Token>> = vec![Vec::new()];
        for token in tokens {
            let Token::Literal(text) = token else {
                segments.last_mut().expect("never empty").push(token);
                continue;
            };
            let mut rest = text.as_str();
            while segments.len() < 6 {
                let Some(colon) = rest.find(':') else { break };
                segments
                    .last_mut()
                    .expect("never empty")
                    .push(Token::Literal(rest[..colon].to_owned()));
                segments.push(Vec::new());
                rest = &rest[colon + 1..];
            }
            segments
                .last_mut()
                .expect("never empty")
                .push(Token::Literal(rest.to_owned()));
        }
        let segments: Box<[Glob]> = segments.into_iter().map(Glob::from_tokens).collect();
        let mut prefix = String::new();
        let mut prefix_segments = 0;
        for segment in &segments[..segments.len() - 1] {
            let Shape::Exact(text) = &segment.shape else {
                break;
            };
            prefix.push_str(text);
            prefix.push(':');
            prefix_segments += 1;
        }
        ArnGlob {
            segments,
            prefix: prefix.into(),
            prefix_segments,
        }
    }

    pub fn is_any(&self) -> bool {
        self.segments.len() == 1 && self.segments[0].is_any()
    }

    pub fn is_match(&self, arn: &str) -> bool {
        let last = self.segments.len() - 1;
        let Some(mut rest) = arn.strip_prefix(&*self.prefix) else {
            return false;
        };

        for (index, segment) in self.segments.iter().enumerate().skip(self.prefix_segments) {
            if index == last {
                // The final segment takes the remaining text whole when it is the resource
                // part (the sixth) or ends with `*`; otherwise it must be the last segment.
                if index == 5 || segment.ends_with_star() {
                    return segment.is_match(rest);
                }
                return !rest.bytes().any(|b| b == b':') && segment.is_match(rest);
            }
            let Some(colon) = rest.bytes().position(|b| b == b':') else {
                return false;
            };
            if !segment.is_match(&rest[..colon]) {
                return false;
            }
            rest = &rest[colon + 1..];
        }
        unreachable!("the loop returns at the last segment")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_shapes() {
        assert!(Glob::new("*").is_match(""));
        assert!(Glob::new("Get*").is_match("GetUser"));
        assert!(!Glob::new("Get*").is_match("ListUsers"));
        assert!(Glob::new("*AccessKey*").is_match("ListAccessKeys"));
        assert!(Glob::new("a?c").is_match("abc"));
        assert!(!Glob::new("a?c").is_match("ac"));
        assert!(Glob::new("a?c").is_match("aéc"));
        assert!(Glob::new("a*b*c").is_match("aXbYbZc"));
        assert!(!Glob::new("a*b*c").is_match("aXbYbZ"));
    }

    #[test]
    fn documented_s3_examples() {
        // reference_policies_elements_resource.html: `*` spans `/` and matches nothing.
        let glob = ArnGlob::new("arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*");
        assert!(glob.is_match("arn:aws:s3:::DOC-EXAMPLE-BUCKET//test/object.jpg"));
        assert!(glob.is_match("arn:aws:s3:::DOC-EXAMPLE-BUCKET/1/test/"));
        assert!(!glob.is_match("arn:aws:s3:::DOC-EXAMPLE-BUCKET/test/object.jpg"));
    }

    #[test]
    fn arn_segments_do_not_bleed() {
        // reference_policies_elements_condition_operators.html, the ArnLike example.
        let glob = ArnGlob::new("arn:aws:someservice:*:111122223333:finance/*");
        let arn = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
        assert!(!glob.is_match(arn));
        assert!(Glob::new("arn:aws:someservice:*:111122223333:finance/*").is_match(arn));
    }

    #[test]
    fn trailing_star_spans_colons() {
        assert!(ArnGlob::new("arn:aws:iam::*").is_match("arn:aws:iam::123456789012:user/bob"));
        assert!(ArnGlob::new("*").is_match("arn:aws:iam::123456789012:user/bob"));
        assert!(!ArnGlob::new("arn:aws:iam::1234").is_match("arn:aws:iam::1234:user/bob"));
        assert!(
            ArnGlob::new("arn:aws:logs:*:*:log-group:app:*")
                .is_match("arn:aws:logs:us-east-1:1:log-group:app:log-stream:x")
        );
    }

    #[test]
    fn resources_are_case_sensitive() {
        assert!(!ArnGlob::new("arn:aws:iam::1:user/Bob").is_match("arn:aws:iam::1:user/bob"));
    }
}
