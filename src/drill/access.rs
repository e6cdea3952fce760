//! Access assertions: would AWS allow this principal this action on this resource, now?
//!
//! The answer is decided on the gateway's live state ([`crate::gateway::Gateway::world`]) with
//! the same query the gateway builds for a signed call, without sending a call, so an
//! assertion has no side effects and works for principals that hold no credential yet (a
//! break-glass role session nobody has assumed). It does not see the context keys that only a
//! real call carries, such as `iam:PolicyARN`.
//!
//! TODO: also probe with signed calls through the gateway, so that an assertion covers the
//! gateway's action mapping (resources, call-specific context keys) and not only its policies.

use crate::policy::{Outcome, Policy, PolicyType, evaluate};
use crate::world::{Query, World};

/// What AWS would answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// The principal ARN the request was decided for.
    pub principal: String,
    pub resource: String,
    pub outcome: Outcome,
    /// The policy type that settled a denial; identity when no policy allowed it at all.
    pub decided_by: Option<PolicyType>,
    /// The AccessDenied text, verbatim, when denied.
    pub message: Option<String>,
}

impl Access {
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }
}

/// What a role session carries into every call it makes.
#[derive(Clone, Debug, Default)]
pub struct SessionFacts {
    /// Whether AssumeRole was called with an MFA code.
    pub mfa: bool,
    /// The session policy passed to AssumeRole.
    pub policy: Option<Policy>,
}

/// Decides `action` on `resource` for `actor` in `world` at epoch second `now`.
///
/// `actor` is a principal ARN, `root:ACCOUNT`, or the name of a user that exists in exactly
/// one account. `resource` is an ARN, `*`, `user/NAME` or `role/NAME` or a bare user name, the
/// last three in the actor's account. A role session is decided with what it was issued with
/// when `session` tells, and as a session without MFA or session policy otherwise.
pub fn decide(
    world: &World,
    actor: &str,
    action: &str,
    resource: &str,
    now: i64,
    session: Option<&SessionFacts>,
) -> Result<Access, String> {
    let principal = principal_arn(world, actor)?;
    let account = account_of(&principal)
        .ok_or_else(|| format!("`{principal}` is not a principal ARN"))?
        .to_owned();
    let resource = resource_arn(world, &account, resource)?;

    // The context the gateway adds to every call it decides.
    let is_session = principal.contains(":assumed-role/");
    let mfa = is_session.then(|| session.is_some_and(|facts| facts.mfa));
    let query = Query {
        principal: principal.clone(),
        action: action.to_owned(),
        resource: resource.clone(),
        resource_account: None,
        context: crate::gateway::caller_context(mfa),
        session_policy: session.and_then(|facts| facts.policy.clone()),
    };
    decide_query(world, &query, now)
}

/// Decides one fully formed query, as the gateway would.
pub fn decide_query(world: &World, query: &Query, now: i64) -> Result<Access, String> {
    let prepared = world.prepare(query, now).map_err(|error| error.message)?;
    let request = prepared.request(query);
    let decision = evaluate(&request, &prepared.applicable);
    let message = decision.access_denied_message(&request);
    let decided_by = match decision.outcome {
        Outcome::Allow => decision.decided_by,
        _ => Some(decision.decided_by.unwrap_or(PolicyType::Identity)),
    };
    Ok(Access {
        principal: query.principal.clone(),
        resource: query.resource.clone(),
        outcome: decision.outcome,
        decided_by,
        message,
    })
}

/// The policy type a feature names: `scp`, `identity`, ..., or AWS's wording
/// (`service control policy`, `identity-based policy`, ...).
pub fn policy_type(named: &str) -> Result<PolicyType, String> {
    let named = named.trim().to_ascii_lowercase();
    let types = [
        (PolicyType::Scp, "service control policy"),
        (PolicyType::Rcp, "resource control policy"),
        (PolicyType::Resource, "resource-based policy"),
        (PolicyType::Identity, "identity-based policy"),
        (PolicyType::Boundary, "permissions boundary"),
        (PolicyType::Session, "session policy"),
    ];
    types
        .iter()
        .find(|(kind, wording)| named == kind.name() || named == *wording)
        .map(|(kind, _)| *kind)
        .ok_or_else(|| {
            format!(
                "unknown policy type `{named}`; expected one of scp, rcp, resource, identity, \
                 boundary, session"
            )
        })
}

pub fn principal_arn(world: &World, actor: &str) -> Result<String, String> {
    if actor.starts_with("arn:") {
        return Ok(actor.to_owned());
    }
    if let Some(account) = actor.strip_prefix("root:") {
        return Ok(format!("arn:aws:iam::{account}:root"));
    }
    let users: Vec<&str> = world
        .accounts
        .values()
        .filter_map(|account| account.users.get(actor))
        .map(|user| user.arn.as_str())
        .collect();
    match users.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(format!("no user `{actor}` in the world")),
        _ => Err(format!(
            "`{actor}` names users in several accounts; give the full ARN"
        )),
    }
}

fn resource_arn(world: &World, account: &str, resource: &str) -> Result<String, String> {
    if resource == "*" || resource.starts_with("arn:") {
        return Ok(resource.to_owned());
    }
    let entities = world
        .accounts
        .get(account)
        .ok_or_else(|| format!("no account `{account}` in the world"))?;
    let found = match resource.split_once('/') {
        Some(("role", name)) => entities.roles.get(name).map(|role| role.arn.clone()),
        Some(("user", name)) => entities.users.get(name).map(|user| user.arn.clone()),
        Some(_) => None,
        None => entities.users.get(resource).map(|user| user.arn.clone()),
    };
    found.ok_or_else(|| {
        format!(
            "no resource `{resource}` in account {account}; give an ARN, `*`, `user/NAME` or \
             `role/NAME`"
        )
    })
}

/// The account of `arn:aws:iam::ACCOUNT:...` or `arn:aws:sts::ACCOUNT:...`.
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|account| account.len() == 12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_types_are_named_short_or_in_aws_words() {
        assert_eq!(policy_type("scp"), Ok(PolicyType::Scp));
        assert_eq!(policy_type("Service control policy"), Ok(PolicyType::Scp));
        assert_eq!(
            policy_type("identity-based policy"),
            Ok(PolicyType::Identity)
        );
        assert!(policy_type("firewall").unwrap_err().contains("`firewall`"));
    }

    #[test]
    fn accounts_come_from_user_root_and_session_arns() {
        assert_eq!(
            account_of("arn:aws:iam::123456789012:root"),
            Some("123456789012")
        );
        assert_eq!(
            account_of("arn:aws:sts::222222222222:assumed-role/R/s"),
            Some("222222222222")
        );
        assert_eq!(account_of("alice"), None);
    }
}
