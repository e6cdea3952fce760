//! The gateway end to end: real Moto behind it, the real `aws` CLI (v1) and the Rust SDK in
//! front of it, and the runbook's lockouts and recoveries as AWS would play them.
//!
//! Each test brings its own world to life on free ports and stops it. The `aws` CLI runs with
//! an empty `HOME`, no AWS configuration files, and only the drill's credentials.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use lockdrill::emulator::{EmulatorKind, LeaseOptions, PythonEnv};
use lockdrill::gateway::credentials::{Credential, Holder};
use lockdrill::live::{CredentialsFile, LiveWorld};
use lockdrill::sdk::{Clients, Keys};
use lockdrill::world::World;

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().expect("a socket address")
}

fn world(path: &str) -> World {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    World::load(&path).unwrap_or_else(|problems| panic!("{problems}"))
}

async fn live(path: &str) -> LiveWorld {
    LiveWorld::start(
        &world(path),
        &EmulatorKind::Moto,
        &LeaseOptions::default(),
        any_port(),
    )
    .await
    .unwrap_or_else(|error| panic!("the world did not come to life: {error}"))
}

/// The `aws` CLI v1 of lockdrill's managed Python environment, installed once.
fn aws_cli() -> &'static Path {
    static CLI: OnceLock<PathBuf> = OnceLock::new();
    CLI.get_or_init(|| {
        let env = PythonEnv::ensure(true).unwrap_or_else(|error| panic!("{error}"));
        env.aws_cli().unwrap_or_else(|error| panic!("{error}"))
    })
}

/// Runs the `aws` CLI as `principal` of a served world, with nothing else in its environment.
fn aws(file: &CredentialsFile, principal: &str, args: &[&str]) -> Output {
    let keys = file
        .find(principal)
        .unwrap_or_else(|message| panic!("{message}"));
    let home = std::env::temp_dir().join(format!("lockdrill-e2e-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("a temporary HOME");

    let mut command = Command::new(aws_cli());
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", &file.endpoint)
        .env("AWS_DEFAULT_REGION", &file.region)
        .env("AWS_ACCESS_KEY_ID", &keys.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &keys.secret_access_key);
    if let Some(token) = &keys.session_token {
        command.env("AWS_SESSION_TOKEN", token);
    }
    command.output().expect("the aws CLI runs")
}

/// A credentials file holding one role session, from `aws sts assume-role`'s JSON answer.
fn session_file(file: &CredentialsFile, principal: &str, assumed: &Output) -> CredentialsFile {
    let answer: serde_json::Value =
        serde_json::from_slice(&assumed.stdout).expect("assume-role prints JSON");
    let credentials = &answer["Credentials"];
    CredentialsFile {
        endpoint: file.endpoint.clone(),
        region: file.region.clone(),
        principals: vec![lockdrill::live::PrincipalKeys {
            principal: principal.into(),
            kind: "role-session".into(),
            access_key_id: credentials["AccessKeyId"]
                .as_str()
                .expect("a key id")
                .into(),
            secret_access_key: credentials["SecretAccessKey"]
                .as_str()
                .expect("a secret")
                .into(),
            session_token: credentials["SessionToken"].as_str().map(str::to_owned),
        }],
        roots_unavailable: Vec::new(),
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed:\n{}{}",
        stdout(output),
        stderr(output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_detached_lockout_and_root_recovery_through_the_aws_cli() {
    let live = live("scenarios/admin-detached.yaml").await;
    let file = live.credentials_file();

    // The lockout is real, with AWS's own words.
    let denied = aws(
        &file,
        "alice",
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "bob",
            "--policy-arn",
            "arn:aws:iam::aws:policy/AdministratorAccess",
        ],
    );
    assert!(!denied.status.success());
    assert_eq!(
        stderr(&denied).trim(),
        "An error occurred (AccessDenied) when calling the AttachUserPolicy operation: User: \
         arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:AttachUserPolicy on resource: \
         arn:aws:iam::123456789012:user/bob because no identity-based policy allows the iam:AttachUserPolicy action"
    );

    // The root user re-attaches AdministratorAccess to alice and to MyRole.
    let root = "root:123456789012";
    assert_ok(
        &aws(
            &file,
            root,
            &[
                "iam",
                "attach-user-policy",
                "--user-name",
                "alice",
                "--policy-arn",
                "arn:aws:iam::aws:policy/AdministratorAccess",
            ],
        ),
        "root attach-user-policy",
    );
    assert_ok(
        &aws(
            &file,
            root,
            &[
                "iam",
                "attach-role-policy",
                "--role-name",
                "MyRole",
                "--policy-arn",
                "arn:aws:iam::aws:policy/AdministratorAccess",
            ],
        ),
        "root attach-role-policy",
    );

    // alice is back: who she is, and an IAM write.
    let identity = aws(
        &file,
        "alice",
        &[
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ],
    );
    assert_ok(&identity, "get-caller-identity");
    assert_eq!(
        stdout(&identity).trim(),
        "arn:aws:iam::123456789012:user/alice"
    );
    assert_ok(
        &aws(
            &file,
            "alice",
            &[
                "iam",
                "attach-user-policy",
                "--user-name",
                "bob",
                "--policy-arn",
                "arn:aws:iam::aws:policy/AdministratorAccess",
            ],
        ),
        "alice attach-user-policy after recovery",
    );

    live.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scp_lockout_break_glass_and_management_root_through_the_aws_cli() {
    let live = live("scenarios/scp-denies-iam.yaml").await;
    let file = live.credentials_file();
    let attach = [
        "iam",
        "attach-user-policy",
        "--user-name",
        "bob",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ];

    // The member account's admin and its root are denied by the SCP.
    for principal in ["alice", "root:222222222222"] {
        let denied = aws(&file, principal, &attach);
        assert!(!denied.status.success(), "{principal} was not denied");
        assert!(
            stderr(&denied).contains("with an explicit deny in a service control policy"),
            "{principal}: {}",
            stderr(&denied)
        );
    }

    // The break-glass role, assumed with MFA, is exempt.
    let assumed = aws(
        &file,
        "alice",
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::222222222222:role/BreakGlassAdminRole",
            "--role-session-name",
            "recovery",
            "--serial-number",
            "arn:aws:iam::222222222222:mfa/alice",
            "--token-code",
            "123456",
            "--output",
            "json",
        ],
    );
    assert_ok(&assumed, "assume-role");
    let session = session_file(
        &file,
        "arn:aws:sts::222222222222:assumed-role/BreakGlassAdminRole/recovery",
        &assumed,
    );
    let identity = aws(
        &session,
        "recovery",
        &[
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ],
    );
    assert_eq!(
        stdout(&identity).trim(),
        "arn:aws:sts::222222222222:assumed-role/BreakGlassAdminRole/recovery"
    );
    assert_ok(
        &aws(&session, "recovery", &attach),
        "break-glass attach-user-policy",
    );

    // The management account's root finds the SCP at fault and rewrites it.
    let root = "root:111111111111";
    let listed = aws(
        &file,
        root,
        &[
            "organizations",
            "list-policies-for-target",
            "--target-id",
            "222222222222",
            "--filter",
            "SERVICE_CONTROL_POLICY",
            "--output",
            "json",
        ],
    );
    assert_ok(&listed, "list-policies-for-target on the account");
    let ou = live
        .gateway
        .world()
        .organization
        .as_ref()
        .unwrap()
        .root
        .children[0]
        .id
        .clone();
    let listed = aws(
        &file,
        root,
        &[
            "organizations",
            "list-policies-for-target",
            "--target-id",
            &ou,
            "--filter",
            "SERVICE_CONTROL_POLICY",
            "--output",
            "json",
        ],
    );
    assert_ok(&listed, "list-policies-for-target on the OU");
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let policy_id = listed["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|policy| policy["Name"] == "DenyIamExceptBreakGlass")
        .and_then(|policy| policy["Id"].as_str())
        .expect("the SCP is attached to the OU")
        .to_owned();
    let content = aws(
        &file,
        root,
        &[
            "organizations",
            "describe-policy",
            "--policy-id",
            &policy_id,
            "--query",
            "Policy.Content",
            "--output",
            "text",
        ],
    );
    assert_ok(&content, "describe-policy");
    assert!(
        stdout(&content).contains("BreakGlassAdminRole"),
        "{}",
        stdout(&content)
    );

    let relaxed = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:DeleteAccountPasswordPolicy","Resource":"*"}]}"#;
    assert_ok(
        &aws(
            &file,
            root,
            &[
                "organizations",
                "update-policy",
                "--policy-id",
                &policy_id,
                "--content",
                relaxed,
            ],
        ),
        "update-policy",
    );
    assert_ok(
        &aws(&file, "alice", &attach),
        "alice attach-user-policy after the SCP was fixed",
    );

    // A member account cannot change the SCP itself.
    let denied = aws(
        &file,
        "alice",
        &[
            "organizations",
            "update-policy",
            "--policy-id",
            &policy_id,
            "--content",
            relaxed,
        ],
    );
    assert!(!denied.status.success());

    live.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_policy_passed_to_assume_role_limits_the_session() {
    let live = live("scenarios/admin-restored.yaml").await;
    let file = live.credentials_file();

    let read_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}"#;
    let assumed = aws(
        &file,
        "alice",
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::123456789012:role/MyRole",
            "--role-session-name",
            "narrow",
            "--policy",
            read_only,
            "--output",
            "json",
        ],
    );
    assert_ok(&assumed, "assume-role with a session policy");
    let session = session_file(
        &file,
        "arn:aws:sts::123456789012:assumed-role/MyRole/narrow",
        &assumed,
    );

    assert_ok(
        &aws(
            &session,
            "narrow",
            &["iam", "get-role", "--role-name", "MyRole"],
        ),
        "get-role within the session policy",
    );
    let denied = aws(
        &session,
        "narrow",
        &["iam", "create-user", "--user-name", "carol"],
    );
    assert!(!denied.status.success());
    assert!(
        stderr(&denied).contains(
            "User: arn:aws:sts::123456789012:assumed-role/MyRole/narrow is not authorized to perform: iam:CreateUser"
        ) && stderr(&denied).contains("because no session policy allows the iam:CreateUser action"),
        "{}",
        stderr(&denied)
    );

    // Managed session policies (`--policy-arns`) limit a session the same way.
    let assumed = aws(
        &file,
        "alice",
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::123456789012:role/MyRole",
            "--role-session-name",
            "managed",
            "--policy-arns",
            "arn=arn:aws:iam::aws:policy/IAMReadOnlyAccess",
            "--output",
            "json",
        ],
    );
    assert_ok(&assumed, "assume-role with a managed session policy");
    let managed = session_file(
        &file,
        "arn:aws:sts::123456789012:assumed-role/MyRole/managed",
        &assumed,
    );
    assert_ok(
        &aws(&managed, "managed", &["iam", "list-users"]),
        "list-users within IAMReadOnlyAccess",
    );
    let denied = aws(
        &managed,
        "managed",
        &["iam", "create-user", "--user-name", "dave"],
    );
    assert!(
        stderr(&denied).contains("because no session policy allows the iam:CreateUser action"),
        "{}",
        stderr(&denied)
    );

    // A session policy AWS would refuse never makes a session.
    let refused = aws(
        &file,
        "alice",
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::123456789012:role/MyRole",
            "--role-session-name",
            "broken",
            "--policy",
            r#"{"Statement":[{"Effect":"Allow","Action":"CreateUser","Resource":"*"}]}"#,
        ],
    );
    assert!(
        stderr(&refused).contains("MalformedPolicyDocument"),
        "{}",
        stderr(&refused)
    );

    live.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_permissions_boundary_set_through_the_gateway_is_enforced() {
    // Moto does not implement PutUserPermissionsBoundary; the gateway keeps it.
    let live = live("scenarios/admin-restored.yaml").await;
    let file = live.credentials_file();
    let root = "root:123456789012";

    assert_ok(
        &aws(
            &file,
            root,
            &[
                "iam",
                "put-user-permissions-boundary",
                "--user-name",
                "alice",
                "--permissions-boundary",
                "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
            ],
        ),
        "put-user-permissions-boundary",
    );
    assert_ok(
        &aws(&file, "alice", &["iam", "get-user", "--user-name", "bob"]),
        "a read inside the boundary",
    );
    let denied = aws(
        &file,
        "alice",
        &["iam", "create-user", "--user-name", "carol"],
    );
    assert!(
        stderr(&denied)
            .contains("because no permissions boundary allows the iam:CreateUser action"),
        "{}",
        stderr(&denied)
    );

    assert_ok(
        &aws(
            &file,
            root,
            &[
                "iam",
                "delete-user-permissions-boundary",
                "--user-name",
                "alice",
            ],
        ),
        "delete-user-permissions-boundary",
    );
    assert_ok(
        &aws(
            &file,
            "alice",
            &["iam", "create-user", "--user-name", "carol"],
        ),
        "create-user once the boundary is gone",
    );

    live.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_sdk_sees_the_same_lockout() {
    let live = live("scenarios/admin-detached.yaml").await;
    let file = live.credentials_file();
    let alice = file.find("alice").unwrap();
    let keys = Keys {
        access_key_id: alice.access_key_id.clone(),
        secret_access_key: alice.secret_access_key.clone(),
        session_token: None,
    };
    let clients = Clients::new(&file.endpoint, &keys, None);

    let error = clients
        .iam
        .attach_user_policy()
        .user_name("bob")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .expect_err("alice is locked out");
    let service_error = error.into_service_error();
    let meta = aws_sdk_iam::error::ProvideErrorMetadata::meta(&service_error);
    assert_eq!(meta.code(), Some("AccessDenied"));
    assert!(
        meta.message()
            .unwrap_or_default()
            .ends_with("because no identity-based policy allows the iam:AttachUserPolicy action")
    );

    let identity = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .expect("get-caller-identity is always allowed");
    assert_eq!(identity.arn(), Some("arn:aws:iam::123456789012:user/alice"));

    live.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_get_aws_errors_and_a_dead_emulator_a_clear_5xx() {
    let mut live = live("scenarios/admin-detached.yaml").await;
    let file = live.credentials_file();

    // An access key the gateway never issued.
    let mut stranger = file.clone();
    stranger.principals[0].access_key_id = "AKIAUNKNOWNKEY000000".into();
    let name = stranger.principals[0].principal.clone();
    let refused = aws(&stranger, &name, &["iam", "list-users"]);
    assert!(
        stderr(&refused).contains("(InvalidClientTokenId)"),
        "{}",
        stderr(&refused)
    );

    // The right key with the wrong secret.
    let mut forger = file.clone();
    forger.principals[0].secret_access_key = "not-the-secret-0000000000000000000000000".into();
    let refused = aws(&forger, &name, &["iam", "list-users"]);
    assert!(
        stderr(&refused).contains("(SignatureDoesNotMatch)"),
        "{}",
        stderr(&refused)
    );

    // Temporary credentials past their expiry.
    live.credentials.add(Credential {
        keys: Keys {
            access_key_id: "ASIAEXPIREDSESSION00".into(),
            secret_access_key: "expired-session-secret-0000000000000000".into(),
            session_token: Some("expired-session-token".into()),
        },
        expires_at: Some(chrono::Utc::now() - chrono::Duration::minutes(5)),
        holder: Holder::RoleSession {
            account: "123456789012".into(),
            role_name: "MyRole".into(),
            session_name: "stale".into(),
            session_policy: None,
            mfa: false,
        },
    });
    let mut stale = file.clone();
    stale.principals = vec![lockdrill::live::PrincipalKeys {
        principal: "arn:aws:sts::123456789012:assumed-role/MyRole/stale".into(),
        kind: "role-session".into(),
        access_key_id: "ASIAEXPIREDSESSION00".into(),
        secret_access_key: "expired-session-secret-0000000000000000".into(),
        session_token: Some("expired-session-token".into()),
    }];
    let refused = aws(&stale, "stale", &["iam", "list-users"]);
    assert!(
        stderr(&refused).contains("(ExpiredToken)"),
        "{}",
        stderr(&refused)
    );

    // An unsigned request.
    let client = reqwest_free_post(&file.endpoint, "Action=ListUsers&Version=2010-05-08").await;
    assert_eq!(client.0, 403);
    assert!(
        client.1.contains("<Code>MissingAuthenticationToken</Code>"),
        "{}",
        client.1
    );

    // The emulator dies: the gateway answers 503 and stays up.
    let pid = live.emulator.pid().expect("a Moto process");
    Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let failed = aws(&file, "root:123456789012", &["iam", "list-users"]);
    assert!(!failed.status.success());
    assert!(
        stderr(&failed).contains("ServiceUnavailable") || stderr(&failed).contains("503"),
        "{}",
        stderr(&failed)
    );
    assert!(
        live.emulator.check_alive().is_err(),
        "the lease knows its emulator died"
    );
    let again = reqwest_free_post(&file.endpoint, "Action=ListUsers&Version=2010-05-08").await;
    assert_eq!(again.0, 403, "the gateway still answers");

    live.stop().await;
}

/// A plain unsigned POST, without pulling in an HTTP client crate for one test.
async fn reqwest_free_post(endpoint: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let address = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("the gateway accepts connections");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, response)
}
