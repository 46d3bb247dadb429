//! Bad input on the AWS Query endpoint, sent as raw HTTP/1.1 to a real keyless-sts: bodies over
//! the limit, non-form content types, malformed form encoding, repeated names, invalid UTF-8,
//! unknown and misspelt actions, missing or wrong `Version`, other methods and paths, for IAM
//! and STS actions, by `POST` and `GET`. Every case must get its exact 4xx code in AWS's
//! `<ErrorResponse>` (XML 1.0 characters only), and must change no state except the audit
//! records keyless keeps of refused STS calls (one event for a refused `GetCallerIdentity`, an
//! event and a decision for a refused `AssumeRoleWithWebIdentity`), which are checked exactly.

use crate::issuer::{Fixture, Issuer, ROLE_ARN, assume, config_for};
use crate::wire::{Snapshot, raw, raw_exchange};

/// The body limit the server under test runs with.
const MAX_BODY: usize = 4096;
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
const IAM: &str = "2010-05-08";
const STS: &str = "2011-06-15";

/// What a refused request leaves in the audit records.
#[derive(Clone, Copy, Debug)]
enum Audit {
    /// Nothing: refused before any operation, or an IAM operation.
    Nothing,
    /// One event: a `GetCallerIdentity` refused at its signature.
    Event,
    /// One event and one decision: a refused `AssumeRoleWithWebIdentity`.
    EventAndDecision,
}

/// One bad request and the refusal it must get.
struct Case {
    name: String,
    request: Vec<u8>,
    status: u16,
    code: &'static str,
    /// The exact `<Message>` (unescaped), where the case pins it.
    message: Option<String>,
    audit: Audit,
}

fn case(name: &str, request: Vec<u8>, status: u16, code: &'static str) -> Case {
    Case {
        name: name.to_owned(),
        request,
        status,
        code,
        message: None,
        audit: Audit::Nothing,
    }
}

impl Case {
    fn message(mut self, message: impl Into<String>) -> Case {
        self.message = Some(message.into());
        self
    }

    fn audit(mut self, audit: Audit) -> Case {
        self.audit = audit;
        self
    }
}

/// A form POST of `body` with `content_type` (none when `None`).
fn post(
    name: &str,
    content_type: Option<&str>,
    body: &[u8],
    status: u16,
    code: &'static str,
) -> Case {
    let header = content_type.map(|value| format!("Content-Type: {value}").into_bytes());
    let headers: Vec<&[u8]> = header.iter().map(Vec::as_slice).collect();
    case(name, raw("POST", b"/", &headers, body), status, code)
}

/// The same parameters as a form POST and as a GET query string: two cases.
fn both(name: &str, params: &[u8], status: u16, code: &'static str) -> [Case; 2] {
    let mut target = b"/?".to_vec();
    target.extend_from_slice(params);
    [
        post(&format!("POST {name}"), Some(FORM), params, status, code),
        case(
            &format!("GET {name}"),
            raw("GET", &target, &[], b""),
            status,
            code,
        ),
    ]
}

fn invalid_action(action: &str, version: &str) -> String {
    format!("Could not find operation {action} for version {version}")
}

fn assume_params(extra: &str) -> Vec<u8> {
    format!("Action=AssumeRoleWithWebIdentity&Version={STS}&RoleArn={ROLE_ARN}{extra}").into_bytes()
}

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let padding = "x".repeat(MAX_BODY);
    let oversized_iam =
        format!("Action=CreateRole&Version={IAM}&RoleName=big&AssumeRolePolicyDocument={padding}");
    let oversized_sts =
        format!("Action=AssumeRoleWithWebIdentity&Version={STS}&WebIdentityToken={padding}");
    for (name, body) in [("IAM", &oversized_iam), ("STS", &oversized_sts)] {
        cases.push(post(
            &format!("oversized {name} body"),
            Some(FORM),
            body.as_bytes(),
            413,
            "RequestEntityTooLarge",
        ));
        cases.push(post(
            &format!("oversized {name} body without a type"),
            None,
            body.as_bytes(),
            413,
            "RequestEntityTooLarge",
        ));
    }
    let mut chunked = raw(
        "POST",
        b"/",
        &[
            format!("Content-Type: {FORM}").as_bytes(),
            b"Transfer-Encoding: chunked",
        ],
        b"",
    );
    chunked.truncate(chunked.len() - b"Content-Length: 0\r\n\r\n".len());
    chunked.extend_from_slice(b"\r\n");
    for _ in 0..3 {
        chunked.extend_from_slice(format!("{:x}\r\n{}\r\n", 2000, "y".repeat(2000)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    cases.push(case(
        "oversized chunked body",
        chunked,
        413,
        "RequestEntityTooLarge",
    ));
    cases.push(case(
        "oversized body on a GET",
        raw(
            "GET",
            format!("/?Action=GetCallerIdentity&Version={STS}").as_bytes(),
            &[],
            padding.repeat(2).as_bytes(),
        ),
        413,
        "RequestEntityTooLarge",
    ));

    let json_body = format!(r#"{{"Action":"AssumeRoleWithWebIdentity","Version":"{STS}"}}"#);
    let multipart =
        "--b\r\nContent-Disposition: form-data; name=\"Action\"\r\n\r\nListRoles\r\n--b--\r\n";
    for (content_type, body) in [
        ("application/json", json_body.as_str()),
        ("application/x-amz-json-1.1", json_body.as_str()),
        (
            "text/xml",
            "<AssumeRoleWithWebIdentity><Version>2011-06-15</Version></AssumeRoleWithWebIdentity>",
        ),
        ("multipart/form-data; boundary=b", multipart),
        ("text/plain", "Action=ListRoles&Version=2010-05-08"),
        (
            "application/x-www-form-urlencodedx",
            "Action=ListRoles&Version=2010-05-08",
        ),
    ] {
        cases.push(
            post(&format!("{content_type} body"), Some(content_type), body.as_bytes(), 415, "UnsupportedMediaType")
                .message(format!("Content-Type {content_type} is not supported; AWS Query requests are application/x-www-form-urlencoded")),
        );
    }
    cases.push(case(
        "Content-Type that is not text",
        raw(
            "POST",
            b"/",
            &[b"Content-Type: \xff\xfe"],
            b"Action=ListRoles&Version=2010-05-08",
        ),
        415,
        "UnsupportedMediaType",
    ));
    // A form body without a Content-Type is read as a form (curl and scripts send those).
    cases.push(post(
        "IAM form without a type",
        None,
        b"Action=ListRoles&Version=2010-05-08",
        403,
        "MissingAuthenticationToken",
    ));
    cases.push(
        post(
            "STS form without a type",
            None,
            format!("Action=GetCallerIdentity&Version={STS}").as_bytes(),
            403,
            "MissingAuthenticationToken",
        )
        .audit(Audit::Event),
    );
    cases.push(post(
        "form type in capitals",
        Some("APPLICATION/X-WWW-FORM-URLENCODED;Charset=UTF-8"),
        b"Action=ListRoles&Version=2010-05-08",
        403,
        "MissingAuthenticationToken",
    ));

    for (params, code) in [
        (&b"%"[..], "MissingAction"),
        (b"&&&", "MissingAction"),
        (b"=", "MissingAction"),
        (b"", "MissingAction"),
        (b"Action", "MissingAction"),
        (b"Action=&Version=2010-05-08", "MissingAction"),
        (b"Version=2011-06-15", "MissingAction"),
        (b"%41ction=%", "InvalidAction"),
    ] {
        cases.extend(both(
            &format!("{:?}", String::from_utf8_lossy(params)),
            params,
            400,
            code,
        ));
    }
    for (params, action, version) in [
        (format!("Action=%zz&Version={STS}"), "%zz", STS),
        (format!("Action=%E2%82&Version={IAM}"), "\u{FFFD}", IAM),
        (
            format!("Action=GetCallerIdentity%FF&Version={STS}"),
            "GetCallerIdentity\u{FFFD}",
            STS,
        ),
        (
            format!("Action=List%00Roles&Version={IAM}"),
            "List\u{FFFD}Roles",
            IAM,
        ),
        (
            format!("Action=CreateUser&Version={IAM}"),
            "CreateUser",
            IAM,
        ),
        (
            format!("Action=AssumeRole&Version={STS}"),
            "AssumeRole",
            STS,
        ),
        (
            format!("Action=assumerolewithwebidentity&Version={STS}"),
            "assumerolewithwebidentity",
            STS,
        ),
        (
            format!("Action=GetCallerIdentity&Version={IAM}"),
            "GetCallerIdentity",
            IAM,
        ),
        (format!("Action=ListRoles&Version={STS}"), "ListRoles", STS),
        (
            "Action=ListRoles&Version=2099-01-01".to_owned(),
            "ListRoles",
            "2099-01-01",
        ),
        (
            "Action=GetCallerIdentity".to_owned(),
            "GetCallerIdentity",
            "NO_VERSION_SPECIFIED",
        ),
        (
            "Action=ListRoles&Version=".to_owned(),
            "ListRoles",
            "NO_VERSION_SPECIFIED",
        ),
    ] {
        for mut case in both(&params, params.as_bytes(), 400, "InvalidAction") {
            case.message = Some(invalid_action(action, version));
            cases.push(case);
        }
    }
    cases.push(
        post(
            "raw invalid UTF-8 in the body",
            Some(FORM),
            b"Action=GetCallerIdentity\xff&Version=2011-06-15",
            400,
            "InvalidAction",
        )
        .message(invalid_action("GetCallerIdentity\u{FFFD}", STS)),
    );
    cases.push(
        post(
            "raw invalid UTF-8 without a type",
            None,
            b"Action=\xc3\x28&Version=2010-05-08",
            400,
            "InvalidAction",
        )
        .message(invalid_action("\u{FFFD}(", IAM)),
    );

    for params in [
        "Action=ListRoles&Version=2010-05-08&Action=DeleteRole&RoleName=circleci-deploy",
        "Action=GetCallerIdentity&Version=2011-06-15&Version=2010-05-08",
        "Action=ListRoles&Version=2010-05-08&=&=",
    ] {
        cases.extend(both(
            &format!("repeated names {params}"),
            params.as_bytes(),
            400,
            "InvalidQueryParameter",
        ));
    }
    cases.push(
        case(
            "a name in the query string and the body",
            raw(
                "POST",
                b"/?Action=GetCallerIdentity",
                &[format!("Content-Type: {FORM}").as_bytes()],
                b"Action=GetCallerIdentity&Version=2011-06-15",
            ),
            400,
            "InvalidQueryParameter",
        )
        .message("The parameter \"Action\" is given more than once"),
    );

    // Bad parameters of a real operation reach it: refused, and recorded as refusals.
    for (extra, code) in [
        (
            "&RoleSessionName=%FF%FE%00%1B[31m&WebIdentityToken=a.b.c",
            "ValidationError",
        ),
        (
            "&RoleSessionName=job&WebIdentityToken=a.b.c&DurationSeconds=%zz",
            "ValidationError",
        ),
        ("&RoleSessionName=job", "ValidationError"),
        (
            "&RoleSessionName=job&WebIdentityToken=%FF%FF.%FF.%FF",
            "InvalidIdentityToken",
        ),
    ] {
        for case in both(
            &format!("AssumeRoleWithWebIdentity {extra}"),
            &assume_params(extra),
            400,
            code,
        ) {
            cases.push(case.audit(Audit::EventAndDecision));
        }
    }
    for case in both(
        "GetCallerIdentity with a bad signature",
        format!("Action=GetCallerIdentity&Version={STS}&X-Amz-Signature=%FF").as_bytes(),
        403,
        "MissingAuthenticationToken",
    ) {
        cases.push(case.audit(Audit::Event));
    }
    for authorization in [
        &b"Authorization: AWS4-HMAC-SHA256 garbage"[..],
        b"Authorization: AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00",
    ] {
        cases.push(
            case(
                "GetCallerIdentity with a garbage Authorization header",
                raw(
                    "POST",
                    b"/",
                    &[format!("Content-Type: {FORM}").as_bytes(), authorization],
                    format!("Action=GetCallerIdentity&Version={STS}").as_bytes(),
                ),
                400,
                "IncompleteSignature",
            )
            .audit(Audit::Event),
        );
    }
    cases.extend(both(
        "IAM with garbage parameters",
        "Action=DeleteRole&Version=2010-05-08&RoleName=%00%FF".as_bytes(),
        403,
        "MissingAuthenticationToken",
    ));

    for method in ["PUT", "DELETE", "PATCH", "OPTIONS", "FOO"] {
        for target in [
            format!("/?Action=GetCallerIdentity&Version={STS}"),
            "/healthz".to_owned(),
        ] {
            cases.push(case(
                &format!("{method} {target}"),
                raw(method, target.as_bytes(), &[], b"Action=ListRoles"),
                405,
                "MethodNotAllowed",
            ));
        }
    }
    cases.push(case(
        "POST /healthz",
        raw("POST", b"/healthz", &[], b""),
        405,
        "MethodNotAllowed",
    ));
    for target in [
        &b"/iam"[..],
        b"/sts/",
        b"/_keylessx",
        b"//",
        b"/%FF",
        b"/healthz/x",
    ] {
        for method in ["GET", "POST"] {
            cases.push(case(
                &format!("{method} {}", String::from_utf8_lossy(target)),
                raw(
                    method,
                    target,
                    &[format!("Content-Type: {FORM}").as_bytes()],
                    b"Action=ListRoles&Version=2010-05-08",
                ),
                404,
                "UnknownOperationException",
            ));
        }
    }
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_query_request_gets_its_aws_error_and_changes_nothing() {
    let issuer = Issuer::start().await;
    let mut config = config_for(&issuer);
    config.max_body_bytes = MAX_BODY;
    let fixture = Fixture::with_config(issuer, config).await;
    let server = &fixture.server;
    assert_eq!(
        assume(server, &fixture.issuer.token(), &[]).await.status,
        200
    );
    let cases = corpus();
    assert!(cases.len() >= 100, "{}", cases.len());
    for case in cases {
        let before = Snapshot::take(server).await;
        let reply = raw_exchange(server, &case.request)
            .await
            .unwrap_or_else(|| panic!("{}: no answer", case.name));
        let message = reply.assert_aws_error(case.status, case.code, &case.name);
        if let Some(expected) = &case.message {
            assert_eq!(
                &crate::issuer::unescape(&message),
                expected,
                "{}",
                case.name
            );
        }
        if case.status == 405 {
            let allow = reply.header("allow").unwrap_or_default();
            assert!(allow.contains("GET"), "{}: Allow {allow:?}", case.name);
        }
        let (events, decisions) = match case.audit {
            Audit::Nothing => (0, 0),
            Audit::Event => (1, 0),
            Audit::EventAndDecision => (1, 1),
        };
        let after = Snapshot::take(server).await;
        before.assert_only_refusals_added(&after, events, decisions, case.code, &case.name);
    }
    // Still serving: the genuine request succeeds after all of that.
    let answer = assume(server, &fixture.issuer.token(), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}
