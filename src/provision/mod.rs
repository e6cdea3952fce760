//! Building a world in an emulator with real API calls, and reading it back.
//!
//! A drill starts from the world its YAML describes: [`build`] creates it in the emulator the
//! way a team would create it in AWS (CreateOrganization, CreateAccount, CreatePolicy,
//! AttachPolicy, CreateUser, AttachUserPolicy, ...). [`read`] goes the other way and reads the
//! emulator's current state back into a [`World`], so that the gateway always decides on what
//! is really there after every change a drill makes.
//!
//! Account ids: Moto gives created accounts random ids, so each account is created with the tag
//! `lockdrill:account-id`, which lockdrill's Moto launcher honours. Other organization ids
//! (root, OUs, policies) are the emulator's own and are read back.

mod build;
pub mod cloudtrail;
mod read;

pub use build::build;
pub use read::{read, read_account, read_organization};

use crate::sdk::Keys;

/// The tag that asks lockdrill's Moto launcher for a given account id.
pub const ACCOUNT_ID_TAG: &str = "lockdrill:account-id";

/// A call to the emulator that failed, and what lockdrill was doing.
#[derive(Debug, thiserror::Error)]
#[error("{doing} failed: {reason}")]
pub struct ProvisionError {
    /// What lockdrill was doing, such as "creating user `alice` in account 222222222222".
    pub doing: String,
    pub reason: String,
}

impl ProvisionError {
    pub(crate) fn new(doing: impl Into<String>, reason: impl std::fmt::Display) -> ProvisionError {
        ProvisionError {
            doing: doing.into(),
            reason: reason.to_string(),
        }
    }
}

/// The keys lockdrill signs its own calls to Moto with; Moto does not check them, and
/// they open nothing anywhere else.
pub fn emulator_keys() -> Keys {
    Keys {
        access_key_id: "AKIALOCKDRILLPROVISN".to_owned(),
        secret_access_key: "lockdrill-provisioner-not-a-secret".to_owned(),
        session_token: None,
    }
}

/// Turns an SDK error into its full text, service message included.
pub(crate) fn reason<E: std::error::Error>(error: E) -> String {
    aws_sdk_iam::error::DisplayErrorContext(error).to_string()
}
