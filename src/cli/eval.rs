//! `lockdrill eval`: ask a world whether AWS would allow a request, and why.
//!
//! One request comes from flags and prints as text or JSON; many come from a JSON-lines file
//! and print one JSON decision a line, in order. A request line that cannot be read prints an
//! error object in its place, so that output lines always match input lines.

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{EXIT_ALLOWED, EXIT_BAD_INPUT, EXIT_DENIED, EvalArgs, Format};
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
        Some(path) => run_many(&world, path),
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

    let output = match args.format {
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

fn run_many(world: &World, path: &Path) -> u8 {
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

    let mut stdout = std::io::stdout().lock();
    let (mut denied, mut bad) = (false, false);
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

        let printed = match query_from_line(&origin, number, &line)
            .map_err(|problems| problems.to_string())
            .and_then(|query| {
                decide(world, &query).map_err(|error| format!("error: {origin}:{number}: {error}"))
            }) {
            Ok(report) => {
                denied |= report.decision != "allow";
                serde_json::to_string(&report).expect("a report always serializes")
            }
            Err(message) => {
                bad = true;
                eprintln!("{message}");
                serde_json::json!({ "line": number, "error": message }).to_string()
            }
        };
        if writeln!(stdout, "{printed}").is_err() {
            return EXIT_BAD_INPUT;
        }
    }

    if bad {
        EXIT_BAD_INPUT
    } else if denied {
        EXIT_DENIED
    } else {
        EXIT_ALLOWED
    }
}

/// What `eval` prints for one request.
#[derive(Debug, Serialize)]
struct Report {
    decision: &'static str,
    decided_by: Option<&'static str>,
    principal: String,
    action: String,
    resource: String,
    matched: Vec<MatchedReport>,
    message: Option<String>,
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
    let request = Request {
        principal: &prepared.principal,
        action: &query.action,
        resource: &query.resource,
        resource_account: &prepared.resource_account,
        context: &prepared.context,
    };
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
}

fn query_from_line(origin: &str, number: usize, line: &str) -> Result<Query, Diagnostics> {
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

    Ok(Query {
        principal: request.principal,
        action: request.action,
        resource: request.resource,
        resource_account: request.resource_account,
        context,
        session_policy,
    })
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
