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
