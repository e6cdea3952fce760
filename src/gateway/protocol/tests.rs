//! Decoding calls, AWS's error shapes, and reading replies captured from Moto 5.2 and shaped
//! like AWS's documented examples.

use super::*;

fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn fields(pairs: &[(&str, &str)]) -> Params {
    Params::Query(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn body_text(response: &http::Response<Bytes>) -> &str {
    std::str::from_utf8(response.body()).unwrap()
}

// ---- the query protocol ----

#[test]
fn query_form_body_keeps_every_field_in_order() {
    let request = parts(
        "POST",
        "/",
        &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
    );
    let body = b"Action=AttachUserPolicy&UserName=bob\
                 &PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAdministratorAccess\
                 &Version=2010-05-08";

    let operation = decode(&request, body, Service::Iam).unwrap();

    assert_eq!(operation.name, "AttachUserPolicy");
    assert_eq!(
        operation.params,
        fields(&[
            ("Action", "AttachUserPolicy"),
            ("UserName", "bob"),
            ("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
            ("Version", "2010-05-08"),
        ])
    );
}

#[test]
fn query_string_call_drops_presigned_signature_parameters() {
    let request = parts(
        "GET",
        "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKID%2F20240501%2Fus-east-1%2Fsts%2Faws4_request\
         &X-Amz-Date=20240501T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
         &X-Amz-Signature=abc&X-Amz-Security-Token=t",
        &[],
    );

    let operation = decode(&request, b"", Service::Sts).unwrap();

    assert_eq!(operation.action(), "sts:GetCallerIdentity");
    assert_eq!(
        operation.params,
        fields(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")])
    );
}

#[test]
fn form_body_without_content_type_is_read_and_other_bodies_are_not() {
    let untyped = parts("POST", "/", &[]);
    let json = parts("POST", "/", &[("content-type", "application/json")]);

    assert_eq!(
        decode(&untyped, b"Action=ListUsers", Service::Iam)
            .unwrap()
            .name,
        "ListUsers"
    );
    let error = decode(&json, b"Action=ListUsers", Service::Iam).unwrap_err();
    assert_eq!((error.status, error.code), (400, "MissingAction"));
}

#[test]
fn missing_or_empty_action_is_missing_action() {
    let request = parts("POST", "/", &[]);

    for body in [
        &b""[..],
        b"Version=2010-05-08",
        b"Action=&Version=2010-05-08",
    ] {
        let error = decode(&request, body, Service::Iam).unwrap_err();
        assert_eq!((error.status, error.code), (400, "MissingAction"));
    }
}

#[test]
fn action_that_is_no_operation_name_is_invalid_action() {
    let request = parts("POST", "/", &[]);

    let error = decode(
        &request,
        b"Action=..%2Fetc&Version=2010-05-08",
        Service::Iam,
    )
    .unwrap_err();

    assert_eq!((error.status, error.code), (400, "InvalidAction"));
    assert_eq!(
        error.message,
        "Could not find operation ../etc for version 2010-05-08"
    );
}

// ---- JSON 1.1 ----

fn organizations_call(target: Option<&str>) -> http::request::Parts {
    let mut headers = vec![("content-type", JSON_CONTENT_TYPE)];
    if let Some(target) = target {
        headers.push(("x-amz-target", target));
    }
    parts("POST", "/", &headers)
}

#[test]
fn json_call_reads_target_and_body() {
    let request = organizations_call(Some("AWSOrganizationsV20161128.UpdatePolicy"));
    let body =
        br#"{"PolicyId": "p-examplepolicyid111", "Content": "{\"Version\":\"2012-10-17\"}"}"#;

    let operation = decode(&request, body, Service::Organizations).unwrap();

    assert_eq!(operation.action(), "organizations:UpdatePolicy");
    assert_eq!(operation.param("PolicyId"), Some("p-examplepolicyid111"));
}

#[test]
fn empty_json_body_is_an_empty_object() {
    let request = organizations_call(Some("AWSOrganizationsV20161128.ListRoots"));

    for body in [&b""[..], b"  \n"] {
        let operation = decode(&request, body, Service::Organizations).unwrap();
        assert_eq!(operation.params, Params::Json(serde_json::json!({})));
    }
}

#[test]
fn bad_json_is_a_serialization_exception() {
    let request = organizations_call(Some("AWSOrganizationsV20161128.ListRoots"));

    for body in [
        &b"{"[..],
        b"[1, 2]",
        b"\"text\"",
        b"{\"a\": 1} trailing",
        b"\xff\xfe",
    ] {
        let error = decode(&request, body, Service::Organizations).unwrap_err();
        assert_eq!(
            (error.status, error.code),
            (400, "SerializationException"),
            "{body:?}"
        );
    }
}

#[test]
fn missing_or_foreign_target_is_an_unknown_operation() {
    for target in [
        None,
        Some("AmazonIdentityManagement.ListUsers"),
        Some("AWSOrganizationsV20161128."),
    ] {
        let error = decode(&organizations_call(target), b"{}", Service::Organizations).unwrap_err();
        assert_eq!(
            (error.status, error.code),
            (400, "UnknownOperationException"),
            "{target:?}"
        );
    }
}

// ---- error shapes ----

#[test]
fn iam_access_denied_is_query_protocol_xml() {
    let message = "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: \
                   iam:AttachUserPolicy on resource: arn:aws:iam::123456789012:user/bob because \
                   no identity-based policy allows the iam:AttachUserPolicy action";

    let response = access_denied(Service::Iam, message, "4e7f-req");

    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["content-type"], "text/xml");
    assert_eq!(response.headers()["x-amzn-requestid"], "4e7f-req");
    assert_eq!(
        body_text(&response),
        format!(
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <Error>\n    \
             <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n    \
             <Message>{message}</Message>\n  </Error>\n  <RequestId>4e7f-req</RequestId>\n\
             </ErrorResponse>\n"
        )
    );
}

#[test]
fn sts_errors_carry_the_sts_namespace() {
    let response = access_denied(Service::Sts, "denied", "r");

    assert!(
        body_text(&response)
            .starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
    );
}

#[test]
fn organizations_access_denied_is_json() {
    let response = access_denied(
        Service::Organizations,
        "You don't have \"permissions\".",
        "r-1",
    );

    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["content-type"],
        "application/x-amz-json-1.1"
    );
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "AccessDeniedException"
    );
    assert_eq!(response.headers()["x-amzn-requestid"], "r-1");
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "__type": "AccessDeniedException",
            "Message": "You don't have \"permissions\"."
        })
    );
}

#[test]
fn xml_messages_are_escaped() {
    let response = error_response(
        Service::Iam,
        400,
        "ValidationError",
        "<a & 'b'> \"c\"\u{0}",
        "r",
    );

    assert!(
        body_text(&response)
            .contains("<Message>&lt;a &amp; &apos;b&apos;&gt; &quot;c&quot;\u{FFFD}</Message>"),
        "{}",
        body_text(&response)
    );
}

#[test]
fn server_faults_are_receiver_faults_and_bad_statuses_become_500() {
    let unavailable = error_response(
        Service::Iam,
        503,
        "ServiceUnavailable",
        "emulator down",
        "r",
    );
    let nonsense = error_response(Service::Iam, 42, "InternalFailure", "x", "r\n");

    assert!(body_text(&unavailable).contains("<Type>Receiver</Type>"));
    assert_eq!(nonsense.status(), 500);
    assert_eq!(nonsense.headers()["x-amzn-requestid"], "invalid");
}

#[test]
fn auth_errors_are_renamed_for_json_services() {
    let error = AuthError {
        status: 403,
        code: "InvalidClientTokenId",
        message: "The security token included in the request is invalid.".into(),
    };

    let iam = auth_error_response(Service::Iam, &error, "r");
    let organizations = auth_error_response(Service::Organizations, &error, "r");

    assert_eq!(iam.status(), 403);
    assert!(body_text(&iam).contains("<Code>InvalidClientTokenId</Code>"));
    assert_eq!(organizations.status(), 400);
    assert_eq!(
        organizations.headers()["x-amzn-errortype"],
        "UnrecognizedClientException"
    );
}

#[test]
fn protocol_errors_render_in_their_service_shape() {
    let error = decode(&parts("POST", "/", &[]), b"", Service::Sts).unwrap_err();

    let response = error.response(Service::Sts, "r");

    assert_eq!(response.status(), 400);
    assert!(body_text(&response).contains("<Code>MissingAction</Code>"));
}

// ---- reading the emulator's replies ----

/// Moto 5.2.1's reply to `CreateAccessKey` for alice.
const MOTO_CREATE_ACCESS_KEY: &str = "\
    <CreateAccessKeyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
    <CreateAccessKeyResult><AccessKey><UserName>alice</UserName>\
    <AccessKeyId>AKIARZPUZDIKF6VGH3AP</AccessKeyId><Status>Active</Status>\
    <SecretAccessKey>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</SecretAccessKey>\
    <CreateDate>2026-12-03T17:29:23.101680Z</CreateDate></AccessKey></CreateAccessKeyResult>\
    <ResponseMetadata><RequestId>qV9YUbZfvlk4RTHGpvz01F73ruyqa1tvypAdSxuXUEBuLbOjCcyJ</RequestId>\
    </ResponseMetadata></CreateAccessKeyResponse>";

/// Moto 5.2.1's reply to `AssumeRole` of BreakGlassAdminRole, session `drill`.
const MOTO_ASSUME_ROLE: &str = "\
    <AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
    <Credentials><AccessKeyId>ASIARZPUZDIKMLNENPUJ</AccessKeyId>\
    <SecretAccessKey>Sx8t6CvY0dxrOIo+SlLbedGAOM6aqz6ylIyXGfYQ</SecretAccessKey>\
    <SessionToken>FQoGZXIvYXdzEBYaD3lw5IFiCA3qBO7LW00TxwveU+qMHNoIXX4+v7+uFv575NTUJo7S9Qg1GG2FA7mx7\
    rcRJJA2oMspJ6nO4GCVuf1OKXukQp1+OQ58DFVKFPso6/nC2p/cfxQdOtbw0oFfXVPnX9D+DbiJpvdq8YvPIHhMWk4wOGxa\
    i5Tnm4tKBzvcF+bJwjCXMupvsBFo5AYHoX5aioYESj7rLgzZMZkVpTkxyNZ6McvngedS5obpmiZcaaVOaY+wBFr+HSlPnXX\
    zBNTFwtz8tV4XssK6qrOdlMl+SOG1UIFhq+xjnQc/cHZoA0ekC1oGJOTge5xWmorVLkDoLp5jsTDfJ2U6YH8=</SessionT\
    oken><Expiration>2026-12-03T18:29:26.416266Z</Expiration></Credentials><AssumedRoleUser>\
    <AssumedRoleId>AROARZPUZDIKCFB3IGV6E:drill</AssumedRoleId>\
    <Arn>arn:aws:sts::123456789012:assumed-role/BreakGlassAdminRole/drill</Arn></AssumedRoleUser>\
    <PackedPolicySize>6</PackedPolicySize></AssumeRoleResult><ResponseMetadata>\
    <RequestId>h3iBPsMAAxIbEpmwqf4vmmvTu16GTE4YaOY4IjTTcH8mSLOfkOA0</RequestId></ResponseMetadata>\
    </AssumeRoleResponse>";

/// Moto 5.2.1's reply to `GetSessionToken` (it always hands out the same example keys).
const MOTO_GET_SESSION_TOKEN: &str = "\
    <GetSessionTokenResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
    <GetSessionTokenResult><Credentials><AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId>\
    <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\
    <SessionToken>AQoEXAMPLEH4aoAH0gNCAPyJxz4BlCFFxWNE1OPTgk5TthT+FvwqnKwRcOIfrRh3c/LTo6UDdyJwOOvEV\
    PvLXCrrrUtdnniCEXAMPLE/IvU1dYUg2RVAJBanLiHb4IgRmpRV3zrkuWJOgQs8IZZaIv2BXIa2R4OlgkBN9bkUDNCJiBeb\
    /AXlzBBko7b15fjrBs2+cTQtpZ3CYWFXG8C5zqx37wnOE49mRl/+OtkIKGO7fAE</SessionToken>\
    <Expiration>2026-12-04T05:29:26.428999Z</Expiration></Credentials></GetSessionTokenResult>\
    <ResponseMetadata><RequestId>qbtxc4igXbRNFk9JDfFC09yZZwYBu8hkx96RcgMTBk5JmnuxoG96</RequestId>\
    </ResponseMetadata></GetSessionTokenResponse>";

/// Moto 5.2.1's error reply to `CreateAccessKey` for a user that does not exist.
const MOTO_NO_SUCH_ENTITY: &str = "\
    <ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
    <Code>NoSuchEntity</Code><Message>The user with name nobody cannot be found.</Message>\
    <message>The user with name nobody cannot be found.</message></Error>\
    <RequestId>UF1gOHJE0ATbRKGY0PlCODrvxiOXcZF8mKMBOWdOHVqg38RmKLsv</RequestId></ErrorResponse>";

/// Shaped like AWS's documented reply: indented, with an XML declaration.
const PRETTY_CREATE_ACCESS_KEY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CreateAccessKeyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <CreateAccessKeyResult>
    <AccessKey>
      <UserName>break-glass</UserName>
      <AccessKeyId>
        AKIAIOSFODNN7EXAMPLE
      </AccessKeyId>
      <Status>Active</Status>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
    </AccessKey>
  </CreateAccessKeyResult>
  <ResponseMetadata>
    <RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>
  </ResponseMetadata>
</CreateAccessKeyResponse>
"#;

#[test]
fn reads_moto_created_access_key() {
    let key = read_created_access_key(MOTO_CREATE_ACCESS_KEY.as_bytes()).unwrap();

    assert_eq!(
        key,
        CreatedAccessKey {
            user_name: "alice".into(),
            access_key_id: "AKIARZPUZDIKF6VGH3AP".into(),
            secret_access_key: "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".into(),
        }
    );
    assert!(!format!("{key:?}").contains("wP39t91G"));
}

#[test]
fn reads_indented_and_prefixed_access_key_replies() {
    let prefixed = MOTO_CREATE_ACCESS_KEY
        .replace(
            "<CreateAccessKeyResponse xmlns=",
            "<iam:CreateAccessKeyResponse xmlns:iam=",
        )
        .replace(
            "</CreateAccessKeyResponse>",
            "</iam:CreateAccessKeyResponse>",
        )
        .replace("<AccessKey>", "<iam:AccessKey>")
        .replace("</AccessKey>", "</iam:AccessKey>");

    let pretty = read_created_access_key(PRETTY_CREATE_ACCESS_KEY.as_bytes()).unwrap();
    let prefixed = read_created_access_key(prefixed.as_bytes()).unwrap();

    assert_eq!(pretty.user_name, "break-glass");
    assert_eq!(pretty.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(prefixed.access_key_id, "AKIARZPUZDIKF6VGH3AP");
}

#[test]
fn reads_escaped_text() {
    let escaped = MOTO_CREATE_ACCESS_KEY.replace(
        "wP39t91GKMBeqzJSduG/j3Wd",
        "wP39&#43;t91G&amp;KMB&#x2F;<![CDATA[<x>]]>",
    );

    let key = read_created_access_key(escaped.as_bytes()).unwrap();

    assert_eq!(key.secret_access_key, "wP39+t91G&KMB/<x>fkPHQA6ltRq0aCyF");
}

#[test]
fn reads_moto_assume_role_credentials() {
    let credentials = read_sts_credentials(MOTO_ASSUME_ROLE.as_bytes()).unwrap();

    assert_eq!(credentials.access_key_id, "ASIARZPUZDIKMLNENPUJ");
    assert_eq!(
        credentials.secret_access_key,
        "Sx8t6CvY0dxrOIo+SlLbedGAOM6aqz6ylIyXGfYQ"
    );
    assert!(
        credentials
            .session_token
            .starts_with("FQoGZXIvYXdzEBYaD3lw5IFi")
    );
    assert!(credentials.session_token.ends_with("Lp5jsTDfJ2U6YH8="));
    assert_eq!(credentials.expiration, "2026-12-03T18:29:26.416266Z");
    assert_eq!(
        credentials.assumed_role_arn.as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/BreakGlassAdminRole/drill")
    );
    assert_eq!(
        credentials.assumed_role_id.as_deref(),
        Some("AROARZPUZDIKCFB3IGV6E:drill")
    );
    let debug = format!("{credentials:?}");
    assert!(
        !debug.contains("Sx8t6CvY") && !debug.contains("FQoGZXIv"),
        "{debug}"
    );
}

#[test]
fn reads_moto_session_token_credentials() {
    let credentials = read_sts_credentials(MOTO_GET_SESSION_TOKEN.as_bytes()).unwrap();

    assert_eq!(credentials.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(credentials.expiration, "2026-12-04T05:29:26.428999Z");
    assert_eq!(credentials.assumed_role_arn, None);
    assert_eq!(credentials.assumed_role_id, None);
}

#[test]
fn readers_refuse_what_they_do_not_expect() {
    let truncated = &MOTO_CREATE_ACCESS_KEY[..MOTO_CREATE_ACCESS_KEY.len() - 10];
    let without_secret = MOTO_CREATE_ACCESS_KEY.replace(
        "<SecretAccessKey>wP39t91GKMBeqzJSduG/j3WdfkPHQA6ltRq0aCyF</SecretAccessKey>",
        "",
    );
    let two_roots = format!("{MOTO_CREATE_ACCESS_KEY}{MOTO_CREATE_ACCESS_KEY}");
    let unknown_entity = MOTO_CREATE_ACCESS_KEY.replace("alice", "&alice;");
    let mismatched = MOTO_CREATE_ACCESS_KEY.replace("</UserName>", "</Username>");

    for xml in [
        MOTO_NO_SUCH_ENTITY,
        truncated,
        &without_secret,
        &two_roots,
        &unknown_entity,
        &mismatched,
        "",
        "not xml at all",
        MOTO_ASSUME_ROLE,
    ] {
        assert_eq!(read_created_access_key(xml.as_bytes()), None, "{xml}");
    }
    for xml in [
        MOTO_NO_SUCH_ENTITY,
        MOTO_CREATE_ACCESS_KEY,
        "<a/>",
        "\u{0}<",
    ] {
        assert_eq!(read_sts_credentials(xml.as_bytes()), None, "{xml}");
    }
}
