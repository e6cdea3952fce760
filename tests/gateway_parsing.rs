//! Property ("fuzz") tests of the gateway's request parsing: whatever a client sends, the
//! gateway answers in AWS's terms and never panics.
//!
//! - `sigv4::verify` on arbitrary methods, URIs, headers, bodies and Authorization strings,
//!   and on near-valid requests made by mutating a correctly signed one, only ever refuses
//!   with one of the documented codes, with the status AWS uses for it, and never echoes a
//!   secret or the signature; a changed body or signature is always refused;
//! - `protocol::decode` on arbitrary requests for each service only ever fails with a
//!   documented code, and what it decodes names the operation it was given;
//! - the error replies are well-formed XML or JSON whatever the message;
//! - the readers of emulator replies never panic on arbitrary or mangled XML, and what they
//!   read is never empty.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningParams, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use chrono::{DateTime, TimeZone, Utc};
use http::HeaderValue;
use lockdrill::gateway::operation::{Params, Service};
use lockdrill::gateway::protocol::{
    access_denied, decode, error_response, read_created_access_key, read_sts_credentials,
};
use lockdrill::gateway::sigv4::{AuthError, SigningSecret, verify};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

const AKID: &str = "AKIAFUZZEXAMPLE00001";
const SECRET: &str = "fuzzSecretKeyNeverToBeEchoed/0123456789";
const SESSION_AKID: &str = "ASIAFUZZEXAMPLE00002";
const SESSION_SECRET: &str = "fuzzSessionSecretNeverToBeEchoed/012345";
const SESSION_TOKEN: &str = "FuzzSessionTokenNeverToBeEchoed+/=";

fn store() -> HashMap<String, SigningSecret> {
    HashMap::from([
        (
            AKID.to_owned(),
            SigningSecret {
                secret_access_key: SECRET.into(),
                session_token: None,
                expires_at: None,
            },
        ),
        (
            SESSION_AKID.to_owned(),
            SigningSecret {
                secret_access_key: SESSION_SECRET.into(),
                session_token: Some(SESSION_TOKEN.into()),
                expires_at: Some(signing_time() + chrono::TimeDelta::hours(1)),
            },
        ),
    ])
}

fn signing_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

/// The codes `verify` documents, each with the status AWS answers it with.
fn assert_documented_auth_error(error: &AuthError, signature: Option<&str>) {
    let expected_status = match error.code {
        "IncompleteSignature" => 400,
        "MissingAuthenticationToken"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken" => 403,
        other => panic!("undocumented code `{other}`: {error}"),
    };
    assert_eq!(error.status, expected_status, "{error}");
    for secret in [SECRET, SESSION_SECRET, SESSION_TOKEN] {
        assert!(!error.message.contains(secret), "{error}");
    }
    if let Some(signature) = signature {
        assert!(!error.message.contains(signature), "{error}");
    }
}

// ---- arbitrary requests ----

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "authorization",
            "host",
            "content-type",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-target",
            "x-amz-content-sha256",
            "user-agent",
        ])
        .prop_map(str::to_owned),
        "[a-z][a-z0-9-]{0,12}",
    ]
}

fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        // Near the shapes the gateway reads.
        "AWS4-HMAC-SHA256( Credential=[A-Za-z0-9/_-]{0,40})?(, ?SignedHeaders=[a-z;-]{0,30})?\
         (, ?Signature=[0-9a-f]{0,64})?",
        "2024050[0-9]T1[0-9]{5}Z",
        "application/(x-www-form-urlencoded|x-amz-json-1\\.1|json)(; charset=utf-8)?",
        "AWSOrganizationsV20161128\\.[A-Za-z]{0,20}",
        "[ -~]{0,80}",
    ]
    .prop_map(|value| HeaderValue::from_str(&value).unwrap_or_else(|e| panic!("{value:?}: {e}")))
    .boxed()
    .prop_union(
        vec(any::<u8>(), 0..40)
            .prop_map(|mut bytes| {
                // Control characters cannot travel in a header at all.
                for byte in &mut bytes {
                    if (*byte < 0x20 && *byte != b'\t') || *byte == 0x7f {
                        *byte = b'x';
                    }
                }
                HeaderValue::from_bytes(&bytes).unwrap()
            })
            .boxed(),
    )
}

fn uri() -> impl Strategy<Value = http::Uri> {
    prop_oneof![
        // A path, then up to seven `&`-separated pairs near what the gateway reads.
        "/(\\?(Action=[A-Za-z]{0,12}|X-Amz-[A-Za-z-]{0,14}=[A-Za-z0-9%/]{0,30}\
         |[A-Za-z0-9%=+._~-]{0,20})(&(Action=[A-Za-z]{0,12}\
         |X-Amz-[A-Za-z-]{0,14}=[A-Za-z0-9%/]{0,30}|[A-Za-z0-9%=+._~-]{0,20})){0,6})?",
        "/[A-Za-z0-9%./_~-]{0,30}(\\?[A-Za-z0-9%=&+._~/-]{0,60})?",
    ]
    .prop_filter_map("a URI", |text| text.parse().ok())
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..256),
        "(Action=[A-Za-z]{0,12}&)?([A-Za-z.0-9]{1,12}=[A-Za-z0-9%+]{0,12}&){0,6}"
            .prop_map(String::into_bytes),
        "\\{(\"[A-Za-z]{1,8}\": ?(\"[a-z]{0,8}\"|[0-9]{1,4}|null|\\[\\]|\\{\\}), ?){0,4}\\}?"
            .prop_map(String::into_bytes),
    ]
}

fn request_parts() -> impl Strategy<Value = http::request::Parts> {
    (
        select(vec!["GET", "POST", "PUT", "HEAD", "OPTIONS"]),
        uri(),
        vec((header_name(), header_value()), 0..8),
    )
        .prop_map(|(method, uri, headers)| {
            let mut request = http::Request::builder()
                .method(method)
                .uri(uri)
                .body(())
                .unwrap();
            for (name, value) in headers {
                request.headers_mut().append(
                    http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value,
                );
            }
            request.into_parts().0
        })
}

fn service() -> impl Strategy<Value = Service> {
    select(vec![Service::Iam, Service::Sts, Service::Organizations])
}

fn now() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        Just(signing_time()),
        (-3_600i64..3_600).prop_map(|seconds| signing_time() + chrono::TimeDelta::seconds(seconds)),
        Just(DateTime::<Utc>::MIN_UTC),
        Just(DateTime::<Utc>::MAX_UTC),
        (-10_000_000_000i64..10_000_000_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
    ]
}

// ---- near-valid requests ----

/// A call signed by aws-sigv4 at [`signing_time`]; presigned ones carry the signature in the
/// query, the others in the Authorization header.
fn signed_request(presigned: bool, session: bool, service: Service) -> http::Request<Vec<u8>> {
    let (method, uri, body): (&str, &str, &[u8]) = match (presigned, service) {
        (true, _) => (
            "GET",
            "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15",
            b"",
        ),
        (false, Service::Organizations) => (
            "POST",
            "http://127.0.0.1:4566/",
            br#"{"TargetId":"r-abcd"}"#,
        ),
        (false, _) => (
            "POST",
            "http://127.0.0.1:4566/",
            b"Action=ListUsers&Version=2010-05-08",
        ),
    };
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:4566")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header(
            "x-amz-target",
            "AWSOrganizationsV20161128.ListPoliciesForTarget",
        )
        .body(body.to_vec())
        .unwrap();

    let keys = if session {
        Credentials::new(
            SESSION_AKID,
            SESSION_SECRET,
            Some(SESSION_TOKEN.into()),
            None,
            "fuzz",
        )
    } else {
        Credentials::new(AKID, SECRET, None, None, "fuzz")
    };
    let identity: Identity = keys.into();
    let mut settings = SigningSettings::default();
    if presigned {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(900));
    }
    let params: SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service.signing_name())
        .time(SystemTime::from(signing_time()))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let signable = SignableRequest::new(
        method,
        uri,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut request);
    request
}

/// The hex signature of a request, if it still has one.
fn signature_of(request: &http::Request<Vec<u8>>) -> Option<String> {
    let text = match request.headers().get("authorization") {
        Some(authorization) => authorization.to_str().ok()?,
        None => request.uri().query()?,
    };
    let start = text.find("Signature=")? + "Signature=".len();
    let signature = text.get(start..start + 64)?;
    signature
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| signature.to_owned())
}

/// The signing time a request carries, in whichever form it is signed.
fn date_of(request: &http::Request<Vec<u8>>) -> Option<String> {
    match request.headers().get("authorization") {
        Some(_) => request
            .headers()
            .get("x-amz-date")?
            .to_str()
            .ok()
            .map(str::to_owned),
        None => form_urlencoded::parse(request.uri().query()?.as_bytes())
            .find(|(name, _)| name == "X-Amz-Date")
            .map(|(_, value)| value.into_owned()),
    }
}

/// One change to a correctly signed request.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the character at (index mod length) of the Authorization header or the query.
    SignatureText { index: usize, replacement: char },
    /// Delete a span of the Authorization header or the query.
    DeleteSpan { index: usize, length: usize },
    /// Flip one hex digit of the signature itself.
    SignatureDigit { index: usize },
    /// Change a byte of the body, or append one.
    Body { index: usize, byte: u8 },
    /// Set a header, signed or not.
    Header { name: String, value: HeaderValue },
    /// Drop a header.
    RemoveHeader { name: String },
    /// Move X-Amz-Date by some seconds.
    Date { seconds: i64 },
    /// Append a query parameter.
    QueryParam { pair: String },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<char>())
            .prop_map(|(index, replacement)| Mutation::SignatureText { index, replacement }),
        (any::<usize>(), 1usize..20)
            .prop_map(|(index, length)| Mutation::DeleteSpan { index, length }),
        (0usize..64).prop_map(|index| Mutation::SignatureDigit { index }),
        (any::<usize>(), any::<u8>()).prop_map(|(index, byte)| Mutation::Body { index, byte }),
        (header_name(), header_value()).prop_map(|(name, value)| Mutation::Header { name, value }),
        header_name().prop_map(|name| Mutation::RemoveHeader { name }),
        (-2_000i64..2_000).prop_map(|seconds| Mutation::Date { seconds }),
        "[A-Za-z-]{1,16}=[A-Za-z0-9%]{0,12}".prop_map(|pair| Mutation::QueryParam { pair }),
    ]
}

/// Applies `mutation` where it can.
fn apply(request: &mut http::Request<Vec<u8>>, mutation: &Mutation) {
    let presigned = !request.headers().contains_key("authorization");
    let edit_auth_text = |request: &mut http::Request<Vec<u8>>, edit: &dyn Fn(&str) -> String| {
        if presigned {
            let uri = request.uri().to_string();
            let Some((path, query)) = uri.split_once('?') else {
                return;
            };
            if let Ok(uri) = format!("{path}?{}", edit(query)).parse() {
                *request.uri_mut() = uri;
            }
        } else {
            let Ok(header) = request.headers()["authorization"]
                .to_str()
                .map(str::to_owned)
            else {
                return;
            };
            if let Ok(value) = HeaderValue::from_str(&edit(&header)) {
                request.headers_mut().insert("authorization", value);
            }
        }
    };
    match mutation {
        Mutation::SignatureText { index, replacement } => {
            edit_auth_text(request, &|text| {
                let mut chars: Vec<char> = text.chars().collect();
                if chars.is_empty() {
                    return String::new();
                }
                let at = index % chars.len();
                chars[at] = *replacement;
                chars.into_iter().collect()
            });
        }
        Mutation::DeleteSpan { index, length } => {
            edit_auth_text(request, &|text| {
                let chars: Vec<char> = text.chars().collect();
                if chars.is_empty() {
                    return String::new();
                }
                let at = index % chars.len();
                let end = (at + length).min(chars.len());
                chars[..at].iter().chain(&chars[end..]).collect()
            });
        }
        Mutation::SignatureDigit { index } => {
            let Some(signature) = signature_of(request) else {
                return;
            };
            let mut flipped: Vec<u8> = signature.clone().into_bytes();
            flipped[*index] = if flipped[*index] == b'0' { b'1' } else { b'0' };
            let flipped = String::from_utf8(flipped).unwrap();
            edit_auth_text(request, &|text| text.replace(&signature, &flipped));
        }
        Mutation::Body { index, byte } => {
            let body = request.body_mut();
            if body.is_empty() || *index % 2 == 0 {
                body.push(*byte);
            } else {
                let at = index % body.len();
                body[at] = *byte;
            }
        }
        Mutation::Header { name, value } => {
            request.headers_mut().insert(
                http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.clone(),
            );
        }
        Mutation::RemoveHeader { name } => {
            request.headers_mut().remove(name.as_str());
        }
        Mutation::Date { seconds } => {
            let date = (signing_time() + chrono::TimeDelta::seconds(*seconds))
                .format("%Y%m%dT%H%M%SZ")
                .to_string();
            if presigned {
                edit_auth_text(request, &|text| {
                    text.replace("X-Amz-Date=20240501T120000Z", &format!("X-Amz-Date={date}"))
                });
            } else {
                request
                    .headers_mut()
                    .insert("x-amz-date", HeaderValue::from_str(&date).unwrap());
            }
        }
        Mutation::QueryParam { pair } => {
            let uri = request.uri().to_string();
            let separator = if uri.contains('?') { '&' } else { '?' };
            if let Ok(uri) = format!("{uri}{separator}{pair}").parse() {
                *request.uri_mut() = uri;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn verify_answers_arbitrary_requests_in_aws_terms(
        parts in request_parts(),
        body in body(),
        now in now(),
    ) {
        if let Err(error) = verify(&parts, &body, &store(), now) {
            assert_documented_auth_error(&error, None);
        }
    }

    #[test]
    fn verify_answers_mutated_signed_requests_in_aws_terms(
        presigned in any::<bool>(),
        session in any::<bool>(),
        service in service(),
        mutations in vec(mutation(), 1..4),
        skew in -600i64..600,
    ) {
        let original = signed_request(presigned, session, service);
        let signature = signature_of(&original).unwrap();
        let now = signing_time() + chrono::TimeDelta::seconds(skew);
        let (parts, body) = original.clone().into_parts();
        prop_assert!(verify(&parts, &body, &store(), now).is_ok());

        let mut mutated = original.clone();
        for mutation in &mutations {
            apply(&mut mutated, mutation);
        }
        // What the signature covers for sure: the body, the signature itself, the date.
        let surely_changed = mutated.body() != original.body()
            || signature_of(&mutated).as_deref() != Some(signature.as_str())
            || date_of(&mutated) != date_of(&original);
        let (parts, body) = mutated.into_parts();
        match verify(&parts, &body, &store(), now) {
            Ok(caller) => {
                prop_assert!(!surely_changed, "a changed request verified: {mutations:?}");
                prop_assert_eq!(caller.service, service.signing_name());
            }
            Err(error) => assert_documented_auth_error(&error, Some(&signature)),
        }
    }

    #[test]
    fn decode_answers_arbitrary_requests_in_aws_terms(
        parts in request_parts(),
        body in body(),
        service in service(),
    ) {
        match decode(&parts, &body, service) {
            Ok(operation) => {
                prop_assert_eq!(operation.service, service);
                prop_assert!(!operation.name.is_empty());
                prop_assert!(operation.name.bytes().all(|b| b.is_ascii_alphanumeric()));
                match operation.params {
                    Params::Query(_) => {
                        prop_assert!(service != Service::Organizations);
                        prop_assert_eq!(operation.param("Action"), Some(operation.name.as_str()));
                    }
                    Params::Json(value) => {
                        prop_assert_eq!(service, Service::Organizations);
                        prop_assert!(value.is_object());
                    }
                }
            }
            Err(error) => {
                let documented = if service == Service::Organizations {
                    ["SerializationException", "UnknownOperationException"].contains(&error.code)
                } else {
                    ["MissingAction", "InvalidAction"].contains(&error.code)
                };
                prop_assert!(documented, "{error}");
                prop_assert_eq!(error.status, 400);
                let response = error.response(service, "fuzz");
                prop_assert_eq!(response.status().as_u16(), 400);
            }
        }
    }

    #[test]
    fn error_replies_are_well_formed(
        service in service(),
        status in any::<u16>(),
        code in ".{0,20}",
        message in ".{0,200}",
        request_id in ".{0,40}",
    ) {
        let response = error_response(service, status, &code, &message, &request_id);
        let denied = access_denied(service, &message, &request_id);
        prop_assert_eq!(denied.status().as_u16(), 403);

        for response in [response, denied] {
            if service == Service::Organizations {
                let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
                prop_assert!(body["__type"].is_string() && body["Message"].is_string());
            } else {
                let mut reader = quick_xml::Reader::from_reader(&response.body()[..]);
                loop {
                    match reader.read_event() {
                        Ok(quick_xml::events::Event::Eof) => break,
                        Ok(_) => {}
                        Err(error) => panic!("malformed XML ({error}): {:?}", response.body()),
                    }
                }
            }
        }
    }

    #[test]
    fn readers_survive_arbitrary_bytes(bytes in vec(any::<u8>(), 0..512)) {
        check_readers(&bytes);
    }

    #[test]
    fn readers_survive_mangled_replies(
        which in 0usize..3,
        cut in any::<usize>(),
        insert in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let reply = [CREATE_ACCESS_KEY, ASSUME_ROLE, GET_SESSION_TOKEN][which].as_bytes();
        let mut mangled = reply[..cut % (reply.len() + 1)].to_vec();
        check_readers(&mangled);
        mangled = reply.to_vec();
        mangled.insert(insert % (reply.len() + 1), byte);
        check_readers(&mangled);
    }
}

fn check_readers(bytes: &[u8]) {
    if let Some(key) = read_created_access_key(bytes) {
        assert!(!key.user_name.is_empty() && !key.access_key_id.is_empty());
        assert!(!key.secret_access_key.is_empty());
    }
    if let Some(credentials) = read_sts_credentials(bytes) {
        assert!(!credentials.access_key_id.is_empty() && !credentials.session_token.is_empty());
        assert!(!credentials.secret_access_key.is_empty() && !credentials.expiration.is_empty());
    }
}

#[test]
fn mangling_fixtures_are_read_whole() {
    assert!(read_created_access_key(CREATE_ACCESS_KEY.as_bytes()).is_some());
    assert!(read_sts_credentials(ASSUME_ROLE.as_bytes()).is_some());
    assert!(read_sts_credentials(GET_SESSION_TOKEN.as_bytes()).is_some());
}

const CREATE_ACCESS_KEY: &str = "\
    <CreateAccessKeyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
    <CreateAccessKeyResult><AccessKey><UserName>alice</UserName>\
    <AccessKeyId>AKIARZPUZDIKF6VGH3AP</AccessKeyId><Status>Active</Status>\
    <SecretAccessKey>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</SecretAccessKey>\
    <CreateDate>2026-12-03T17:29:23.101680Z</CreateDate></AccessKey></CreateAccessKeyResult>\
    <ResponseMetadata><RequestId>qV9YUbZf</RequestId></ResponseMetadata>\
    </CreateAccessKeyResponse>";

const ASSUME_ROLE: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIARZPUZDIKMLNENPUJ</AccessKeyId>
      <SecretAccessKey>Sx8t6CvY0dxrOIo+SlLbedGAOM6aqz6ylIyXGfYQ</SecretAccessKey>
      <SessionToken>FQoGZXIvYXdzEBYaD3lw5IFiCA3qBO7LW00Txwve&amp;U+qMHNo</SessionToken>
      <Expiration>2026-12-03T18:29:26.416266Z</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROARZPUZDIKCFB3IGV6E:drill</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/BreakGlassAdminRole/drill</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
</AssumeRoleResponse>
"#;

const GET_SESSION_TOKEN: &str = "\
    <GetSessionTokenResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
    <GetSessionTokenResult><Credentials><AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId>\
    <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\
    <SessionToken>AQoEXAMPLEH4aoAH0gNCAPyJxz4BlCFFxWNE1OPTgk5TthT</SessionToken>\
    <Expiration>2026-12-04T05:29:26.428999Z</Expiration></Credentials></GetSessionTokenResult>\
    </GetSessionTokenResponse>";
