//! Grammar tests: each malformed document gets AWS's exact MalformedPolicyDocument message
//! (spec §4.1, §2.5/§5.2), and valid variations parse.

use serde_json::json;

use super::test_support::{ORG, document, key, provider_arn, statement};
use super::{
    MESSAGE_ACTION_TWO_COLONS, MESSAGE_ACTION_WITHOUT_VENDOR, MESSAGE_DUPLICATE_SID,
    MESSAGE_INVALID_JSON, MESSAGE_LEGACY_PARSING, MESSAGE_MISSING_ACTIONS,
    MESSAGE_MISSING_RESOURCES, MESSAGE_NO_PRINCIPALS, MESSAGE_PRINCIPAL_IN_PERMISSIONS_POLICY,
    MESSAGE_SID_NOT_ALPHANUMERIC, MESSAGE_SYNTAX_ERRORS, MESSAGE_TRUST_POLICY_ACTIONS,
    MalformedPolicyError, PolicyVersion, SessionPolicy, TrustPolicy,
    policy_size_without_whitespace,
};

/// The message `text` is refused with, or a failure naming the document.
fn refusal(text: &str) -> String {
    match TrustPolicy::parse(text) {
        Ok(_) => panic!("accepted a malformed policy:\n{text}"),
        Err(error) => error.message().to_owned(),
    }
}

/// A one-statement trust policy with `change` applied to the statement.
fn with_statement(change: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut allow = statement("Allow", serde_json::Value::Null);
    change(&mut allow);
    document(vec![allow])
}

#[test]
fn exact_messages_for_malformed_trust_policies() {
    let cases: Vec<(&str, String, &str)> = vec![
        ("not JSON", "Version: 2012-10-17".to_owned(), MESSAGE_INVALID_JSON),
        ("trailing comma", r#"{"Version":"2012-10-17","Statement":[],}"#.to_owned(), MESSAGE_INVALID_JSON),
        ("empty text", String::new(), MESSAGE_INVALID_JSON),
        ("an array document", "[]".to_owned(), MESSAGE_SYNTAX_ERRORS),
        ("no Statement", r#"{"Version":"2012-10-17"}"#.to_owned(), MESSAGE_SYNTAX_ERRORS),
        ("Statement is a string", r#"{"Version":"2012-10-17","Statement":"x"}"#.to_owned(), MESSAGE_SYNTAX_ERRORS),
        ("empty Statement array", r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned(), MESSAGE_SYNTAX_ERRORS),
        ("unknown Version", json!({"Version": "2012-10-18", "Statement": statement("Allow", serde_json::Value::Null)}).to_string(), MESSAGE_SYNTAX_ERRORS),
        ("Version as a number", json!({"Version": 2012, "Statement": statement("Allow", serde_json::Value::Null)}).to_string(), MESSAGE_SYNTAX_ERRORS),
        ("unknown top-level element", json!({"Version": "2012-10-17", "Statment": [], "Statement": statement("Allow", serde_json::Value::Null)}).to_string(), MESSAGE_SYNTAX_ERRORS),
        ("duplicate top-level key", format!(r#"{{"Version":"2012-10-17","Version":"2012-10-17","Statement":{}}}"#, statement("Allow", serde_json::Value::Null)), MESSAGE_SYNTAX_ERRORS),
        ("duplicate key in a statement", format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Effect":"Allow","Principal":{{"Federated":"{}"}},"Action":"sts:AssumeRoleWithWebIdentity"}}}}"#, provider_arn()), MESSAGE_SYNTAX_ERRORS),
        ("unknown statement element", with_statement(|s| s["Principals"] = json!("*")), MESSAGE_SYNTAX_ERRORS),
        ("no Effect", with_statement(|s| { s.as_object_mut().map(|o| o.remove("Effect")); }), MESSAGE_SYNTAX_ERRORS),
        ("Effect Permit", with_statement(|s| s["Effect"] = json!("Permit")), MESSAGE_SYNTAX_ERRORS),
        ("Effect lower case", with_statement(|s| s["Effect"] = json!("allow")), MESSAGE_LEGACY_PARSING),
        ("Effect upper case", with_statement(|s| s["Effect"] = json!("DENY")), MESSAGE_LEGACY_PARSING),
        ("Action and NotAction", with_statement(|s| s["NotAction"] = json!("sts:AssumeRole")), MESSAGE_SYNTAX_ERRORS),
        ("Action is an object", with_statement(|s| s["Action"] = json!({"a": 1})), MESSAGE_SYNTAX_ERRORS),
        ("Principal is a bare ARN", with_statement(|s| s["Principal"] = json!(provider_arn())), MESSAGE_SYNTAX_ERRORS),
        ("Principal has an unknown type", with_statement(|s| s["Principal"] = json!({"OIDC": provider_arn()})), MESSAGE_SYNTAX_ERRORS),
        ("Condition is an array", with_statement(|s| s["Condition"] = json!([])), MESSAGE_SYNTAX_ERRORS),
        ("condition value is an object", with_statement(|s| s["Condition"] = json!({"StringEquals": {key("aud"): {"x": 1}}})), MESSAGE_SYNTAX_ERRORS),
        ("condition value is null", with_statement(|s| s["Condition"] = json!({"StringEquals": {key("aud"): null}})), MESSAGE_SYNTAX_ERRORS),
        ("unknown operator with keys", with_statement(|s| s["Condition"] = json!({"StringEqual": {key("aud"): ORG}})), MESSAGE_SYNTAX_ERRORS),
        ("operator names are case-sensitive", with_statement(|s| s["Condition"] = json!({"stringequals": {key("aud"): ORG}})), MESSAGE_SYNTAX_ERRORS),
        ("NullIfExists is not an operator", with_statement(|s| s["Condition"] = json!({"NullIfExists": {key("aud"): "true"}})), MESSAGE_SYNTAX_ERRORS),
        ("Sid is a number", with_statement(|s| s["Sid"] = json!(1)), MESSAGE_SYNTAX_ERRORS),
        ("Sid with a hyphen", with_statement(|s| s["Sid"] = json!("allow-ci")), MESSAGE_SID_NOT_ALPHANUMERIC),
        ("no Action", with_statement(|s| { s.as_object_mut().map(|o| o.remove("Action")); }), MESSAGE_MISSING_ACTIONS),
        ("empty Action list", with_statement(|s| s["Action"] = json!([])), MESSAGE_MISSING_ACTIONS),
        ("action without vendor", with_statement(|s| s["Action"] = json!("AssumeRoleWithWebIdentity")), MESSAGE_ACTION_WITHOUT_VENDOR),
        ("action with two colons", with_statement(|s| s["Action"] = json!("sts:AssumeRole:x")), MESSAGE_ACTION_TWO_COLONS),
        ("action outside STS", with_statement(|s| s["Action"] = json!("s3:GetObject")), MESSAGE_TRUST_POLICY_ACTIONS),
        ("misspelt STS action", with_statement(|s| s["Action"] = json!(["sts:AssumeRoleWithWebIdentity", "sts:TagSessions"])), MESSAGE_TRUST_POLICY_ACTIONS),
        ("STS wildcard matching no assume action", with_statement(|s| s["Action"] = json!("sts:Get*")), MESSAGE_TRUST_POLICY_ACTIONS),
        ("no Principal", with_statement(|s| { s.as_object_mut().map(|o| o.remove("Principal")); }), MESSAGE_NO_PRINCIPALS),
    ];
    for (name, text, expected) in cases {
        assert_eq!(refusal(&text), expected, "{name}");
    }
}

#[test]
fn prohibited_fields_are_named_in_the_message() {
    let resource = with_statement(|s| s["Resource"] = json!("*"));
    assert_eq!(refusal(&resource), "Has prohibited field Resource");
    let not_resource = with_statement(|s| s["NotResource"] = json!("*"));
    assert_eq!(refusal(&not_resource), "Has prohibited field NotResource");
    let not_principal = with_statement(|s| {
        if let Some(object) = s.as_object_mut() {
            object.remove("Principal");
        }
        s["NotPrincipal"] = json!({"AWS": "*"});
    });
    assert_eq!(refusal(&not_principal), "Has prohibited field NotPrincipal");
    // IAM checks the action allow-list before the prohibited fields.
    let both = with_statement(|s| {
        s["Resource"] = json!("*");
        s["Action"] = json!("s3:GetObject");
    });
    assert_eq!(refusal(&both), MESSAGE_TRUST_POLICY_ACTIONS);
    let bad_vendor = with_statement(|s| s["Action"] = json!("st$s:AssumeRole"));
    assert_eq!(refusal(&bad_vendor), "Vendor st$s is not valid");
}

#[test]
fn duplicate_sids_are_refused() {
    let mut first = statement("Allow", serde_json::Value::Null);
    first["Sid"] = json!("CircleCI");
    let second = first.clone();
    assert_eq!(
        refusal(&document(vec![first, second])),
        MESSAGE_DUPLICATE_SID
    );
}

#[test]
fn errors_carry_a_detail_for_logs() {
    let error = TrustPolicy::parse(&with_statement(|s| s["Resource"] = json!("*")))
        .expect_err("Resource is prohibited");
    assert!(
        error.detail().contains("$.Statement[0]"),
        "{}",
        error.detail()
    );
    let unknown = MalformedPolicyError::federated_principal_not_found("arn:x");
    assert_eq!(
        unknown.message(),
        "Federated principals must be valid domain names or SAML metadata ARNs"
    );
}

#[test]
fn valid_variations_parse() {
    let lone_object =
        json!({"Version": "2012-10-17", "Statement": statement("Allow", serde_json::Value::Null)})
            .to_string();
    let policy = TrustPolicy::parse(&lone_object).expect("a lone statement object is valid");
    assert_eq!(policy.statements()[0].path, "$.Statement");
    assert_eq!(policy.text(), lone_object);
    let old = json!({"Version": "2008-10-17", "Statement": [statement("Allow", serde_json::Value::Null)]}).to_string();
    assert_eq!(
        TrustPolicy::parse(&old)
            .expect("2008-10-17 is valid")
            .version(),
        PolicyVersion::V2008_10_17
    );
    let unversioned =
        json!({"Statement": [statement("Allow", serde_json::Value::Null)]}).to_string();
    assert_eq!(
        TrustPolicy::parse(&unversioned)
            .expect("Version is optional")
            .version(),
        PolicyVersion::Unspecified
    );
    let with_extras = with_statement(|s| {
        s["Sid"] = json!("CircleCIDeploy2");
        s["Action"] = json!([
            "sts:AssumeRoleWithWebIdentity",
            "sts:TagSession",
            "sts:SetSourceIdentity"
        ]);
        s["Condition"] = json!({"StringEquals": {key("aud"): [ORG, 42, true]}, "Foo": {}});
    });
    let policy = TrustPolicy::parse(&with_extras).expect("valid");
    assert_eq!(
        policy.statements()[0].conditions[0].values,
        [ORG, "42", "true"]
    );
    for action in [
        "*",
        "sts:*",
        "STS:assumerolewithwebidentity",
        "sts:AssumeRole*",
    ] {
        let text = with_statement(|s| s["Action"] = json!(action));
        assert!(TrustPolicy::parse(&text).is_ok(), "{action}");
    }
}

#[test]
fn federated_principals_are_listed_once_in_order() {
    let github = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
    let mut first = statement("Allow", serde_json::Value::Null);
    first["Principal"] = json!({"Federated": [provider_arn(), github]});
    let second = statement("Deny", serde_json::Value::Null);
    let policy = TrustPolicy::parse(&document(vec![first, second])).expect("valid");
    assert_eq!(
        policy.federated_principals(),
        [provider_arn(), github.to_owned()]
    );
}

#[test]
fn session_policies_are_permissions_policies() {
    let valid = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}"#;
    assert!(SessionPolicy::parse(valid).is_ok());
    let with_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;
    let error = SessionPolicy::parse(with_principal).expect_err("no principal allowed");
    assert_eq!(error.message(), MESSAGE_PRINCIPAL_IN_PERMISSIONS_POLICY);
    let without_resource =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#;
    let error = SessionPolicy::parse(without_resource).expect_err("Resource required");
    assert_eq!(error.message(), MESSAGE_MISSING_RESOURCES);
}

#[test]
fn size_ignores_white_space() {
    assert_eq!(policy_size_without_whitespace("{ \"a\" :\n\t\"b c\" }"), 10);
    assert_eq!(policy_size_without_whitespace("é"), 1);
}
