//! Reading a world from YAML, with every mistake located.
//!
//! The format is documented in the README ("The world format"). The loader walks the located
//! document tree, so that an unknown key, a malformed account id, a policy that references
//! nothing, or a bad statement inside a policy is reported with its file, line and column. It
//! keeps going after a problem where it can, so that one run shows them all, and it builds
//! nothing unless the whole file is sound.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod organization;

use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::doc::{self, Entry, Node, Value};
use crate::policy::{Policy, PolicyKind, parse_policy_node};
use crate::world::managed::{self, AWS_MANAGED_PREFIX};
use crate::world::{
    Account, Attachments, FederatedUser, Group, InlinePolicy, ManagedPolicy, OrgNode,
    ResourcePolicy, Role, RootUser, User, World,
};

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
    "cloudtrail_trails",
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

        let mut cloudtrail_trails = Vec::new();
        for (trail, at) in self.list(fields, "cloudtrail_trails") {
            if valid_trail_name(&trail) {
                cloudtrail_trails.push(trail);
            } else {
                self.error(
                    at,
                    format!("`{trail}` is not a valid CloudTrail trail name"),
                )
                .help = Some(
                    "3 to 128 letters, digits, `.`, `_` or `-`, starting and ending with a \
                     letter or digit"
                        .into(),
                );
            }
        }

        valid_id.then_some(Account {
            id,
            name,
            root,
            users,
            groups,
            roles,
            federated_users,
            resource_policies,
            cloudtrail_trails,
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
        if let Some(defined) = self.extra_aws.get(name)
            && arn.is_none_or(|arn| arn == defined)
        {
            return Some(defined.clone());
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
            if let [Entry { key, value, .. }] = entries
                && key == "file"
            {
                return self.document_file(value, kind);
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
}

/// A trail name as CloudTrail accepts it.
fn valid_trail_name(name: &str) -> bool {
    let edges_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    (3..=128).contains(&name.len())
        && edges_ok
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
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
        cloudtrail_trails: Vec::new(),
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
mod tests;
