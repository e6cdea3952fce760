//! The gateway's HTTP server and its request path.
//!
//! For every request: read the body (capped), verify the signature and find who signed it,
//! decode the call, answer the calls the gateway keeps itself, decide the call on the current
//! state with the policy engine, and either answer AWS's AccessDenied or forward the call to
//! the emulator in the caller's account. After a successful write the gateway reads the state
//! it changed back from the emulator, so the next call is decided on what is really there.
//! Nothing on this path panics on a request: every failure is an AWS-shaped error.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, oneshot};

use super::actions::{self, Access, Authorization, Caller, MapErrorKind};
use super::credentials::{Credential, CredentialStore, Holder};
use super::local;
use super::operation::{Operation, Service};
use super::protocol;
use super::sigv4;
use crate::policy::{ContextValue, evaluate};
use crate::provision;
use crate::sdk::{Keys, MOTO_ACCOUNT_HEADER};
use crate::world::{Query, World};

/// The largest request body the gateway reads; IAM documents are far smaller.
const MAX_BODY: usize = 1024 * 1024;

/// How many decided calls the journal keeps; older ones are dropped first.
const JOURNAL_CAPACITY: usize = 100_000;

/// One call the gateway answered, as a drill's evidence shows it. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    pub at: DateTime<Utc>,
    /// The caller's ARN, or `-` when the signature could not be verified.
    pub principal: String,
    /// The IAM action, e.g. `iam:AttachUserPolicy`, or `-` when the call was not understood.
    pub action: String,
    pub resource: String,
    /// `allow`, `implicit_deny`, `explicit_deny`, `deny`, `refused` or `error`.
    pub decision: &'static str,
    pub decided_by: Option<&'static str>,
    /// The HTTP status of the answer, the emulator's for a forwarded call.
    pub status: u16,
    /// The AccessDenied text of a denied call.
    pub message: Option<String>,
}

/// The calls answered so far, numbered from the gateway's start.
#[derive(Default)]
struct Journal {
    /// The number of the first entry kept.
    first: usize,
    entries: VecDeque<Decided>,
}

/// A running gateway. Dropping it stops the server.
pub struct Gateway {
    address: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// What every request handler shares.
pub(crate) struct Shared {
    upstream: String,
    pub(crate) credentials: Arc<CredentialStore>,
    /// The state decisions are made on, replaced whole after each write.
    state: RwLock<Arc<World>>,
    /// Serializes writes, so that each write's read-back sees only its own change.
    writes: Mutex<()>,
    client: Client<HttpConnector, Full<Bytes>>,
    journal: std::sync::Mutex<Journal>,
}

impl Shared {
    pub(crate) fn world(&self) -> Arc<World> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Holds off other writes (and their read-backs) while a write changes the state.
    pub(crate) async fn write_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writes.lock().await
    }

    fn record(&self, decided: Decided) {
        let mut journal = self
            .journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if journal.entries.len() == JOURNAL_CAPACITY {
            journal.entries.pop_front();
            journal.first += 1;
        }
        journal.entries.push_back(decided);
    }

    pub(crate) fn replace_world(&self, world: World) {
        *self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(world);
    }
}

impl Gateway {
    /// Starts a gateway on `listen` in front of the emulator at `upstream`, deciding on
    /// `world` (as read back from the emulator) with the given credentials.
    pub async fn start(
        listen: SocketAddr,
        upstream: &str,
        world: World,
        credentials: Arc<CredentialStore>,
    ) -> std::io::Result<Gateway> {
        let listener = TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            credentials,
            state: RwLock::new(Arc::new(world)),
            writes: Mutex::new(()),
            client: Client::builder(TokioExecutor::new()).build(upstream_connector()),
            journal: std::sync::Mutex::new(Journal::default()),
        });

        let (shutdown, mut stopped) = oneshot::channel::<()>();
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = &mut stopped => break,
                };
                let Ok((stream, _)) = accepted else { continue };
                // Small request/answer pairs: do not let Nagle's algorithm hold them back.
                let _ = stream.set_nodelay(true);
                let shared = accepting.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(&shared, request).await) }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                });
            }
        });

        tracing::info!(%address, upstream, "gateway listening");
        Ok(Gateway {
            address,
            shared,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// The URL clients point `AWS_ENDPOINT_URL` at.
    pub fn endpoint(&self) -> String {
        // Listening on every interface (in a container), it is still reached at loopback.
        if self.address.ip().is_unspecified() {
            return format!("http://127.0.0.1:{}", self.address.port());
        }
        format!("http://{}", self.address)
    }

    pub fn credentials(&self) -> &CredentialStore {
        &self.shared.credentials
    }

    /// The state the gateway decides on now.
    pub fn world(&self) -> Arc<World> {
        self.shared.world()
    }

    /// Changes the state the gateway decides on, for what no API call can change (the root
    /// user's MFA device or email), holding off writes meanwhile. Nothing changes on error.
    pub async fn change_world<T>(
        &self,
        change: impl FnOnce(&mut World) -> Result<T, String>,
    ) -> Result<T, String> {
        let _write = self.shared.write_lock().await;
        let mut next = (*self.shared.world()).clone();
        let result = change(&mut next)?;
        self.shared.replace_world(next);
        Ok(result)
    }

    /// How many calls the gateway has answered: a mark for [`Gateway::decided_since`].
    pub fn decided_count(&self) -> usize {
        let journal = self
            .shared
            .journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        journal.first + journal.entries.len()
    }

    /// The calls answered since `mark`, oldest first.
    pub fn decided_since(&self, mark: usize) -> Vec<Decided> {
        let journal = self
            .shared
            .journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let skip = mark.saturating_sub(journal.first);
        journal.entries.iter().skip(skip).cloned().collect()
    }

    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The connector to the emulator, with Nagle's algorithm off.
fn upstream_connector() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector
}

/// One request, from bytes to answer. Logs one line.
async fn handle(
    shared: &Shared,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let request_id = super::credentials::random_id("", 32).to_lowercase();
    let (parts, body) = request.into_parts();
    let guessed = guess_service(&parts);

    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let message = format!("request bodies are limited to {MAX_BODY} bytes");
            return respond(protocol::error_response(
                guessed,
                413,
                "RequestEntityTooLarge",
                &message,
                &request_id,
            ));
        }
    };

    let outcome = decide_and_forward(shared, &parts, &body, &request_id).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        target: "lockdrill::gateway",
        request_id,
        principal = outcome.principal.as_deref().unwrap_or("-"),
        action = outcome.action.as_deref().unwrap_or("-"),
        resource = outcome.resource.as_deref().unwrap_or("-"),
        decision = outcome.decision,
        decided_by = outcome.decided_by.unwrap_or("-"),
        status = outcome.response.status().as_u16(),
        latency_ms = format!("{latency_ms:.2}"),
        upstream_ms = format!("{:.2}", outcome.upstream.as_secs_f64() * 1000.0),
        "request"
    );

    // The journal takes the outcome's fields: the answer is all that is left to send.
    let status = outcome.response.status().as_u16();
    shared.record(Decided {
        at: Utc::now(),
        principal: outcome.principal.unwrap_or_else(|| "-".into()),
        action: outcome.action.unwrap_or_else(|| "-".into()),
        resource: outcome.resource.unwrap_or_else(|| "-".into()),
        decision: outcome.decision,
        decided_by: outcome.decided_by,
        status,
        message: outcome.message,
    });
    respond(outcome.response)
}

fn respond(response: http::Response<Bytes>) -> hyper::Response<Full<Bytes>> {
    response.map(Full::new)
}

/// What happened to one request, for its log line.
struct Outcome {
    /// Time spent waiting for the emulator, to tell the gateway's own cost from Moto's.
    upstream: std::time::Duration,
    principal: Option<String>,
    action: Option<String>,
    resource: Option<String>,
    decision: &'static str,
    decided_by: Option<&'static str>,
    /// The AccessDenied text, or the error's message.
    message: Option<String>,
    response: http::Response<Bytes>,
}

impl Outcome {
    fn refused(response: http::Response<Bytes>) -> Outcome {
        Outcome {
            upstream: std::time::Duration::ZERO,
            principal: None,
            action: None,
            resource: None,
            decision: "refused",
            decided_by: None,
            message: None,
            response,
        }
    }
}

async fn decide_and_forward(
    shared: &Shared,
    parts: &http::request::Parts,
    body: &Bytes,
    request_id: &str,
) -> Outcome {
    let guessed = guess_service(parts);

    // Who signed it.
    let verified = match sigv4::verify(parts, body, shared.credentials.as_ref(), Utc::now()) {
        Ok(verified) => verified,
        Err(error) => {
            return Outcome::refused(protocol::auth_error_response(guessed, &error, request_id));
        }
    };
    let Some(service) = Service::from_signing_name(&verified.service) else {
        let message = format!(
            "lockdrill's gateway serves iam, sts and organizations, not `{}`",
            verified.service
        );
        return Outcome::refused(protocol::error_response(
            guessed,
            400,
            "UnrecognizedService",
            &message,
            request_id,
        ));
    };
    let Some(credential) = shared.credentials.get(&verified.access_key_id) else {
        let unknown = sigv4::AuthError {
            status: 403,
            code: "InvalidClientTokenId",
            message: "The security token included in the request is invalid.".to_owned(),
        };
        return Outcome::refused(protocol::auth_error_response(service, &unknown, request_id));
    };
    let principal = credential.holder.arn();

    // What it asks.
    let operation = match protocol::decode(parts, body, service) {
        Ok(operation) => operation,
        Err(error) => {
            let mut outcome = Outcome::refused(error.response(service, request_id));
            outcome.principal = Some(principal);
            return outcome;
        }
    };
    let mut outcome = Outcome {
        upstream: std::time::Duration::ZERO,
        principal: Some(principal.clone()),
        action: Some(operation.action()),
        resource: None,
        decision: "allow",
        decided_by: None,
        message: None,
        response: http::Response::new(Bytes::new()),
    };

    // Whether AWS would allow it.
    let world = shared.world();
    let authorized = {
        let caller = Caller {
            arn: &principal,
            key_owners: shared.credentials.as_ref(),
        };
        actions::authorize(&operation, &caller, &world)
    };
    let authorization = match authorized {
        Ok(authorization) => authorization,
        Err(error) => {
            let status = match error.kind {
                MapErrorKind::Invalid => 400,
                MapErrorKind::NotInOrganization | MapErrorKind::PolicyNotFound => 400,
                MapErrorKind::Unmapped | MapErrorKind::Refused => 403,
            };
            outcome.decision = "deny";
            outcome.response =
                protocol::error_response(service, status, error.code(), &error.message, request_id);
            outcome.message = Some(error.message);
            return outcome;
        }
    };
    if let Some(problem) = local::malformed_document(&operation) {
        outcome.decision = "refused";
        outcome.response =
            protocol::error_response(service, 400, problem.code, &problem.message, request_id);
        outcome.message = Some(problem.message);
        return outcome;
    }
    if let Err(denial) = decide(&world, &credential, &operation, &authorization) {
        outcome.resource = Some(denial.resource);
        outcome.decision = denial.decision;
        outcome.decided_by = denial.decided_by;
        outcome.response = protocol::access_denied(service, &denial.message, request_id);
        outcome.message = Some(denial.message);
        return outcome;
    }
    outcome.resource = authorization.resources.first().cloned();

    // The calls the gateway answers itself.
    if let Some(response) = local::answer(shared, &operation, &credential, &world, request_id).await
    {
        outcome.response = response;
        return outcome;
    }

    // The emulator does the rest; a write holds the write lock until its state is read back.
    let writing = authorization.access == Access::Write;
    let _write = if writing {
        Some(shared.write_lock().await)
    } else {
        None
    };
    let forwarded = Instant::now();
    let response = forward(shared, parts, body.clone(), credential.holder.account()).await;
    outcome.upstream = forwarded.elapsed();
    let response = match response {
        Ok(response) => response,
        Err(message) => {
            outcome.decision = "error";
            outcome.response =
                protocol::error_response(service, 503, "ServiceUnavailable", &message, request_id);
            outcome.message = Some(message);
            return outcome;
        }
    };

    if response.status().is_success() {
        learn(shared, &operation, &credential, response.body());
        if writing && let Err(error) = refresh(shared, &operation, &credential).await {
            tracing::error!(%error, "reading the emulator's state back failed");
        }
    }
    outcome.response = response;
    outcome
}

/// Why a call is denied.
struct Denial {
    resource: String,
    decision: &'static str,
    decided_by: Option<&'static str>,
    message: String,
}

/// Decides every action and resource a call needs; the first denial wins.
fn decide(
    world: &World,
    credential: &Credential,
    operation: &Operation,
    authorization: &Authorization,
) -> Result<(), Denial> {
    if authorization.needs_no_permission {
        return Ok(());
    }
    let principal = credential.holder.arn();
    let (session_policy, mut mfa) = match &credential.holder {
        Holder::RoleSession {
            session_policy,
            mfa,
            ..
        } => (session_policy.clone(), Some(*mfa)),
        _ => (None, None),
    };
    // An STS call that carries an MFA code is itself authenticated with MFA: a trust policy
    // that requires `aws:MultiFactorAuthPresent` lets it assume the role.
    if operation.service == Service::Sts
        && operation.param("SerialNumber").is_some()
        && operation.param("TokenCode").is_some()
    {
        mfa = Some(true);
    }

    for needed in std::iter::once(authorization).chain(&authorization.also) {
        for resource in &needed.resources {
            let mut context = needed.context.clone();
            context.extend(caller_context(mfa));
            let query = Query {
                principal: principal.clone(),
                action: needed.action.clone(),
                resource: resource.clone(),
                resource_account: None,
                context,
                session_policy: session_policy.clone(),
            };
            let denial = |message: String| Denial {
                resource: resource.clone(),
                decision: "deny",
                decided_by: None,
                message,
            };
            let prepared = world
                .prepare(&query, Utc::now().timestamp())
                .map_err(|error| denial(error.message))?;
            let request = prepared.request(&query);
            let decision = evaluate(&request, &prepared.applicable);
            if let Some(message) = decision.access_denied_message(&request) {
                return Err(Denial {
                    resource: resource.clone(),
                    decision: decision.outcome.name(),
                    decided_by: decision.decided_by.map(|policy_type| policy_type.name()),
                    message,
                });
            }
        }
    }
    Ok(())
}

/// The request-context keys the gateway adds to every call it decides: the caller's address
/// (loopback), the region the call is signed for, and, for temporary credentials, whether
/// they were obtained with MFA (`None` for long-term keys, which carry no such key in AWS).
pub fn caller_context(mfa: Option<bool>) -> Vec<(String, ContextValue)> {
    let mut context = vec![
        (
            "aws:SourceIp".to_owned(),
            ContextValue::One("127.0.0.1".to_owned()),
        ),
        (
            "aws:RequestedRegion".to_owned(),
            ContextValue::One(crate::sdk::REGION.to_owned()),
        ),
    ];
    if let Some(mfa) = mfa {
        context.push((
            "aws:MultiFactorAuthPresent".to_owned(),
            ContextValue::One(mfa.to_string()),
        ));
    }
    context
}

/// Sends the call to the emulator, in the caller's account.
async fn forward(
    shared: &Shared,
    parts: &http::request::Parts,
    body: Bytes,
    account: &str,
) -> Result<http::Response<Bytes>, String> {
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let uri = format!("{}{path}", shared.upstream);
    let mut request = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(&uri);
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let request = request
        .header(MOTO_ACCOUNT_HEADER, account)
        .body(Full::new(body))
        .map_err(|error| format!("the call could not be forwarded: {error}"))?;

    let response = shared.client.request(request).await.map_err(|error| {
        format!(
            "the emulator at {} did not answer: {error}",
            shared.upstream
        )
    })?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|error| format!("the emulator's answer was cut short: {error}"))?
        .to_bytes();
    Ok(http::Response::from_parts(parts, body))
}

/// Records credentials the emulator issued in answer to a call.
fn learn(shared: &Shared, operation: &Operation, credential: &Credential, body: &Bytes) {
    let account = credential.holder.account().to_owned();
    match operation.name.as_str() {
        "CreateAccessKey" => {
            let Some(created) = protocol::read_created_access_key(body) else {
                return;
            };
            let world = shared.world();
            let arn = world
                .accounts
                .get(&account)
                .and_then(|found| found.users.get(&created.user_name))
                .map_or_else(
                    || format!("arn:aws:iam::{account}:user/{}", created.user_name),
                    |user| user.arn.clone(),
                );
            shared.credentials.add(Credential {
                keys: Keys {
                    access_key_id: created.access_key_id,
                    secret_access_key: created.secret_access_key,
                    session_token: None,
                },
                expires_at: None,
                holder: Holder::User {
                    account,
                    name: created.user_name,
                    arn,
                },
            });
        }
        "DeleteAccessKey" => {
            if let Some(key) = operation.param("AccessKeyId") {
                shared.credentials.remove(key);
            }
        }
        "AssumeRole" => {
            let Some(issued) = protocol::read_sts_credentials(body) else {
                return;
            };
            let role_arn = operation.param("RoleArn").unwrap_or_default();
            let role_account = role_arn.split(':').nth(4).unwrap_or(&account).to_owned();
            let role_name = role_arn.rsplit('/').next().unwrap_or_default().to_owned();
            let session_policy = local::session_policy(operation, &shared.world());
            let mfa =
                operation.param("SerialNumber").is_some() && operation.param("TokenCode").is_some();
            shared.credentials.add(Credential {
                keys: Keys {
                    access_key_id: issued.access_key_id,
                    secret_access_key: issued.secret_access_key,
                    session_token: Some(issued.session_token),
                },
                expires_at: chrono::DateTime::parse_from_rfc3339(&issued.expiration)
                    .ok()
                    .map(|time| time.with_timezone(&Utc)),
                holder: Holder::RoleSession {
                    account: role_account,
                    role_name,
                    session_name: operation
                        .param("RoleSessionName")
                        .unwrap_or_default()
                        .to_owned(),
                    session_policy,
                    mfa,
                },
            });
        }
        _ => {}
    }
}

/// Reads back the state a successful write changed.
async fn refresh(
    shared: &Shared,
    operation: &Operation,
    credential: &Credential,
) -> Result<(), provision::ProvisionError> {
    let current = shared.world();
    let mut next = (*current).clone();

    match operation.service {
        Service::Organizations => {
            if let Some(organization) = &current.organization {
                let organization = provision::read_organization(
                    &shared.upstream,
                    &organization.management_account,
                )
                .await?;
                let mut ids = Vec::new();
                collect_ids(&organization.root, &mut ids);
                next.organization = Some(organization);
                for id in ids
                    .into_iter()
                    .filter(|id| !current.accounts.contains_key(id))
                {
                    provision::read_account(&shared.upstream, &id, &current, &mut next).await?;
                }
            }
        }
        _ => {
            provision::read_account(
                &shared.upstream,
                credential.holder.account(),
                &current,
                &mut next,
            )
            .await?
        }
    }

    // Keys of users that no longer exist stop working, as in AWS.
    for known in shared.credentials.all() {
        if let Holder::User { account, name, .. } = &known.holder {
            let exists = next
                .accounts
                .get(account)
                .is_some_and(|found| found.users.contains_key(name));
            if !exists {
                shared.credentials.remove(&known.keys.access_key_id);
            }
        }
    }

    shared.replace_world(next);
    Ok(())
}

fn collect_ids(node: &crate::world::OrgNode, ids: &mut Vec<String>) {
    ids.extend(node.accounts.iter().map(|account| account.id.clone()));
    for child in &node.children {
        collect_ids(child, ids);
    }
}

/// The service a request is probably for, to shape errors found before its signature is read.
fn guess_service(parts: &http::request::Parts) -> Service {
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if target.starts_with("AWSOrganizations") {
        return Service::Organizations;
    }
    let authorization = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if authorization.contains("/sts/aws4_request") {
        Service::Sts
    } else {
        Service::Iam
    }
}
