//! `{{NAME}}` placeholders: found, checked against the drill's variables, and replaced.
//!
//! A whole runbook is checked before its first block runs, counting the variables that earlier
//! blocks will capture, so a misspelt placeholder in the last step fails the drill at once and
//! at its line and column, not after the first half of a recovery has already been applied.

use std::collections::{BTreeMap, BTreeSet};

use super::Runbook;
use super::parse::is_variable_name;
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};

/// One `{{NAME}}` in a block: where it is in the code and what it names.
#[derive(Debug, PartialEq, Eq)]
struct Placeholder<'a> {
    /// 0-based line within the block's code.
    line: usize,
    /// 0-based character offset within that line.
    column: usize,
    /// The byte range of the whole placeholder within the code.
    span: std::ops::Range<usize>,
    /// The name, or `None` when the placeholder is malformed (`{{NAME` without `}}`).
    name: Option<&'a str>,
}

/// Checks every placeholder of `runbook` against `known` plus the captures of earlier blocks.
pub(super) fn check(runbook: &Runbook, known: &BTreeSet<String>) -> Result<(), Diagnostics> {
    let origin = runbook.origin();
    let mut known = known.clone();
    let mut problems = Vec::new();

    for block in &runbook.blocks {
        for placeholder in placeholders(&block.code) {
            let at = Pos::new(
                block.line + 1 + placeholder.line as u32,
                block.indent + 1 + placeholder.column as u32,
            );
            let text = &block.code[placeholder.span.clone()];
            match placeholder.name {
                Some(name) if known.contains(name) => {}
                Some(name) => problems.push(
                    Diagnostic::new(&origin, at, format!("unknown placeholder `{{{{{name}}}}}`"))
                        .help(known_list(&known)),
                ),
                None => problems.push(
                    Diagnostic::new(&origin, at, format!("unterminated placeholder `{text}`"))
                        .help("write placeholders as `{{NAME}}`"),
                ),
            }
        }
        known.extend(block.capture.clone());
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(problems))
    }
}

/// `code` with each placeholder replaced by its variable's value; unknown names are left as
/// written (call [`check`] first).
pub(super) fn substitute(code: &str, variables: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(code.len());
    let mut copied = 0;
    for placeholder in placeholders(code) {
        let Some(value) = placeholder.name.and_then(|name| variables.get(name)) else {
            continue;
        };
        out.push_str(&code[copied..placeholder.span.start]);
        out.push_str(value);
        copied = placeholder.span.end;
    }
    out.push_str(&code[copied..]);
    out
}

fn known_list(known: &BTreeSet<String>) -> String {
    if known.is_empty() {
        return "no drill variables are defined; capture one with `capture=NAME`".into();
    }
    let names: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
    format!("known variables: {}", names.join(", "))
}

/// Every `{{NAME}}` (spaces allowed inside the braces) in `code`. A `{{` not followed by a
/// name is not a placeholder, so shell and `jq` text such as `{{"a":1}}` passes through.
fn placeholders(code: &str) -> Vec<Placeholder<'_>> {
    let mut found = Vec::new();
    let mut line_start = 0;

    for (line, text) in code.split('\n').enumerate() {
        let mut from = 0;
        while let Some(offset) = text[from..].find("{{") {
            let start = from + offset;
            let inner = &text[start + 2..];
            let name_start = inner.len() - inner.trim_start_matches(' ').len();
            let name_len = inner[name_start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len() - name_start);
            let name = &inner[name_start..name_start + name_len];
            if !is_variable_name(name) {
                from = start + 2;
                continue;
            }

            let after = &inner[name_start + name_len..];
            let closing = after.len() - after.trim_start_matches(' ').len();
            let closed = after[closing..].starts_with("}}");
            let end = if closed {
                start + 2 + name_start + name_len + closing + 2
            } else {
                start + 2 + name_start + name_len
            };
            found.push(Placeholder {
                line,
                column: text[..start].chars().count(),
                span: line_start + start..line_start + end,
                name: closed.then_some(name),
            });
            from = end;
        }
        line_start += text.len() + 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn placeholders_are_replaced_and_other_braces_are_kept() {
        let vars = variables(&[("ACCOUNT_ID", "111"), ("POLICY_ID", "p-1")]);

        let code = "aws x --id {{ACCOUNT_ID}}\njq '{{\"a\":1}}' {{ POLICY_ID }}{{ACCOUNT_ID}}";

        assert_eq!(
            substitute(code, &vars),
            "aws x --id 111\njq '{{\"a\":1}}' p-1111"
        );
    }

    #[test]
    fn unknown_placeholders_are_located_and_list_the_known_variables() {
        let runbook = Runbook::parse(
            "book.md",
            "text\n\n  ```sh capture=POLICY_ID\n  echo {{ACCOUNT_ID}}\n  ```\n\n```sh\n\
             echo {{POLICY_ID}} {{POLICY_NAME}}\necho {{ACCOUNT_ID\n```\n",
        )
        .unwrap();
        let known = BTreeSet::from(["ACCOUNT_ID".to_owned()]);

        let problems = check(&runbook, &known).unwrap_err();

        assert_eq!(
            problems.to_string(),
            "error: book.md:8:20: unknown placeholder `{{POLICY_NAME}}`\n  \
             help: known variables: `ACCOUNT_ID`, `POLICY_ID`\n\
             error: book.md:9:6: unterminated placeholder `{{ACCOUNT_ID`\n  \
             help: write placeholders as `{{NAME}}`"
        );
    }

    #[test]
    fn a_capture_is_not_known_before_its_block() {
        let runbook = Runbook::parse(
            "b.md",
            "```sh\necho {{ID}}\n```\n```sh capture=ID\necho 1\n```\n",
        )
        .unwrap();

        let problems = check(&runbook, &BTreeSet::new()).unwrap_err();

        assert_eq!(problems.0.len(), 1);
        assert_eq!(problems.0[0].at, Pos::new(2, 6));
        assert!(
            problems.0[0]
                .help
                .as_deref()
                .unwrap()
                .starts_with("no drill variables")
        );
    }
}
