//! State survives a restart, and the `--config` bootstrap file is applied idempotently.

use keyless_sts::config::Config;
use keyless_sts::store::StoreLocation;

use crate::support::{TestServer, element, iam_call, iam_call_at, trust_policy};

const ORG: &str = "11111111-2222-3333-4444-555555555555";

fn provider_arn() -> String {
    format!("arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/{ORG}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_every_provider_and_role() {
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path().join("sts");
    let server = TestServer::with_data_dir(data_dir.clone()).await;
    let url = format!("https://oidc.circleci.com/org/{ORG}");
    let (status, _) = iam_call(
        &server,
        &[
            ("Action", "CreateOpenIDConnectProvider"),
            ("Version", "2010-05-08"),
            ("Url", &url),
            ("ClientIDList.member.1", ORG),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let policy = trust_policy(&provider_arn());
    let mut role_ids = Vec::new();
    for name in ["deploy", "read-only"] {
        let (status, body) = iam_call(
            &server,
            &[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", name),
                ("Path", "/ci/"),
                ("MaxSessionDuration", "7200"),
                ("AssumeRolePolicyDocument", &policy),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        role_ids.push(element(&body, "RoleId").unwrap().to_owned());
    }
    server.stop().await;

    let server = TestServer::with_data_dir(data_dir).await;
    let (status, body) = iam_call(
        &server,
        &[
            ("Action", "GetOpenIDConnectProvider"),
            ("Version", "2010-05-08"),
            ("OpenIDConnectProviderArn", &provider_arn()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(element(&body, "Url"), Some(&url["https://".len()..]));
    assert!(body.contains(&format!("<member>{ORG}</member>")));
    for (name, role_id) in ["deploy", "read-only"].into_iter().zip(&role_ids) {
        let (status, body) = iam_call(
            &server,
            &[
                ("Action", "GetRole"),
                ("Version", "2010-05-08"),
                ("RoleName", name),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(element(&body, "RoleId"), Some(role_id.as_str()));
        assert_eq!(element(&body, "MaxSessionDuration"), Some("7200"));
        assert_eq!(
            element(&body, "Arn"),
            Some(format!("arn:aws:iam::123456789012:role/ci/{name}").as_str())
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_file_is_applied_idempotently() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("trust.json"),
        trust_policy(&provider_arn()),
    )
    .unwrap();
    let bootstrap = serde_json::json!({
        "providers": [
            {"url": format!("https://oidc.circleci.com/org/{ORG}"), "client_ids": [ORG]},
            {"url": "http://127.0.0.1:9/org/local", "client_ids": ["local"]}
        ],
        "roles": [
            {"name": "from-file", "path": "/ci/", "trust_policy_file": "trust.json"},
            {"name": "inline", "max_session_duration": 7200,
             "trust_policy": serde_json::from_str::<serde_json::Value>(&trust_policy(&provider_arn())).unwrap()}
        ]
    });
    let bootstrap_path = directory.path().join("keyless-sts.json");
    std::fs::write(&bootstrap_path, bootstrap.to_string()).unwrap();
    let mut config = Config::in_memory();
    config.storage = StoreLocation::Directory(directory.path().join("data"));
    config.bootstrap_file = Some(bootstrap_path);

    let mut first_role_id = None;
    for _ in 0..2 {
        let server = TestServer::start(config.clone()).await;
        let (status, body) = iam_call(
            &server,
            &[
                ("Action", "ListOpenIDConnectProviders"),
                ("Version", "2010-05-08"),
            ],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body.matches("<Arn>").count(), 2, "{body}");
        let (status, body) = iam_call(
            &server,
            &[("Action", "ListRoles"), ("Version", "2010-05-08")],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body.matches("<RoleName>").count(), 2, "{body}");
        let (_, body) = iam_call(
            &server,
            &[
                ("Action", "GetRole"),
                ("Version", "2010-05-08"),
                ("RoleName", "inline"),
            ],
        )
        .await;
        assert_eq!(element(&body, "MaxSessionDuration"), Some("7200"));
        let role_id = element(&body, "RoleId").unwrap().to_owned();
        assert_eq!(*first_role_id.get_or_insert(role_id.clone()), role_id);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_bootstrap_role_naming_an_unknown_provider_stops_startup() {
    let directory = tempfile::tempdir().unwrap();
    let bootstrap_path = directory.path().join("keyless-sts.json");
    let bootstrap = serde_json::json!({
        "roles": [{"name": "ghost", "trust_policy": trust_policy(&provider_arn())}]
    });
    std::fs::write(&bootstrap_path, bootstrap.to_string()).unwrap();
    let mut config = Config::in_memory();
    config.bootstrap_file = Some(bootstrap_path);
    let error = keyless_sts::server::app(config).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "bootstrap role ghost: MalformedPolicyDocument: Federated principals must be valid domain names or SAML metadata ARNs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_of_one_role_yield_exactly_one_success() {
    let server = TestServer::in_memory().await;
    let url = format!("https://oidc.circleci.com/org/{ORG}");
    let (status, _) = iam_call(
        &server,
        &[
            ("Action", "CreateOpenIDConnectProvider"),
            ("Version", "2010-05-08"),
            ("Url", &url),
            ("ClientIDList.member.1", ORG),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let policy = trust_policy(&provider_arn());
    let mut attempts = tokio::task::JoinSet::new();
    for index in 0..16 {
        let name = if index % 2 == 0 { "Racer" } else { "racer" };
        let (address, policy) = (server.address, policy.clone());
        attempts.spawn(async move {
            iam_call_at(
                address,
                &[
                    ("Action", "CreateRole"),
                    ("Version", "2010-05-08"),
                    ("RoleName", name),
                    ("AssumeRolePolicyDocument", &policy),
                ],
            )
            .await
        });
    }
    let results = attempts.join_all().await;
    let successes = results.iter().filter(|(status, _)| *status == 200).count();
    let conflicts = results
        .iter()
        .filter(|(status, body)| {
            *status == 409 && element(body, "Code") == Some("EntityAlreadyExists")
        })
        .count();
    assert_eq!((successes, conflicts), (1, 15));
    server.stop().await;
}
