//! The `circleci` command inside steps. On CircleCI the job's `circleci` binary is the task
//! agent's environment CLI; here a wrapper script in the job's temporary directory runs
//! `keyless-runner circleci-shim "$@"`, which reads the job's id, secret and issuer from
//! `KEYLESS_CIRCLECI_SHIM_*` variables. Only `circleci run oidc get` is simulated
//! (`spec/circleci-oidc.md` §1.9): it prints a fresh token, unmasked, as CircleCI does.

use std::path::Path;

use crate::issuer::{CustomTokenRequest, IssuerClient};

/// Variable holding the issuer URL for the shim.
pub const SHIM_ISSUER_VARIABLE: &str = "KEYLESS_CIRCLECI_SHIM_ISSUER";
/// Variable holding the job id for the shim.
pub const SHIM_JOB_ID_VARIABLE: &str = "KEYLESS_CIRCLECI_SHIM_JOB_ID";
/// Variable holding the job secret for the shim.
pub const SHIM_JOB_SECRET_VARIABLE: &str = "KEYLESS_CIRCLECI_SHIM_JOB_SECRET";

/// Writes the `circleci` wrapper script into `bin_directory`.
pub fn install_wrapper(bin_directory: &Path, runner_executable: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(bin_directory)?;
    let quoted = runner_executable
        .display()
        .to_string()
        .replace('\'', "'\\''");
    let script = format!("#!/bin/sh\nexec '{quoted}' circleci-shim \"$@\"\n");
    let path = bin_directory.join("circleci");
    std::fs::write(&path, script)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
}

/// The parsed `circleci run oidc get` flags.
#[derive(Debug, PartialEq, Eq)]
struct OidcGet {
    claims: Option<String>,
    root_issuer: bool,
}

/// Parses the arguments after `circleci`, cobra style (`--flag value` or `--flag=value`).
fn parse(arguments: &[String]) -> Result<OidcGet, String> {
    let words: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let flags = match words.as_slice() {
        ["run", "oidc", "get", flags @ ..] => flags,
        [] => return Err(
            "not simulated: keyless-runner's `circleci` only implements `circleci run oidc get`"
                .into(),
        ),
        _ => {
            return Err(format!(
                "`circleci {}` is not simulated: keyless-runner's `circleci` only implements `circleci run oidc get`",
                words.join(" ")
            ));
        }
    };
    let mut parsed = OidcGet {
        claims: None,
        root_issuer: false,
    };
    let mut index = 0;
    while index < flags.len() {
        let flag = flags[index];
        if flag == "--root-issuer" || flag == "--root-issuer=true" {
            parsed.root_issuer = true;
        } else if flag == "--root-issuer=false" {
            parsed.root_issuer = false;
        } else if let Some(value) = flag.strip_prefix("--claims=") {
            parsed.claims = Some(value.to_string());
        } else if flag == "--claims" {
            index += 1;
            let value = flags
                .get(index)
                .ok_or_else(|| "flag needs an argument: --claims".to_string())?;
            parsed.claims = Some((*value).to_string());
        } else if flag.starts_with('-') {
            return Err(format!("unknown flag: {flag}"));
        } else {
            return Err(format!(
                "unknown command \"{flag}\" for \"circleci run oidc get\""
            ));
        }
        index += 1;
    }
    Ok(parsed)
}

/// The audience a `--claims` value asks for; only `aud` may be customised (CCI-CUSTOM: "Only
/// the `aud` claim is customizable").
fn requested_audience(claims: Option<&str>) -> Result<Option<String>, String> {
    let Some(claims) = claims else {
        return Ok(None);
    };
    let value: serde_json::Value =
        serde_json::from_str(claims).map_err(|error| format!("failed to parse claims: {error}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "failed to parse claims: claims must be a JSON object".to_string())?;
    if let Some(other) = object.keys().find(|key| key.as_str() != "aud") {
        return Err(format!(
            "claim \"{other}\" cannot be customized: only the \"aud\" claim is customizable"
        ));
    }
    match object.get("aud") {
        None => Ok(None),
        Some(serde_json::Value::String(audience)) if !audience.is_empty() => {
            Ok(Some(audience.clone()))
        }
        Some(_) => Err("failed to parse claims: \"aud\" must be a non-empty string".into()),
    }
}

/// Runs the shim: prints the token on success, `Error: …` on stderr otherwise. Returns the
/// process exit code.
pub async fn run(arguments: &[String]) -> i32 {
    match mint(arguments).await {
        Ok(token) => {
            println!("{token}");
            0
        }
        Err(message) => {
            eprintln!("Error: {message}");
            1
        }
    }
}

/// Parses, checks and asks the issuer for the token.
async fn mint(arguments: &[String]) -> Result<String, String> {
    let request = parse(arguments)?;
    let audience = requested_audience(request.claims.as_deref())?;
    let variable = |name: &str| {
        std::env::var(name).map_err(|_| {
            format!(
                "circleci run oidc get works only inside a keyless-runner job ({name} is not set)"
            )
        })
    };
    let issuer = variable(SHIM_ISSUER_VARIABLE)?;
    let job_id = variable(SHIM_JOB_ID_VARIABLE)?;
    let job_secret = variable(SHIM_JOB_SECRET_VARIABLE)?;
    let client = IssuerClient::new(&issuer).map_err(|error| error.to_string())?;
    let minted = client
        .mint_custom(
            &job_id,
            &job_secret,
            &CustomTokenRequest {
                aud: audience,
                root_issuer: request.root_issuer,
            },
        )
        .await
        .map_err(|error| format!("failed to get OIDC token: {error}"))?;
    minted
        .token
        .ok_or_else(|| "failed to get OIDC token: the issuer sent no token".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn flags_parse_in_both_orders_and_forms() {
        let parsed = parse(&words(
            "run oidc get --root-issuer --claims {\"aud\":\"x\"}",
        ))
        .unwrap();
        assert!(parsed.root_issuer);
        assert_eq!(parsed.claims.as_deref(), Some("{\"aud\":\"x\"}"));
        let parsed = parse(&words("run oidc get --claims={}")).unwrap();
        assert!(!parsed.root_issuer);
        assert_eq!(parsed.claims.as_deref(), Some("{}"));
        assert_eq!(
            parse(&words("run oidc get --claims")).unwrap_err(),
            "flag needs an argument: --claims"
        );
        assert_eq!(
            parse(&words("run oidc get --sub x")).unwrap_err(),
            "unknown flag: --sub"
        );
        assert!(
            parse(&words("tests split"))
                .unwrap_err()
                .contains("not simulated")
        );
    }

    #[test]
    fn only_aud_can_be_customised() {
        assert_eq!(
            requested_audience(Some("{\"aud\":\"sigstore\"}"))
                .unwrap()
                .as_deref(),
            Some("sigstore")
        );
        assert_eq!(requested_audience(Some("{}")).unwrap(), None);
        assert!(
            requested_audience(Some("{\"aud\"=\"x\"}"))
                .unwrap_err()
                .starts_with("failed to parse claims")
        );
        assert!(
            requested_audience(Some("{\"sub\":\"x\"}"))
                .unwrap_err()
                .contains("only the \"aud\" claim")
        );
        assert!(
            requested_audience(Some("[1]"))
                .unwrap_err()
                .contains("JSON object")
        );
    }
}
