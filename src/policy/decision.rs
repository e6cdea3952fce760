//! What the evaluator answers: the outcome, who decided, and the words AWS would use.
//!
//! Message shapes follow troubleshoot_access-denied.html: `User: PRINCIPAL is not authorized to
//! perform: ACTION on resource: RESOURCE` and then either `because no TYPE allows the ACTION
//! action` (implicit deny) or `with an explicit deny in a TYPE` (explicit deny).

use super::{Effect, PolicyType, Request};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    ImplicitDeny,
    ExplicitDeny,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::ImplicitDeny => "implicit_deny",
            Outcome::ExplicitDeny => "explicit_deny",
        }
    }
}

/// A statement that matched the request, allow or deny.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedStatement<'a> {
    pub policy_type: PolicyType,
    /// The policy's ARN or name, as the world knows it.
    pub policy: &'a str,
    pub sid: Option<&'a str>,
    /// Zero-based position in the policy's `Statement` list.
    pub index: usize,
    pub effect: Effect,
    /// For SCPs and RCPs: the level it is attached at, counted from the organization root.
    pub level: Option<usize>,
}

/// The answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision<'a> {
    pub outcome: Outcome,
    /// Which policy type settled it: the one that denied, or the one that granted. `None` when
    /// a root user is allowed, which needs no policy.
    pub decided_by: Option<PolicyType>,
    /// Every statement that matched, in evaluation order.
    pub matched: Vec<MatchedStatement<'a>>,
    /// The resource-based policy that decided is a role trust policy (AWS words it apart).
    pub is_trust_policy: bool,
}

impl Decision<'_> {
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }

    /// The statements that caused the outcome: the denying ones for an explicit deny, the
    /// granting ones for an allow, none for an implicit deny.
    pub fn deciding_statements(&self) -> impl Iterator<Item = &MatchedStatement<'_>> {
        let wanted = match self.outcome {
            Outcome::Allow => Some(Effect::Allow),
            Outcome::ExplicitDeny => Some(Effect::Deny),
            Outcome::ImplicitDeny => None,
        };
        self.matched
            .iter()
            .filter(move |statement| Some(statement.effect) == wanted)
    }

    /// The AccessDenied message AWS would return, or `None` when the request is allowed.
    pub fn access_denied_message(&self, request: &Request<'_>) -> Option<String> {
        if self.is_allowed() {
            return None;
        }

        let action = request.action;
        let reason = match (self.outcome, self.decided_by) {
            (Outcome::ExplicitDeny, Some(PolicyType::Resource)) if self.is_trust_policy => {
                "with an explicit deny in the role trust policy".to_owned()
            }
            (Outcome::ExplicitDeny, Some(policy_type)) => {
                format!("with an explicit deny in {}", article_name(policy_type))
            }
            (_, Some(PolicyType::Resource)) if self.is_trust_policy => {
                format!("because no role trust policy allows the {action} action")
            }
            (_, Some(PolicyType::Rcp)) => {
                // RCPFullAWSAccess cannot be detached, so AWS only documents explicit wording.
                "with an explicit deny in a resource control policy".to_owned()
            }
            (_, Some(policy_type)) => format!(
                "because no {} allows the {action} action",
                plain_name(policy_type)
            ),
            (_, None) => format!("because no identity-based policy allows the {action} action"),
        };

        Some(format!(
            "User: {} is not authorized to perform: {action} on resource: {} {reason}",
            request.principal.arn, request.resource
        ))
    }
}

fn plain_name(policy_type: PolicyType) -> &'static str {
    match policy_type {
        PolicyType::Scp => "service control policy",
        PolicyType::Rcp => "resource control policy",
        PolicyType::Resource => "resource-based policy",
        PolicyType::Identity => "identity-based policy",
        PolicyType::Boundary => "permissions boundary",
        PolicyType::Session => "session policy",
    }
}

fn article_name(policy_type: PolicyType) -> String {
    let name = plain_name(policy_type);
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}
