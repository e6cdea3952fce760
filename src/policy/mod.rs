//! The IAM policy language and AWS's evaluation logic.
//!
//! This module is pure: no I/O, no async, no logging. It reads policy documents
//! ([`parse_policy`]), and decides one request from the policies that apply to it
//! ([`evaluate`]), returning a [`Decision`] that explains itself. The specification is AWS's
//! documented evaluation logic, summed up with sources in
//! `shared/reference/iam-evaluation-logic.md`; each rule cites its page where it is coded.

pub mod condition;
pub mod context;
mod decision;
mod evaluate;
mod parse;
pub mod pattern;
pub mod variables;

pub use context::{Context, ContextValue};
pub use decision::{Decision, MatchedStatement, Outcome};
pub use evaluate::{Applicable, PolicyRef, Request, evaluate};
pub use parse::{is_account_id, parse_policy, parse_policy_node};

use crate::diagnostic::Pos;
use condition::Condition;
use pattern::{ArnGlob, Glob};
use variables::Template;

/// The kinds of policy AWS evaluates, which also name who decided a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyType {
    Scp,
    Rcp,
    Resource,
    Identity,
    Boundary,
    Session,
}

impl PolicyType {
    /// The short name used in JSON output and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PolicyType::Scp => "scp",
            PolicyType::Rcp => "rcp",
            PolicyType::Resource => "resource",
            PolicyType::Identity => "identity",
            PolicyType::Boundary => "boundary",
            PolicyType::Session => "session",
        }
    }
}

/// Where a policy document is used, which decides what AWS accepts in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Identity-based: attached to a user, group or role; also permissions boundaries and
    /// session policies. No `Principal`; a `Resource` is required.
    Identity,
    /// Resource-based: a `Principal` is required.
    Resource,
    /// A role trust policy: a `Principal` is required, and neither `NotPrincipal` nor
    /// `Resource` is accepted.
    Trust,
    /// Service control policy: no `Principal`.
    Scp,
    /// Resource control policy: `Principal` must be `"*"`.
    Rcp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `2012-10-17`: policy variables are substituted.
    V2012,
    /// `2008-10-17`, or no `Version` at all: `${...}` is plain text.
    V2008,
}

/// A parsed policy document.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub version: Version,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
    /// The document as compact JSON, as it is sent to AWS when the policy is created.
    pub document: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    /// Position in the policy's statement list, for explanations when there is no `Sid`.
    pub index: usize,
    pub at: Pos,
    pub effect: Effect,
    pub actions: Matcher<ActionPattern>,
    /// A one-word summary of the services `actions` can match: the OR of [`service_bit`] of each
    /// service it names, or every bit for `NotAction` and `*`. A request whose service bit is
    /// not set cannot match, so the evaluator skips the statement without reading its patterns.
    pub services: u64,
    /// `None` when the statement names no resource (a resource policy's own resource).
    pub resources: Option<Matcher<ResourcePattern>>,
    /// `None` in identity policies and SCPs, which name no principal.
    pub principals: Option<Matcher<PrincipalPattern>>,
    /// ANDed together.
    pub conditions: Vec<Condition>,
}

/// A list from `Action`/`Resource`/`Principal`, or from their `Not...` forms.
#[derive(Clone, Debug, PartialEq)]
pub struct Matcher<T> {
    pub negated: bool,
    pub patterns: Vec<T>,
}

/// An action pattern, lowercased, split at its service prefix.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionPattern {
    /// `*`: every action of every service.
    Any,
    Service {
        service: Glob,
        name: Glob,
    },
}

/// A `Resource` entry: a compiled ARN pattern, or a template when it holds variables.
#[derive(Clone, Debug, PartialEq)]
pub enum ResourcePattern {
    Arn(ArnGlob),
    Template(Template),
}

/// A `Principal` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalPattern {
    /// `"*"` or `{"AWS": "*"}`.
    Any,
    /// A 12-digit account id, or `arn:aws:iam::ACCOUNT:root`: every principal of that account.
    Account(String),
    /// An IAM user, role, role session or federated user ARN.
    Arn(String),
    /// `Service`, `Federated` and `CanonicalUser` principals, which no IAM principal matches.
    Other { kind: String, value: String },
}

/// The parts of a request principal that the evaluator needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// What AWS prints after `User:`: the user ARN, the session ARN, the root ARN.
    pub arn: String,
    pub account: String,
    /// For role sessions: the role's own ARN, with its path.
    pub role_arn: Option<String>,
    /// For federated users: the IAM user that called `GetFederationToken`.
    pub federating_user_arn: Option<String>,
    /// Service-linked roles are outside SCPs and RCPs.
    pub is_service_linked: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    Root,
    User,
    AssumedRole,
    FederatedUser,
}

impl PrincipalKind {
    /// Whether the principal holds temporary credentials, to which session policies apply.
    pub fn is_session(self) -> bool {
        matches!(
            self,
            PrincipalKind::AssumedRole | PrincipalKind::FederatedUser
        )
    }
}

/// One bit standing for a (lowercase) service name in [`Statement::services`]: the top six
/// bits of its FNV-1a hash.
pub fn service_bit(service: &str) -> u64 {
    let hash = service
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    1 << (hash >> 58)
}
