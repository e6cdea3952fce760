//! AWS-managed policies that lockouts involve, with their real documents.
//!
//! A lockout drill is only honest if `AdministratorAccess` means what it means in AWS, and
//! `ReadOnlyAccess` really lacks `iam:AttachUserPolicy`. The documents in
//! `aws_managed_policies.json` are AWS's published versions (as shipped in Moto's copy of the
//! managed-policy list); each entry records its default version id and update date.

use std::sync::OnceLock;

use crate::diagnostic::Diagnostics;
use crate::doc::{self, Node};
use crate::policy::{Policy, PolicyKind, parse_policy_node};

const BUILT_IN: &str = include_str!("aws_managed_policies.json");
const ORIGIN: &str = "<built-in aws_managed_policies.json>";

/// The prefix of every AWS-managed policy ARN.
pub const AWS_MANAGED_PREFIX: &str = "arn:aws:iam::aws:policy";

/// A built-in AWS-managed policy.
pub struct BuiltIn {
    pub name: String,
    pub path: String,
    pub policy: Policy,
}

/// The names of the built-in AWS-managed policies.
pub fn built_in_names() -> Vec<String> {
    catalogue()
        .as_object()
        .map(|entries| entries.iter().map(|entry| entry.key.clone()).collect())
        .unwrap_or_default()
}

/// Looks up a built-in AWS-managed policy by name.
pub fn built_in(name: &str) -> Option<Result<BuiltIn, Diagnostics>> {
    let catalogue = catalogue();
    let entry = doc::get(catalogue.as_object()?, name)?;
    let fields = entry.value.as_object()?;
    let path = doc::get(fields, "path")
        .and_then(|path| path.value.as_str())
        .unwrap_or("/")
        .to_owned();
    let document = &doc::get(fields, "document")?.value;

    Some(
        parse_policy_node(ORIGIN, document, PolicyKind::Identity).map(|policy| BuiltIn {
            name: name.to_owned(),
            path,
            policy,
        }),
    )
}

/// The built-in list, read once per process.
fn catalogue() -> &'static Node {
    static CATALOGUE: OnceLock<Node> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        doc::parse_json(ORIGIN, BUILT_IN).expect("the built-in managed policy list is valid JSON")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_policy_parses() {
        let names = built_in_names();
        assert!(names.len() >= 3, "{names:?}");
        for name in names {
            let policy = built_in(&name)
                .unwrap()
                .unwrap_or_else(|problems| panic!("{problems}"));
            assert!(!policy.policy.statements.is_empty(), "{name}");
        }
    }

    #[test]
    fn administrator_access_is_the_real_one() {
        let admin = built_in("AdministratorAccess").unwrap().unwrap();
        assert_eq!(admin.policy.statements.len(), 1);
        assert!(built_in("NoSuchPolicy").is_none());
        assert_eq!(
            built_in("ViewOnlyAccess").unwrap().unwrap().path,
            "/job-function/"
        );
    }
}
