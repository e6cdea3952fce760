//! Property tests of the policy engine, on random but valid policies and requests.
//!
//! Example tests pin down the cases someone thought of; these check the laws that must hold for
//! every input, which is what a lockout drill leans on:
//!
//! - an explicit deny wins: a surely matching `Deny` put anywhere in any applicable policy
//!   (identity, boundary, session, SCP or RCP at any level, resource policy) gives
//!   `ExplicitDeny`, and the outcome is `ExplicitDeny` exactly when the reference matcher finds
//!   an applicable matching `Deny`;
//! - the statements reported as matched are exactly those the reference matcher finds;
//! - order never matters: shuffling statements, policies within identity, session and each
//!   organization level, and the levels, changes neither `outcome` nor `decided_by`;
//! - `Glob` and `ArnGlob` agree with slow, obviously correct reference matchers;
//! - monotonicity: adding an identity `Allow` never takes access away, adding an identity
//!   `Deny` never grants it.
//!
//! Policies are generated as a small model ([`Stmt`], [`Pol`]), rendered to JSON and read with
//! `parse_policy`, so the whole reading and deciding path is exercised. Actions, resources and
//! condition values come from small alphabets, so statements match requests often. The model
//! has its own independent matcher (reference glob, reference ARN rule, condition semantics),
//! against which the engine's `Decision` is checked.

use lockdrill::policy::pattern::{ArnGlob, Glob};
use lockdrill::policy::{
    Applicable, Context, Effect, Outcome, Policy, PolicyKind, PolicyRef, PolicyType, Principal,
    PrincipalKind, Request, evaluate, parse_policy,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Reference matchers: slow and obviously correct.

/// `*` matches any run of characters (including none), `?` exactly one character.
fn reference_glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|skip| reference_glob(rest, &text[skip..])),
        Some(('?', rest)) => !text.is_empty() && reference_glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && reference_glob(rest, &text[1..]),
    }
}

fn glob_str(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    reference_glob(&pattern, &text)
}

/// The ARN rule documented in `pattern.rs`: both sides split at their first five colons; the
/// first five segments match one by one without crossing a colon; a sixth (resource) segment
/// matches the rest whole. A pattern of fewer than six segments whose last segment ends with
/// `*` lets that segment match the rest of the text across colons; otherwise the text must have
/// exactly as many segments as the pattern.
fn reference_arn(pattern: &str, text: &str) -> bool {
    let pattern: Vec<&str> = pattern.splitn(6, ':').collect();
    let count = pattern.len();
    let text: Vec<&str> = if count == 6 || pattern[count - 1].ends_with('*') {
        text.splitn(count, ':').collect()
    } else {
        text.split(':').collect()
    };
    text.len() == count
        && pattern
            .iter()
            .zip(&text)
            .all(|(pattern, text)| glob_str(pattern, text))
}

// ---------------------------------------------------------------------------------------------
// The model of a request and its policies.

const ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];

const ACTIONS: &[&str] = &[
    "iam:AttachUserPolicy",
    "iam:GetUser",
    "iam:ListUsers",
    "iam:PassRole",
    "s3:GetObject",
    "s3:PutObject",
    "ec2:DescribeInstances",
    "ec2:TerminateInstances",
];

const RESOURCES: &[&str] = &[
    "arn:aws:iam::111111111111:user/alice",
    "arn:aws:iam::111111111111:role/admin",
    "arn:aws:iam::222222222222:user/alice",
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::bucket/key/a.txt",
    "arn:aws:ec2:us-east-1:111111111111:instance/i-1",
    "arn:aws:logs:us-east-1:111111111111:log-group:app:log-stream:x",
];

/// Principal ARNs that resource policies may name; some are the request principal's.
const PRINCIPAL_ARNS: &[&str] = &[
    "arn:aws:iam::111111111111:user/alice",
    "arn:aws:iam::222222222222:user/alice",
    "arn:aws:iam::111111111111:role/admin",
    "arn:aws:sts::111111111111:assumed-role/admin/sess",
    "arn:aws:sts::222222222222:federated-user/fed",
];

/// A condition key: its spellings (keys are case-insensitive), the values a request may carry,
/// and the values `StringLike` policies use.
struct Key {
    spellings: [&'static str; 2],
    values: &'static [&'static str],
    likes: &'static [&'static str],
}

const KEYS: [Key; 2] = [
    Key {
        spellings: ["aws:PrincipalTag/team", "AWS:principaltag/TEAM"],
        values: &["red", "blue", "green"],
        likes: &["r*", "*e", "b?ue", "*", "red"],
    },
    Key {
        spellings: ["aws:RequestedRegion", "aws:requestedregion"],
        values: &["us-east-1", "eu-west-1", "ap-south-2"],
        likes: &["us-*", "*-1", "eu-west-?", "*"],
    },
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// The `String...` condition operators.
enum Op {
    Equals,
    NotEquals,
    Like,
    NotLike,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Equals => "StringEquals",
            Op::NotEquals => "StringNotEquals",
            Op::Like => "StringLike",
            Op::NotLike => "StringNotLike",
        }
    }

    fn negated(self) -> bool {
        matches!(self, Op::NotEquals | Op::NotLike)
    }

    fn is_like(self) -> bool {
        matches!(self, Op::Like | Op::NotLike)
    }
}

#[derive(Clone, Debug)]
struct Cond {
    op: Op,
    key: usize,
    /// The key as written in the policy.
    spelled: &'static str,
    values: Vec<&'static str>,
}

#[derive(Clone, Debug, PartialEq)]
enum Who {
    Any,
    Account(&'static str),
    Arn(&'static str),
}

/// Where a policy document is used; boundaries and session policies are identity documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Identity,
    Scp,
    Rcp,
    Resource,
}

#[derive(Clone, Debug)]
struct Stmt {
    sid: String,
    deny: bool,
    not_action: bool,
    actions: Vec<String>,
    not_resource: bool,
    /// Empty: no `Resource` element (resource policies only).
    resources: Vec<String>,
    principals: Option<Vec<Who>>,
    conditions: Vec<Cond>,
}

#[derive(Clone, Debug)]
struct Pol {
    name: String,
    kind: Kind,
    statements: Vec<Stmt>,
}

/// A policy, where it is evaluated.
struct Placed<'s> {
    policy_type: PolicyType,
    /// For SCPs and RCPs, counted from the organization root.
    level: Option<usize>,
    policy: &'s Pol,
    deny_applies: bool,
}

#[derive(Clone, Debug)]
struct Scenario {
    principal_kind: PrincipalKind,
    principal_account: &'static str,
    action: String,
    resource: &'static str,
    resource_account: &'static str,
    /// One optional value per entry of [`KEYS`].
    context: Vec<Option<&'static str>>,
    identity: Vec<Pol>,
    boundary: Option<Pol>,
    session: Vec<Pol>,
    scp: Option<Vec<Vec<Pol>>>,
    rcp: Option<Vec<Vec<Pol>>>,
    resource_policy: Option<Pol>,
    trust: bool,
    ignore_resource_deny: bool,
}

impl Scenario {
    fn principal(&self) -> Principal {
        let account = self.principal_account;
        let (arn, role_arn, federating_user_arn) = match self.principal_kind {
            PrincipalKind::Root => (format!("arn:aws:iam::{account}:root"), None, None),
            PrincipalKind::User => (format!("arn:aws:iam::{account}:user/alice"), None, None),
            PrincipalKind::AssumedRole => (
                format!("arn:aws:sts::{account}:assumed-role/admin/sess"),
                Some(format!("arn:aws:iam::{account}:role/admin")),
                None,
            ),
            PrincipalKind::FederatedUser => (
                format!("arn:aws:sts::{account}:federated-user/fed"),
                None,
                Some(format!("arn:aws:iam::{account}:user/alice")),
            ),
        };
        Principal {
            kind: self.principal_kind,
            arn,
            account: account.to_owned(),
            role_arn,
            federating_user_arn,
            is_service_linked: false,
        }
    }

    fn context(&self) -> Context {
        let mut context = Context::new();
        for (key, value) in KEYS.iter().zip(&self.context) {
            if let Some(value) = value {
                context.insert_one(key.spellings[0], *value);
            }
        }
        context
    }

    fn is_session(&self) -> bool {
        matches!(
            self.principal_kind,
            PrincipalKind::AssumedRole | PrincipalKind::FederatedUser
        )
    }

    /// Every policy, where it is evaluated, and whether a `Deny` in it applies to this request
    /// (session policies only bind sessions; the bucket-owner root may ignore its bucket
    /// policy's denies).
    fn policies(&self) -> Vec<Placed<'_>> {
        let placed = |policy_type, level, policy, deny_applies| Placed {
            policy_type,
            level,
            policy,
            deny_applies,
        };
        let mut all = Vec::new();
        for (policy_type, levels) in [(PolicyType::Scp, &self.scp), (PolicyType::Rcp, &self.rcp)] {
            for (l, level) in levels.iter().flatten().enumerate() {
                all.extend(level.iter().map(|p| placed(policy_type, Some(l), p, true)));
            }
        }
        let root = self.principal_kind == PrincipalKind::Root;
        let resource_deny = !(root && self.ignore_resource_deny);
        all.extend(
            self.resource_policy
                .iter()
                .map(|p| placed(PolicyType::Resource, None, p, resource_deny)),
        );
        all.extend(
            self.identity
                .iter()
                .map(|p| placed(PolicyType::Identity, None, p, true)),
        );
        all.extend(
            self.boundary
                .iter()
                .map(|p| placed(PolicyType::Boundary, None, p, true)),
        );
        let session = self.is_session();
        all.extend(
            self.session
                .iter()
                .map(|p| placed(PolicyType::Session, None, p, session)),
        );
        all
    }

    fn policies_mut(&mut self) -> Vec<&mut Pol> {
        let mut all: Vec<&mut Pol> = Vec::new();
        all.extend(self.identity.iter_mut());
        all.extend(self.boundary.iter_mut());
        all.extend(self.session.iter_mut());
        all.extend(self.scp.iter_mut().flatten().flatten());
        all.extend(self.rcp.iter_mut().flatten().flatten());
        all.extend(self.resource_policy.iter_mut());
        all
    }

    /// Gives every policy a name and every statement a unique `Sid`, to recognise them after
    /// shuffling.
    fn name(mut self) -> Scenario {
        for (i, p) in self.identity.iter_mut().enumerate() {
            p.name = format!("identity{i}");
        }
        if let Some(p) = &mut self.boundary {
            p.name = "boundary".into();
        }
        for (i, p) in self.session.iter_mut().enumerate() {
            p.name = format!("session{i}");
        }
        for (prefix, levels) in [("scp", &mut self.scp), ("rcp", &mut self.rcp)] {
            for (l, level) in levels.iter_mut().flatten().enumerate() {
                for (i, p) in level.iter_mut().enumerate() {
                    p.name = format!("{prefix}{l}.{i}");
                }
            }
        }
        if let Some(p) = &mut self.resource_policy {
            p.name = "resource".into();
        }
        let mut n = 0;
        for p in self.policies_mut() {
            for s in &mut p.statements {
                s.sid = format!("S{n}");
                n += 1;
            }
        }
        self
    }
}

// ---------------------------------------------------------------------------------------------
// The model's own matcher.

fn model_action_matches(stmt: &Stmt, action: &str) -> bool {
    let action = action.to_ascii_lowercase();
    let (service, name) = action.split_once(':').expect("actions have a service");
    let any = stmt.actions.iter().any(|pattern| {
        if pattern == "*" {
            return true;
        }
        let pattern = pattern.to_ascii_lowercase();
        let (p_service, p_name) = pattern.split_once(':').expect("patterns have a service");
        p_service == service && glob_str(p_name, name)
    });
    any != stmt.not_action
}

fn model_resource_matches(stmt: &Stmt, resource: &str) -> bool {
    if stmt.resources.is_empty() {
        return true;
    }
    let any = stmt
        .resources
        .iter()
        .any(|pattern| reference_arn(pattern, resource));
    any != stmt.not_resource
}

fn model_principal_matches(stmt: &Stmt, principal: &Principal) -> bool {
    let Some(principals) = &stmt.principals else {
        return true;
    };
    principals.iter().any(|who| match who {
        Who::Any => true,
        Who::Account(account) => *account == principal.account,
        Who::Arn(arn) => {
            *arn == principal.arn
                || principal.role_arn.as_deref() == Some(arn)
                || principal.federating_user_arn.as_deref() == Some(arn)
        }
    })
}

fn model_condition_holds(cond: &Cond, context: &[Option<&str>]) -> bool {
    match context[cond.key] {
        None => cond.op.negated(),
        Some(value) => {
            let any = cond.values.iter().any(|wanted| {
                if cond.op.is_like() {
                    glob_str(wanted, value)
                } else {
                    *wanted == value
                }
            });
            any != cond.op.negated()
        }
    }
}

fn model_matches(stmt: &Stmt, s: &Scenario, principal: &Principal) -> bool {
    model_action_matches(stmt, &s.action)
        && model_resource_matches(stmt, s.resource)
        && model_principal_matches(stmt, principal)
        && stmt
            .conditions
            .iter()
            .all(|cond| model_condition_holds(cond, &s.context))
}

/// The policy types holding a `Deny` that matches the request and applies to it.
fn model_deny_types(s: &Scenario) -> Vec<PolicyType> {
    let principal = s.principal();
    let mut types: Vec<PolicyType> = s
        .policies()
        .into_iter()
        .filter(|placed| {
            placed.deny_applies
                && placed
                    .policy
                    .statements
                    .iter()
                    .any(|stmt| stmt.deny && model_matches(stmt, s, &principal))
        })
        .map(|placed| placed.policy_type)
        .collect();
    types.dedup();
    types
}

/// Every statement the engine should report as matched: those of every policy it scans.
fn model_matched(s: &Scenario) -> Vec<Matched> {
    let principal = s.principal();
    let mut matched = Vec::new();
    for placed in s.policies() {
        if placed.policy_type == PolicyType::Session && !s.is_session() {
            continue;
        }
        for stmt in &placed.policy.statements {
            if model_matches(stmt, s, &principal) {
                matched.push(Matched {
                    policy_type: placed.policy_type,
                    policy: placed.policy.name.clone(),
                    sid: stmt.sid.clone(),
                    deny: stmt.deny,
                    level: placed.level,
                });
            }
        }
    }
    matched.sort();
    matched
}

// ---------------------------------------------------------------------------------------------
// Rendering the model to JSON, and running the engine on it.

fn render(p: &Pol) -> String {
    let statements: Vec<Value> = p
        .statements
        .iter()
        .map(|stmt| {
            let mut object = Map::new();
            object.insert("Sid".into(), json!(stmt.sid));
            let effect = if stmt.deny { "Deny" } else { "Allow" };
            object.insert("Effect".into(), json!(effect));
            let action = if stmt.not_action {
                "NotAction"
            } else {
                "Action"
            };
            object.insert(action.into(), json!(stmt.actions));
            if !stmt.resources.is_empty() {
                let resource = if stmt.not_resource {
                    "NotResource"
                } else {
                    "Resource"
                };
                object.insert(resource.into(), json!(stmt.resources));
            }
            if let Some(principals) = &stmt.principals {
                let value = if p.kind == Kind::Rcp {
                    json!("*")
                } else {
                    let names: Vec<&str> = principals
                        .iter()
                        .map(|who| match who {
                            Who::Any => "*",
                            Who::Account(account) => account,
                            Who::Arn(arn) => arn,
                        })
                        .collect();
                    json!({ "AWS": names })
                };
                object.insert("Principal".into(), value);
            }
            if !stmt.conditions.is_empty() {
                let mut operators = Map::new();
                for cond in &stmt.conditions {
                    let keys = operators
                        .entry(cond.op.name())
                        .or_insert_with(|| Value::Object(Map::new()));
                    keys.as_object_mut()
                        .expect("an object")
                        .insert(cond.spelled.into(), json!(cond.values));
                }
                object.insert("Condition".into(), Value::Object(operators));
            }
            Value::Object(object)
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

fn parse(p: &Pol) -> (String, Policy) {
    let kind = match p.kind {
        Kind::Identity => PolicyKind::Identity,
        Kind::Scp => PolicyKind::Scp,
        Kind::Rcp => PolicyKind::Rcp,
        Kind::Resource => PolicyKind::Resource,
    };
    let text = render(p);
    let policy = parse_policy(&p.name, &text, kind)
        .unwrap_or_else(|problems| panic!("generated policy must parse: {problems}\n{text}"));
    (p.name.clone(), policy)
}

fn parse_all(policies: &[Pol]) -> Vec<(String, Policy)> {
    policies.iter().map(parse).collect()
}

fn parse_levels(levels: &[Vec<Pol>]) -> Vec<Vec<(String, Policy)>> {
    levels.iter().map(|level| parse_all(level)).collect()
}

fn one((name, policy): &(String, Policy)) -> PolicyRef<'_> {
    PolicyRef { name, policy }
}

fn refs(policies: &[(String, Policy)]) -> Vec<PolicyRef<'_>> {
    policies
        .iter()
        .map(|(name, policy)| PolicyRef { name, policy })
        .collect()
}

/// A matched statement, by its policy's name and its own `Sid`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Matched {
    policy_type: PolicyType,
    policy: String,
    sid: String,
    deny: bool,
    level: Option<usize>,
}

/// What the engine decided, owned.
#[derive(Debug, PartialEq)]
struct Summary {
    outcome: Outcome,
    decided_by: Option<PolicyType>,
    /// Sorted, so that order of evaluation does not show.
    matched: Vec<Matched>,
    message: Option<String>,
}

fn run(s: &Scenario) -> Summary {
    let principal = s.principal();
    let context = s.context();

    let identity = parse_all(&s.identity);
    let boundary = s.boundary.as_ref().map(parse);
    let session = parse_all(&s.session);
    let scp = s.scp.as_deref().map(parse_levels);
    let rcp = s.rcp.as_deref().map(parse_levels);
    let resource_policy = s.resource_policy.as_ref().map(parse);

    let applicable = Applicable {
        identity: refs(&identity),
        boundary: boundary.as_ref().map(one),
        session: refs(&session),
        scp_levels: scp
            .as_ref()
            .map(|levels| levels.iter().map(|l| refs(l)).collect()),
        rcp_levels: rcp
            .as_ref()
            .map(|levels| levels.iter().map(|l| refs(l)).collect()),
        resource_policy: resource_policy.as_ref().map(one),
        resource_policy_is_trust: s.trust,
        ignore_resource_policy_deny: s.ignore_resource_deny,
    };
    let request = Request {
        principal: &principal,
        action: &s.action,
        resource: s.resource,
        resource_account: s.resource_account,
        context: &context,
    };
    let decision = evaluate(&request, &applicable);
    let mut matched: Vec<Matched> = decision
        .matched
        .iter()
        .map(|m| Matched {
            policy_type: m.policy_type,
            policy: m.policy.to_owned(),
            sid: m
                .sid
                .expect("every generated statement has a Sid")
                .to_owned(),
            deny: m.effect == Effect::Deny,
            level: m.level,
        })
        .collect();
    matched.sort();
    Summary {
        outcome: decision.outcome,
        decided_by: decision.decided_by,
        matched,
        message: decision.access_denied_message(&request),
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies.

/// Edits that turn a literal into a wildcard pattern: (kind, position, length).
fn edits() -> impl Strategy<Value = Vec<(u8, usize, usize)>> {
    vec((0u8..3, any::<usize>(), 0usize..5), 0..3)
}

/// Applies edits to `base`, leaving its first `keep` characters alone: replace a run with `*`,
/// replace one character with `?`, or cut the text and end it with `*`.
fn wildcardify(base: &str, keep: usize, edits: &[(u8, usize, usize)]) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    for &(op, at, len) in edits {
        let at = keep + at % (chars.len() - keep + 1);
        match op {
            0 => {
                let end = (at + len).min(chars.len());
                chars.splice(at..end, ['*']);
            }
            1 if at < chars.len() => chars[at] = '?',
            1 => {}
            _ => {
                chars.truncate(at);
                chars.push('*');
            }
        }
    }
    chars.into_iter().collect()
}

fn action_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("*".to_owned()),
        6 => (select(ACTIONS), edits(), any::<bool>()).prop_map(|(action, edits, lower)| {
            let (service, name) = action.split_once(':').expect("a service");
            let name = match wildcardify(name, 0, &edits) {
                name if name.is_empty() => "*".to_owned(),
                name => name,
            };
            let pattern = format!("{service}:{name}");
            if lower { pattern.to_lowercase() } else { pattern }
        }),
    ]
}

fn resource_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("*".to_owned()),
        6 => (select(RESOURCES), edits())
            .prop_map(|(arn, edits)| wildcardify(arn, "arn:".len(), &edits)),
    ]
}

fn condition() -> impl Strategy<Value = Cond> {
    let op = select(vec![Op::Equals, Op::NotEquals, Op::Like, Op::NotLike]);
    (op, 0..KEYS.len(), 0usize..2, vec(any::<Index>(), 1..3)).prop_map(
        |(op, key, spelling, picks)| {
            let choices = if op.is_like() {
                KEYS[key].likes
            } else {
                KEYS[key].values
            };
            let mut values: Vec<&'static str> =
                picks.iter().map(|pick| *pick.get(choices)).collect();
            values.dedup();
            Cond {
                op,
                key,
                spelled: KEYS[key].spellings[spelling],
                values,
            }
        },
    )
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        1 => Just(Who::Any),
        2 => select(&ACCOUNTS[..]).prop_map(Who::Account),
        3 => select(PRINCIPAL_ARNS).prop_map(Who::Arn),
    ]
}

fn statement(kind: Kind) -> BoxedStrategy<Stmt> {
    let principals = match kind {
        Kind::Resource => vec(who(), 1..3).prop_map(Some).boxed(),
        Kind::Rcp => Just(Some(vec![Who::Any])).boxed(),
        Kind::Identity | Kind::Scp => Just(None).boxed(),
    };
    let resources = if kind == Kind::Resource {
        prop_oneof![1 => Just(Vec::new()), 3 => vec(resource_pattern(), 1..3)].boxed()
    } else {
        vec(resource_pattern(), 1..3).boxed()
    };
    (
        prop::bool::weighted(0.35),
        prop::bool::weighted(0.15),
        vec(action_pattern(), 1..3),
        prop::bool::weighted(0.1),
        resources,
        principals,
        vec(condition(), 0..3),
    )
        .prop_map(
            |(deny, not_action, actions, not_resource, resources, principals, conditions)| {
                // The same operator and key twice would be a duplicate JSON key.
                let mut unique: Vec<Cond> = Vec::new();
                for cond in conditions {
                    if !unique
                        .iter()
                        .any(|u| u.op == cond.op && u.spelled == cond.spelled)
                    {
                        unique.push(cond);
                    }
                }
                Stmt {
                    sid: String::new(),
                    deny,
                    not_action,
                    actions,
                    not_resource: not_resource && !resources.is_empty(),
                    resources,
                    principals,
                    conditions: unique,
                }
            },
        )
        .boxed()
}

/// `Allow` every action on every resource, as `FullAWSAccess` does.
fn allow_all(kind: Kind) -> Stmt {
    Stmt {
        sid: String::new(),
        deny: false,
        not_action: false,
        actions: vec!["*".into()],
        not_resource: false,
        resources: vec!["*".into()],
        principals: matches!(kind, Kind::Rcp | Kind::Resource).then(|| vec![Who::Any]),
        conditions: Vec::new(),
    }
}

fn policy(kind: Kind) -> BoxedStrategy<Pol> {
    // Organization policies usually carry a full-access allow, or nothing would ever pass them.
    // Identity policies get one sometimes, so that allowed requests are common enough.
    let full_access = match kind {
        Kind::Scp | Kind::Rcp => 0.7,
        Kind::Identity => 0.2,
        Kind::Resource => 0.0,
    };
    (
        prop::bool::weighted(full_access),
        vec(statement(kind), 1..4),
    )
        .prop_map(move |(full, mut statements)| {
            if full {
                statements.insert(0, allow_all(kind));
            }
            Pol {
                name: String::new(),
                kind,
                statements,
            }
        })
        .boxed()
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let kinds = prop_oneof![
        1 => Just(PrincipalKind::Root),
        3 => Just(PrincipalKind::User),
        3 => Just(PrincipalKind::AssumedRole),
        2 => Just(PrincipalKind::FederatedUser),
    ];
    let request = (
        kinds,
        select(&ACCOUNTS[..]),
        select(ACTIONS),
        0u8..3,
        select(RESOURCES),
        // Mostly within one account, where fewer policies must agree to allow.
        prop::option::weighted(0.25, select(&ACCOUNTS[..])),
        prop::option::weighted(0.7, select(KEYS[0].values)),
        prop::option::weighted(0.7, select(KEYS[1].values)),
    );
    let policies = (
        vec(policy(Kind::Identity), 0..4),
        prop::option::weighted(0.4, policy(Kind::Identity)),
        vec(policy(Kind::Identity), 0..3),
        prop::option::weighted(0.5, vec(vec(policy(Kind::Scp), 1..3), 1..4)),
        prop::option::weighted(0.3, vec(vec(policy(Kind::Rcp), 1..3), 1..3)),
        prop::option::weighted(0.5, policy(Kind::Resource)),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.3),
    );
    (request, policies).prop_map(|(request, policies)| {
        let (kind, account, action, case, resource, resource_account, team, region) = request;
        let (identity, boundary, session, scp, rcp, resource_policy, trust, ignore) = policies;
        // A role trust policy only when there is a resource policy at all.
        let trust = trust && resource_policy.is_some();
        let action = match case {
            0 => action.to_owned(),
            1 => action.to_lowercase(),
            _ => action.to_uppercase(),
        };
        Scenario {
            principal_kind: kind,
            principal_account: account,
            action,
            resource,
            resource_account: resource_account.unwrap_or(account),
            context: vec![team, region],
            identity,
            boundary,
            session,
            scp,
            rcp,
            resource_policy,
            trust,
            ignore_resource_deny: ignore,
        }
        .name()
    })
}

/// A `Deny` that surely matches the request: every action, or its exact name, or its service;
/// every resource or the exact one; any principal.
fn sure_deny(kind: Kind, action: &str, resource: &str, variant: u8) -> Stmt {
    let service = action.split_once(':').expect("a service").0;
    let action = match variant % 3 {
        0 => "*".to_owned(),
        1 => action.to_owned(),
        _ => format!("{service}:*"),
    };
    let resources = match (variant / 3) % 3 {
        0 => vec!["*".to_owned()],
        1 => vec![resource.to_owned()],
        _ if kind == Kind::Resource => Vec::new(),
        _ => vec!["arn:*".to_owned()],
    };
    Stmt {
        sid: "injected".into(),
        deny: true,
        not_action: false,
        actions: vec![action],
        not_resource: false,
        resources,
        principals: matches!(kind, Kind::Rcp | Kind::Resource).then(|| vec![Who::Any]),
        conditions: Vec::new(),
    }
}

/// A policy of the scenario, by position: identity policies, a new identity policy, the
/// boundary, session policies, SCPs, RCPs, the resource policy.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Identity(usize),
    NewIdentity,
    Boundary,
    Session(usize),
    Scp(usize, usize),
    Rcp(usize, usize),
    Resource,
}

/// The slots where a matching `Deny` must deny.
fn deny_slots(s: &Scenario) -> Vec<Slot> {
    let mut slots: Vec<Slot> = (0..s.identity.len()).map(Slot::Identity).collect();
    slots.push(Slot::NewIdentity);
    if s.boundary.is_some() {
        slots.push(Slot::Boundary);
    }
    if s.is_session() {
        slots.extend((0..s.session.len()).map(Slot::Session));
    }
    for (l, level) in s.scp.iter().flatten().enumerate() {
        slots.extend((0..level.len()).map(|i| Slot::Scp(l, i)));
    }
    for (l, level) in s.rcp.iter().flatten().enumerate() {
        slots.extend((0..level.len()).map(|i| Slot::Rcp(l, i)));
    }
    let root = s.principal_kind == PrincipalKind::Root;
    if s.resource_policy.is_some() && !(root && s.ignore_resource_deny) {
        slots.push(Slot::Resource);
    }
    slots
}

fn slot_mut(s: &mut Scenario, slot: Slot) -> &mut Pol {
    match slot {
        Slot::Identity(i) => &mut s.identity[i],
        Slot::NewIdentity => {
            s.identity.push(Pol {
                name: "identity-new".into(),
                kind: Kind::Identity,
                statements: Vec::new(),
            });
            s.identity.last_mut().expect("just pushed")
        }
        Slot::Boundary => s.boundary.as_mut().expect("a boundary"),
        Slot::Session(i) => &mut s.session[i],
        Slot::Scp(l, i) => &mut s.scp.as_mut().expect("SCPs")[l][i],
        Slot::Rcp(l, i) => &mut s.rcp.as_mut().expect("RCPs")[l][i],
        Slot::Resource => s.resource_policy.as_mut().expect("a resource policy"),
    }
}

/// Inserts `stmt` at `at` (any position, including the end) of the policy in `slot`.
fn insert(s: &mut Scenario, slot: Slot, at: Index, stmt: impl FnOnce(Kind) -> Stmt) {
    let policy = slot_mut(s, slot);
    let stmt = stmt(policy.kind);
    let at = at.index(policy.statements.len() + 1);
    policy.statements.insert(at, stmt);
}

/// A small deterministic generator for shuffles (SplitMix64).
struct Shuffler(u64);

impl Shuffler {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

fn shuffled(s: &Scenario, seed: u64) -> Scenario {
    let mut s = s.clone();
    let mut rng = Shuffler(seed);
    for p in s.policies_mut() {
        rng.shuffle(&mut p.statements);
    }
    rng.shuffle(&mut s.identity);
    rng.shuffle(&mut s.session);
    for levels in [&mut s.scp, &mut s.rcp].into_iter().flatten() {
        for level in levels.iter_mut() {
            rng.shuffle(level);
        }
        rng.shuffle(levels);
    }
    s
}

/// Characters for wildcard tests: wildcards, separators, and a two-byte character.
const GLOB_CHARS: &[char] = &['a', 'b', '*', '?', '/', ':', 'é'];
/// ARN pattern segments: colons come only from joining segments.
const SEGMENT_CHARS: &[char] = &['a', 'b', '*', '?', '/', 'é'];
const TEXT_CHARS: &[char] = &['a', 'b', '/', ':', 'é', '*'];

fn chars_from(alphabet: &'static [char], max: usize) -> impl Strategy<Value = String> {
    vec(select(alphabet), 0..max).prop_map(|chars| chars.into_iter().collect())
}

/// A text that `pattern` is likely to match: each `*` becomes a short run, each `?` one
/// character, and a few characters are then changed so that near misses happen too.
fn text_near(pattern: String) -> impl Strategy<Value = (String, String)> {
    (
        vec(chars_from(TEXT_CHARS, 4), pattern.len() + 1),
        vec(select(TEXT_CHARS), pattern.len() + 1),
        vec((any::<Index>(), select(TEXT_CHARS)), 0..2),
    )
        .prop_map(move |(runs, ones, changes)| {
            let mut text: Vec<char> = Vec::new();
            for (i, c) in pattern.chars().enumerate() {
                match c {
                    '*' => text.extend(runs[i].chars()),
                    '?' => text.push(ones[i]),
                    c => text.push(c),
                }
            }
            for (at, c) in changes {
                if !text.is_empty() {
                    let at = at.index(text.len());
                    text[at] = c;
                }
            }
            (pattern.clone(), text.into_iter().collect())
        })
}

fn pattern_and_text(pattern: BoxedStrategy<String>) -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        (pattern.clone(), chars_from(TEXT_CHARS, 12)),
        pattern.prop_flat_map(text_near),
    ]
}

/// ARN-like patterns: one to eight segments joined by colons, so that patterns of fewer than
/// six segments (where the trailing-`*` rule matters) and of more (where the resource part
/// holds colons) are both common.
fn arn_like() -> BoxedStrategy<String> {
    vec(chars_from(SEGMENT_CHARS, 4), 1..9)
        .prop_map(|segments| segments.join(":"))
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// The properties.

proptest! {
    /// A `Deny` that surely matches, put anywhere in any policy that applies, decides.
    #[test]
    fn an_injected_matching_deny_always_wins(
        s in scenario(),
        slot in any::<Index>(),
        at in any::<Index>(),
        variant in 0u8..9,
    ) {
        let mut s = s;
        let slots = deny_slots(&s);
        let slot = *slot.get(&slots);
        let (action, resource) = (s.action.clone(), s.resource);
        insert(&mut s, slot, at, |kind| sure_deny(kind, &action, resource, variant));
        let found = run(&s);
        prop_assert_eq!(found.outcome, Outcome::ExplicitDeny, "slot {:?}: {:?}", slot, found);
        prop_assert!(found.message.is_some());
    }

    /// Outcome is `ExplicitDeny` exactly when the reference matcher finds a matching `Deny` in
    /// a policy that applies, and then one of those policies' types decided.
    #[test]
    fn explicit_deny_exactly_when_a_matching_deny_applies(s in scenario()) {
        let found = run(&s);
        let deny_types = model_deny_types(&s);
        if deny_types.is_empty() {
            prop_assert_ne!(found.outcome, Outcome::ExplicitDeny, "{:?}", found);
        } else {
            prop_assert_eq!(found.outcome, Outcome::ExplicitDeny, "{:?}", found);
            let decided_by = found.decided_by.expect("a deny names its policy type");
            prop_assert!(deny_types.contains(&decided_by), "{:?} not in {:?}", decided_by, deny_types);
        }
        prop_assert_eq!(found.message.is_some(), found.outcome != Outcome::Allow);
    }

    /// The statements the engine reports as matched are exactly those the reference matcher
    /// (reference glob, reference ARN rule, condition semantics) says match.
    #[test]
    fn matched_statements_agree_with_the_reference(s in scenario()) {
        let found = run(&s);
        prop_assert_eq!(found.matched, model_matched(&s));
    }

    /// Shuffling statements within policies, and policies within identity, session and each
    /// organization level (and the levels themselves), changes nothing.
    #[test]
    fn order_never_matters(s in scenario(), seed in any::<u64>()) {
        let before = run(&s);
        let after = run(&shuffled(&s, seed));
        prop_assert_eq!(before.outcome, after.outcome);
        prop_assert_eq!(before.decided_by, after.decided_by);
        // The same statements match, wherever they have moved (levels renumber).
        let without_level = |matched: Vec<Matched>| {
            let mut matched: Vec<Matched> =
                matched.into_iter().map(|m| Matched { level: None, ..m }).collect();
            matched.sort();
            matched
        };
        prop_assert_eq!(without_level(before.matched), without_level(after.matched));
    }

    /// `Glob` agrees with the reference matcher.
    #[test]
    fn glob_agrees_with_reference(
        (pattern, text) in pattern_and_text(chars_from(GLOB_CHARS, 9).boxed()),
    ) {
        prop_assert_eq!(
            Glob::new(&pattern).is_match(&text),
            glob_str(&pattern, &text),
            "pattern {:?} text {:?}", pattern, text
        );
    }

    /// `ArnGlob` agrees with the reference per-segment ARN rule.
    #[test]
    fn arn_glob_agrees_with_reference(
        (pattern, text) in pattern_and_text(arn_like()),
    ) {
        prop_assert_eq!(
            ArnGlob::new(&pattern).is_match(&text),
            reference_arn(&pattern, &text),
            "pattern {:?} text {:?}", pattern, text
        );
    }

    /// Adding an `Allow` to identity policies never takes access away: an allow stays an
    /// allow, an explicit deny stays one.
    #[test]
    fn adding_an_identity_allow_never_denies_more(
        s in scenario(),
        extra in prop_oneof![statement(Kind::Identity), Just(allow_all(Kind::Identity))],
        slot in any::<Index>(),
        at in any::<Index>(),
    ) {
        let before = run(&s);
        let mut wider = s.clone();
        let slots: Vec<Slot> = (0..s.identity.len()).map(Slot::Identity).chain([Slot::NewIdentity]).collect();
        insert(&mut wider, *slot.get(&slots), at, |_| Stmt { sid: "extra".into(), deny: false, ..extra });
        let after = run(&wider);
        match before.outcome {
            Outcome::Allow => prop_assert_eq!(after.outcome, Outcome::Allow, "{:?}", after),
            Outcome::ExplicitDeny => prop_assert_eq!(after.outcome, Outcome::ExplicitDeny, "{:?}", after),
            Outcome::ImplicitDeny => prop_assert_ne!(after.outcome, Outcome::ExplicitDeny, "{:?}", after),
        }
    }

    /// Adding a `Deny` to identity policies never grants access: a deny stays a deny, and an
    /// allow becomes at most an explicit deny.
    #[test]
    fn adding_an_identity_deny_never_allows_more(
        s in scenario(),
        extra in statement(Kind::Identity),
        sure in prop::option::weighted(0.3, 0u8..9),
        slot in any::<Index>(),
        at in any::<Index>(),
    ) {
        let before = run(&s);
        let mut narrower = s.clone();
        let extra = match sure {
            Some(variant) => sure_deny(Kind::Identity, &s.action, s.resource, variant),
            None => extra,
        };
        let slots: Vec<Slot> = (0..s.identity.len()).map(Slot::Identity).chain([Slot::NewIdentity]).collect();
        insert(&mut narrower, *slot.get(&slots), at, |_| Stmt { sid: "extra".into(), deny: true, ..extra });
        let after = run(&narrower);
        match before.outcome {
            Outcome::Allow => prop_assert_ne!(after.outcome, Outcome::ImplicitDeny, "{:?}", after),
            Outcome::ImplicitDeny => prop_assert_ne!(after.outcome, Outcome::Allow, "{:?}", after),
            Outcome::ExplicitDeny => prop_assert_eq!(after.outcome, Outcome::ExplicitDeny, "{:?}", after),
        }
    }
}
