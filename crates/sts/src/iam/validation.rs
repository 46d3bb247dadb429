//! Checks shared by the IAM actions and the bootstrap file: IAM model constraints on names,
//! paths, tags and policy text (spec §5.2), and the trust-policy rules of spec §4.1 — the
//! ACLSizePerRole quota, the grammar (through `crate::policy`), and Federated principals that
//! must name existing OIDC providers of this account.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::config::AccountId;
use crate::error::AwsError;
use crate::identifiers::provider_url_from_arn;
use crate::policy::{TrustPolicy, policy_size_without_whitespace};
use crate::query::{ParamReader, QueryParams, is_name_character, is_policy_character};
use crate::store::{Store, Tag};

/// Role trust policy size quota, whitespace not counted (spec §4.1, IAM quotas).
pub const MAX_TRUST_POLICY_SIZE: usize = 2048;
/// Largest policy document the model accepts (`policyDocumentType` max length).
pub const MAX_POLICY_DOCUMENT_LENGTH: usize = 131_072;
/// Tags per resource (spec §5.2).
pub const MAX_TAGS: usize = 50;
/// AWS's message when a Federated principal does not resolve (spec §4.1, [OBS]).
pub const UNRESOLVED_FEDERATED_PRINCIPAL_MESSAGE: &str =
    "Federated principals must be valid domain names or SAML metadata ARNs";
/// Web-identity providers AWS knows without an IAM OIDC provider (spec §4.1).
pub const BUILT_IN_FEDERATED_PRINCIPALS: [&str; 4] = [
    "cognito-identity.amazonaws.com",
    "www.amazon.com",
    "graph.facebook.com",
    "accounts.google.com",
];

/// Characters left as-is when IAM returns a policy document URL-encoded (spec §5.2: spaces are
/// `%20` so botocore's `unquote` restores the exact text; `*` is `%2A` as in §5.3's sample).
const POLICY_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A policy document as IAM returns it: percent-encoded (spec §5.2).
pub fn encode_policy_document(text: &str) -> String {
    utf8_percent_encode(text, POLICY_ENCODE_SET).to_string()
}

/// `RoleName`: 1..64 of `[\w+=,.@-]+`.
pub fn check_role_name(reader: &mut ParamReader<'_>, name: &str) {
    reader.check_length(name, "roleName", 1, 64);
    reader.check_pattern(
        name,
        "roleName",
        name.chars().all(is_name_character),
        "[\\w+=,.@-]+",
    );
}

/// `Path`: 1..512, `/` or `/…/` with printable ASCII between.
pub fn check_path(reader: &mut ParamReader<'_>, path: &str) {
    reader.check_length(path, "path", 1, 512);
    let well_formed = path == "/"
        || (path.len() >= 3
            && path.starts_with('/')
            && path.ends_with('/')
            && path
                .chars()
                .all(|character| ('\u{21}'..='\u{7E}').contains(&character)));
    reader.check_pattern(
        path,
        "path",
        well_formed,
        "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
    );
}

/// A policy document parameter: 1..131072 characters of `[\u0009\u000A\u000D\u0020-\u00FF]+`.
pub fn check_policy_text(reader: &mut ParamReader<'_>, text: &str, member: &str) {
    reader.check_length(text, member, 1, MAX_POLICY_DOCUMENT_LENGTH);
    reader.check_pattern(
        text,
        member,
        text.chars().all(is_policy_character),
        "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
    );
}

/// `Description`: at most 1000 printable characters.
pub fn check_description(reader: &mut ParamReader<'_>, description: &str) {
    reader.check_length(description, "description", 0, 1000);
    let printable = description.chars().all(|character| {
        matches!(character, '\u{09}' | '\u{0A}' | '\u{0D}' | '\u{20}'..='\u{7E}' | '\u{A1}'..='\u{FF}')
    });
    reader.check_pattern(
        description,
        "description",
        printable,
        "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*",
    );
}

fn is_tag_key_character(character: char) -> bool {
    character.is_alphanumeric() || character == ' ' || "_.:/=+-@".contains(character)
}

/// `Tags.member.N.{Key,Value}`: at most 50; keys 1..128 of `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`,
/// values 0..256.
pub fn read_tags(reader: &mut ParamReader<'_>, params: &QueryParams) -> Vec<Tag> {
    let raw_tags = params.tags("Tags");
    if raw_tags.len() > MAX_TAGS {
        reader.violation(
            None,
            "tags",
            &format!("have length less than or equal to {MAX_TAGS}"),
        );
    }
    let mut tags = Vec::new();
    for (index, (key, value)) in raw_tags.into_iter().enumerate() {
        let key_member = format!("tags.{}.member.key", index + 1);
        let value_member = format!("tags.{}.member.value", index + 1);
        match &key {
            None => reader.violation(None, &key_member, "not be null"),
            Some(key) => {
                reader.check_length(key, &key_member, 1, 128);
                reader.check_pattern(
                    key,
                    &key_member,
                    key.chars().all(is_tag_key_character),
                    "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
                );
            }
        }
        match &value {
            None => reader.violation(None, &value_member, "not be null"),
            Some(value) => reader.check_length(value, &value_member, 0, 256),
        }
        if let (Some(key), Some(value)) = (key, value) {
            tags.push(Tag { key, value });
        }
    }
    tags
}

/// The trust-policy rules IAM applies at CreateRole and UpdateAssumeRolePolicy, in order:
/// the ACLSizePerRole quota (`LimitExceeded` 409), the grammar (`MalformedPolicyDocument` with
/// the parser's message), then every `Principal.Federated` must be a built-in web identity
/// provider or the ARN of an existing OIDC provider in this account (docs/decisions.md).
pub async fn check_trust_policy(
    store: &Store,
    account_id: &AccountId,
    text: &str,
) -> Result<TrustPolicy, AwsError> {
    if policy_size_without_whitespace(text) > MAX_TRUST_POLICY_SIZE {
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {MAX_TRUST_POLICY_SIZE}"
        )));
    }
    let trust_policy = TrustPolicy::parse(text)
        .map_err(|error| AwsError::malformed_policy_document(error.message()))?;
    for principal in trust_policy.federated_principals() {
        if BUILT_IN_FEDERATED_PRINCIPALS.contains(&principal.as_str()) {
            continue;
        }
        let exists = match provider_url_from_arn(account_id, &principal) {
            Some(url) => store.provider(url).await?.is_some(),
            None => false,
        };
        if !exists {
            return Err(AwsError::malformed_policy_document(
                UNRESOLVED_FEDERATED_PRINCIPAL_MESSAGE,
            )
            .with_detail(format!(
                "no OIDC provider for Federated principal {principal}"
            )));
        }
    }
    Ok(trust_policy)
}

/// Logs `crate::lint` findings about a trust policy IAM accepted, as warnings: AWS accepts such
/// policies, so the response never changes; the log tells the operator what is weak.
pub fn warn_about_lint_findings(role_name: &str, trust_policy: &str) {
    for finding in crate::lint::lint_report(trust_policy) {
        tracing::warn!(
            role_name,
            finding_type = finding.finding_type.as_str(),
            issue_code = %finding.issue_code,
            location = %finding.location,
            "trust policy lint: {}",
            finding.message
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_encode_like_the_spec_sample() {
        assert_eq!(
            encode_policy_document("{\"Version\":\"2012-10-17\",\"S\":\"a/b *\"}"),
            "%7B%22Version%22%3A%222012-10-17%22%2C%22S%22%3A%22a%2Fb%20%2A%22%7D"
        );
    }

    #[test]
    fn paths_follow_the_model_pattern() {
        for (path, valid) in [
            ("/", true),
            ("/ci/", true),
            ("/a/b/", true),
            ("ci", false),
            ("/ci", false),
            ("//", false),
        ] {
            let params = QueryParams::default();
            let mut reader = ParamReader::new(&params);
            check_path(&mut reader, path);
            assert_eq!(reader.finish().is_ok(), valid, "{path}");
        }
    }
}
