//! Verifies AWS Signature Version 4 the way AWS does, so the gateway knows which credentials
//! signed a request before it decides anything about it.
//!
//! Both forms AWS accepts are read: the `Authorization: AWS4-HMAC-SHA256 ...` header and the
//! presigned query string (`X-Amz-Algorithm`, `X-Amz-Credential`, ...). The signature is
//! recomputed with the `aws-sigv4` crate, the same code the Rust SDK signs with, from the
//! method, the path and query, the headers the client listed in `SignedHeaders` and the body,
//! and compared in constant time. Failures are answered with AWS's own codes, statuses and
//! wording (`InvalidClientTokenId`, `SignatureDoesNotMatch`, `ExpiredToken`, ...), and never
//! carry a secret or a full signature.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest, SignatureLocation,
    SigningParams, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

/// The only algorithm AWS's SigV4 verifiers accept.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far `X-Amz-Date` may be from the gateway's clock, either way.
pub const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(15);

/// The longest `X-Amz-Expires` AWS accepts for a presigned request: seven days.
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

/// The query parameters of a presigned request that carry its signature rather than its call.
pub const SIGNATURE_QUERY_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// Whether a query parameter is one of the presigned request's signature parameters.
pub fn is_signature_query_param(name: &str) -> bool {
    SIGNATURE_QUERY_PARAMS.contains(&name)
}

/// What the gateway knows about an access key: its secret and, for temporary credentials, the
/// session token that must come with it and when it stops working.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningSecret")
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Where the gateway looks up the secret of an access key id.
pub trait SecretStore {
    fn secret(&self, access_key_id: &str) -> Option<SigningSecret>;
}

impl<S: BuildHasher> SecretStore for HashMap<String, SigningSecret, S> {
    fn secret(&self, access_key_id: &str) -> Option<SigningSecret> {
        self.get(access_key_id).cloned()
    }
}

/// The credentials that signed a request, and the scope they signed it for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCaller {
    pub access_key_id: String,
    /// The signing name of the credential scope, such as `iam`; the gateway routes on it.
    pub service: String,
    pub region: String,
}

/// Why a request's signature was refused, as AWS's query protocol (IAM, STS) says it.
///
/// `protocol::auth_error_response` renders it for any service, renaming the code for the JSON
/// protocol (Organizations) the way AWS does there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AuthError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl AuthError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> AuthError {
        AuthError {
            status,
            code,
            message: message.into(),
        }
    }

    /// AWS's answer to a request that carries no signature at all.
    pub fn missing_authentication_token() -> AuthError {
        AuthError::new(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        )
    }

    fn incomplete_signature(message: impl Into<String>) -> AuthError {
        AuthError::new(400, "IncompleteSignature", message)
    }

    /// AWS's answer to an access key (or session token) it does not know.
    pub fn invalid_client_token_id() -> AuthError {
        AuthError::new(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
    }

    /// AWS's answer to temporary credentials past their expiry.
    pub fn expired_token() -> AuthError {
        AuthError::new(
            403,
            "ExpiredToken",
            "The security token included in the request is expired",
        )
    }

    fn signature_does_not_match(message: impl Into<String>) -> AuthError {
        AuthError::new(403, "SignatureDoesNotMatch", message)
    }

    fn wrong_signature() -> AuthError {
        AuthError::signature_does_not_match(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details.",
        )
    }
}

/// Verifies the SigV4 signature of a request and names the credentials that made it.
///
/// `body` is the whole request body; `now` is the gateway's clock, passed in so that tests and
/// replays can fix it. Follows AWS's description of how a signed request is checked,
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>.
pub fn verify(
    request: &http::request::Parts,
    body: &[u8],
    store: &dyn SecretStore,
    now: DateTime<Utc>,
) -> Result<VerifiedCaller, AuthError> {
    // Step 1: read the signature, from the Authorization header or the presigned query string.
    let signed = SignedRequest::read(request)?;

    // Step 2: the request must have been signed recently (or, presigned, not expired yet).
    signed.check_time(now)?;

    // Step 3: the access key must be known, and a session token must come exactly with the
    // temporary credentials it was issued with.
    let secret = store
        .secret(&signed.scope.access_key_id)
        .ok_or_else(AuthError::invalid_client_token_id)?;
    let has_matching_token = match (&secret.session_token, &signed.session_token) {
        (None, None) => true,
        (Some(expected), Some(given)) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
        _ => false,
    };
    if !has_matching_token {
        return Err(AuthError::invalid_client_token_id());
    }

    // Step 4: temporary credentials stop working when they expire.
    if secret
        .expires_at
        .is_some_and(|expires_at| now >= expires_at)
    {
        return Err(AuthError::expired_token());
    }

    // Step 5: recompute the signature with the stored secret and compare.
    let expected = signed.payloads(body).iter().any(|payload| {
        signed
            .recompute(request, payload, &secret)
            .is_some_and(|signature| {
                constant_time_eq(signature.as_bytes(), signed.signature.as_bytes())
            })
    });
    if !expected {
        return Err(AuthError::wrong_signature());
    }

    Ok(VerifiedCaller {
        access_key_id: signed.scope.access_key_id,
        service: signed.scope.service,
        region: signed.scope.region,
    })
}

/// The `Credential` of a signature: `AKID/20240501/us-east-1/iam/aws4_request`.
struct CredentialScope {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
}

impl CredentialScope {
    fn parse(credential: &str) -> Result<CredentialScope, AuthError> {
        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key_id, date, region, service, terminator] = parts[..] else {
            return Err(AuthError::incomplete_signature(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got '{}'",
                echo(credential)
            )));
        };
        if terminator != "aws4_request" {
            return Err(AuthError::incomplete_signature(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
                echo(terminator)
            )));
        }
        if access_key_id.is_empty() {
            return Err(AuthError::invalid_client_token_id());
        }
        Ok(CredentialScope {
            access_key_id: access_key_id.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        })
    }
}

/// How the signature travelled.
enum Form {
    Header,
    Presigned { expires_in: u64 },
}

/// The signature of a request and everything needed to check it. Deliberately not `Debug`:
/// it holds the signature and the session token.
struct SignedRequest {
    form: Form,
    scope: CredentialScope,
    /// Lowercase header names, as the client listed them.
    signed_headers: Vec<String>,
    signature: String,
    /// `X-Amz-Date` as sent, for messages.
    amz_date: String,
    signed_at: DateTime<Utc>,
    session_token: Option<String>,
}

impl SignedRequest {
    fn read(request: &http::request::Parts) -> Result<SignedRequest, AuthError> {
        if let Some(authorization) = request.headers.get(http::header::AUTHORIZATION) {
            let authorization = authorization.to_str().map_err(|_| {
                AuthError::incomplete_signature(
                    "Authorization header contains characters that are not visible ASCII",
                )
            })?;
            return SignedRequest::from_header(request, authorization);
        }

        let query = query_params(request.uri.query().unwrap_or(""));
        let has_presigned_params = query.iter().any(|(name, _)| {
            matches!(
                name.as_str(),
                "X-Amz-Algorithm" | "X-Amz-Credential" | "X-Amz-Signature"
            )
        });
        if has_presigned_params {
            return SignedRequest::from_query(&query);
        }

        Err(AuthError::missing_authentication_token())
    }

    /// Reads `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
    fn from_header(
        request: &http::request::Parts,
        authorization: &str,
    ) -> Result<SignedRequest, AuthError> {
        let (algorithm, components) = authorization
            .trim()
            .split_once(' ')
            .unwrap_or((authorization.trim(), ""));
        if algorithm != ALGORITHM {
            return Err(AuthError::incomplete_signature(format!(
                "Unsupported AWS 'algorithm': '{}'; the gateway verifies only {ALGORITHM}. \
                 Authorization={}",
                echo(algorithm),
                redact_authorization(authorization)
            )));
        }

        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for component in components
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            let Some((name, value)) = component.split_once('=') else {
                return Err(AuthError::incomplete_signature(format!(
                    "'{}' not a valid key=value pair (missing equal-sign) in Authorization \
                     header: '{}'.",
                    echo(component),
                    redact_authorization(authorization)
                )));
            };
            match name {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed_headers = Some(value),
                "Signature" => signature = Some(value),
                _ => {}
            }
        }
        let amz_date = request
            .headers
            .get("x-amz-date")
            .and_then(|value| value.to_str().ok());

        let mut missing = Vec::new();
        for (name, value) in [
            ("Credential", credential),
            ("Signature", signature),
            ("SignedHeaders", signed_headers),
        ] {
            if value.is_none() {
                missing.push(format!("Authorization header requires '{name}' parameter."));
            }
        }
        if amz_date.is_none() {
            missing.push(
                "Authorization header requires existence of an 'X-Amz-Date' header \
                 (signing with the 'Date' header is not supported by the gateway)."
                    .to_owned(),
            );
        }
        let (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) =
            (credential, signed_headers, signature, amz_date)
        else {
            return Err(AuthError::incomplete_signature(format!(
                "{} Authorization={}",
                missing.join(" "),
                redact_authorization(authorization)
            )));
        };

        let session_token = request
            .headers
            .get("x-amz-security-token")
            .map(|token| token.to_str().map(str::to_owned).unwrap_or_default());
        SignedRequest::assemble(
            Form::Header,
            credential,
            signed_headers,
            signature,
            amz_date,
            session_token,
        )
    }

    /// Reads the `X-Amz-*` parameters of a presigned request.
    fn from_query(query: &[(String, String)]) -> Result<SignedRequest, AuthError> {
        let param = |name: &str| {
            query
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let (
            Some(algorithm),
            Some(credential),
            Some(amz_date),
            Some(expires),
            Some(signed),
            Some(signature),
        ) = (
            param("X-Amz-Algorithm"),
            param("X-Amz-Credential"),
            param("X-Amz-Date"),
            param("X-Amz-Expires"),
            param("X-Amz-SignedHeaders"),
            param("X-Amz-Signature"),
        )
        else {
            return Err(AuthError::incomplete_signature(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, \
                 X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
                 X-Amz-Expires parameters.",
            ));
        };
        if algorithm != ALGORITHM {
            return Err(AuthError::incomplete_signature(format!(
                "X-Amz-Algorithm only supports \"{ALGORITHM}\", not '{}'",
                echo(algorithm)
            )));
        }
        let expires_in: u64 = expires.parse().map_err(|_| {
            AuthError::incomplete_signature(format!(
                "X-Amz-Expires should be a number of seconds, not '{}'",
                echo(expires)
            ))
        })?;
        if expires_in > MAX_PRESIGNED_EXPIRES {
            return Err(AuthError::incomplete_signature(format!(
                "X-Amz-Expires must be less than a week (in seconds) that is \
                 {MAX_PRESIGNED_EXPIRES}, not {expires_in}"
            )));
        }

        SignedRequest::assemble(
            Form::Presigned { expires_in },
            credential,
            signed,
            signature,
            amz_date,
            param("X-Amz-Security-Token").map(str::to_owned),
        )
    }

    fn assemble(
        form: Form,
        credential: &str,
        signed_headers: &str,
        signature: &str,
        amz_date: &str,
        session_token: Option<String>,
    ) -> Result<SignedRequest, AuthError> {
        let scope = CredentialScope::parse(credential)?;
        let signed_at = parse_amz_date(amz_date).ok_or_else(|| {
            AuthError::incomplete_signature(format!(
                "X-Amz-Date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z', not '{}'",
                echo(amz_date)
            ))
        })?;
        if !amz_date.starts_with(&scope.date) || scope.date.len() != 8 {
            return Err(AuthError::signature_does_not_match(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{}' != '{}', from '{amz_date}'.",
                echo(&scope.date),
                &amz_date[..8]
            )));
        }

        Ok(SignedRequest {
            form,
            scope,
            signed_headers: signed_headers.split(';').map(str::to_owned).collect(),
            signature: signature.to_owned(),
            amz_date: amz_date.to_owned(),
            signed_at,
            session_token,
        })
    }

    /// AWS refuses requests signed more than 15 minutes from its clock, and presigned
    /// requests after their `X-Amz-Expires`.
    fn check_time(&self, now: DateTime<Utc>) -> Result<(), AuthError> {
        // `signed_at` has a four-digit year, so shifting it cannot overflow; `now` might.
        let now_text = format_amz_date(now);
        let shifted =
            |delta: TimeDelta| format_amz_date(now.checked_add_signed(delta).unwrap_or(now));
        if self.signed_at - MAX_CLOCK_SKEW > now {
            return Err(AuthError::signature_does_not_match(format!(
                "Signature not yet current: {} is still later than {} ({now_text} + 15 min.)",
                self.amz_date,
                shifted(MAX_CLOCK_SKEW)
            )));
        }
        match self.form {
            Form::Header if self.signed_at + MAX_CLOCK_SKEW < now => {
                Err(AuthError::signature_does_not_match(format!(
                    "Signature expired: {} is now earlier than {} ({now_text} - 15 min.)",
                    self.amz_date,
                    shifted(-MAX_CLOCK_SKEW)
                )))
            }
            Form::Presigned { expires_in } => {
                // INVARIANT: `expires_in` is at most a week, so it fits a `TimeDelta`.
                let lifetime = TimeDelta::seconds(expires_in as i64);
                if self.signed_at + lifetime < now {
                    return Err(AuthError::signature_does_not_match(format!(
                        "Signature expired: {} is now earlier than {} ({now_text} - \
                         {expires_in} sec.)",
                        self.amz_date,
                        shifted(-lifetime)
                    )));
                }
                Ok(())
            }
            Form::Header => Ok(()),
        }
    }

    /// The payload hashes a client may have signed: the body's, and for presigned requests also
    /// `UNSIGNED-PAYLOAD` (botocore hashes the empty body of a presigned call, S3-style
    /// presigners send the constant).
    fn payloads<'b>(&self, body: &'b [u8]) -> Vec<SignableBody<'b>> {
        match self.form {
            Form::Header => vec![SignableBody::Bytes(body)],
            Form::Presigned { .. } => {
                vec![SignableBody::Bytes(body), SignableBody::UnsignedPayload]
            }
        }
    }

    /// The signature AWS would compute for this request with `secret`, or `None` when the
    /// request cannot be put into canonical form at all.
    fn recompute(
        &self,
        request: &http::request::Parts,
        payload: &SignableBody<'_>,
        secret: &SigningSecret,
    ) -> Option<String> {
        // Only the headers the client listed take part; the URI's authority only matters if
        // `host` was not signed, and then the signature cannot match anyway.
        let mut headers = Vec::new();
        for name in &self.signed_headers {
            match name.as_str() {
                // A signature cannot cover itself.
                "authorization" => return None,
                // aws-sigv4 adds the (already compared) token itself, marked sensitive, so it
                // stays out of its trace logs.
                "x-amz-security-token" => continue,
                _ => {}
            }
            for value in request.headers.get_all(name.as_str()) {
                headers.push((name.as_str(), value.to_str().ok()?));
            }
        }
        let path_and_query = request.uri.path_and_query().map_or("/", |pq| pq.as_str());
        if !path_and_query.starts_with('/') {
            return None;
        }
        let uri = match self.form {
            Form::Header => format!("http://localhost{path_and_query}"),
            // aws-sigv4 adds the signature parameters back itself, from the signing settings.
            Form::Presigned { .. } => {
                let call_params: Vec<&str> = request
                    .uri
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .filter(|pair| !pair.is_empty() && !is_signature_pair(pair))
                    .collect();
                let path = request.uri.path();
                if call_params.is_empty() {
                    format!("http://localhost{path}")
                } else {
                    format!("http://localhost{path}?{}", call_params.join("&"))
                }
            }
        };
        let signable = SignableRequest::new(
            request.method.as_str(),
            uri,
            headers.into_iter(),
            payload.clone(),
        )
        .ok()?;

        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Double;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Enabled;
        // Every header the client signed counts, even those SDKs usually leave out.
        settings.excluded_headers = None;
        match self.form {
            Form::Header => {
                settings.signature_location = SignatureLocation::Headers;
                let token_signed = self
                    .signed_headers
                    .iter()
                    .any(|h| h == "x-amz-security-token");
                settings.session_token_mode = if token_signed {
                    SessionTokenMode::Include
                } else {
                    SessionTokenMode::Exclude
                };
            }
            Form::Presigned { expires_in } => {
                settings.signature_location = SignatureLocation::QueryParams;
                settings.expires_in = Some(Duration::from_secs(expires_in));
                settings.session_token_mode = SessionTokenMode::Include;
            }
        }

        let identity: Identity = Credentials::new(
            self.scope.access_key_id.clone(),
            secret.secret_access_key.clone(),
            secret.session_token.clone(),
            None,
            "lockdrill-gateway",
        )
        .into();
        let params: SigningParams<'_> = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.scope.region)
            .name(&self.scope.service)
            .time(SystemTime::from(self.signed_at))
            .settings(settings)
            .build()
            .ok()?
            .into();
        let output = sign(signable, &params).ok()?;
        Some(output.signature().to_owned())
    }
}

/// Whether a raw `name=value` pair of a query string is a signature parameter.
fn is_signature_pair(pair: &str) -> bool {
    let name = pair.split('=').next().unwrap_or("");
    form_urlencoded::parse(name.as_bytes())
        .next()
        .is_some_and(|(name, _)| is_signature_query_param(&name))
}

fn query_params(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// Reads `20240501T120000Z`, and nothing else.
fn parse_amz_date(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    let is_shaped = bytes.len() == 16
        && bytes[8] == b'T'
        && bytes[15] == b'Z'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 8 || i == 15 || b.is_ascii_digit());
    if !is_shaped {
        return None;
    }
    NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

fn format_amz_date(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The Authorization header for a message: the signature replaced, long values cut.
fn redact_authorization(authorization: &str) -> String {
    let redacted = match authorization.find("Signature=") {
        Some(start) => {
            let value_start = start + "Signature=".len();
            let value_end = authorization[value_start..]
                .find(',')
                .map_or(authorization.len(), |end| value_start + end);
            format!(
                "{}Signature=<redacted>{}",
                &authorization[..start],
                &authorization[value_end..]
            )
        }
        None => authorization.to_owned(),
    };
    echo(&redacted)
}

/// A client's value for a message: anything shaped like a signature (a run of 32 or more hex
/// digits, wherever a mangled header put it) masked, and at most 200 characters.
fn echo(text: &str) -> String {
    const LIMIT: usize = 200;
    const SIGNATURE_LIKE: usize = 32;

    let mut masked = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit()) {
        masked.push_str(&rest[..start]);
        let run = &rest[start..];
        let run = &run[..run
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(run.len())];
        masked.push_str(if run.len() >= SIGNATURE_LIKE {
            "<redacted>"
        } else {
            run
        });
        rest = &rest[start + run.len()..];
    }
    masked.push_str(rest);

    match masked.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}...", &masked[..cut]),
        None => masked,
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests;
