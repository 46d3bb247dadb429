//! AssumeRoleWithWebIdentity's parameters (spec §2.1, §2.4 steps 1–2): the model's constraints
//! enforced server-side, since clients check almost nothing, and the role ARN's syntax.

use crate::error::AwsError;
use crate::query::{ParamReader, QueryParams, is_name_character, is_policy_character};

/// `DurationSeconds` when none is given (spec §2.1).
pub const DEFAULT_DURATION_SECONDS: i64 = 3600;
/// Smallest `DurationSeconds`.
pub const MIN_DURATION_SECONDS: i64 = 900;
/// Largest `DurationSeconds`.
pub const MAX_DURATION_SECONDS: i64 = 43_200;
/// AWS's message for a role ARN that does not parse.
pub const INVALID_ARN_MESSAGE: &str = "Request ARN is invalid";

/// The model pattern of `RoleArn` (`arnType`).
const ARN_PATTERN: &str = "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+";

/// The validated parameters.
pub struct Input<'a> {
    /// `RoleArn` as sent.
    pub role_arn: &'a str,
    /// `RoleSessionName`.
    pub session_name: &'a str,
    /// `WebIdentityToken` with surrounding ASCII whitespace trimmed (§3.7).
    pub token: &'a str,
    /// `DurationSeconds`, or the default.
    pub duration_seconds: i64,
    /// The session `Policy`, if any.
    pub policy: Option<&'a str>,
    /// `PolicyArns.member.N.arn`.
    pub policy_arns: Vec<String>,
}

fn is_arn_character(character: char) -> bool {
    matches!(character, '\u{09}' | '\u{0A}' | '\u{0D}' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Step 1: the model's constraints, checked server-side (clients check almost nothing, §2.1).
pub fn read_input(params: &QueryParams) -> Result<Input<'_>, AwsError> {
    let mut reader = ParamReader::new(params);
    let role_arn = reader.required("RoleArn", "roleArn");
    if let Some(arn) = role_arn {
        reader.check_pattern(
            arn,
            "roleArn",
            arn.chars().all(is_arn_character) && !arn.is_empty(),
            ARN_PATTERN,
        );
        reader.check_length(arn, "roleArn", 20, 2048);
    }
    let session_name = reader.required("RoleSessionName", "roleSessionName");
    if let Some(name) = session_name {
        reader.check_pattern(
            name,
            "roleSessionName",
            name.chars().all(is_name_character),
            "[\\w+=,.@-]*",
        );
        reader.check_length(name, "roleSessionName", 2, 64);
    }
    let token = reader.required("WebIdentityToken", "webIdentityToken");
    if let Some(token) = token {
        reader.check_sensitive_length(token, "webIdentityToken", 4, 20_000);
    }
    if let Some(provider_id) = reader.optional("ProviderId") {
        reader.check_length(provider_id, "providerId", 4, 2048);
    }
    let policy = reader.optional("Policy");
    if let Some(policy) = policy {
        reader.check_pattern(
            policy,
            "policy",
            !policy.is_empty() && policy.chars().all(is_policy_character),
            "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        );
        reader.check_length(policy, "policy", 1, 2048);
    }
    let duration_seconds = reader
        .optional_integer(
            "DurationSeconds",
            "durationSeconds",
            MIN_DURATION_SECONDS,
            MAX_DURATION_SECONDS,
        )
        .unwrap_or(DEFAULT_DURATION_SECONDS);
    reader.optional_integer(
        "MinimumSessionTokenSize",
        "minimumSessionTokenSize",
        0,
        4096,
    );
    let policy_arns = params.list_of_fields("PolicyArns", "arn");
    for (index, arn) in policy_arns.iter().enumerate() {
        reader.check_length(
            arn,
            &format!("policyArns.{}.member.arn", index + 1),
            20,
            2048,
        );
    }
    reader.finish()?;
    match (role_arn, session_name, token) {
        (Some(role_arn), Some(session_name), Some(token)) => Ok(Input {
            role_arn,
            session_name,
            token: token.trim_matches(|character: char| character.is_ascii_whitespace()),
            duration_seconds,
            policy,
            policy_arns,
        }),
        // finish() reported the missing member already; this arm only satisfies the types.
        _ => Err(AwsError::validation(
            "The request is missing a required parameter.",
        )),
    }
}

/// A role ARN's parts: partition, account, path (`/…/`) and name.
pub struct RoleArn<'a> {
    /// `aws`, `aws-cn`, …
    pub partition: &'a str,
    /// The 12-digit account.
    pub account: &'a str,
    /// `/` or `/a/b/`.
    pub path: String,
    /// The role name.
    pub name: &'a str,
}

/// Step 2: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
pub fn parse_role_arn(arn: &str) -> Option<RoleArn<'_>> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let rest = resource.strip_prefix("role/")?;
    let (path, name) = match rest.rfind('/') {
        Some(slash) => (format!("/{}", &rest[..=slash]), &rest[slash + 1..]),
        None => ("/".to_owned(), rest),
    };
    let valid = !partition.is_empty()
        && account.len() == 12
        && account.bytes().all(|byte| byte.is_ascii_digit())
        && !name.is_empty()
        && name.chars().all(is_name_character);
    valid.then_some(RoleArn {
        partition,
        account,
        path,
        name,
    })
}
