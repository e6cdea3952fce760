//! The request context: the condition keys and values that one request carries.
//!
//! Key names are case-insensitive in AWS ("`aws:CurrentTime` is equivalent to
//! `AWS:currenttime`", reference_policies_variables.html), so keys are stored lowercased and
//! looked up lowercased. Values are kept as strings, as AWS's context is; a key may hold one
//! value or a set (`aws:TagKeys`, `aws:PrincipalOrgPaths`).

/// The value of one context key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextValue {
    One(String),
    Many(Vec<String>),
}

impl ContextValue {
    pub fn as_slice(&self) -> &[String] {
        match self {
            ContextValue::One(value) => std::slice::from_ref(value),
            ContextValue::Many(values) => values,
        }
    }
}

/// The keys of one request. Small (a dozen or two keys), so a vector beats a hash map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    entries: Vec<(String, ContextValue)>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets a key, replacing any value it had under any spelling.
    pub fn insert(&mut self, key: &str, value: ContextValue) {
        let key = key.to_ascii_lowercase();
        match self
            .entries
            .iter_mut()
            .find(|(existing, _)| *existing == key)
        {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    pub fn insert_one(&mut self, key: &str, value: impl Into<String>) {
        self.insert(key, ContextValue::One(value.into()));
    }

    pub fn remove(&mut self, key: &str) {
        self.entries
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(key));
    }

    /// Looks up a key that is already lowercase, as the policy reader stores them.
    pub fn get_lowercase(&self, key: &str) -> Option<&ContextValue> {
        self.entries
            .iter()
            .find(|(existing, _)| existing == key)
            .map(|(_, value)| value)
    }

    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.entries
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    }

    /// The single value of a key, for policy variables: sets have none.
    pub fn single_lowercase(&self, key: &str) -> Option<&str> {
        match self.get_lowercase(key)? {
            ContextValue::One(value) => Some(value),
            ContextValue::Many(_) => None,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }
}
