//! CloudTrail trails in the emulator: created with the world, and listed for the prevention
//! checklist's "a CloudTrail trail exists".
//!
//! The gateway does not front CloudTrail (no lockout or recovery needs it), and lockdrill
//! carries no CloudTrail SDK, so these few calls are made here: SigV4-signed with the
//! provisioner's keys, JSON 1.1 for CloudTrail and a REST `PUT` for the S3 bucket a trail
//! needs, sent to the emulator in the account's name.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{ProvisionError, emulator_keys};
use crate::sdk::{MOTO_ACCOUNT_HEADER, REGION};

const TARGET_PREFIX: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.";

/// The bucket a trail of `account` delivers to.
fn bucket_for(account: &str) -> String {
    format!("lockdrill-cloudtrail-{account}")
}

/// Creates a trail (and the bucket it delivers to) in `account`.
pub async fn create_trail(endpoint: &str, account: &str, name: &str) -> Result<(), ProvisionError> {
    let doing = format!("creating the CloudTrail trail `{name}` in account {account}");
    let bucket = bucket_for(account);

    let url = format!("{}/{bucket}", endpoint.trim_end_matches('/'));
    let create_bucket = Request {
        url: &url,
        method: "PUT",
        service: "s3",
        account,
        headers: &[],
    };
    let (status, body) = send(&create_bucket, Vec::new()).await;
    // A bucket made for an earlier trail of the same account is fine.
    if !(200..300).contains(&status) && !body.contains("BucketAlreadyOwnedByYou") {
        return Err(ProvisionError::new(
            &doing,
            format!("S3 CreateBucket answered HTTP {status}: {body}"),
        ));
    }

    let request = serde_json::json!({ "Name": name, "S3BucketName": bucket });
    call(endpoint, account, "CreateTrail", &request)
        .await
        .map(|_| ())
        .map_err(|reason| ProvisionError::new(doing, reason))
}

/// The names of the trails of `account`, as the emulator answers DescribeTrails.
pub async fn trail_names(endpoint: &str, account: &str) -> Result<Vec<String>, ProvisionError> {
    let answer = call(endpoint, account, "DescribeTrails", &serde_json::json!({}))
        .await
        .map_err(|reason| {
            ProvisionError::new(format!("listing the trails of account {account}"), reason)
        })?;
    Ok(answer["trailList"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|trail| trail["Name"].as_str().map(str::to_owned))
        .collect())
}

/// One CloudTrail call; its JSON answer, or `Code: message` when it failed.
async fn call(
    endpoint: &str,
    account: &str,
    operation: &str,
    request: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let target = format!("{TARGET_PREFIX}{operation}");
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", target.as_str()),
    ];
    let cloudtrail = Request {
        url: endpoint.trim_end_matches('/'),
        method: "POST",
        service: "cloudtrail",
        account,
        headers: &headers,
    };
    let (status, body) = send(&cloudtrail, request.to_string().into_bytes()).await;

    let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if (200..300).contains(&status) {
        return Ok(answer);
    }
    let code = answer["__type"].as_str().unwrap_or("no error code");
    let message = answer["message"].as_str().unwrap_or(&body);
    Err(format!(
        "{operation} answered HTTP {status}: {code}: {message}"
    ))
}

/// Where a request goes, in whose account, and the headers it carries besides the signature.
struct Request<'a> {
    url: &'a str,
    method: &'a str,
    /// The signing name: `s3` or `cloudtrail`.
    service: &'a str,
    account: &'a str,
    headers: &'a [(&'a str, &'a str)],
}

/// Signs and sends a request; the status and body, or status 0 and why it was not sent.
async fn send(request: &Request<'_>, body: Vec<u8>) -> (u16, String) {
    let signed = match signed_request(request, body) {
        Ok(request) => request,
        Err(reason) => return (0, reason),
    };

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = match client.request(signed).await {
        Ok(response) => response,
        Err(error) => return (0, format!("the emulator did not answer: {error}")),
    };
    let status = response.status().as_u16();
    let body = match response.into_body().collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(error) => format!("the answer was cut short: {error}"),
    };
    (status, body)
}

fn signed_request(
    request: &Request<'_>,
    body: Vec<u8>,
) -> Result<http::Request<Full<Bytes>>, String> {
    let Request {
        url,
        method,
        service,
        account,
        headers,
    } = *request;
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .ok_or_else(|| format!("`{url}` is not an http URL"))?
        .to_owned();
    let mut unsigned: Vec<(String, String)> = vec![
        ("host".into(), host),
        (MOTO_ACCOUNT_HEADER.into(), account.into()),
    ];
    unsigned.extend(headers.iter().map(|(n, v)| ((*n).into(), (*v).into())));

    let keys = emulator_keys();
    let identity: Identity = Credentials::new(
        keys.access_key_id,
        keys.secret_access_key,
        None,
        None,
        "lockdrill",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|error| format!("cannot sign the request: {error}"))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        unsigned.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(&body),
    )
    .map_err(|error| format!("cannot sign the request: {error}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|error| format!("cannot sign the request: {error}"))?
        .into_parts();

    let mut builder = http::Request::builder().method(method).uri(url);
    for (name, value) in &unsigned {
        if name != "host" {
            builder = builder.header(name, value);
        }
    }
    let mut signed = builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|error| format!("cannot build the request: {error}"))?;
    instructions.apply_to_request_http1x(&mut signed);
    Ok(signed)
}
