//! Signatures from aws-sigv4 (the Rust SDK's signer), from botocore (the `aws` CLI v1), from
//! AWS's own documentation example and from real clients, verified and tampered with.

use super::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use aws_sigv4::http_request::SigningSettings;
use http::HeaderValue;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION_AKID: &str = "ASIADRILLSESSION0001";
const SESSION_SECRET: &str = "c2VjcmV0LXNlc3Npb24ta2V5LWZvci1kcmlsbHM";
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEXAMPLE//session+token=";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A long-term key and a session that expires at 13:00 on the day of the fixtures.
fn store() -> HashMap<String, SigningSecret> {
    let mut store = HashMap::new();
    store.insert(
        AKID.to_owned(),
        SigningSecret {
            secret_access_key: SECRET.to_owned(),
            session_token: None,
            expires_at: None,
        },
    );
    store.insert(
        SESSION_AKID.to_owned(),
        SigningSecret {
            secret_access_key: SESSION_SECRET.to_owned(),
            session_token: Some(SESSION_TOKEN.to_owned()),
            expires_at: Some(at("2024-05-01T13:00:00Z")),
        },
    );
    store
}

fn request(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> http::Request<Vec<u8>> {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.to_vec()).unwrap()
}

fn check(
    request: &http::Request<Vec<u8>>,
    now: DateTime<Utc>,
) -> Result<VerifiedCaller, AuthError> {
    let (parts, body) = request.clone().into_parts();
    let error_free = verify(&parts, &body, &store(), now);
    if let Err(error) = &error_free {
        assert_no_secrets(error, request);
    }
    error_free
}

/// No error may carry a secret, a session token or a signature.
fn assert_no_secrets(error: &AuthError, request: &http::Request<Vec<u8>>) {
    for secret in [SECRET, SESSION_SECRET, SESSION_TOKEN] {
        assert!(!error.message.contains(secret), "{error}");
    }
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let query = request.uri().query().unwrap_or("");
    let signatures = authorization
        .and_then(|a| a.split("Signature=").nth(1))
        .into_iter()
        .chain(query.split("X-Amz-Signature=").nth(1));
    for signature in signatures {
        let signature = signature.split([',', '&']).next().unwrap();
        if signature.len() > 8 {
            assert!(!error.message.contains(signature), "{error}");
        }
    }
}

/// Signs with aws-sigv4's default settings, as the Rust SDK signs IAM, STS and Organizations.
fn sign_request(
    mut request: http::Request<Vec<u8>>,
    keys: (&str, &str, Option<&str>),
    service: &str,
    time: DateTime<Utc>,
    presign: Option<(u64, bool)>,
) -> http::Request<Vec<u8>> {
    let identity: Identity =
        Credentials::new(keys.0, keys.1, keys.2.map(str::to_owned), None, "test").into();
    let mut settings = SigningSettings::default();
    if let Some((expires, _)) = presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(expires));
    }
    let params: SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::from(time))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = request.uri().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap().to_owned()))
        .collect();
    let body = match presign {
        Some((_, true)) => SignableBody::UnsignedPayload,
        _ => SignableBody::Bytes(request.body()),
    };
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut request);
    request
}

fn list_users() -> http::Request<Vec<u8>> {
    request(
        "POST",
        "http://127.0.0.1:5000/",
        &[("host", "127.0.0.1:5000"), ("content-type", FORM)],
        b"Action=ListUsers&Version=2010-05-08",
    )
}

fn get_caller_identity_url() -> http::Request<Vec<u8>> {
    request(
        "GET",
        "http://127.0.0.1:5000/?Action=GetCallerIdentity&Version=2011-06-15",
        &[("host", "127.0.0.1:5000")],
        b"",
    )
}

const NOON: &str = "2024-05-01T12:00:00Z";

// ---- aws-sigv4, the Rust SDK's signer ----

#[test]
fn header_signature_from_aws_sigv4_verifies() {
    let signed = sign_request(list_users(), (AKID, SECRET, None), "iam", at(NOON), None);

    let caller = check(&signed, at("2024-05-01T12:03:00Z")).unwrap();

    assert_eq!(
        caller,
        VerifiedCaller {
            access_key_id: AKID.to_owned(),
            service: "iam".to_owned(),
            region: "us-east-1".to_owned()
        }
    );
}

#[test]
fn header_signature_with_session_token_verifies() {
    let keys = (SESSION_AKID, SESSION_SECRET, Some(SESSION_TOKEN));
    let signed = sign_request(list_users(), keys, "sts", at(NOON), None);
    assert!(signed.headers().contains_key("x-amz-security-token"));

    let caller = check(&signed, at(NOON)).unwrap();

    assert_eq!(caller.access_key_id, SESSION_AKID);
    assert_eq!(caller.service, "sts");
}

#[test]
fn presigned_url_from_aws_sigv4_verifies() {
    let hashed = sign_request(
        get_caller_identity_url(),
        (AKID, SECRET, None),
        "sts",
        at(NOON),
        Some((900, false)),
    );
    let unsigned = sign_request(
        get_caller_identity_url(),
        (AKID, SECRET, None),
        "sts",
        at(NOON),
        Some((900, true)),
    );
    let keys = (SESSION_AKID, SESSION_SECRET, Some(SESSION_TOKEN));
    let session = sign_request(
        get_caller_identity_url(),
        keys,
        "sts",
        at(NOON),
        Some((300, false)),
    );
    assert!(
        session
            .uri()
            .query()
            .unwrap()
            .contains("X-Amz-Security-Token=")
    );

    for presigned in [&hashed, &unsigned, &session] {
        let caller = check(presigned, at("2024-05-01T12:04:00Z")).unwrap();
        assert_eq!(caller.service, "sts");
    }
}

#[test]
fn organizations_json_call_verifies() {
    let call = request(
        "POST",
        "http://localhost:4566/",
        &[
            ("host", "localhost:4566"),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "AWSOrganizationsV20161128.ListRoots"),
        ],
        b"{}",
    );
    let signed = sign_request(call, (AKID, SECRET, None), "organizations", at(NOON), None);

    assert_eq!(check(&signed, at(NOON)).unwrap().service, "organizations");
}

// ---- fixed vectors: AWS's documentation, botocore, the aws CLI ----

/// The worked example of AWS's SigV4 documentation: `GET /?Action=ListUsers` to IAM,
/// 2015-08-30T12:36:00Z, signature `5d672d79...`.
#[test]
fn aws_documentation_example_verifies() {
    let example = request(
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        &[
            ("host", "iam.amazonaws.com"),
            ("content-type", FORM),
            ("x-amz-date", "20150830T123600Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
            ),
        ],
        b"",
    );

    assert_eq!(
        check(&example, at("2015-08-30T12:36:00Z"))
            .unwrap()
            .access_key_id,
        AKID
    );
}

/// Signed by botocore 1.43.11's `SigV4Auth` (what the `aws` CLI v1 uses) with its clock fixed at
/// 2024-05-01T12:00:00Z: a POST of `Action=ListUsers&Version=2010-05-08`.
fn botocore_list_users() -> http::Request<Vec<u8>> {
    request(
        "POST",
        "/",
        &[
            ("host", "127.0.0.1:5000"),
            ("content-type", FORM),
            ("x-amz-date", "20240501T120000Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=8b4a2b5e3ff8f83bdfa47cf607e1083ccc413ac991a02dd5c17476ac321fda66",
            ),
            ("content-length", "35"),
        ],
        b"Action=ListUsers&Version=2010-05-08",
    )
}

#[test]
fn botocore_header_signature_verifies() {
    assert_eq!(
        check(&botocore_list_users(), at(NOON)).unwrap().service,
        "iam"
    );
}

#[test]
fn botocore_session_signature_verifies() {
    let signed = request(
        "POST",
        "/",
        &[
            ("host", "127.0.0.1:5000"),
            ("content-type", FORM),
            ("x-amz-date", "20240501T120000Z"),
            ("x-amz-security-token", SESSION_TOKEN),
            (
                "authorization",
                "AWS4-HMAC-SHA256 \
                 Credential=ASIADRILLSESSION0001/20240501/us-east-1/sts/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, \
                 Signature=3821ea3b31bae086ad80966cbcca133661b280b9d2ad8d000d85f2c28292c13c",
            ),
        ],
        b"Action=GetCallerIdentity&Version=2011-06-15",
    );

    assert_eq!(
        check(&signed, at(NOON)).unwrap().access_key_id,
        SESSION_AKID
    );
}

/// botocore's `SigV4QueryAuth`, expires 900 s: it signs the hash of the empty body.
fn botocore_presigned() -> http::Request<Vec<u8>> {
    request(
        "GET",
        "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=ASIADRILLSESSION0001%2F20240501%2Fus-east-1%2Fsts%2Faws4_request\
         &X-Amz-Date=20240501T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
         &X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE%2F%2Fsession%2Btoken%3D\
         &X-Amz-Signature=2682a14a8020da5c031af15c94d5358540b78dce98948bfe4948e9e9e3d940d9",
        &[("host", "127.0.0.1:5000")],
        b"",
    )
}

#[test]
fn botocore_presigned_url_verifies() {
    assert_eq!(
        check(&botocore_presigned(), at("2024-05-01T12:14:59Z"))
            .unwrap()
            .service,
        "sts"
    );
}

/// Requests the `aws` CLI 1.45.11 (botocore 1.43.11) sent, captured on the wire.
#[test]
fn aws_cli_requests_verify() {
    const CLI_AGENT: &str = "aws-cli/1.45.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.18.44-fc-v1147 \
                             md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython \
                             cfg/retry-mode#legacy botocore/1.43.11";
    let list_users = request(
        "POST",
        "/",
        &[
            ("host", "127.0.0.1:5078"),
            ("accept-encoding", "identity"),
            ("content-type", FORM),
            ("user-agent", CLI_AGENT),
            ("x-amz-date", "20261203T172949Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=56b186b8ba323d844111d0ffc46f3abb11ab9a6e556487ce6bf5e2a7e4348fbd",
            ),
            (
                "amz-sdk-invocation-id",
                "f1e081dd-41de-431a-b10e-f2d33bd57f2e",
            ),
            ("amz-sdk-request", "attempt=1"),
            ("content-length", "35"),
        ],
        b"Action=ListUsers&Version=2010-05-08",
    );
    let get_caller_identity = request(
        "POST",
        "/",
        &[
            ("host", "127.0.0.1:5078"),
            ("content-type", FORM),
            ("user-agent", CLI_AGENT),
            ("x-amz-date", "20261203T172950Z"),
            ("x-amz-security-token", SESSION_TOKEN),
            (
                "authorization",
                "AWS4-HMAC-SHA256 \
                 Credential=ASIADRILLSESSION0001/20261203/eu-west-1/sts/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, \
                 Signature=4018955f8a678ecbda1f7d7b322e7f4d94ec0db907e500108af616bcd2435f5b",
            ),
        ],
        b"Action=GetCallerIdentity&Version=2011-06-15",
    );
    let list_policies_for_target = request(
        "POST",
        "/",
        &[
            ("host", "127.0.0.1:5078"),
            (
                "x-amz-target",
                "AWSOrganizationsV20161128.ListPoliciesForTarget",
            ),
            ("content-type", "application/x-amz-json-1.1"),
            ("user-agent", CLI_AGENT),
            ("x-amz-date", "20261203T172955Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 \
                 Credential=AKIDEXAMPLE/20261203/us-east-1/organizations/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
                 Signature=446237561f1b82222fe7b5df85feef6cadfa2ddf6e1493240e5d7cd02680574b",
            ),
        ],
        br#"{"TargetId": "222222222222", "Filter": "SERVICE_CONTROL_POLICY"}"#,
    );
    let mut store = store();
    // The session of the capture was valid then.
    store.get_mut(SESSION_AKID).unwrap().expires_at = None;
    let now = at("2026-12-03T17:30:00Z");

    for (captured, service, region) in [
        (list_users, "iam", "us-east-1"),
        (get_caller_identity, "sts", "eu-west-1"),
        (list_policies_for_target, "organizations", "us-east-1"),
    ] {
        let (parts, body) = captured.into_parts();
        let caller = verify(&parts, &body, &store, now).unwrap();
        assert_eq!(
            (caller.service.as_str(), caller.region.as_str()),
            (service, region)
        );
    }
}

// ---- tampering ----

const WRONG_SIGNATURE: &str = "The request signature we calculated does not match the signature \
                               you provided. Check your AWS Secret Access Key and signing method. \
                               Consult the service documentation for details.";

fn assert_wrong_signature(result: Result<VerifiedCaller, AuthError>) {
    let error = result.unwrap_err();
    assert_eq!((error.status, error.code), (403, "SignatureDoesNotMatch"));
    assert_eq!(error.message, WRONG_SIGNATURE);
}

#[test]
fn tampered_body_is_refused() {
    let mut tampered = botocore_list_users();
    *tampered.body_mut() = b"Action=ListUsers&Version=2010-05-09".to_vec();

    assert_wrong_signature(check(&tampered, at(NOON)));
}

#[test]
fn tampered_signed_header_is_refused_and_unsigned_header_is_not() {
    let mut signed_header = botocore_list_users();
    signed_header
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    let mut unsigned_header = botocore_list_users();
    unsigned_header
        .headers_mut()
        .insert("user-agent", HeaderValue::from_static("curl/8"));

    assert_wrong_signature(check(&signed_header, at(NOON)));
    assert!(check(&unsigned_header, at(NOON)).is_ok());
}

#[test]
fn tampered_path_or_query_is_refused() {
    let presigned = botocore_presigned();
    let changed_action = presigned
        .uri()
        .to_string()
        .replace("GetCallerIdentity", "GetSessionToken");
    let added_param = format!("{}&DurationSeconds=900", presigned.uri());
    let mut other_path = botocore_list_users();
    *other_path.uri_mut() = "/admin".parse().unwrap();

    for uri in [changed_action, added_param] {
        let mut tampered = presigned.clone();
        *tampered.uri_mut() = uri.parse().unwrap();
        assert_wrong_signature(check(&tampered, at(NOON)));
    }
    assert_wrong_signature(check(&other_path, at(NOON)));
}

#[test]
fn tampered_date_is_refused() {
    let mut later = botocore_list_users();
    later
        .headers_mut()
        .insert("x-amz-date", HeaderValue::from_static("20240501T120500Z"));
    let mut other_day = botocore_list_users();
    other_day
        .headers_mut()
        .insert("x-amz-date", HeaderValue::from_static("20240502T000500Z"));

    assert_wrong_signature(check(&later, at(NOON)));
    let error = check(&other_day, at("2024-05-02T00:00:00Z")).unwrap_err();
    assert_eq!(error.code, "SignatureDoesNotMatch");
    assert_eq!(
        error.message,
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '20240501' != '20240502', from '20240502T000500Z'."
    );
}

#[test]
fn wrong_secret_is_refused() {
    let signed = sign_request(
        list_users(),
        (AKID, "not-the-secret", None),
        "iam",
        at(NOON),
        None,
    );

    assert_wrong_signature(check(&signed, at(NOON)));
}

// ---- credentials ----

#[test]
fn unknown_access_key_is_an_invalid_client_token() {
    let signed = sign_request(
        list_users(),
        ("AKIAUNKNOWN", SECRET, None),
        "iam",
        at(NOON),
        None,
    );

    let error = check(&signed, at(NOON)).unwrap_err();

    assert_eq!((error.status, error.code), (403, "InvalidClientTokenId"));
    assert_eq!(
        error.message,
        "The security token included in the request is invalid."
    );
}

#[test]
fn expired_session_is_an_expired_token() {
    let keys = (SESSION_AKID, SESSION_SECRET, Some(SESSION_TOKEN));
    let signed = sign_request(list_users(), keys, "iam", at("2024-05-01T13:00:00Z"), None);

    let error = check(&signed, at("2024-05-01T13:00:00Z")).unwrap_err();

    assert_eq!((error.status, error.code), (403, "ExpiredToken"));
    assert_eq!(
        error.message,
        "The security token included in the request is expired"
    );
}

#[test]
fn session_token_must_match_the_key() {
    let wrong_token = (SESSION_AKID, SESSION_SECRET, Some("another-session-token"));
    let no_token = (SESSION_AKID, SESSION_SECRET, None);
    let token_on_long_term_key = (AKID, SECRET, Some(SESSION_TOKEN));

    for keys in [wrong_token, no_token, token_on_long_term_key] {
        let signed = sign_request(list_users(), keys, "iam", at(NOON), None);
        let error = check(&signed, at(NOON)).unwrap_err();
        assert_eq!(
            (error.status, error.code),
            (403, "InvalidClientTokenId"),
            "{keys:?}"
        );
    }
}

// ---- time ----

#[test]
fn clock_skew_over_fifteen_minutes_is_refused() {
    let signed = botocore_list_users();

    assert!(check(&signed, at("2024-05-01T12:15:00Z")).is_ok());
    assert!(check(&signed, at("2024-05-01T11:45:00Z")).is_ok());

    let late = check(&signed, at("2024-05-01T12:15:01Z")).unwrap_err();
    assert_eq!((late.status, late.code), (403, "SignatureDoesNotMatch"));
    assert_eq!(
        late.message,
        "Signature expired: 20240501T120000Z is now earlier than 20240501T120001Z \
         (20240501T121501Z - 15 min.)"
    );
    let early = check(&signed, at("2024-05-01T11:44:59Z")).unwrap_err();
    assert_eq!(
        early.message,
        "Signature not yet current: 20240501T120000Z is still later than 20240501T115959Z \
         (20240501T114459Z + 15 min.)"
    );
}

#[test]
fn presigned_url_expires_after_its_lifetime() {
    let presigned = botocore_presigned();

    let error = check(&presigned, at("2024-05-01T12:15:01Z")).unwrap_err();

    assert_eq!((error.status, error.code), (403, "SignatureDoesNotMatch"));
    assert_eq!(
        error.message,
        "Signature expired: 20240501T120000Z is now earlier than 20240501T120001Z \
         (20240501T121501Z - 900 sec.)"
    );
}

#[test]
fn presigned_url_lifetime_is_at_most_a_week() {
    let uri = botocore_presigned()
        .uri()
        .to_string()
        .replace("X-Amz-Expires=900", "X-Amz-Expires=604801");
    let mut too_long = botocore_presigned();
    *too_long.uri_mut() = uri.parse().unwrap();

    let error = check(&too_long, at(NOON)).unwrap_err();

    assert_eq!((error.status, error.code), (400, "IncompleteSignature"));
    assert!(
        error
            .message
            .starts_with("X-Amz-Expires must be less than a week"),
        "{error}"
    );
}

// ---- malformed and missing ----

#[test]
fn unsigned_request_is_missing_authentication_token() {
    let unsigned = list_users();

    let error = check(&unsigned, at(NOON)).unwrap_err();

    assert_eq!(
        (error.status, error.code),
        (403, "MissingAuthenticationToken")
    );
    assert_eq!(error.message, "Request is missing Authentication Token");
}

fn with_authorization(value: &str) -> http::Request<Vec<u8>> {
    let mut request = botocore_list_users();
    request
        .headers_mut()
        .insert("authorization", HeaderValue::from_str(value).unwrap());
    request
}

#[test]
fn malformed_authorization_header_is_an_incomplete_signature() {
    let missing_equal_sign = "AWS4-HMAC-SHA256 Credential AKIDEXAMPLE/20240501/us-east-1/iam/\
                              aws4_request, SignedHeaders=host, Signature=0123456789abcdef01";
    let missing_parts =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/iam/aws4_request";
    let short_credential = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/iam/aws4_request, \
                            SignedHeaders=host, Signature=0123456789abcdef01";
    let other_terminator = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/iam/aws5, \
                            SignedHeaders=host, Signature=0123456789abcdef01";
    let other_algorithm = "AWS AKIDEXAMPLE:0123456789abcdef01";

    let message = |value| {
        let error = check(&with_authorization(value), at(NOON)).unwrap_err();
        assert_eq!(
            (error.status, error.code),
            (400, "IncompleteSignature"),
            "{error}"
        );
        error.message
    };

    assert_eq!(
        message(missing_equal_sign),
        "'Credential AKIDEXAMPLE/20240501/us-east-1/iam/aws4_request' not a valid key=value pair \
         (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential \
         AKIDEXAMPLE/20240501/us-east-1/iam/aws4_request, SignedHeaders=host, \
         Signature=<redacted>'."
    );
    assert_eq!(
        message(missing_parts),
        "Authorization header requires 'Signature' parameter. Authorization header requires \
         'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 \
         Credential=AKIDEXAMPLE/20240501/us-east-1/iam/aws4_request"
    );
    assert_eq!(
        message(short_credential),
        "Credential must have exactly 5 slash-delimited elements, e.g. \
         keyid/date/region/service/term, got 'AKIDEXAMPLE/20240501/iam/aws4_request'"
    );
    assert_eq!(
        message(other_terminator),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5'."
    );
    assert!(message(other_algorithm).starts_with("Unsupported AWS 'algorithm': 'AWS'"));
}

#[test]
fn missing_date_is_an_incomplete_signature() {
    let mut undated = botocore_list_users();
    undated.headers_mut().remove("x-amz-date");

    let error = check(&undated, at(NOON)).unwrap_err();

    assert_eq!(error.code, "IncompleteSignature");
    assert!(error.message.contains("'X-Amz-Date'"), "{error}");
    assert!(!error.message.contains("8b4a2b5e"), "{error}");
}

#[test]
fn incomplete_presigned_query_is_an_incomplete_signature() {
    let mut partial = get_caller_identity_url();
    *partial.uri_mut() = "/?Action=GetCallerIdentity\
         &X-Amz-Credential=AKIDEXAMPLE%2F20240501%2Fus-east-1%2Fsts%2Faws4_request"
        .parse()
        .unwrap();

    let error = check(&partial, at(NOON)).unwrap_err();

    assert_eq!((error.status, error.code), (400, "IncompleteSignature"));
}

/// Found by fuzzing: a deletion merged `SignedHeaders` into `Signature`, so the signature was
/// no longer behind `Signature=` but still echoed with the header.
#[test]
fn signature_in_a_mangled_header_is_not_echoed() {
    let mangled = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/iam/aws4_request, \
                   SignedHeaders=content-type;host;x-amz-d-nature=\
                   8b4a2b5e3ff8f83bdfa47cf607e1083ccc413ac991a02dd5c17476ac321fda66";

    let error = check(&with_authorization(mangled), at(NOON)).unwrap_err();

    assert_eq!(error.code, "IncompleteSignature");
    assert!(
        !error.message.contains("8b4a2b5e3ff8f83bdfa47cf6"),
        "{error}"
    );
    assert!(
        error.message.ends_with("x-amz-d-nature=<redacted>"),
        "{error}"
    );
}

#[test]
fn long_values_are_shortened_in_messages() {
    let long = format!("AWS4-HMAC-SHA256 Credential={}", "A".repeat(5000));

    let error = check(&with_authorization(&long), at(NOON)).unwrap_err();

    assert!(error.message.len() < 1000, "{}", error.message.len());
}

#[test]
fn secrets_are_redacted_from_debug_output() {
    let debug = format!("{:?}", store()[SESSION_AKID]);

    assert!(
        !debug.contains(SESSION_SECRET) && !debug.contains(SESSION_TOKEN),
        "{debug}"
    );
}

// ---- the Rust SDK on the wire ----

/// One HTTP/1.1 request read off a socket.
struct Captured {
    request: http::Request<Vec<u8>>,
}

/// Accepts one connection on a free loopback port, answers it with `reply`, and hands back the
/// request it read.
fn capture_one(
    content_type: &'static str,
    reply: &'static str,
) -> (u16, std::thread::JoinHandle<Captured>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut words = line.split_whitespace();
        let (method, target) = (
            words.next().unwrap().to_owned(),
            words.next().unwrap().to_owned(),
        );
        let mut builder = http::Request::builder()
            .method(method.as_str())
            .uri(target.as_str());
        let mut length = 0;
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
            builder = builder.header(name, value.trim());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             x-amzn-RequestId: captured\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .unwrap();
        Captured {
            request: builder.body(body).unwrap(),
        }
    });
    (port, handle)
}

const CALLER_IDENTITY_REPLY: &str = "<GetCallerIdentityResponse \
    xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
    <UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>\
    <Arn>arn:aws:iam::123456789012:user/alice</Arn></GetCallerIdentityResult>\
    <ResponseMetadata><RequestId>captured</RequestId></ResponseMetadata>\
    </GetCallerIdentityResponse>";

const LIST_USERS_REPLY: &str = "\
    <ListUsersResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
    <ListUsersResult><Users/><IsTruncated>false</IsTruncated></ListUsersResult>\
    <ResponseMetadata><RequestId>captured</RequestId></ResponseMetadata></ListUsersResponse>";

/// Real requests of the Rust SDK (aws-sdk-sts, -iam and -organizations), read off the wire and
/// verified at the time they were made.
#[tokio::test(flavor = "current_thread")]
async fn rust_sdk_requests_verify() {
    let http_client = aws_smithy_http_client::Builder::new().build_http();
    let session = Credentials::new(
        SESSION_AKID,
        SESSION_SECRET,
        Some(SESSION_TOKEN.into()),
        None,
        "test",
    );
    let long_term = Credentials::new(AKID, SECRET, None, None, "test");
    let mut store = store();
    store.get_mut(SESSION_AKID).unwrap().expires_at = None;

    let (port, sts_call) = capture_one("text/xml", CALLER_IDENTITY_REPLY);
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("eu-west-1"))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .credentials_provider(session)
            .http_client(http_client.clone())
            .build(),
    );
    sts.get_caller_identity().send().await.unwrap();

    let (port, iam_call) = capture_one("text/xml", LIST_USERS_REPLY);
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .credentials_provider(long_term.clone())
            .http_client(http_client.clone())
            .build(),
    );
    iam.list_users()
        .path_prefix("/break glass/")
        .send()
        .await
        .unwrap();

    let (port, organizations_call) = capture_one("application/x-amz-json-1.1", "{\"Roots\":[]}");
    let organizations = aws_sdk_organizations::Client::from_conf(
        aws_sdk_organizations::Config::builder()
            .behavior_version(aws_sdk_organizations::config::BehaviorVersion::latest())
            .region(aws_sdk_organizations::config::Region::new("us-east-1"))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .credentials_provider(long_term)
            .http_client(http_client)
            .build(),
    );
    organizations.list_roots().send().await.unwrap();

    for (call, service) in [
        (sts_call, "sts"),
        (iam_call, "iam"),
        (organizations_call, "organizations"),
    ] {
        let (parts, body) = call.join().unwrap().request.into_parts();
        let caller = verify(&parts, &body, &store, Utc::now()).unwrap();
        assert_eq!(caller.service, service);
    }
}
