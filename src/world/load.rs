//! Reading a world from YAML, with every mistake located.
//!
//! The format is documented in the README ("The world format"). The loader walks the located
//! document tree, so that an unknown key, a malformed account id, a policy that references
//! nothing, or a bad statement inside a policy is reported with its file, line and column. It
//! keeps going after a problem where it can, so that one run shows them all, and it builds
//! nothing unless the whole file is sound.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::managed::{self, AWS_MANAGED_PREFIX};
use super::{
    Account, AccountNode, Attached, Attachments, FULL_AWS_ACCESS, FederatedUser, Group,
    InlinePolicy, ManagedPolicy, OrgNode, OrgPolicy, OrgPolicyType, Organization,
    RCP_FULL_AWS_ACCESS, ResourcePolicy, Role, RootUser, User, World,
};
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::doc::{self, Entry, Node, Value};
use crate::policy::{Policy, PolicyKind, parse_policy_node};

const WORLD_KEYS: &[&str] = &["organization", "accounts", "managed_policies"];
const ACCOUNT_KEYS: &[&str] = &[
    "name",
    "root",
    "policies",
    "users",
    "groups",
    "roles",
    "federated_users",
    "resource_policies",
];
const ROOT_USER_KEYS: &[&str] = &["mfa_enabled", "mfa_device_at_hand", "email_reachable"];
const MANAGED_KEYS: &[&str] = &["path", "document"];
const USER_KEYS: &[&str] = &[
    "path",
    "id",
    "groups",
    "managed_policies",
    "inline_policies",
    "permissions_boundary",
    "tags",
];
const GROUP_KEYS: &[&str] = &["path", "managed_policies", "inline_policies"];
const ROLE_KEYS: &[&str] = &[
    "path",
    "id",
    "trust_policy",
    "managed_policies",
    "inline_policies",
    "permissions_boundary",
    "tags",
    "service_linked",
];
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

impl World {
    /// Reads a world file.
    pub fn load(path: &Path) -> Result<World, Diagnostics> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| {
            Diagnostic::new(
                &origin,
                Pos::new(1, 1),
                format!("cannot read the world file: {error}"),
            )
            .help("check the path given to --world")
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        World::parse(&origin, &text, &base)
    }

    /// Reads a world from text; `base` is where `{file: ...}` documents are looked up.
    pub fn parse(origin: &str, text: &str, base: &Path) -> Result<World, Diagnostics> {
        let root = doc::parse_yaml(origin, text)?;
        let mut loader = Loader {
            origin,
            source: text,
            base: base.to_path_buf(),
            problems: Vec::new(),
            policies: BTreeMap::new(),
            extra_aws: BTreeMap::new(),
        };
        let world = loader.world(&root);
        if loader.problems.is_empty() {
            Ok(world)
        } else {
            loader
                .problems
                .sort_by_key(|problem| (problem.origin != origin, problem.at));
            Err(Diagnostics(loader.problems))
        }
    }
}

struct Loader<'a> {
    origin: &'a str,
    source: &'a str,
    base: PathBuf,
    problems: Vec<Diagnostic>,
    /// Managed policies by ARN, filled as they are defined or first referenced.
    policies: BTreeMap<String, ManagedPolicy>,
    /// AWS-managed policies defined under the world's `managed_policies`, by name.
    extra_aws: BTreeMap<String, String>,
}

impl Loader<'_> {
    fn error(&mut self, at: Pos, message: impl Into<String>) -> &mut Diagnostic {
        self.problems
            .push(Diagnostic::new(self.origin, at, message));
        self.problems.last_mut().expect("just pushed")
    }

    /// The entries of a mapping, with unknown keys reported.
    fn object<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> &'n [Entry] {
        let Some(entries) = node.as_object() else {
            if node.value != Value::Null {
                let kind = node.kind();
                self.error(
                    node.at,
                    format!("expected {what} to be a mapping, found {kind}"),
                );
            }
            return &[];
        };
        for entry in entries {
            if !allowed.contains(&entry.key.as_str()) {
                let help = format!("{what} may contain: {}", allowed.join(", "));
                self.error(
                    entry.key_at,
                    format!("unknown key `{}` in {what}", entry.key),
                )
                .help = Some(help);
            }
        }
        entries
    }

    /// A mapping whose keys are names of things (users, roles, ...).
    fn named<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Entry] {
        match &node.value {
            Value::Object(entries) => entries,
            Value::Null => &[],
            _ => {
                let kind = node.kind();
                self.error(
                    node.at,
                    format!("expected {what} to be a mapping of names, found {kind}"),
                );
                &[]
            }
        }
    }

    fn string(&mut self, entries: &[Entry], key: &str, what: &str) -> Option<String> {
        let entry = doc::get(entries, key)?;
        match entry.value.expect_str(self.origin, what) {
            Ok(text) => Some(text.to_owned()),
            Err(problem) => {
                self.problems.push(problem);
                None
            }
        }
    }

    fn boolean(&mut self, entries: &[Entry], key: &str, default: bool) -> bool {
        let Some(entry) = doc::get(entries, key) else {
            return default;
        };
        match entry.value.expect_bool(self.origin, &format!("`{key}`")) {
            Ok(flag) => flag,
            Err(problem) => {
                self.problems.push(problem);
                default
            }
        }
    }

    fn path(&mut self, entries: &[Entry]) -> String {
        let Some(path) = self.string(entries, "path", "`path`") else {
            return "/".to_owned();
        };
        if !path.starts_with('/') || !path.ends_with('/') {
            let at = doc::get(entries, "path").map_or(Pos::default(), |entry| entry.value.at);
            self.error(at, format!("path `{path}` must begin and end with `/`"))
                .help = Some("for example `/` or `/ops/`".into());
        }
        path
    }

    /// A list of scalars (names or ids), each with its position.
    fn list(&mut self, entries: &[Entry], key: &str) -> Vec<(String, Pos)> {
        let Some(entry) = doc::get(entries, key) else {
            return Vec::new();
        };
        let items: Vec<&Node> = match &entry.value.value {
            Value::Array(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            _ => vec![&entry.value],
        };
        let mut found = Vec::new();
        for item in items {
            match item.scalar_text() {
                Some(text) => found.push((text, item.at)),
                None => {
                    let kind = item.kind();
                    self.error(
                        item.at,
                        format!("expected `{key}` to list names, found {kind}"),
                    );
                }
            }
        }
        found
    }

    fn tags(&mut self, entries: &[Entry]) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        let Some(entry) = doc::get(entries, "tags") else {
            return tags;
        };
        for tag in self.named(&entry.value, "`tags`") {
            match tag.value.scalar_text() {
                Some(value) => {
                    tags.insert(tag.key.clone(), value);
                }
                None => {
                    let kind = tag.value.kind();
                    self.error(
                        tag.value.at,
                        format!(
                            "expected tag `{}` to have a text value, found {kind}",
                            tag.key
                        ),
                    );
                }
            }
        }
        tags
    }

    fn world(&mut self, root: &Node) -> World {
        let entries = self.object(root, "the world", WORLD_KEYS);

        if let Some(entry) = doc::get(entries, "managed_policies") {
            self.extra_aws_managed(&entry.value);
        }

        // Customer-managed policies first, so that attachments in any account resolve.
        let account_entries = doc::get(entries, "accounts")
            .map(|entry| self.named(&entry.value, "`accounts`"))
            .unwrap_or(&[]);
        for entry in account_entries {
            self.account_policies(entry);
        }

        let mut accounts = BTreeMap::new();
        for entry in account_entries {
            if let Some(account) = self.account(entry) {
                accounts.insert(account.id.clone(), account);
            }
        }

        let organization =
            doc::get(entries, "organization").and_then(|entry| self.organization(&entry.value));
        if let Some(organization) = &organization {
            let mut in_tree = Vec::new();
            collect_accounts(&organization.root, &mut in_tree);
            for id in in_tree {
                accounts
                    .entry(id.clone())
                    .or_insert_with(|| empty_account(&id));
            }
            if !accounts.contains_key(&organization.management_account) {
                let id = organization.management_account.clone();
                accounts.insert(id.clone(), empty_account(&id));
            }
        }

        World {
            origin: self.origin.to_owned(),
            organization,
            accounts,
            policies: std::mem::take(&mut self.policies),
        }
    }

    fn extra_aws_managed(&mut self, node: &Node) {
        for entry in self.named(node, "`managed_policies`") {
            let fields = self.object(
                &entry.value,
                &format!("managed policy `{}`", entry.key),
                MANAGED_KEYS,
            );
            let path = self.path(fields);
            let Some(policy) =
                self.required_document(fields, &entry.value, "document", PolicyKind::Identity)
            else {
                continue;
            };
            let arn = format!("{AWS_MANAGED_PREFIX}{path}{}", entry.key);
            self.extra_aws.insert(entry.key.clone(), arn.clone());
            self.policies.insert(
                arn.clone(),
                ManagedPolicy {
                    arn,
                    name: entry.key.clone(),
                    path,
                    policy,
                },
            );
        }
    }

    fn account_id(&mut self, text: &str, at: Pos) -> bool {
        let valid = text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            self.error(at, format!("`{text}` is not an AWS account id"))
                .help =
                Some("an account id is 12 digits; quote it in YAML, as in \"012345678901\"".into());
        }
        valid
    }

    fn account_policies(&mut self, entry: &Entry) {
        let Some(fields) = entry.value.as_object() else {
            return;
        };
        let Some(policies) = doc::get(fields, "policies") else {
            return;
        };
        for policy_entry in self.named(&policies.value, "`policies`") {
            let what = format!("policy `{}`", policy_entry.key);
            let policy_fields = self.object(&policy_entry.value, &what, MANAGED_KEYS);
            let path = self.path(policy_fields);
            let Some(policy) = self.required_document(
                policy_fields,
                &policy_entry.value,
                "document",
                PolicyKind::Identity,
            ) else {
                continue;
            };
            let arn = format!(
                "arn:aws:iam::{}:policy{path}{}",
                entry.key, policy_entry.key
            );
            self.policies.insert(
                arn.clone(),
                ManagedPolicy {
                    arn,
                    name: policy_entry.key.clone(),
                    path,
                    policy,
                },
            );
        }
    }

    fn account(&mut self, entry: &Entry) -> Option<Account> {
        let id = entry.key.clone();
        let valid_id = self.account_id(&id, entry.key_at);
        let fields = self.object(&entry.value, &format!("account `{id}`"), ACCOUNT_KEYS);

        let name = self.string(fields, "name", "`name`");
        let root = match doc::get(fields, "root") {
            None => RootUser::default(),
            Some(root) => {
                let root_fields = self.object(&root.value, "`root`", ROOT_USER_KEYS);
                RootUser {
                    mfa_enabled: self.boolean(root_fields, "mfa_enabled", true),
                    mfa_device_at_hand: self.boolean(root_fields, "mfa_device_at_hand", true),
                    email_reachable: self.boolean(root_fields, "email_reachable", true),
                }
            }
        };

        let mut groups = BTreeMap::new();
        if let Some(node) = doc::get(fields, "groups") {
            for group in self.named(&node.value, "`groups`") {
                let group = self.group(&id, group);
                groups.insert(group.name.clone(), group);
            }
        }

        let mut users = BTreeMap::new();
        if let Some(node) = doc::get(fields, "users") {
            for user_entry in self.named(&node.value, "`users`") {
                let user = self.user(&id, user_entry, &groups);
                users.insert(user.name.clone(), user);
            }
        }

        let mut roles = BTreeMap::new();
        if let Some(node) = doc::get(fields, "roles") {
            for role_entry in self.named(&node.value, "`roles`") {
                if let Some(role) = self.role(&id, role_entry) {
                    roles.insert(role.name.clone(), role);
                }
            }
        }

        let mut federated_users = BTreeMap::new();
        if let Some(node) = doc::get(fields, "federated_users") {
            for federated in self.named(&node.value, "`federated_users`") {
                let federated_fields = self.object(
                    &federated.value,
                    &format!("federated user `{}`", federated.key),
                    &["user"],
                );
                let Some(user) = self.string(federated_fields, "user", "`user`") else {
                    self.error(
                        federated.key_at,
                        format!("federated user `{}` needs `user`", federated.key),
                    )
                    .help = Some(
                        "name the IAM user that called GetFederationToken, as in `user: alice`"
                            .into(),
                    );
                    continue;
                };
                if !users.contains_key(&user) {
                    let at = doc::get(federated_fields, "user")
                        .map_or(federated.key_at, |entry| entry.value.at);
                    self.error(
                        at,
                        format!(
                            "federated user `{}` names unknown user `{user}`",
                            federated.key
                        ),
                    );
                }
                federated_users.insert(
                    federated.key.clone(),
                    FederatedUser {
                        name: federated.key.clone(),
                        user,
                    },
                );
            }
        }

        let resource_policies = doc::get(fields, "resource_policies")
            .map(|node| self.resource_policies(&node.value))
            .unwrap_or_default();

        valid_id.then_some(Account {
            id,
            name,
            root,
            users,
            groups,
            roles,
            federated_users,
            resource_policies,
        })
    }

    fn group(&mut self, account: &str, entry: &Entry) -> Group {
        let fields = self.object(&entry.value, &format!("group `{}`", entry.key), GROUP_KEYS);
        let path = self.path(fields);
        let arn = format!("arn:aws:iam::{account}:group{path}{}", entry.key);
        let attachments = self.attachments(account, fields, &format!("group/{}", entry.key));
        Group {
            name: entry.key.clone(),
            path,
            arn,
            attachments,
        }
    }

    fn user(&mut self, account: &str, entry: &Entry, groups: &BTreeMap<String, Group>) -> User {
        let fields = self.object(&entry.value, &format!("user `{}`", entry.key), USER_KEYS);
        let path = self.path(fields);
        let arn = format!("arn:aws:iam::{account}:user{path}{}", entry.key);
        let id = self
            .string(fields, "id", "`id`")
            .unwrap_or_else(|| unique_id("AIDA", &arn));

        let mut member_of = Vec::new();
        for (group, at) in self.list(fields, "groups") {
            if !groups.contains_key(&group) {
                self.error(
                    at,
                    format!("user `{}` is in unknown group `{group}`", entry.key),
                )
                .help = Some(format!(
                    "define the group under `groups` of account {account}"
                ));
            }
            member_of.push(group);
        }

        let attachments = self.attachments(account, fields, &format!("user/{}", entry.key));
        let permissions_boundary = self.boundary(account, fields);
        let tags = self.tags(fields);
        User {
            name: entry.key.clone(),
            path,
            arn,
            id,
            groups: member_of,
            attachments,
            permissions_boundary,
            tags,
        }
    }

    fn role(&mut self, account: &str, entry: &Entry) -> Option<Role> {
        let fields = self.object(&entry.value, &format!("role `{}`", entry.key), ROLE_KEYS);
        let service_linked = self.boolean(fields, "service_linked", false);
        let path = if doc::get(fields, "path").is_none() && service_linked {
            "/aws-service-role/".to_owned()
        } else {
            self.path(fields)
        };
        let arn = format!("arn:aws:iam::{account}:role{path}{}", entry.key);
        let id = self
            .string(fields, "id", "`id`")
            .unwrap_or_else(|| unique_id("AROA", &arn));

        let trust_policy =
            self.required_document(fields, &entry.value, "trust_policy", PolicyKind::Trust);
        let attachments = self.attachments(account, fields, &format!("role/{}", entry.key));
        let permissions_boundary = self.boundary(account, fields);
        let tags = self.tags(fields);

        Some(Role {
            name: entry.key.clone(),
            path,
            arn,
            id,
            trust_policy: trust_policy?,
            attachments,
            permissions_boundary,
            tags,
            service_linked,
        })
    }

    fn resource_policies(&mut self, node: &Node) -> Vec<ResourcePolicy> {
        let Value::Array(items) = &node.value else {
            let kind = node.kind();
            self.error(
                node.at,
                format!("expected `resource_policies` to be a list, found {kind}"),
            );
            return Vec::new();
        };
        let mut found = Vec::new();
        for item in items {
            let fields = self.object(item, "a resource policy", &["resource", "policy"]);
            let resource = self.string(fields, "resource", "`resource`");
            if resource
                .as_deref()
                .is_some_and(|arn| !arn.starts_with("arn:"))
            {
                let at = doc::get(fields, "resource").map_or(item.at, |entry| entry.value.at);
                self.error(at, "`resource` must be an ARN");
            }
            let policy = self.required_document(fields, item, "policy", PolicyKind::Resource);
            match (resource, policy) {
                (Some(resource), Some(policy)) => found.push(ResourcePolicy { resource, policy }),
                (None, _) => {
                    self.error(item.at, "resource policy needs `resource`");
                }
                _ => {}
            }
        }
        found
    }

    fn attachments(&mut self, account: &str, fields: &[Entry], owner: &str) -> Attachments {
        let mut managed_policies = Vec::new();
        for (reference, at) in self.list(fields, "managed_policies") {
            if let Some(arn) = self.policy_reference(account, &reference, at) {
                managed_policies.push(arn);
            }
        }

        let mut inline_policies = Vec::new();
        if let Some(entry) = doc::get(fields, "inline_policies") {
            for inline in self.named(&entry.value, "`inline_policies`") {
                if let Some(policy) = self.document(&inline.value, PolicyKind::Identity) {
                    inline_policies.push(InlinePolicy {
                        name: inline.key.clone(),
                        label: format!("{} (inline, {owner})", inline.key),
                        policy,
                    });
                }
            }
        }
        Attachments {
            managed_policies,
            inline_policies,
        }
    }

    fn boundary(&mut self, account: &str, fields: &[Entry]) -> Option<String> {
        let entry = doc::get(fields, "permissions_boundary")?;
        if entry.value.value == Value::Null {
            return None;
        }
        let reference = match entry
            .value
            .expect_str(self.origin, "`permissions_boundary`")
        {
            Ok(reference) => reference.to_owned(),
            Err(problem) => {
                self.problems.push(problem);
                return None;
            }
        };
        self.policy_reference(account, &reference, entry.value.at)
    }

    /// Resolves a managed-policy reference to an ARN in `self.policies`.
    fn policy_reference(&mut self, account: &str, reference: &str, at: Pos) -> Option<String> {
        if let Some(rest) = reference.strip_prefix(AWS_MANAGED_PREFIX) {
            let name = rest.rsplit('/').next().unwrap_or(rest);
            return self.aws_managed(name, Some(reference), at);
        }

        if let Some(rest) = reference.strip_prefix("arn:aws:iam::") {
            let owner = rest.split(':').next().unwrap_or("");
            if owner != account {
                self.error(
                    at,
                    format!("`{reference}` belongs to another account than {account}"),
                )
                .help = Some(
                    "a managed policy can only be attached in the account that defines it".into(),
                );
                return None;
            }
            if self.policies.contains_key(reference) {
                return Some(reference.to_owned());
            }
            self.error(at, format!("unknown managed policy `{reference}`"))
                .help = Some(format!("define it under `policies` of account {account}"));
            return None;
        }

        let customer_prefix = format!("arn:aws:iam::{account}:policy/");
        let customer = self
            .policies
            .values()
            .find(|policy| policy.arn.starts_with(&customer_prefix) && policy.name == reference);
        if let Some(policy) = customer {
            return Some(policy.arn.clone());
        }
        self.aws_managed(reference, None, at)
    }

    fn aws_managed(&mut self, name: &str, arn: Option<&str>, at: Pos) -> Option<String> {
        if let Some(defined) = self.extra_aws.get(name) {
            if arn.is_none_or(|arn| arn == defined) {
                return Some(defined.clone());
            }
        }

        match managed::built_in(name) {
            Some(Ok(built_in)) => {
                let real_arn = format!("{AWS_MANAGED_PREFIX}{}{}", built_in.path, built_in.name);
                if arn.is_some_and(|arn| arn != real_arn) {
                    self.error(
                        at,
                        format!("`{}` is not the ARN of `{name}`", arn.unwrap_or_default()),
                    )
                    .help = Some(format!("write `{real_arn}`"));
                    return None;
                }
                self.policies
                    .entry(real_arn.clone())
                    .or_insert(ManagedPolicy {
                        arn: real_arn.clone(),
                        name: built_in.name,
                        path: built_in.path,
                        policy: built_in.policy,
                    });
                Some(real_arn)
            }
            Some(Err(problems)) => {
                self.problems.extend(problems.0);
                None
            }
            None => {
                let reference = arn.unwrap_or(name);
                self.error(at, format!("unknown managed policy `{reference}`"))
                    .help = Some(format!(
                    "define a customer-managed policy under the account's `policies`, or an AWS-managed one under the world's `managed_policies`; built-in AWS-managed policies: {}",
                    managed::built_in_names().join(", ")
                ));
                None
            }
        }
    }

    fn required_document(
        &mut self,
        fields: &[Entry],
        owner: &Node,
        key: &str,
        kind: PolicyKind,
    ) -> Option<Policy> {
        match doc::get(fields, key) {
            Some(entry) => self.document(&entry.value, kind),
            None => {
                self.error(owner.at, format!("missing `{key}`")).help =
                    Some(format!("add `{key}:` with a policy document"));
                None
            }
        }
    }

    /// A policy document written as a mapping, a JSON string, or `{file: path}`.
    fn document(&mut self, node: &Node, kind: PolicyKind) -> Option<Policy> {
        if let Some(entries) = node.as_object() {
            if let [Entry { key, value, .. }] = entries {
                if key == "file" {
                    return self.document_file(value, kind);
                }
            }
            return self.keep_policy(parse_policy_node(self.origin, node, kind));
        }

        if let Some(text) = node.as_str() {
            let parsed = doc::parse_json(self.origin, text)
                .map_err(Diagnostics::from)
                .and_then(|json| parse_policy_node(self.origin, &json, kind));
            let relocated =
                parsed.map_err(|problems| relocate(problems, self.source, node.at, text));
            return self.keep_policy(relocated);
        }

        let kind_found = node.kind();
        self.error(
            node.at,
            format!("expected a policy document, found {kind_found}"),
        )
        .help = Some(
            "write the document as a mapping, as a JSON string, or as `{file: path.json}`".into(),
        );
        None
    }

    fn document_file(&mut self, value: &Node, kind: PolicyKind) -> Option<Policy> {
        let relative = match value.expect_str(self.origin, "`file`") {
            Ok(relative) => relative,
            Err(problem) => {
                self.problems.push(problem);
                return None;
            }
        };
        let path = self.base.join(relative);
        let origin = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                self.error(
                    value.at,
                    format!("cannot read policy file `{origin}`: {error}"),
                )
                .help = Some("paths are relative to the world file".into());
                return None;
            }
        };
        let parsed = doc::parse_json(&origin, &text)
            .map_err(Diagnostics::from)
            .and_then(|json| parse_policy_node(&origin, &json, kind));
        self.keep_policy(parsed)
    }

    fn keep_policy(&mut self, parsed: Result<Policy, Diagnostics>) -> Option<Policy> {
        match parsed {
            Ok(policy) => Some(policy),
            Err(problems) => {
                self.problems.extend(problems.0);
                None
            }
        }
    }

    fn organization(&mut self, node: &Node) -> Option<Organization> {
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

/// Every account id placed in the tree below `node`.
fn collect_accounts(node: &OrgNode, found: &mut Vec<String>) {
    found.extend(node.accounts.iter().map(|account| account.id.clone()));
    for child in &node.children {
        collect_accounts(child, found);
    }
}

fn empty_account(id: &str) -> Account {
    Account {
        id: id.to_owned(),
        name: None,
        root: RootUser::default(),
        users: BTreeMap::new(),
        groups: BTreeMap::new(),
        roles: BTreeMap::new(),
        federated_users: BTreeMap::new(),
        resource_policies: Vec::new(),
    }
}

/// Moves diagnostics found inside a JSON string to where that string sits in the world file.
/// For a `|` block the JSON's lines are the file's lines, shifted by the block's indentation.
fn relocate(problems: Diagnostics, source: &str, at: Pos, text: &str) -> Diagnostics {
    let first_line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    let start = at.line as usize;
    let located = source
        .lines()
        .enumerate()
        .skip(start.saturating_sub(1))
        .find_map(|(index, line)| {
            line.find(first_line)
                .filter(|_| !first_line.is_empty())
                .map(|column| (index + 1, column))
        });
    let Some((line, column)) = located else {
        return problems;
    };
    let json_first_line = text
        .lines()
        .position(|candidate| !candidate.trim().is_empty())
        .unwrap_or(0);
    let indent = column
        - text
            .lines()
            .nth(json_first_line)
            .map_or(0, |l| l.len() - l.trim_start().len());

    Diagnostics(
        problems
            .0
            .into_iter()
            .map(|mut problem| {
                let json_line = problem.at.line as usize;
                problem.at = Pos::new(
                    (line + json_line.saturating_sub(1 + json_first_line)) as u32,
                    problem.at.column + indent as u32,
                );
                problem
            })
            .collect(),
    )
}

/// A stable IAM-style unique id (`AIDA` + 17 characters) derived from an ARN.
fn unique_id(prefix: &str, seed: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut id = prefix.to_owned();
    let mut state = fnv1a(seed.as_bytes());
    for _ in 0..17 {
        id.push(ALPHABET[(state % 32) as usize] as char);
        state = (state / 32) ^ fnv1a(&state.to_le_bytes()).rotate_left(7);
    }
    id
}

/// A stable lowercase id body of `length` characters derived from a seed.
fn short_id(seed: &str, length: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = fnv1a(seed.as_bytes());
    let mut id = String::with_capacity(length);
    for _ in 0..length {
        id.push(ALPHABET[(state % 36) as usize] as char);
        state = (state / 36) ^ fnv1a(&state.to_le_bytes()).rotate_left(11);
    }
    id
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(text: &str) -> World {
        World::parse("w.yaml", text, Path::new(".")).unwrap_or_else(|problems| panic!("{problems}"))
    }

    fn problems(text: &str) -> Vec<String> {
        let problems = World::parse("w.yaml", text, Path::new(".")).unwrap_err();
        problems.0.iter().map(ToString::to_string).collect()
    }

    const ORG: &str = r#"
organization:
  management_account: "111111111111"
  policies:
    Deny:
      type: scp
      document: {Statement: [{Effect: Deny, Action: "iam:*", Resource: "*"}]}
  root:
    accounts: ["111111111111"]
    ous:
      - name: A
        full_aws_access: false
        scps: [Deny]
        ous:
          - name: B
            accounts:
              - id: "222222222222"
                scps: [Deny]
"#;

    #[test]
    fn full_aws_access_is_attached_everywhere_unless_detached() {
        let world = world(ORG);
        let organization = world.organization.as_ref().unwrap();
        let path = organization.path_to("222222222222").unwrap();
        let scps: Vec<Vec<&str>> = path
            .iter()
            .map(|(_, attached)| attached.scps.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            scps,
            vec![
                vec!["FullAWSAccess"],
                vec!["Deny"],
                vec!["FullAWSAccess"],
                vec!["FullAWSAccess", "Deny"]
            ]
        );
        assert!(
            path.iter()
                .all(|(_, attached)| attached.rcps == ["RCPFullAWSAccess"])
        );
    }

    #[test]
    fn ids_and_org_paths_are_generated_stably() {
        let first = world(ORG);
        let second = world(ORG);
        let organization = first.organization.as_ref().unwrap();
        assert!(
            organization.id.starts_with("o-") && organization.id.len() == 12,
            "{}",
            organization.id
        );
        let path = organization.org_path_of("222222222222").unwrap();
        assert_eq!(path.matches('/').count(), 4, "{path}");
        assert_eq!(
            Some(path),
            second
                .organization
                .as_ref()
                .unwrap()
                .org_path_of("222222222222")
        );
        assert!(
            first.accounts.contains_key("222222222222"),
            "accounts of the tree exist"
        );
    }

    #[test]
    fn users_and_roles_get_arns_ids_and_policies() {
        let world = world(
            r#"
accounts:
  "123456789012":
    policies:
      Boundary:
        path: /limits/
        document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:*", Resource: "*"}]}
    users:
      alice:
        path: /ops/
        managed_policies: [ReadOnlyAccess, arn:aws:iam::aws:policy/job-function/ViewOnlyAccess]
        permissions_boundary: Boundary
        tags: {team: platform}
    roles:
      Linked:
        service_linked: true
        trust_policy: '{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
"#,
        );
        let account = &world.accounts["123456789012"];
        let alice = &account.users["alice"];
        assert_eq!(alice.arn, "arn:aws:iam::123456789012:user/ops/alice");
        assert!(
            alice.id.starts_with("AIDA") && alice.id.len() == 21,
            "{}",
            alice.id
        );
        assert_eq!(
            alice.permissions_boundary.as_deref(),
            Some("arn:aws:iam::123456789012:policy/limits/Boundary")
        );
        assert!(
            world
                .policies
                .contains_key("arn:aws:iam::aws:policy/ReadOnlyAccess")
        );
        assert_eq!(
            account.roles["Linked"].arn,
            "arn:aws:iam::123456789012:role/aws-service-role/Linked"
        );
    }

    #[test]
    fn organization_mistakes_are_located() {
        let found = problems(
            r#"
organization:
  management_account: "111111111111"
  policies:
    Bad: {type: scpp, document: {Statement: []}}
  root:
    accounts: ["111111111111"]
    scps: [Missing]
"#,
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("w.yaml:5:17: expected `type: scp` or `type: rcp`")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("w.yaml:8:12: unknown organization policy `Missing`")),
            "{found:?}"
        );
    }

    #[test]
    fn management_account_must_be_in_the_tree() {
        let found = problems(
            "organization:\n  management_account: \"111111111111\"\n  root: {accounts: []}\n",
        );
        assert!(
            found[0].contains("is not in the organization's tree"),
            "{found:?}"
        );
    }
}
