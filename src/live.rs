//! A world brought to life: an emulator holding it, and the enforcing gateway in front.
//!
//! [`LiveWorld::start`] leases an emulator, builds the world in it with real API calls, creates
//! an access key for every user, reads the state back, starts the gateway, and issues root
//! credentials for each account whose root user can sign in (its email reachable, and its MFA
//! device at hand if MFA is enabled). `lockdrill serve` and the drills stand on it.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::emulator::{Emulator, EmulatorError, EmulatorKind, LeaseOptions};
use crate::gateway::Gateway;
use crate::gateway::credentials::{Credential, CredentialStore, Holder};
use crate::provision::{self, ProvisionError, emulator_keys};
use crate::sdk::{Clients, Keys, REGION};
use crate::world::{RootUser, World};

/// Why a world could not be brought to life.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    #[error("building the world in the emulator: {0}")]
    Provision(#[from] ProvisionError),
    #[error("starting the gateway on {listen}: {source}")]
    Gateway {
        listen: SocketAddr,
        source: std::io::Error,
    },
}

/// An emulator with a world in it, behind the gateway.
pub struct LiveWorld {
    pub emulator: Emulator,
    pub gateway: Gateway,
    pub credentials: Arc<CredentialStore>,
}

impl LiveWorld {
    pub async fn start(
        world: &World,
        kind: &EmulatorKind,
        options: &LeaseOptions,
        listen: SocketAddr,
    ) -> Result<LiveWorld, LiveError> {
        let emulator = Emulator::start(kind, options).await?;
        let endpoint = emulator.endpoint().to_owned();

        // The world, as real API calls make it.
        provision::build(world, &endpoint).await?;
        let credentials = Arc::new(CredentialStore::new());
        for account in world.accounts.values() {
            let clients = Clients::new(&endpoint, &emulator_keys(), Some(&account.id));
            for user in account.users.values() {
                let keys = create_access_key(&clients, &user.name, &account.id).await?;
                credentials.add(Credential {
                    keys,
                    expires_at: None,
                    holder: Holder::User {
                        account: account.id.clone(),
                        name: user.name.clone(),
                        arn: user.arn.clone(),
                    },
                });
            }
        }
        let live = provision::read(&endpoint, world).await?;

        // The gateway, and the root users that can sign in.
        let gateway = Gateway::start(listen, &endpoint, live, credentials.clone())
            .await
            .map_err(|source| LiveError::Gateway { listen, source })?;
        for account in world.accounts.values() {
            if root_sign_in_blocker(&account.root).is_none() {
                credentials.issue_root(&account.id);
            }
        }

        tracing::info!(gateway = %gateway.endpoint(), emulator = %endpoint, "world is live");
        Ok(LiveWorld {
            emulator,
            gateway,
            credentials,
        })
    }

    /// Accounts whose root user cannot sign in now, and why.
    pub fn roots_unavailable(&self) -> Vec<(String, String)> {
        self.gateway
            .world()
            .accounts
            .values()
            .filter_map(|account| {
                root_sign_in_blocker(&account.root)
                    .map(|reason| (account.id.clone(), reason.to_owned()))
            })
            .collect()
    }

    /// Changes what is true of an account's root user (a lost MFA device, a lost email, a
    /// recovery): the gateway decides on the new state, and the root credentials are issued or
    /// revoked to match whether the root user can now sign in.
    pub async fn change_root(
        &self,
        account: &str,
        change: impl FnOnce(&mut RootUser) -> Result<(), String>,
    ) -> Result<RootUser, String> {
        let changed = self
            .gateway
            .change_world(|world| {
                let found = world
                    .accounts
                    .get_mut(account)
                    .ok_or_else(|| format!("the world has no account {account}"))?;
                change(&mut found.root)?;
                Ok(found.root)
            })
            .await?;

        self.credentials.revoke_root(account);
        match root_sign_in_blocker(&changed) {
            None => {
                self.credentials.issue_root(account);
                tracing::info!(account, "root user can sign in");
            }
            Some(reason) => tracing::info!(account, reason, "root user cannot sign in"),
        }
        Ok(changed)
    }

    /// The credentials of every principal, for `--credentials FILE` and `lockdrill env`.
    pub fn credentials_file(&self) -> CredentialsFile {
        let mut principals: Vec<PrincipalKeys> = self
            .credentials
            .all()
            .into_iter()
            .map(|credential| PrincipalKeys {
                principal: credential.holder.arn(),
                kind: match credential.holder {
                    Holder::Root { .. } => "root",
                    Holder::User { .. } => "user",
                    Holder::RoleSession { .. } => "role-session",
                }
                .to_owned(),
                access_key_id: credential.keys.access_key_id,
                secret_access_key: credential.keys.secret_access_key,
                session_token: credential.keys.session_token,
            })
            .collect();
        principals.sort_by(|a, b| a.principal.cmp(&b.principal));
        CredentialsFile {
            endpoint: self.gateway.endpoint(),
            region: REGION.to_owned(),
            principals,
            roots_unavailable: self
                .roots_unavailable()
                .into_iter()
                .map(|(account, reason)| RootUnavailable { account, reason })
                .collect(),
        }
    }

    pub async fn stop(self) {
        self.gateway.stop().await;
        self.emulator.stop().await;
    }
}

/// Why a root user cannot sign in, or `None` when it can.
pub fn root_sign_in_blocker(root: &RootUser) -> Option<&'static str> {
    if !root.email_reachable {
        Some("the root user's email is not reachable, so its password cannot be reset")
    } else if root.mfa_enabled && !root.mfa_device_at_hand {
        Some("root MFA is enabled and the MFA device is lost: account recovery is needed first")
    } else {
        None
    }
}

async fn create_access_key(
    clients: &Clients,
    user: &str,
    account: &str,
) -> Result<Keys, ProvisionError> {
    let doing = format!("creating an access key for `{user}` in account {account}");
    let created = clients
        .iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .map_err(|error| ProvisionError::new(&doing, provision::reason(error)))?;
    let key = created
        .access_key()
        .ok_or_else(|| ProvisionError::new(&doing, "no key returned"))?;
    Ok(Keys {
        access_key_id: key.access_key_id().to_owned(),
        secret_access_key: key.secret_access_key().to_owned(),
        session_token: None,
    })
}

/// What `lockdrill serve --credentials FILE` writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CredentialsFile {
    pub endpoint: String,
    pub region: String,
    pub principals: Vec<PrincipalKeys>,
    #[serde(default)]
    pub roots_unavailable: Vec<RootUnavailable>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct PrincipalKeys {
    pub principal: String,
    pub kind: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
}

impl std::fmt::Debug for PrincipalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrincipalKeys")
            .field("principal", &self.principal)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RootUnavailable {
    pub account: String,
    pub reason: String,
}

impl CredentialsFile {
    /// Finds a principal by ARN, by user name when only one user has it, or as `root:ACCOUNT`.
    pub fn find(&self, wanted: &str) -> Result<&PrincipalKeys, String> {
        if let Some(found) = self.principals.iter().find(|keys| keys.principal == wanted) {
            return Ok(found);
        }
        if let Some(account) = wanted.strip_prefix("root:") {
            let arn = format!("arn:aws:iam::{account}:root");
            if let Some(found) = self.principals.iter().find(|keys| keys.principal == arn) {
                return Ok(found);
            }
            if let Some(unavailable) = self
                .roots_unavailable
                .iter()
                .find(|root| root.account == account)
            {
                return Err(format!(
                    "the root user of {account} cannot sign in: {}",
                    unavailable.reason
                ));
            }
        }
        let by_name: Vec<&PrincipalKeys> = self
            .principals
            .iter()
            .filter(|keys| keys.principal.ends_with(&format!("/{wanted}")))
            .collect();
        match by_name.as_slice() {
            [one] => Ok(one),
            [] => Err(format!("no principal `{wanted}` in the credentials file")),
            _ => Err(format!(
                "`{wanted}` names several principals; give the full ARN"
            )),
        }
    }
}
