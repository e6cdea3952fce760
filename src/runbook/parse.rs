//! Runbook Markdown to blocks: fenced code blocks found the CommonMark way, steps kept.
//!
//! Only what runbooks need is recognised: backtick or tilde fences of three or more, indented
//! by at most three spaces, closed by a fence of the same character at least as long. Blocks
//! tagged `sh`, `bash` or `shell` are steps; their info string's options are checked here, so a
//! typo such as `captrue=ID` is an error at its column rather than a silently ignored word.

use std::time::Duration;

use super::{Block, DEFAULT_BLOCK_TIMEOUT};
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};

/// The info-string languages that make a block a step.
const SHELL_LANGUAGES: [&str; 3] = ["sh", "bash", "shell"];

/// An opening or closing fence: its indentation, character and length.
struct Fence {
    indent: usize,
    marker: char,
    length: usize,
}

/// Parses every fenced block of `text`, keeping the shell ones as steps.
pub(super) fn blocks(origin: &str, text: &str) -> Result<Vec<Block>, Diagnostics> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut problems = Vec::new();
    let mut index = 0;

    while index < lines.len() {
        let Some((open, info)) = fence(lines[index]) else {
            index += 1;
            continue;
        };
        let line = line_number(index);

        // The body runs to the first closing fence of the same kind, or the end of the file.
        let close = lines[index + 1..]
            .iter()
            .position(|candidate| closes(candidate, &open))
            .map(|offset| index + 1 + offset);
        let Some(close) = close else {
            let marker: String = std::iter::repeat_n(open.marker, open.length).collect();
            problems.push(
                Diagnostic::new(
                    origin,
                    Pos::new(line, column(open.indent)),
                    format!("unterminated code block opened with `{marker}`"),
                )
                .help(format!("close the block with a line of `{marker}`")),
            );
            break;
        };

        let info_start = info.as_ptr() as usize - lines[index].as_ptr() as usize;
        let info_column = column(lines[index][..info_start].chars().count());
        match step(origin, line, info_column, info) {
            Ok(Some(mut block)) => {
                block.indent = open.indent as u32;
                block.code = lines[index + 1..close]
                    .iter()
                    .map(|body| strip_indent(body, open.indent))
                    .collect::<Vec<_>>()
                    .join("\n");
                blocks.push(block);
            }
            Ok(None) => {}
            Err(mut found) => problems.append(&mut found),
        }
        index = close + 1;
    }

    if problems.is_empty() {
        Ok(blocks)
    } else {
        Err(Diagnostics(problems))
    }
}

/// A step from a block's info string, `None` for prose blocks, or the options that are wrong.
fn step(
    origin: &str,
    line: u32,
    info_column: u32,
    info: &str,
) -> Result<Option<Block>, Vec<Diagnostic>> {
    let mut words = words(info);
    let Some((_, language)) = words.next() else {
        return Ok(None);
    };
    if !SHELL_LANGUAGES.contains(&language) {
        return Ok(None);
    }

    let mut block = Block {
        line,
        indent: 0,
        code: String::new(),
        capture: None,
        expect_failure: false,
        timeout: DEFAULT_BLOCK_TIMEOUT,
    };
    let mut problems = Vec::new();
    for (offset, word) in words {
        let at = Pos::new(line, info_column + offset as u32);
        let problem = match word.split_once('=') {
            None if word == "expect-failure" => {
                block.expect_failure = true;
                continue;
            }
            Some(("capture", name)) if is_variable_name(name) && block.capture.is_none() => {
                block.capture = Some(name.to_owned());
                continue;
            }
            Some(("capture", _)) if block.capture.is_some() => {
                Diagnostic::new(origin, at, format!("second capture option `{word}`"))
                    .help("a block captures its stdout into one variable")
            }
            Some(("capture", name)) => Diagnostic::new(
                origin,
                at,
                format!("bad variable name `{name}` in `{word}`"),
            )
            .help("use letters, digits and `_`, not starting with a digit: `capture=POLICY_ID`"),
            Some(("timeout", seconds)) => match seconds.parse::<u64>() {
                Ok(seconds) if seconds > 0 => {
                    block.timeout = Duration::from_secs(seconds);
                    continue;
                }
                _ => Diagnostic::new(origin, at, format!("bad timeout `{seconds}`"))
                    .help("give whole seconds above zero: `timeout=120`"),
            },
            _ => Diagnostic::new(origin, at, format!("unknown block option `{word}`")).help(
                "a step's info string takes `capture=NAME`, `expect-failure` and \
                 `timeout=SECONDS`",
            ),
        };
        problems.push(problem);
    }

    if problems.is_empty() {
        Ok(Some(block))
    } else {
        Err(problems)
    }
}

/// The whitespace-separated words of `text`, each with its character offset.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(char::is_whitespace)
        .scan(0, |offset, word| {
            let start = *offset;
            *offset += word.chars().count() + 1;
            Some((start, word))
        })
        .filter(|(_, word)| !word.is_empty())
}

/// An opening fence and its info string, if `line` is one.
fn fence(line: &str) -> Option<(Fence, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let marker = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let length = rest.len() - rest.trim_start_matches(marker).len();
    if length < 3 {
        return None;
    }
    let info = rest[length..].trim();
    if marker == '`' && info.contains('`') {
        return None;
    }
    Some((
        Fence {
            indent,
            marker,
            length,
        },
        info,
    ))
}

/// Whether `line` closes a block opened by `open`.
fn closes(line: &str, open: &Fence) -> bool {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    let length = rest.len() - rest.trim_start_matches(open.marker).len();
    indent <= 3 && length >= open.length && rest[length..].trim().is_empty()
}

/// Removes up to `indent` leading spaces, as CommonMark does inside an indented fence.
fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

/// Whether `name` can be a drill variable: `[A-Za-z_][A-Za-z0-9_]*`.
pub(super) fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn line_number(index: usize) -> u32 {
    index as u32 + 1
}

fn column(offset: usize) -> u32 {
    offset as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Block>, Diagnostics> {
        blocks("book.md", text)
    }

    fn first_error(text: &str) -> String {
        parse(text).unwrap_err().0[0].to_string()
    }

    #[test]
    fn shell_blocks_are_steps_and_other_blocks_are_prose() {
        let text = "# Title\n\n```json\n{}\n```\n\n```sh\naws sts get-caller-identity\n```\n\
                    text\n~~~bash capture=WHO\necho a\necho b\n~~~\n\
                    ```shell expect-failure\nfalse\n```\n";

        let blocks = parse(text).unwrap();

        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].line, 7);
        assert_eq!(blocks[0].code, "aws sts get-caller-identity");
        assert_eq!(blocks[1].capture.as_deref(), Some("WHO"));
        assert_eq!(blocks[1].code, "echo a\necho b");
        assert!(!blocks[1].expect_failure);
        assert!(blocks[2].expect_failure);
        assert_eq!(blocks[2].timeout, DEFAULT_BLOCK_TIMEOUT);
    }

    #[test]
    fn a_longer_fence_holds_a_shorter_one_and_indentation_is_removed() {
        let text = "- step\n  ````sh timeout=5\n  cat <<'EOF'\n  ```\n    EOF\n  ````\n";

        let blocks = parse(text).unwrap();

        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].code, "cat <<'EOF'\n```\n  EOF");
        assert_eq!(blocks[0].indent, 2);
        assert_eq!(blocks[0].timeout, Duration::from_secs(5));
    }

    #[test]
    fn an_unterminated_fence_is_located_at_its_opening() {
        let error = first_error("intro\n\n  ```sh\naws iam list-users\n");

        assert!(
            error.starts_with("book.md:3:3: unterminated code block"),
            "{error}"
        );
        assert!(
            error.contains("help: close the block with a line of ```"),
            "{error}"
        );
    }

    #[test]
    fn unknown_and_malformed_options_are_located_at_their_word() {
        let problems =
            parse("```sh  captrue=ID\nx\n```\n```bash capture=1ID timeout=soon\ny\n```\n")
                .unwrap_err()
                .0;

        let located: Vec<String> = problems
            .iter()
            .map(|problem| format!("{}:{} {}", problem.origin, problem.at, problem.message))
            .collect();
        assert_eq!(
            located,
            [
                "book.md:1:8 unknown block option `captrue=ID`",
                "book.md:4:9 bad variable name `1ID` in `capture=1ID`",
                "book.md:4:21 bad timeout `soon`",
            ]
        );
    }

    #[test]
    fn a_second_capture_is_an_error() {
        let error = first_error("```sh capture=A capture=B\nx\n```\n");

        assert!(
            error.starts_with("book.md:1:17: second capture option"),
            "{error}"
        );
    }

    #[test]
    fn options_on_prose_blocks_are_not_checked() {
        assert_eq!(parse("```text whatever=1\nx\n```\n").unwrap(), []);
    }

    #[test]
    fn variable_names() {
        assert!(is_variable_name("POLICY_ID"));
        assert!(is_variable_name("_x1"));
        assert!(!is_variable_name(""));
        assert!(!is_variable_name("1A"));
        assert!(!is_variable_name("A-B"));
    }
}
