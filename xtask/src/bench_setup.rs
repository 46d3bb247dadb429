//! The fixtures `cargo xtask bench` runs against: the issuer with a CircleCI org, two live jobs
//! (one in the project the trust policy admits, one in the project it refuses), and the STS with
//! the org's OIDC provider and a role registered through SigV4-signed IAM calls; and, for each
//! scenario, the one prepared request the load generator replays.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::load::Workload;
use crate::service::Service;
use crate::sigv4::{self, Credentials, FORM_CONTENT_TYPE};
use crate::stack::{
    self, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, Binaries, CONTEXT_NAME, ORG_NAME,
    OTHER_PROJECT_NAME, PROJECT_NAME, Platform, REGION, ROLE_NAME,
};

/// The session name every assume call uses.
const SESSION_NAME: &str = "keyless-bench";

/// A live job on the issuer.
pub struct LiveJob {
    /// Its id.
    pub job_id: String,
    /// The secret that authorises minting.
    pub job_secret: String,
    /// The V1 token it was started with (audience: the org id).
    pub token: String,
}

/// The issuer side: the process, the org and two live jobs.
pub struct IssuerFixture {
    /// The running issuer.
    pub service: Service,
    /// The org and its projects.
    pub platform: Platform,
    /// A job in the project the trust policy admits.
    pub admitted_job: LiveJob,
    /// A job in the project it refuses.
    pub refused_job: LiveJob,
}

/// The STS side: the process and the role the trust policy guards.
pub struct StsFixture {
    /// The running STS.
    pub service: Service,
    /// `arn:aws:iam::…:role/…`.
    pub role_arn: String,
}

/// Temporary credentials from one AssumeRoleWithWebIdentity.
#[derive(Clone)]
pub struct SessionCredentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
}

/// Starts the issuer in `data_dir` and creates the org, projects, context and two jobs.
pub fn start_issuer(binaries: &Binaries, data_dir: &Path) -> Result<IssuerFixture> {
    let admin_token = stack::random_secret(32);
    let service = stack::start_issuer(binaries, data_dir, &admin_token)?;
    let platform = stack::create_platform(&service, &admin_token)?;
    let admitted_job = start_job(&service, &platform, PROJECT_NAME)?;
    let refused_job = start_job(&service, &platform, OTHER_PROJECT_NAME)?;
    Ok(IssuerFixture {
        service,
        platform,
        admitted_job,
        refused_job,
    })
}

/// Starts a job in `project` with the context, as `keyless-runner` would.
fn start_job(issuer: &Service, platform: &Platform, project: &str) -> Result<LiveJob> {
    let started: Value = ureq::post(&format!("{}/api/v1/jobs", issuer.url))
        .header(
            "Authorization",
            &format!("Bearer {}", platform.runner_token),
        )
        .send_json(json!({
            "project": project,
            "job_name": "bench",
            "contexts": [CONTEXT_NAME],
            "vcs": {"origin": format!("github.com/{ORG_NAME}/{project}"), "ref": "refs/heads/main"},
        }))
        .with_context(|| format!("starting a job in {project:?}"))?
        .body_mut()
        .read_json()?;
    Ok(LiveJob {
        job_id: stack::string_field(&started, "job_id")?,
        job_secret: stack::string_field(&started, "job_secret")?,
        token: stack::string_field(&started, "oidc_token")
            .context("the job was not granted tokens")?,
    })
}

/// Starts the STS in `data_dir` and registers the org's provider and the role with IAM calls
/// signed by the admin credential.
pub fn start_sts(binaries: &Binaries, data_dir: &Path, platform: &Platform) -> Result<StsFixture> {
    let service = stack::start_sts(binaries, data_dir)?;
    let role_arn = register_signed(&service, platform)?;
    Ok(StsFixture { service, role_arn })
}

/// Registers the org's issuer as an OIDC provider and creates the demo's role with IAM calls
/// signed in Rust (no AWS CLI needed); returns the role ARN.
pub fn register_signed(sts: &Service, platform: &Platform) -> Result<String> {
    let admin = Credentials {
        access_key_id: ADMIN_ACCESS_KEY_ID,
        secret_access_key: ADMIN_SECRET_ACCESS_KEY,
        session_token: None,
    };
    iam_call(
        sts,
        &admin,
        &[
            ("Action", "CreateOpenIDConnectProvider"),
            ("Url", &platform.org_issuer),
            ("ClientIDList.member.1", &platform.org_id),
        ],
    )?;
    let provider_url = platform
        .org_issuer
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let policy = stack::trust_policy(platform, provider_url).to_string();
    let created = iam_call(
        sts,
        &admin,
        &[
            ("Action", "CreateRole"),
            ("RoleName", ROLE_NAME),
            ("AssumeRolePolicyDocument", &policy),
        ],
    )?;
    xml_text(&created, "Arn").context("CreateRole returned no Arn")
}

/// Sends one signed IAM call and returns the response body, failing on an error status.
fn iam_call(sts: &Service, admin: &Credentials<'_>, parameters: &[(&str, &str)]) -> Result<String> {
    let body = form(parameters, "2010-05-08");
    let host = host_of(sts)?.to_string();
    let headers = sigv4::sign_form_post(
        admin,
        &host,
        REGION,
        "iam",
        &body,
        OffsetDateTime::now_utc(),
    );
    post_form(sts, &headers, &body)
}

fn post_form(sts: &Service, headers: &[(String, String)], body: &str) -> Result<String> {
    let mut request = ureq::post(&format!("{}/", sts.url))
        .config()
        .http_status_as_error(false)
        .build();
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut response = request.send(body)?;
    let status = response.status();
    let text = response.body_mut().read_to_string()?;
    if !status.is_success() {
        bail!("the STS answered {status}: {text}");
    }
    Ok(text)
}

/// A form body with `Version` appended.
fn form(parameters: &[(&str, &str)], version: &str) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    serializer.extend_pairs(parameters.iter().copied());
    serializer.append_pair("Version", version);
    serializer.finish()
}

/// The text of the first `<tag>…</tag>` in `xml`.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let length = xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..start + length].to_owned())
}

/// The service's socket address (`127.0.0.1:PORT`).
pub fn host_of(service: &Service) -> Result<SocketAddr> {
    service
        .url
        .trim_start_matches("http://")
        .parse()
        .with_context(|| format!("the service URL {} is not http://IP:PORT", service.url))
}

/// Scenario 1: mint V1 and V2 for the live job.
pub fn mint_workload(issuer: &IssuerFixture) -> Result<Workload> {
    let host = host_of(&issuer.service)?.to_string();
    let authorization = format!("Bearer {}", issuer.admitted_job.job_secret);
    Ok(Workload::new(
        "POST",
        &format!("/api/v1/jobs/{}/tokens", issuer.admitted_job.job_id),
        &host,
        &[
            ("authorization", &authorization),
            ("content-type", "application/json"),
        ],
        b"{}",
        200,
    )
    .expecting_body("\"oidc_token_v2\":\"ey"))
}

/// Scenario 5: the org's JWKS.
pub fn jwks_workload(issuer: &IssuerFixture) -> Result<Workload> {
    let host = host_of(&issuer.service)?.to_string();
    let path = format!("/org/{}/.well-known/jwks-pub.json", issuer.platform.org_id);
    Ok(Workload::new("GET", &path, &host, &[], b"", 200).expecting_body("\"keys\""))
}

/// Scenario 5: the org's discovery document.
pub fn discovery_workload(issuer: &IssuerFixture) -> Result<Workload> {
    let host = host_of(&issuer.service)?.to_string();
    let path = format!(
        "/org/{}/.well-known/openid-configuration",
        issuer.platform.org_id
    );
    Ok(Workload::new("GET", &path, &host, &[], b"", 200).expecting_body("\"jwks_uri\""))
}

/// The unsigned AssumeRoleWithWebIdentity form for `token`.
fn assume_body(sts: &StsFixture, token: &str) -> String {
    form(
        &[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("RoleArn", &sts.role_arn),
            ("RoleSessionName", SESSION_NAME),
            ("WebIdentityToken", token),
        ],
        "2011-06-15",
    )
}

/// Scenarios 2 and 3: AssumeRoleWithWebIdentity with the admitted job's token (allowed) or the
/// refused job's (AccessDenied by the trust policy).
pub fn assume_workload(sts: &StsFixture, job: &LiveJob, allowed: bool) -> Result<Workload> {
    let host = host_of(&sts.service)?.to_string();
    let body = assume_body(sts, &job.token);
    let workload = Workload::new(
        "POST",
        "/",
        &host,
        &[("content-type", FORM_CONTENT_TYPE)],
        body.as_bytes(),
        if allowed { 200 } else { 403 },
    );
    Ok(if allowed {
        workload.expecting_body("<SessionToken>")
    } else {
        workload.expecting_body("<Code>AccessDenied</Code>")
    })
}

/// Assumes the role once and returns the session's credentials.
pub fn assume_once(sts: &StsFixture, job: &LiveJob) -> Result<SessionCredentials> {
    let headers = [("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned())];
    let answer = post_form(&sts.service, &headers, &assume_body(sts, &job.token))
        .context("AssumeRoleWithWebIdentity for the admitted job")?;
    let field = |tag: &str| {
        xml_text(&answer, tag).with_context(|| format!("no <{tag}> in the answer: {answer}"))
    };
    Ok(SessionCredentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: field("SecretAccessKey")?,
        session_token: field("SessionToken")?,
    })
}

/// A `GetCallerIdentity` form body for the STS at `host`, signed now with `session`, and the
/// headers to send with it (valid for 15 minutes).
pub fn signed_caller_identity(
    host: &str,
    session: &SessionCredentials,
) -> (String, Vec<(String, String)>) {
    let body = form(&[("Action", "GetCallerIdentity")], "2011-06-15");
    let credentials = Credentials {
        access_key_id: &session.access_key_id,
        secret_access_key: &session.secret_access_key,
        session_token: Some(&session.session_token),
    };
    let headers = sigv4::sign_form_post(
        &credentials,
        host,
        REGION,
        "sts",
        &body,
        OffsetDateTime::now_utc(),
    );
    (body, headers)
}

/// Scenario 4: GetCallerIdentity signed once, now, with the session's credentials; replaying it
/// is valid for 15 minutes.
pub fn caller_identity_workload(
    sts: &StsFixture,
    session: &SessionCredentials,
) -> Result<Workload> {
    let host = host_of(&sts.service)?.to_string();
    let (body, headers) = signed_caller_identity(&host, session);
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let expected_arn = format!(":assumed-role/{ROLE_NAME}/{SESSION_NAME}</Arn>");
    Ok(
        Workload::new("POST", "/", &host, &headers, body.as_bytes(), 200)
            .expecting_body(&expected_arn),
    )
}
