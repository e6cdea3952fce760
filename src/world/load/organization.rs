//! Reading the organization part of a world: its policies, its tree of OUs and accounts, and
//! what is attached at each level (FullAWSAccess unless detached, RCPFullAWSAccess always).

use std::collections::BTreeMap;

use super::{Loader, short_id};
use crate::doc::{self, Entry, Node, Value};
use crate::policy::PolicyKind;
use crate::world::{
    AccountNode, Attached, FULL_AWS_ACCESS, OrgNode, OrgPolicy, OrgPolicyType, Organization,
    RCP_FULL_AWS_ACCESS,
};

const ORGANIZATION_KEYS: &[&str] = &["id", "management_account", "policies", "root"];
const ORG_POLICY_KEYS: &[&str] = &["type", "id", "document"];
const ORG_ROOT_KEYS: &[&str] = &["id", "scps", "rcps", "full_aws_access", "accounts", "ous"];
const OU_KEYS: &[&str] = &[
    "name",
    "id",
    "scps",
    "rcps",
    "full_aws_access",
    "accounts",
    "ous",
];
const ACCOUNT_NODE_KEYS: &[&str] = &["id", "scps", "rcps", "full_aws_access"];

impl Loader<'_> {
    pub(super) fn organization(&mut self, node: &Node) -> Option<Organization> {
        let fields = self.object(node, "`organization`", ORGANIZATION_KEYS);

        let Some(management) = doc::get(fields, "management_account") else {
            self.error(node.at, "the organization needs `management_account`")
                .help = Some("give the 12-digit id of the management account".into());
            return None;
        };
        let management_account = management.value.scalar_text().unwrap_or_default();
        if !self.account_id(&management_account, management.value.at) {
            return None;
        }

        let id = self
            .checked_id(fields, "id", "o-", 10)
            .unwrap_or_else(|| format!("o-{}", short_id(&management_account, 10)));
        let policies = self.org_policies(fields, &id, &management_account);

        let root = match doc::get(fields, "root") {
            Some(entry) => {
                let root_fields =
                    self.object(&entry.value, "the organization `root`", ORG_ROOT_KEYS);
                let root_id = self
                    .checked_id(root_fields, "id", "r-", 4)
                    .unwrap_or_else(|| format!("r-{}", short_id(&id, 4)));
                self.org_node(
                    root_fields,
                    root_id.clone(),
                    "Root".into(),
                    &root_id,
                    &policies,
                )
            }
            None => {
                let root_id = format!("r-{}", short_id(&id, 4));
                OrgNode {
                    id: root_id,
                    name: "Root".into(),
                    attached: Attached {
                        scps: vec![FULL_AWS_ACCESS.into()],
                        rcps: vec![RCP_FULL_AWS_ACCESS.into()],
                    },
                    accounts: vec![AccountNode {
                        id: management_account.clone(),
                        attached: Attached {
                            scps: vec![FULL_AWS_ACCESS.into()],
                            rcps: vec![RCP_FULL_AWS_ACCESS.into()],
                        },
                    }],
                    children: Vec::new(),
                }
            }
        };

        let organization = Organization {
            id,
            management_account,
            root,
            policies,
        };
        if !organization.contains(&organization.management_account) {
            self.error(
                management.value.at,
                format!(
                    "management account {} is not in the organization's tree",
                    organization.management_account
                ),
            )
            .help = Some("list it under `root: accounts:`".into());
        }
        Some(organization)
    }

    /// An id given in the file, checked against AWS's format (prefix, then lowercase letters and
    /// digits, at least `min` of them).
    fn checked_id(
        &mut self,
        fields: &[Entry],
        key: &str,
        prefix: &str,
        min: usize,
    ) -> Option<String> {
        let entry = doc::get(fields, key)?;
        let text = entry.value.scalar_text().unwrap_or_default();
        let body = text.strip_prefix(prefix).unwrap_or("");
        let valid = body.len() >= min
            && body.chars().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || c == '-'
                    || c == '_'
                    || c.is_ascii_uppercase()
            });
        if !valid {
            self.error(entry.value.at, format!("`{text}` is not a valid id"))
                .help = Some(format!(
                "ids of this kind look like `{prefix}` followed by at least {min} lowercase letters or digits"
            ));
            return None;
        }
        Some(text)
    }

    fn org_policies(
        &mut self,
        fields: &[Entry],
        org_id: &str,
        management: &str,
    ) -> BTreeMap<String, OrgPolicy> {
        let mut policies = BTreeMap::new();
        let full_aws_access = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}";
        let rcp_full_aws_access = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}]}";
        for (name, text, policy_type, kind, arn) in [
            (
                FULL_AWS_ACCESS,
                full_aws_access,
                OrgPolicyType::Scp,
                PolicyKind::Scp,
                "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess",
            ),
            (
                RCP_FULL_AWS_ACCESS,
                rcp_full_aws_access,
                OrgPolicyType::Rcp,
                PolicyKind::Rcp,
                "arn:aws:organizations::aws:policy/resource_control_policy/p-RCPFullAWSAccess",
            ),
        ] {
            let policy = crate::policy::parse_policy("<built-in>", text, kind)
                .expect("built-in policies are valid");
            policies.insert(
                name.to_owned(),
                OrgPolicy {
                    name: name.to_owned(),
                    id: format!("p-{name}"),
                    arn: arn.to_owned(),
                    policy_type,
                    policy,
                },
            );
        }

        let Some(entry) = doc::get(fields, "policies") else {
            return policies;
        };
        for policy_entry in self.named(&entry.value, "the organization's `policies`") {
            let what = format!("organization policy `{}`", policy_entry.key);
            let policy_fields = self.object(&policy_entry.value, &what, ORG_POLICY_KEYS);
            if policies.contains_key(&policy_entry.key) {
                self.error(
                    policy_entry.key_at,
                    format!("`{}` is a built-in policy name", policy_entry.key),
                )
                .help = Some(
                    "FullAWSAccess and RCPFullAWSAccess exist already; choose another name".into(),
                );
                continue;
            }

            let (policy_type, kind) = match self.string(policy_fields, "type", "`type`").as_deref()
            {
                Some("scp") => (OrgPolicyType::Scp, PolicyKind::Scp),
                Some("rcp") => (OrgPolicyType::Rcp, PolicyKind::Rcp),
                other => {
                    let at = doc::get(policy_fields, "type")
                        .map_or(policy_entry.key_at, |entry| entry.value.at);
                    self.error(at, format!("expected `type: scp` or `type: rcp` for {what}, found `{}`", other.unwrap_or("nothing"))).help =
                        Some("organization policies here are service control policies (scp) or resource control policies (rcp)".into());
                    continue;
                }
            };
            let id = self
                .checked_id(policy_fields, "id", "p-", 8)
                .unwrap_or_else(|| format!("p-{}", short_id(&policy_entry.key, 8)));
            let Some(policy) =
                self.required_document(policy_fields, &policy_entry.value, "document", kind)
            else {
                continue;
            };
            let type_segment = match policy_type {
                OrgPolicyType::Scp => "service_control_policy",
                OrgPolicyType::Rcp => "resource_control_policy",
            };
            let arn =
                format!("arn:aws:organizations::{management}:policy/{org_id}/{type_segment}/{id}");
            policies.insert(
                policy_entry.key.clone(),
                OrgPolicy {
                    name: policy_entry.key.clone(),
                    id,
                    arn,
                    policy_type,
                    policy,
                },
            );
        }
        policies
    }

    fn attached(&mut self, fields: &[Entry], policies: &BTreeMap<String, OrgPolicy>) -> Attached {
        let mut attached = Attached::default();
        if self.boolean(fields, "full_aws_access", true) {
            attached.scps.push(FULL_AWS_ACCESS.to_owned());
        }
        attached.rcps.push(RCP_FULL_AWS_ACCESS.to_owned());

        for (key, wanted, list) in [
            ("scps", OrgPolicyType::Scp, &mut attached.scps),
            ("rcps", OrgPolicyType::Rcp, &mut attached.rcps),
        ] {
            for (name, at) in self.list(fields, key) {
                match policies.get(&name) {
                    Some(policy) if policy.policy_type == wanted => {
                        if !list.contains(&name) {
                            list.push(name);
                        }
                    }
                    Some(_) => {
                        self.error(at, format!("`{name}` is not of the kind `{key}` lists"));
                    }
                    None => {
                        self.error(at, format!("unknown organization policy `{name}`"))
                            .help = Some("define it under `organization: policies:`".into());
                    }
                }
            }
        }
        attached
    }

    fn org_node(
        &mut self,
        fields: &[Entry],
        id: String,
        name: String,
        root_id: &str,
        policies: &BTreeMap<String, OrgPolicy>,
    ) -> OrgNode {
        let attached = self.attached(fields, policies);

        let mut accounts = Vec::new();
        if let Some(entry) = doc::get(fields, "accounts") {
            let items: Vec<&Node> = match &entry.value.value {
                Value::Array(items) => items.iter().collect(),
                Value::Null => Vec::new(),
                _ => vec![&entry.value],
            };
            for item in items {
                if let Some(account) = self.account_node(item, policies) {
                    accounts.push(account);
                }
            }
        }

        let mut children = Vec::new();
        if let Some(entry) = doc::get(fields, "ous") {
            let items: &[Node] = match &entry.value.value {
                Value::Array(items) => items,
                Value::Null => &[],
                _ => {
                    let kind = entry.value.kind();
                    self.error(
                        entry.value.at,
                        format!("expected `ous` to be a list, found {kind}"),
                    );
                    &[]
                }
            };
            for item in items {
                let ou_fields = self.object(item, "an OU", OU_KEYS);
                let Some(ou_name) = self.string(ou_fields, "name", "`name`") else {
                    self.error(item.at, "an OU needs `name`");
                    continue;
                };
                let root_part = root_id.trim_start_matches("r-");
                let ou_id = self
                    .checked_id(ou_fields, "id", "ou-", 6)
                    .unwrap_or_else(|| {
                        format!("ou-{root_part}-{}", short_id(&format!("{id}/{ou_name}"), 8))
                    });
                children.push(self.org_node(ou_fields, ou_id, ou_name, root_id, policies));
            }
        }

        OrgNode {
            id,
            name,
            attached,
            accounts,
            children,
        }
    }

    fn account_node(
        &mut self,
        item: &Node,
        policies: &BTreeMap<String, OrgPolicy>,
    ) -> Option<AccountNode> {
        if let Some(id) = item.scalar_text() {
            if !self.account_id(&id, item.at) {
                return None;
            }
            let attached = Attached {
                scps: vec![FULL_AWS_ACCESS.into()],
                rcps: vec![RCP_FULL_AWS_ACCESS.into()],
            };
            return Some(AccountNode { id, attached });
        }
        let fields = self.object(item, "an account in the organization", ACCOUNT_NODE_KEYS);
        let Some(id_entry) = doc::get(fields, "id") else {
            self.error(item.at, "an account in the organization needs `id`");
            return None;
        };
        let id = id_entry.value.scalar_text().unwrap_or_default();
        if !self.account_id(&id, id_entry.value.at) {
            return None;
        }
        let attached = self.attached(fields, policies);
        Some(AccountNode { id, attached })
    }
}
