//! Every credential the gateway knows, and who holds it.
//!
//! The gateway learns credentials three ways: access keys that lockdrill creates for the users
//! of a world (and any created later through the gateway, read from CreateAccessKey's answer),
//! role sessions from AssumeRole (with their session policy, MFA and expiry), and root
//! credentials, which only the runner can issue, and only for an account whose root user can
//! sign in. Secrets stay in memory and in the credentials file the user asked for; they are
//! never logged.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::RwLock;

use chrono::{DateTime, Utc};

use super::sigv4::{SecretStore, SigningSecret};
use crate::policy::Policy;
use crate::sdk::Keys;

/// Who holds a credential.
#[derive(Clone, Debug)]
pub enum Holder {
    Root {
        account: String,
    },
    User {
        account: String,
        name: String,
        arn: String,
    },
    RoleSession {
        account: String,
        role_name: String,
        session_name: String,
        /// The session policy passed to AssumeRole, if any.
        session_policy: Option<Policy>,
        /// Whether AssumeRole was called with an MFA code.
        mfa: bool,
    },
}

impl Holder {
    pub fn account(&self) -> &str {
        match self {
            Holder::Root { account }
            | Holder::User { account, .. }
            | Holder::RoleSession { account, .. } => account,
        }
    }

    /// The ARN AWS names the caller by: in `GetCallerIdentity` and in AccessDenied messages.
    pub fn arn(&self) -> String {
        match self {
            Holder::Root { account } => format!("arn:aws:iam::{account}:root"),
            Holder::User { arn, .. } => arn.clone(),
            Holder::RoleSession {
                account,
                role_name,
                session_name,
                ..
            } => {
                format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}")
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct Credential {
    pub keys: Keys,
    pub expires_at: Option<DateTime<Utc>>,
    pub holder: Holder,
}

/// The gateway's credentials, by access key id.
#[derive(Debug, Default)]
pub struct CredentialStore {
    by_key: RwLock<HashMap<String, Credential>>,
}

impl CredentialStore {
    pub fn new() -> CredentialStore {
        CredentialStore::default()
    }

    /// Records a credential; a key seen again replaces the old record.
    pub fn add(&self, credential: Credential) {
        tracing::debug!(access_key_id = %credential.keys.access_key_id, holder = %credential.holder.arn(), "credential recorded");
        let mut by_key = self
            .by_key
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_key.insert(credential.keys.access_key_id.clone(), credential);
    }

    /// Forgets a key, as DeleteAccessKey does.
    pub fn remove(&self, access_key_id: &str) {
        let mut by_key = self
            .by_key
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_key.remove(access_key_id);
    }

    pub fn get(&self, access_key_id: &str) -> Option<Credential> {
        let by_key = self
            .by_key
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_key.get(access_key_id).cloned()
    }

    /// Issues long-term credentials for an account's root user.
    pub fn issue_root(&self, account: &str) -> Keys {
        let keys = Keys {
            access_key_id: random_id("AKIA", 16),
            secret_access_key: random_secret(),
            session_token: None,
        };
        self.add(Credential {
            keys: keys.clone(),
            expires_at: None,
            holder: Holder::Root {
                account: account.to_owned(),
            },
        });
        keys
    }

    /// Revokes every root credential of an account: its root user can no longer sign in.
    pub fn revoke_root(&self, account: &str) {
        let mut by_key = self
            .by_key
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_key.retain(|_, credential| {
            !matches!(&credential.holder, Holder::Root { account: held } if held == account)
        });
    }

    /// Every credential, for writing the credentials file.
    pub fn all(&self) -> Vec<Credential> {
        let by_key = self
            .by_key
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_key.values().cloned().collect()
    }
}

impl SecretStore for CredentialStore {
    fn secret(&self, access_key_id: &str) -> Option<SigningSecret> {
        let credential = self.get(access_key_id)?;
        Some(SigningSecret {
            secret_access_key: credential.keys.secret_access_key,
            session_token: credential.keys.session_token,
            expires_at: credential.expires_at,
        })
    }
}

impl super::actions::KeyOwners for CredentialStore {
    fn owner_of(&self, access_key_id: &str) -> Option<String> {
        match self.get(access_key_id)?.holder {
            holder @ (Holder::Root { .. } | Holder::User { .. }) => Some(holder.arn()),
            Holder::RoleSession { .. } => None,
        }
    }
}

/// An id in AWS's style: a prefix and upper-case letters and digits.
pub fn random_id(prefix: &str, length: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut id = prefix.to_owned();
    while id.len() < prefix.len() + length {
        let mut word = random_u64();
        for _ in 0..8 {
            id.push(ALPHABET[(word % 32) as usize] as char);
            word /= 32;
            if id.len() == prefix.len() + length {
                break;
            }
        }
    }
    id
}

/// A 40-character secret access key.
fn random_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..40)
        .map(|index| ALPHABET[((random_u64() >> (index % 8)) % 64) as usize] as char)
        .collect()
}

/// 64 random bits from the standard library's randomly seeded hasher: enough for keys that
/// only open a local emulator.
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_credentials_are_issued_and_known() {
        let store = CredentialStore::new();
        let keys = store.issue_root("123456789012");
        assert!(keys.access_key_id.starts_with("AKIA") && keys.access_key_id.len() == 20);
        assert_eq!(keys.secret_access_key.len(), 40);
        let credential = store.get(&keys.access_key_id).unwrap();
        assert_eq!(credential.holder.arn(), "arn:aws:iam::123456789012:root");
        assert_ne!(
            store.issue_root("123456789012").access_key_id,
            keys.access_key_id
        );
    }

    #[test]
    fn session_arns_name_the_role_and_session() {
        let holder = Holder::RoleSession {
            account: "123456789012".into(),
            role_name: "BreakGlassAdminRole".into(),
            session_name: "recovery".into(),
            session_policy: None,
            mfa: true,
        };
        assert_eq!(
            holder.arn(),
            "arn:aws:sts::123456789012:assumed-role/BreakGlassAdminRole/recovery"
        );
    }
}
