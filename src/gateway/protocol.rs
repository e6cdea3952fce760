//! The wire protocols of the services the gateway fronts: decoding calls, answering in AWS's
//! own error shapes, and reading the credentials the emulator issues.
//!
//! IAM and STS speak the query protocol: a form body (or a query string) with `Action=...`,
//! and XML replies whose errors are `<ErrorResponse><Error><Type/><Code/><Message/></Error>`.
//! Organizations speaks JSON 1.1: the operation in `X-Amz-Target`, a JSON object as body, and
//! errors as `{"__type": ..., "Message": ...}`. Clients (botocore, the SDKs) tell errors apart
//! only by these shapes, so a lockout must come back in exactly them. Decoding never panics on
//! any input: every fault is a [`ProtocolError`] in AWS's terms.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

use super::operation::{Operation, Params, Service};
use super::sigv4::{AuthError, is_signature_query_param};

/// The XML namespace of IAM's query-protocol replies.
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// The XML namespace of STS's query-protocol replies.
pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The `X-Amz-Target` prefix of every Organizations operation.
pub const ORGANIZATIONS_TARGET_PREFIX: &str = "AWSOrganizationsV20161128.";

/// The content type of JSON 1.1 requests and replies.
pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// A request that is not a well-formed call, as AWS would refuse it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProtocolError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ProtocolError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> ProtocolError {
        ProtocolError {
            status,
            code,
            message: message.into(),
        }
    }

    /// The error as the service answers it.
    pub fn response(&self, service: Service, request_id: &str) -> http::Response<Bytes> {
        error_response(service, self.status, self.code, &self.message, request_id)
    }
}

/// Decodes one call of `service` (named by the request's credential scope) from its request.
pub fn decode(
    parts: &http::request::Parts,
    body: &[u8],
    service: Service,
) -> Result<Operation, ProtocolError> {
    if service.is_query_protocol() {
        decode_query(parts, body, service)
    } else {
        decode_json(parts, body, service)
    }
}

/// The query protocol: the fields of the query string, then those of a form body, in order.
/// A presigned request's `X-Amz-*` signature parameters are not fields of the call.
fn decode_query(
    parts: &http::request::Parts,
    body: &[u8],
    service: Service,
) -> Result<Operation, ProtocolError> {
    let mut fields: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .filter(|(name, _)| !is_signature_query_param(name))
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
    if !body.is_empty() && has_form_body(parts) {
        fields.extend(
            form_urlencoded::parse(body)
                .map(|(name, value)| (name.into_owned(), value.into_owned())),
        );
    }

    let action = fields
        .iter()
        .find(|(name, _)| name == "Action")
        .map(|(_, value)| value.as_str());
    let name = match action {
        None | Some("") => {
            return Err(ProtocolError::new(
                400,
                "MissingAction",
                "The request must contain the parameter Action.",
            ));
        }
        Some(action) if !is_operation_name(action) => {
            let version = fields
                .iter()
                .find(|(name, _)| name == "Version")
                .map_or(default_version(service), |(_, value)| value.as_str());
            return Err(ProtocolError::new(
                400,
                "InvalidAction",
                format!(
                    "Could not find operation {} for version {}",
                    shorten(action),
                    shorten(version)
                ),
            ));
        }
        Some(action) => action.to_owned(),
    };

    Ok(Operation {
        service,
        name,
        params: Params::Query(fields),
    })
}

/// Whether the body is a form: `application/x-www-form-urlencoded`, with any parameters, or no
/// content type at all, which hand-written clients sometimes leave out.
fn has_form_body(parts: &http::request::Parts) -> bool {
    match parts.headers.get(CONTENT_TYPE) {
        None => true,
        Some(value) => value.to_str().is_ok_and(|value| {
            let media_type = value.split(';').next().unwrap_or("").trim();
            media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        }),
    }
}

/// JSON 1.1: the operation from `X-Amz-Target`, the parameters from a JSON object body.
fn decode_json(
    parts: &http::request::Parts,
    body: &[u8],
    service: Service,
) -> Result<Operation, ProtocolError> {
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok());
    let name = target
        .and_then(|target| target.strip_prefix(ORGANIZATIONS_TARGET_PREFIX))
        .filter(|name| is_operation_name(name))
        .ok_or_else(|| {
            let target = target.map_or("no X-Amz-Target header".to_owned(), |target| {
                format!("X-Amz-Target `{}`", shorten(target))
            });
            ProtocolError::new(
                400,
                "UnknownOperationException",
                format!(
                    "Unknown operation: {target}; expected `{ORGANIZATIONS_TARGET_PREFIX}` and an \
                     operation name"
                ),
            )
        })?;

    let is_blank = body.iter().all(u8::is_ascii_whitespace);
    let params = if is_blank {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|error| {
            ProtocolError::new(
                400,
                "SerializationException",
                format!("The request body is not valid JSON: {error}"),
            )
        })?;
        if !value.is_object() {
            return Err(ProtocolError::new(
                400,
                "SerializationException",
                "Start of structure or map found where not expected: the request body must be a \
                 JSON object",
            ));
        }
        value
    };

    Ok(Operation {
        service,
        name: name.to_owned(),
        params: Params::Json(params),
    })
}

/// AWS operation names are short ASCII words such as `AttachUserPolicy`.
fn is_operation_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn default_version(service: Service) -> &'static str {
    match service {
        Service::Iam => "2010-05-08",
        Service::Sts => "2011-06-15",
        Service::Organizations => "2016-11-28",
    }
}

/// An error reply in the service's protocol: query-protocol XML for IAM and STS, JSON 1.1 for
/// Organizations. A status that is not an HTTP status becomes 500.
pub fn error_response(
    service: Service,
    status: u16,
    code: &str,
    message: &str,
    request_id: &str,
) -> http::Response<Bytes> {
    let status =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let request_id_header = header_value(request_id);

    let (content_type, body, error_type) = if service.is_query_protocol() {
        // Sender faults are the client's (4xx), Receiver faults the service's (5xx).
        let fault = if status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let xmlns = if service == Service::Sts {
            STS_XMLNS
        } else {
            IAM_XMLNS
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{xmlns}\">\n  <Error>\n    <Type>{fault}</Type>\n    \
             <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  \
             <RequestId>{}</RequestId>\n</ErrorResponse>\n",
            xml_escape(code),
            xml_escape(message),
            xml_escape(request_id)
        );
        ("text/xml", body, None)
    } else {
        let body = serde_json::json!({ "__type": code, "Message": message }).to_string();
        (JSON_CONTENT_TYPE, body, Some(header_value(code)))
    };

    let mut response = http::Response::new(Bytes::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-amzn-RequestId", request_id_header);
    if let Some(error_type) = error_type {
        headers.insert("x-amzn-ErrorType", error_type);
    }
    response
}

/// AWS's answer to a call the policies deny: HTTP 403 with `AccessDenied` (IAM, STS) or
/// `AccessDeniedException` (Organizations), carrying the full explanation in `message`.
pub fn access_denied(service: Service, message: &str, request_id: &str) -> http::Response<Bytes> {
    let code = if service.is_query_protocol() {
        "AccessDenied"
    } else {
        "AccessDeniedException"
    };
    error_response(service, 403, code, message, request_id)
}

/// A refused signature as the service answers it. IAM and STS use the query-protocol codes
/// [`AuthError`] carries; JSON-protocol services such as Organizations name the same faults
/// differently and answer most of them with 400.
pub fn auth_error_response(
    service: Service,
    error: &AuthError,
    request_id: &str,
) -> http::Response<Bytes> {
    if service.is_query_protocol() {
        return error_response(
            service,
            error.status,
            error.code,
            &error.message,
            request_id,
        );
    }
    let (status, code) = match error.code {
        "MissingAuthenticationToken" => (403, "MissingAuthenticationTokenException"),
        "IncompleteSignature" => (400, "IncompleteSignatureException"),
        "InvalidClientTokenId" => (400, "UnrecognizedClientException"),
        "SignatureDoesNotMatch" => (400, "InvalidSignatureException"),
        "ExpiredToken" => (400, "ExpiredTokenException"),
        other => (error.status, other),
    };
    error_response(service, status, code, &error.message, request_id)
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Escapes text for XML content; characters XML 1.0 cannot carry at all become U+FFFD.
fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' => escaped.push(c),
            '\u{10000}'.. => escaped.push(c),
            _ => escaped.push('\u{FFFD}'),
        }
    }
    escaped
}

/// At most 100 characters of a client's value, for a message.
fn shorten(text: &str) -> String {
    const LIMIT: usize = 100;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The access key in an IAM `CreateAccessKey` reply.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedAccessKey {
    pub user_name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for CreatedAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedAccessKey")
            .field("user_name", &self.user_name)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The temporary credentials in an STS reply (`AssumeRole`, `GetSessionToken`, and the other
/// calls that answer `<Credentials>`).
#[derive(Clone, PartialEq, Eq)]
pub struct StsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// As STS wrote it, an ISO 8601 timestamp such as `2026-12-03T18:29:26.416266Z`.
    pub expiration: String,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, for `AssumeRole` replies.
    pub assumed_role_arn: Option<String>,
    /// `AROA...:SESSION`, for `AssumeRole` replies.
    pub assumed_role_id: Option<String>,
}

impl std::fmt::Debug for StsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .field("assumed_role_arn", &self.assumed_role_arn)
            .field("assumed_role_id", &self.assumed_role_id)
            .finish_non_exhaustive()
    }
}

/// Reads the new access key from an IAM `CreateAccessKey` reply; `None` for anything else,
/// error replies included.
pub fn read_created_access_key(xml: &[u8]) -> Option<CreatedAccessKey> {
    let leaves = leaf_texts(xml)?;
    let field = |name: &str| {
        leaves
            .iter()
            .find(|(path, _)| {
                matches!(&path[..], [root, result, key, field]
                    if root == "CreateAccessKeyResponse"
                        && result == "CreateAccessKeyResult"
                        && key == "AccessKey"
                        && field == name)
            })
            .map(|(_, text)| text.clone())
            .filter(|text| !text.is_empty())
    };

    Some(CreatedAccessKey {
        user_name: field("UserName")?,
        access_key_id: field("AccessKeyId")?,
        secret_access_key: field("SecretAccessKey")?,
    })
}

/// Reads the temporary credentials of an STS reply such as `AssumeRole` or
/// `GetSessionToken`; `None` for anything else, error replies included.
pub fn read_sts_credentials(xml: &[u8]) -> Option<StsCredentials> {
    let leaves = leaf_texts(xml)?;
    let field = |group: &str, name: &str| {
        leaves
            .iter()
            .find(|(path, _)| {
                matches!(&path[..], [root, result, parent, field]
                    if root.ends_with("Response")
                        && root != "ErrorResponse"
                        && result.ends_with("Result")
                        && parent == group
                        && field == name)
            })
            .map(|(_, text)| text.clone())
            .filter(|text| !text.is_empty())
    };

    Some(StsCredentials {
        access_key_id: field("Credentials", "AccessKeyId")?,
        secret_access_key: field("Credentials", "SecretAccessKey")?,
        session_token: field("Credentials", "SessionToken")?,
        expiration: field("Credentials", "Expiration")?,
        assumed_role_arn: field("AssumedRoleUser", "Arn"),
        assumed_role_id: field("AssumedRoleUser", "AssumedRoleId"),
    })
}

/// The trimmed text of every element without child elements, with its path of local names
/// (namespace prefixes dropped) from the root. `None` if the document is not well-formed XML
/// with one root, or uses an entity XML does not predefine.
fn leaf_texts(xml: &[u8]) -> Option<Vec<(Vec<String>, String)>> {
    let mut reader = Reader::from_reader(xml);
    let mut path: Vec<String> = Vec::new();
    // The text of the innermost open element, while it has no child elements.
    let mut text: Option<String> = None;
    let mut leaves = Vec::new();
    let mut has_root = false;

    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => {
                if path.is_empty() && has_root {
                    return None;
                }
                has_root = true;
                path.push(
                    std::str::from_utf8(start.local_name().as_ref())
                        .ok()?
                        .to_owned(),
                );
                text = Some(String::new());
            }
            Event::Empty(empty) => {
                if path.is_empty() && has_root {
                    return None;
                }
                has_root = true;
                let mut leaf = path.clone();
                leaf.push(
                    std::str::from_utf8(empty.local_name().as_ref())
                        .ok()?
                        .to_owned(),
                );
                leaves.push((leaf, String::new()));
                text = None;
            }
            Event::End(_) => {
                if let Some(text) = text.take() {
                    leaves.push((path.clone(), text.trim().to_owned()));
                }
                path.pop()?;
            }
            Event::Text(content) => {
                if let Some(text) = text.as_mut() {
                    text.push_str(&content.decode().ok()?);
                } else if path.is_empty() && !content.decode().ok()?.trim().is_empty() {
                    return None;
                }
            }
            Event::CData(content) => {
                if let Some(text) = text.as_mut() {
                    text.push_str(&content.decode().ok()?);
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&reference.decode().ok()?)?.to_owned(),
                };
                if let Some(text) = text.as_mut() {
                    text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }

    if !path.is_empty() || !has_root {
        return None;
    }
    Some(leaves)
}

#[cfg(test)]
mod tests;
