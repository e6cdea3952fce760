//! `lockdrill eval`: ask a world whether AWS would allow a request, and why.
//!
//! One request comes from flags and prints as text or JSON; many come from a JSON-lines file
//! and print one JSON decision a line, in order. A request line that cannot be read prints an
//! error object in its place, so that output lines always match input lines.

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{
    EXIT_ALLOWED, EXIT_BAD_INPUT, EXIT_DENIED, EXIT_EXPECTED, EXIT_UNEXPECTED, EvalArgs, Format,
};
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::policy::{
    ContextValue, Decision, Policy, PolicyKind, PolicyType, Request, evaluate, parse_policy,
};
use crate::world::{Prepared, Query, QueryError, World};

pub fn run(args: &EvalArgs) -> u8 {
    let world = match World::load(&args.world) {
        Ok(world) => world,
        Err(problems) => {
            eprintln!("{problems}");
            return EXIT_BAD_INPUT;
        }
    };
    tracing::debug!(world = %args.world.display(), accounts = world.accounts.len(), "world loaded");

    match &args.requests {
        Some(path) => run_many(&world, path, args),
        None => run_one(&world, args),
    }
}

fn run_one(world: &World, args: &EvalArgs) -> u8 {
    let query = match query_from_flags(args) {
        Ok(query) => query,
        Err(problems) => {
            eprintln!("{problems}");
            return EXIT_BAD_INPUT;
        }
    };

    let report = match decide(world, &query) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {}", error.message);
            if let Some(help) = &error.help {
                eprintln!("  help: {help}");
            }
            return EXIT_BAD_INPUT;
        }
    };

    let output = match args.format.unwrap_or(Format::Text) {
        Format::Json => serde_json::to_string_pretty(&report).expect("a report always serializes"),
        Format::Text => render_text(&report),
    };
    println!("{output}");
    if report.decision == "allow" {
        EXIT_ALLOWED
    } else {
        EXIT_DENIED
    }
}

fn run_many(world: &World, path: &Path, args: &EvalArgs) -> u8 {
    let origin = path.display().to_string();
    let reader: Box<dyn BufRead> = if origin == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(path) {
            Ok(file) => Box::new(std::io::BufReader::new(file)),
            Err(error) => {
                eprintln!("error: {origin}: cannot read the request file: {error}");
                return EXIT_BAD_INPUT;
            }
        }
    };
    let format = args.format.unwrap_or(Format::Json);

    let mut stdout = std::io::stdout().lock();
    let mut tally = Tally::default();
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                eprintln!("error: {origin}:{number}: cannot read the line: {error}");
                return EXIT_BAD_INPUT;
            }
        };
        if line.trim().is_empty() {
            continue;
        }

        let outcome = query_from_line(&origin, number, &line)
            .map_err(|problems| problems.to_string())
            .and_then(|(query, label)| {
                let mut report = decide(world, &query).map_err(|error| match &error.help {
                    Some(help) => format!("error: {origin}:{number}: {error}\n  help: {help}"),
                    None => format!("error: {origin}:{number}: {error}"),
                })?;
                report.name = label.name;
                if let Some(expect) = label.expect {
                    report.as_expected = Some(expect.is_met_by(report.decision));
                    report.expected = Some(expect.name());
                } else if args.check {
                    return Err(format!("error: {origin}:{number}: --check needs an `expect` field on every request line"));
                }
                Ok(report)
            });

        let printed = match outcome {
            Ok(report) => {
                tally.denied |= report.decision != "allow";
                tally.unexpected += usize::from(report.as_expected == Some(false));
                tally.checked += 1;
                match format {
                    Format::Json => {
                        serde_json::to_string(&report).expect("a report always serializes")
                    }
                    Format::Text => format!("{}\n", render_numbered(number, &report)),
                }
            }
            Err(message) => {
                tally.bad = true;
                eprintln!("{message}");
                let message = message.strip_prefix("error: ").unwrap_or(&message);
                serde_json::json!({ "line": number, "error": message }).to_string()
            }
        };
        if writeln!(stdout, "{printed}").is_err() {
            return EXIT_BAD_INPUT;
        }
    }

    if args.check && format == Format::Text {
        let met = tally.checked - tally.unexpected;
        let _ = writeln!(stdout, "{met} passed, {} failed", tally.unexpected);
    }
    if tally.bad {
        EXIT_BAD_INPUT
    } else if args.check {
        if tally.unexpected == 0 {
            EXIT_EXPECTED
        } else {
            EXIT_UNEXPECTED
        }
    } else if tally.denied {
        EXIT_DENIED
    } else {
        EXIT_ALLOWED
    }
}

/// What a run of many requests found.
#[derive(Debug, Default)]
struct Tally {
    checked: usize,
    unexpected: usize,
    denied: bool,
    bad: bool,
}

/// The decision a request line expects, with `deny` standing for either kind of deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Allow,
    Deny,
    ImplicitDeny,
    ExplicitDeny,
}

impl Expect {
    fn parse(text: &str) -> Option<Expect> {
        match text {
            "allow" => Some(Expect::Allow),
            "deny" => Some(Expect::Deny),
            "implicit_deny" => Some(Expect::ImplicitDeny),
            "explicit_deny" => Some(Expect::ExplicitDeny),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Expect::Allow => "allow",
            Expect::Deny => "deny",
            Expect::ImplicitDeny => "implicit_deny",
            Expect::ExplicitDeny => "explicit_deny",
        }
    }

    fn is_met_by(self, decision: &str) -> bool {
        match self {
            Expect::Deny => decision != "allow",
            expect => expect.name() == decision,
        }
    }
}

/// The optional label of a request line.
#[derive(Debug, Default)]
struct Label {
    name: Option<String>,
    expect: Option<Expect>,
}

/// What `eval` prints for one request.
#[derive(Debug, Serialize)]
struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    decision: &'static str,
    decided_by: Option<&'static str>,
    principal: String,
    action: String,
    resource: String,
    matched: Vec<MatchedReport>,
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    as_expected: Option<bool>,
}

#[derive(Debug, Serialize)]
struct MatchedReport {
    #[serde(rename = "type")]
    policy_type: &'static str,
    policy: String,
    sid: Option<String>,
    index: usize,
    effect: &'static str,
    /// For SCPs and RCPs: the root, OU or account the policy is attached to.
    #[serde(skip_serializing_if = "Option::is_none")]
    attached_to: Option<String>,
}

fn decide(world: &World, query: &Query) -> Result<Report, QueryError> {
    let now = chrono::Utc::now().timestamp();
    let prepared = world.prepare(query, now)?;
    let request = prepared.request(query);
    let decision = evaluate(&request, &prepared.applicable);
    tracing::debug!(
        principal = %query.principal,
        action = %query.action,
        resource = %query.resource,
        decision = decision.outcome.name(),
        "decided"
    );
    Ok(report(&request, &decision, &prepared))
}

fn report(request: &Request<'_>, decision: &Decision<'_>, prepared: &Prepared<'_>) -> Report {
    Report {
        name: None,
        decision: decision.outcome.name(),
        decided_by: decision.decided_by.map(|policy_type| policy_type.name()),
        principal: request.principal.arn.clone(),
        action: request.action.to_owned(),
        resource: request.resource.to_owned(),
        matched: decision
            .matched
            .iter()
            .map(|statement| MatchedReport {
                policy_type: statement.policy_type.name(),
                policy: statement.policy.to_owned(),
                sid: statement.sid.map(str::to_owned),
                index: statement.index,
                effect: match statement.effect {
                    crate::policy::Effect::Allow => "Allow",
                    crate::policy::Effect::Deny => "Deny",
                },
                attached_to: statement.level.and_then(|level| {
                    let targets = match statement.policy_type {
                        PolicyType::Scp => &prepared.scp_targets,
                        _ => &prepared.rcp_targets,
                    };
                    targets.get(level).cloned()
                }),
            })
            .collect(),
        message: decision.access_denied_message(request),
        expected: None,
        as_expected: None,
    }
}

fn render_text(report: &Report) -> String {
    let mut text = format!("decision:   {}\n", report.decision);
    text.push_str(&format!(
        "decided by: {}\n",
        report.decided_by.unwrap_or("root user (no policy needed)")
    ));
    if report.matched.is_empty() {
        text.push_str("matched:    no statement\n");
    } else {
        text.push_str("matched:\n");
        for statement in &report.matched {
            let which = match &statement.sid {
                Some(sid) => sid.clone(),
                None => format!("statement {}", statement.index),
            };
            let at = statement
                .attached_to
                .as_ref()
                .map(|target| format!(" at {target}"))
                .unwrap_or_default();
            text.push_str(&format!(
                "  {:<6} {:<9} {}  ({which}){at}\n",
                statement.effect, statement.policy_type, statement.policy
            ));
        }
    }
    text.push_str(&format!(
        "message:    {}",
        report.message.as_deref().unwrap_or("none (allowed)")
    ));
    text
}

/// One request of many, as text: a heading line, then the decision indented.
fn render_numbered(number: usize, report: &Report) -> String {
    let verdict = match (report.as_expected, report.expected) {
        (Some(true), Some(expected)) => format!("  [ok: expected {expected}]"),
        (Some(false), Some(expected)) => format!("  [UNEXPECTED: expected {expected}]"),
        _ => String::new(),
    };
    let title = report
        .name
        .clone()
        .unwrap_or_else(|| format!("{} {} {}", report.principal, report.action, report.resource));
    let body: Vec<String> = render_text(report)
        .lines()
        .map(|line| format!("    {line}"))
        .collect();
    format!("#{number} {title}{verdict}\n{}", body.join("\n"))
}

fn query_from_flags(args: &EvalArgs) -> Result<Query, Diagnostics> {
    let mut context: Vec<(String, ContextValue)> = Vec::new();
    for (index, pair) in args.context.iter().enumerate() {
        let origin = format!("--context #{}", index + 1);
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Diagnostic::new(
                &origin,
                Pos::new(1, 1),
                format!("expected KEY=VALUE, found `{pair}`"),
            )
            .help("for example --context aws:MultiFactorAuthPresent=true")
            .into());
        };
        add_context(&mut context, key, value);
    }

    let session_policy = match &args.session_policy {
        None => None,
        Some(path) => {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|error| {
                Diagnostic::new(
                    &origin,
                    Pos::new(1, 1),
                    format!("cannot read the session policy: {error}"),
                )
            })?;
            Some(parse_policy(&origin, &text, PolicyKind::Identity)?)
        }
    };

    Ok(Query {
        principal: args.principal.clone().unwrap_or_default(),
        action: args.action.clone().unwrap_or_default(),
        resource: args.resource.clone().unwrap_or_default(),
        resource_account: args.resource_account.clone(),
        context,
        session_policy,
    })
}

/// Adds a context value; a key given again becomes multi-valued.
fn add_context(context: &mut Vec<(String, ContextValue)>, key: &str, value: &str) {
    match context
        .iter_mut()
        .find(|(existing, _)| existing.eq_ignore_ascii_case(key))
    {
        Some((_, ContextValue::Many(values))) => values.push(value.to_owned()),
        Some((_, existing)) => {
            let first = existing.as_slice()[0].clone();
            *existing = ContextValue::Many(vec![first, value.to_owned()]);
        }
        None => context.push((key.to_owned(), ContextValue::One(value.to_owned()))),
    }
}

/// A request line of `--requests`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestLine {
    principal: String,
    action: String,
    resource: String,
    #[serde(default)]
    resource_account: Option<String>,
    #[serde(default)]
    context: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    session_policy: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    expect: Option<String>,
}

fn query_from_line(origin: &str, number: usize, line: &str) -> Result<(Query, Label), Diagnostics> {
    let at = |column: usize| {
        Pos::new(
            u32::try_from(number).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        )
    };
    let request: RequestLine = serde_json::from_str(line).map_err(|error| {
        let message = error.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        Diagnostic::new(origin, at(error.column()), format!("bad request line: {message}")).help(
            "a request line is {\"principal\": ARN, \"action\": ACTION, \"resource\": ARN} with optional resource_account, context and session_policy",
        )
    })?;

    let mut context = Vec::new();
    for (key, value) in &request.context {
        match value {
            serde_json::Value::String(text) => add_context(&mut context, key, text),
            serde_json::Value::Array(items) => {
                let mut values = Vec::new();
                for item in items {
                    let Some(text) = item.as_str() else {
                        return Err(Diagnostic::new(
                            origin,
                            at(1),
                            format!("context key `{key}` must hold strings"),
                        )
                        .into());
                    };
                    values.push(text.to_owned());
                }
                context.push((key.clone(), ContextValue::Many(values)));
            }
            serde_json::Value::Bool(flag) => add_context(&mut context, key, &flag.to_string()),
            serde_json::Value::Number(number) => {
                add_context(&mut context, key, &number.to_string())
            }
            _ => {
                return Err(Diagnostic::new(
                    origin,
                    at(1),
                    format!("context key `{key}` must be a string or a list of strings"),
                )
                .into());
            }
        }
    }

    let session_policy = match &request.session_policy {
        None | Some(serde_json::Value::Null) => None,
        Some(document) => Some(session_policy_of(origin, number, document)?),
    };

    let expect = match &request.expect {
        None => None,
        Some(text) => Some(Expect::parse(text).ok_or_else(|| {
            Diagnostic::new(origin, at(1), format!("unknown expectation `{text}`"))
                .help("expect one of allow, deny, implicit_deny, explicit_deny")
        })?),
    };
    let label = Label {
        name: request.name,
        expect,
    };

    let query = Query {
        principal: request.principal,
        action: request.action,
        resource: request.resource,
        resource_account: request.resource_account,
        context,
        session_policy,
    };
    Ok((query, label))
}

/// A session policy given inline on a request line, as a JSON object or a string holding one.
fn session_policy_of(
    origin: &str,
    number: usize,
    document: &serde_json::Value,
) -> Result<Policy, Diagnostics> {
    let text = match document {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    parse_policy(
        &format!("{origin}:{number}: session_policy"),
        &text,
        PolicyKind::Identity,
    )
}
