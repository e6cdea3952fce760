//! AWS SDK clients for lockdrill's own calls to an emulator or to its gateway.
//!
//! The clients are built by hand rather than from `aws-config`, so that nothing of the user's
//! own AWS set-up (`~/.aws`, `AWS_PROFILE`, instance metadata) can leak in: every client has an
//! explicit endpoint, explicit credentials and a plain-HTTP connector, since lockdrill only ever
//! talks to loopback. Calls made straight to Moto name their account with Moto's
//! `x-moto-account-id` header.

use aws_credential_types::Credentials;
use aws_sdk_iam::config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The region every lockdrill client signs for; IAM and Organizations are global anyway.
pub const REGION: &str = "us-east-1";

/// The header Moto reads to choose the account a call acts in.
pub const MOTO_ACCOUNT_HEADER: &str = "x-moto-account-id";

/// Clients for the three services lockdrill drives.
#[derive(Clone, Debug)]
pub struct Clients {
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub organizations: aws_sdk_organizations::Client,
}

/// Access keys to sign with; the secret is never printed by `Debug`.
#[derive(Clone)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Clients {
    /// Clients that sign with `keys` and send to `endpoint`; with `moto_account`, each call
    /// carries Moto's account header (only for calls made straight to Moto).
    pub fn new(endpoint: &str, keys: &Keys, moto_account: Option<&str>) -> Clients {
        let credentials = Credentials::new(
            keys.access_key_id.clone(),
            keys.secret_access_key.clone(),
            keys.session_token.clone(),
            None,
            "lockdrill",
        );
        let http_client = aws_smithy_http_client::Builder::new().build_http();
        let account = moto_account.map(|account| AccountHeader(account.to_owned()));

        let iam = {
            let mut config = aws_sdk_iam::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(REGION))
                .endpoint_url(endpoint)
                .credentials_provider(credentials.clone())
                .http_client(http_client.clone());
            if let Some(account) = &account {
                config = config.interceptor(account.clone());
            }
            aws_sdk_iam::Client::from_conf(config.build())
        };
        let sts = {
            let mut config = aws_sdk_sts::Config::builder()
                .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
                .region(aws_sdk_sts::config::Region::new(REGION))
                .endpoint_url(endpoint)
                .credentials_provider(credentials.clone())
                .http_client(http_client.clone());
            if let Some(account) = &account {
                config = config.interceptor(account.clone());
            }
            aws_sdk_sts::Client::from_conf(config.build())
        };
        let organizations = {
            let mut config = aws_sdk_organizations::Config::builder()
                .behavior_version(aws_sdk_organizations::config::BehaviorVersion::latest())
                .region(aws_sdk_organizations::config::Region::new(REGION))
                .endpoint_url(endpoint)
                .credentials_provider(credentials)
                .http_client(http_client);
            if let Some(account) = &account {
                config = config.interceptor(account.clone());
            }
            aws_sdk_organizations::Client::from_conf(config.build())
        };

        Clients {
            iam,
            sts,
            organizations,
        }
    }
}

/// Adds Moto's account header to every request.
#[derive(Clone, Debug)]
struct AccountHeader(String);

impl Intercept for AccountHeader {
    fn name(&self) -> &'static str {
        "MotoAccountHeader"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert(MOTO_ACCOUNT_HEADER, self.0.clone());
        Ok(())
    }
}
