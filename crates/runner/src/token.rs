//! Reading (not verifying) the payload of a JWT, to print what a job's token says: `sub`,
//! `aud`, `iss` and when it expires. Verification is the relying party's job.

use base64::Engine;

/// The payload of a compact JWS as JSON, or `None` when `token` is not JWT-shaped.
pub fn payload(token: &str) -> Option<serde_json::Value> {
    let mut parts = token.split('.');
    let (_header, body, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// One line about a token: its subject, audience and expiry (`exp` minus now).
pub fn describe(token: &str, now_seconds: i64) -> String {
    let Some(claims) = payload(token) else {
        return "not a JWT".to_string();
    };
    let text = |name: &str| match claims.get(name) {
        Some(serde_json::Value::String(value)) => value.clone(),
        Some(other) => other.to_string(),
        None => "(none)".to_string(),
    };
    let expiry = match claims.get("exp").and_then(serde_json::Value::as_i64) {
        Some(exp) if exp > now_seconds => format!("exp in {}", human_seconds(exp - now_seconds)),
        Some(_) => "expired".to_string(),
        None => "no exp".to_string(),
    };
    format!("sub={} aud={} {expiry}", text("sub"), text("aud"))
}

/// `3600` → `1h`, `90` → `1m30s`.
fn human_seconds(seconds: i64) -> String {
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut text = String::new();
    if hours > 0 {
        text.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        text.push_str(&format!("{minutes}m"));
    }
    if rest > 0 || text.is_empty() {
        text.push_str(&format!("{rest}s"));
    }
    text
}

/// The claims of `token` that disagree with the issuer's job-start answer (the built-in
/// variables come from that answer, so a disagreement means a step would see variables that
/// contradict its token). Empty when all agree or the token is not JWT-shaped.
pub fn disagreements(token: &str, job: &crate::issuer::StartedJob) -> Vec<String> {
    let Some(claims) = payload(token) else {
        return Vec::new();
    };
    let expected = [
        ("oidc.circleci.com/org-id", job.org.id.as_str()),
        ("oidc.circleci.com/project-id", job.project.id.as_str()),
        ("oidc.circleci.com/pipeline-id", job.pipeline_id.as_str()),
        ("oidc.circleci.com/workflow-id", job.workflow_id.as_str()),
        ("oidc.circleci.com/job-id", job.job_id.as_str()),
    ];
    expected
        .iter()
        .filter_map(
            |(claim, value)| match claims.get(*claim).and_then(serde_json::Value::as_str) {
                Some(actual) if actual == *value => None,
                actual => Some(format!(
                    "claim {claim} is {} but the job's is {value}",
                    actual.unwrap_or("absent")
                )),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn started() -> crate::issuer::StartedJob {
        serde_json::from_value(serde_json::json!({
            "job_id": "j", "job_secret": "s", "build_num": 1,
            "org": {"id": "o", "name": "acme"},
            "project": {"id": "p", "name": "widgets", "slug": "gh/acme/widgets"},
            "user": {"id": "u", "login": "alice"},
            "pipeline_id": "pl", "pipeline_number": 1, "workflow_id": "w", "workflow_name": "main",
            "tokens": {"granted": true}
        }))
        .unwrap()
    }

    fn token(claims: serde_json::Value) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("e30.{}.c2ln", engine.encode(claims.to_string()))
    }

    #[test]
    fn claims_are_checked_against_the_job() {
        let agreeing = token(serde_json::json!({
            "sub": "org/o", "aud": "o", "exp": 100,
            "oidc.circleci.com/org-id": "o", "oidc.circleci.com/project-id": "p",
            "oidc.circleci.com/pipeline-id": "pl", "oidc.circleci.com/workflow-id": "w",
            "oidc.circleci.com/job-id": "j",
        }));
        assert!(disagreements(&agreeing, &started()).is_empty());
        assert_eq!(describe(&agreeing, 40), "sub=org/o aud=o exp in 1m");
        let wrong = token(serde_json::json!({"oidc.circleci.com/org-id": "x"}));
        let found = disagreements(&wrong, &started());
        assert_eq!(found.len(), 5);
        assert_eq!(
            found[0],
            "claim oidc.circleci.com/org-id is x but the job's is o"
        );
        assert!(disagreements("not-a-jwt", &started()).is_empty());
    }
}
