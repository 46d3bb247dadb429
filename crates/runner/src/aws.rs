//! AWS wiring (`--aws-role-arn`): what CircleCI's aws-cli orb does with `role_arn`, done the
//! SDK way. The job's V2 token (the orb uses `$CIRCLE_OIDC_TOKEN_V2`) is written to a file in
//! the job's temporary directory and re-minted before it expires, and `AWS_ROLE_ARN`,
//! `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_SESSION_NAME` point AWS SDKs and the CLI at it,
//! so they call `AssumeRoleWithWebIdentity` by themselves.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::issuer::IssuerClient;
use crate::report::Reporter;

/// How long before the token's expiry it is replaced.
pub const AWS_TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The shortest wait between two refreshes (a token already close to expiry is replaced
/// almost at once, but never in a busy loop).
const MINIMUM_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// How long to wait before retrying a failed refresh.
const REFRESH_RETRY_INTERVAL: Duration = Duration::from_secs(30);

/// The token file name inside the job's temporary directory.
const TOKEN_FILE_NAME: &str = "aws-web-identity-token";

/// AWS's limit on a role session name (`RoleSessionName`: 2–64 characters of `[\w+=,.@-]`).
const SESSION_NAME_MAX_LENGTH: usize = 64;

/// `AWS_ROLE_SESSION_NAME`: the orb's default `${CIRCLE_JOB}`, with characters AWS refuses
/// replaced by `-` and cut to 64 characters.
pub fn session_name(job_name: &str) -> String {
    let mut name: String = job_name
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || "_+=,.@-".contains(character) {
                character
            } else {
                '-'
            }
        })
        .take(SESSION_NAME_MAX_LENGTH)
        .collect();
    if name.len() < 2 {
        name = format!("CircleCI-{name}");
    }
    name
}

/// The token file and the task keeping it fresh; dropping stops the task.
pub struct TokenFile {
    /// The file's path (`AWS_WEB_IDENTITY_TOKEN_FILE`).
    pub path: PathBuf,
    refresher: JoinHandle<()>,
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

/// Writes `token` to `path` atomically (write then rename), readable by the owner only.
fn write_token(path: &Path, token: &str) -> std::io::Result<()> {
    let temporary = path.with_extension("new");
    crate::private_file::write_private(&temporary, token.as_bytes())?;
    std::fs::rename(&temporary, path)
}

/// Seconds since the epoch.
pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// How long to wait before replacing a token expiring at `expires_at`.
fn wait_before_refresh(expires_at: i64) -> Duration {
    let left = (expires_at - now_seconds()).max(0) as u64;
    Duration::from_secs(left)
        .saturating_sub(AWS_TOKEN_REFRESH_MARGIN)
        .max(MINIMUM_REFRESH_INTERVAL)
}

/// Writes the first token and starts refreshing it.
pub fn start(
    directory: &Path,
    token: &str,
    issuer: IssuerClient,
    job_id: String,
    job_secret: String,
    reporter: Reporter,
) -> std::io::Result<TokenFile> {
    let path = directory.join(TOKEN_FILE_NAME);
    write_token(&path, token)?;
    let mut expires_at = crate::token::payload(token)
        .and_then(|claims| claims.get("exp").and_then(serde_json::Value::as_i64))
        .unwrap_or_else(|| now_seconds() + AWS_TOKEN_REFRESH_MARGIN.as_secs() as i64 * 2);
    let file = path.clone();
    let refresher = tokio::spawn(async move {
        loop {
            tokio::time::sleep(wait_before_refresh(expires_at)).await;
            match issuer.mint_default(&job_id, &job_secret).await {
                Ok(minted) => {
                    let Some(fresh) = minted.oidc_token_v2.or(minted.oidc_token) else {
                        reporter.notice("AWS token refresh: the issuer sent no token");
                        tokio::time::sleep(REFRESH_RETRY_INTERVAL).await;
                        continue;
                    };
                    reporter.masker().add(&fresh);
                    if let Err(error) = write_token(&file, &fresh) {
                        reporter.notice(&format!(
                            "AWS token refresh: cannot write the token file: {error}"
                        ));
                    }
                    expires_at = minted.expires_at;
                }
                Err(error) => {
                    reporter.notice(&format!("AWS token refresh failed: {error}"));
                    tokio::time::sleep(REFRESH_RETRY_INTERVAL).await;
                }
            }
        }
    });
    Ok(TokenFile { path, refresher })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_keep_what_aws_accepts() {
        assert_eq!(session_name("deploy-app"), "deploy-app");
        assert_eq!(session_name("build & test/unit"), "build---test-unit");
        assert_eq!(session_name("x"), "CircleCI-x");
        assert_eq!(session_name(&"a".repeat(100)).len(), 64);
    }
}
