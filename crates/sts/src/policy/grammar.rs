//! The policy grammar of `spec/aws-sts-iam.md` §4.1, checked in IAM's order so the first
//! problem found gets the message AWS would send.
//!
//! Order (as IAM's validator, mirrored by moto/LocalStack): JSON → syntax (shape, element names,
//! types, duplicate keys, Version values, operators) → legacy parsing (`Effect` case) → Sid rules
//! → actions present → action names → the rules of the policy kind (trust: STS assume-role
//! actions only, no Resource/NotPrincipal, a Principal; permissions: no Principal, a Resource).

use super::document::{
    ActionElement, ConditionEntry, PolicyVersion, PrincipalElement, Statement, StatementEffect,
};
use super::error::{
    MESSAGE_ACTION_TWO_COLONS, MESSAGE_ACTION_WITHOUT_VENDOR, MESSAGE_DUPLICATE_SID,
    MESSAGE_INVALID_JSON, MESSAGE_LEGACY_PARSING, MESSAGE_MISSING_ACTIONS,
    MESSAGE_MISSING_RESOURCES, MESSAGE_NO_PRINCIPALS, MESSAGE_PRINCIPAL_IN_PERMISSIONS_POLICY,
    MESSAGE_SID_NOT_ALPHANUMERIC, MESSAGE_SYNTAX_ERRORS, MESSAGE_TRUST_POLICY_ACTIONS,
    MalformedPolicyError,
};
use super::json::{JsonNode, JsonObject, path_member};
use super::operators::ConditionOperator;
use super::wildcard::wildcard_match;

/// Which kind of policy is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyKind {
    /// A role trust policy (resource policy on the role).
    Trust,
    /// A permissions policy, e.g. an AssumeRoleWithWebIdentity session policy.
    Permissions,
}

/// A document that passed the grammar.
pub(crate) struct ParsedDocument {
    pub(crate) version: PolicyVersion,
    pub(crate) statements: Vec<Statement>,
}

/// Top-level elements IAM accepts.
const TOP_LEVEL_ELEMENTS: [&str; 3] = ["Version", "Id", "Statement"];
/// Statement elements IAM accepts.
const STATEMENT_ELEMENTS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];
/// Principal types of the grammar (§4.1).
const PRINCIPAL_TYPES: [&str; 4] = ["AWS", "Federated", "Service", "CanonicalUser"];
/// The STS actions a trust policy may name (lower-cased; matched case-insensitively).
/// Inferred from the observed refusal of `sts:TagSessions` and AWS's trust-policy documentation.
pub(crate) const TRUST_POLICY_ACTIONS: [&str; 6] = [
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
    "sts:tagsession",
    "sts:setsourceidentity",
    "sts:setcontext",
];

/// Shorthand for a syntax error with a detail.
fn syntax(detail: impl Into<String>) -> MalformedPolicyError {
    MalformedPolicyError::new(MESSAGE_SYNTAX_ERRORS, detail)
}

/// A statement read in the syntax pass, before the later rules.
struct RawStatement {
    object: JsonObject,
    effect_text: String,
    path: String,
    index: usize,
}

/// Parses and validates `text` as a policy of `kind`.
pub(crate) fn parse_document(
    text: &str,
    kind: PolicyKind,
) -> Result<ParsedDocument, MalformedPolicyError> {
    let root = JsonNode::parse(text).ok_or_else(|| {
        MalformedPolicyError::new(MESSAGE_INVALID_JSON, "the document is not valid JSON")
    })?;
    if root.contains_duplicate_key() {
        return Err(syntax("an object has the same key twice"));
    }
    let JsonNode::Object(top) = root else {
        return Err(syntax("the document is not a JSON object"));
    };
    for (name, _) in &top.members {
        if !TOP_LEVEL_ELEMENTS.contains(&name.as_str()) {
            return Err(syntax(format!("unknown top-level element {name:?}")));
        }
    }
    let version = match top.get("Version") {
        None => PolicyVersion::Unspecified,
        Some(JsonNode::String(value)) if value == "2012-10-17" => PolicyVersion::V2012_10_17,
        Some(JsonNode::String(value)) if value == "2008-10-17" => PolicyVersion::V2008_10_17,
        Some(other) => {
            return Err(syntax(format!(
                "Version must be \"2012-10-17\" or \"2008-10-17\", not {other:?}"
            )));
        }
    };
    if top.get("Id").is_some_and(|id| id.as_str().is_none()) {
        return Err(syntax("Id must be a string"));
    }
    let raw_statements = read_statements(&top)?;
    let mut statements = Vec::with_capacity(raw_statements.len());
    for raw in &raw_statements {
        statements.push(read_statement(raw)?);
    }
    check_after_syntax(&raw_statements, &statements, kind)?;
    Ok(ParsedDocument {
        version,
        statements,
    })
}

/// The `Statement` element: one object or a non-empty array of objects.
fn read_statements(top: &JsonObject) -> Result<Vec<RawStatement>, MalformedPolicyError> {
    let (items, is_array): (Vec<&JsonNode>, bool) = match top.get("Statement") {
        None => return Err(syntax("the policy has no Statement")),
        Some(JsonNode::Array(items)) if !items.is_empty() => (items.iter().collect(), true),
        Some(JsonNode::Array(_)) => return Err(syntax("Statement is an empty array")),
        Some(object @ JsonNode::Object(_)) => (vec![object], false),
        Some(_) => return Err(syntax("Statement must be an object or an array of objects")),
    };
    let mut raw_statements = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let path = if is_array {
            format!("$.Statement[{index}]")
        } else {
            "$.Statement".to_owned()
        };
        let JsonNode::Object(object) = item else {
            return Err(syntax(format!("{path} is not an object")));
        };
        raw_statements.push(check_statement_syntax(object, path, index)?);
    }
    Ok(raw_statements)
}

/// Element names, exclusive pairs, Effect, and the types of every element.
fn check_statement_syntax(
    object: &JsonObject,
    path: String,
    index: usize,
) -> Result<RawStatement, MalformedPolicyError> {
    for (name, _) in &object.members {
        if !STATEMENT_ELEMENTS.contains(&name.as_str()) {
            return Err(syntax(format!("{path} has unknown element {name:?}")));
        }
    }
    for (first, second) in [
        ("Action", "NotAction"),
        ("Resource", "NotResource"),
        ("Principal", "NotPrincipal"),
    ] {
        if object.get(first).is_some() && object.get(second).is_some() {
            return Err(syntax(format!("{path} has both {first} and {second}")));
        }
    }
    let effect_text = match object.get("Effect") {
        Some(JsonNode::String(effect))
            if effect.eq_ignore_ascii_case("Allow") || effect.eq_ignore_ascii_case("Deny") =>
        {
            effect.clone()
        }
        Some(other) => return Err(syntax(format!("{path}.Effect is invalid: {other:?}"))),
        None => return Err(syntax(format!("{path} has no Effect"))),
    };
    for name in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(value) = object.get(name) {
            string_or_strings(value).ok_or_else(|| {
                syntax(format!(
                    "{path}.{name} must be a string or an array of strings"
                ))
            })?;
        }
    }
    if object.get("Sid").is_some_and(|sid| sid.as_str().is_none()) {
        return Err(syntax(format!("{path}.Sid must be a string")));
    }
    for name in ["Principal", "NotPrincipal"] {
        if let Some(value) = object.get(name) {
            read_principal(value).ok_or_else(|| {
                syntax(format!(
                    "{path}.{name} must be \"*\" or a map of AWS/Federated/Service/CanonicalUser \
                     to strings"
                ))
            })?;
        }
    }
    if let Some(condition) = object.get("Condition") {
        read_conditions(condition, &path)?;
    }
    Ok(RawStatement {
        object: object.clone(),
        effect_text,
        path,
        index,
    })
}

/// A string or an array of strings, as a list.
fn string_or_strings(value: &JsonNode) -> Option<Vec<String>> {
    match value {
        JsonNode::String(text) => Some(vec![text.clone()]),
        JsonNode::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// `"*"` or a map of principal types to a string or an array of strings.
fn read_principal(value: &JsonNode) -> Option<PrincipalElement> {
    match value {
        JsonNode::String(text) if text == "*" => Some(PrincipalElement::Everyone),
        JsonNode::Object(object) if !object.members.is_empty() => {
            let mut entries = Vec::new();
            for (principal_type, values) in &object.members {
                if !PRINCIPAL_TYPES.contains(&principal_type.as_str()) {
                    return None;
                }
                entries.push((principal_type.clone(), string_or_strings(values)?));
            }
            Some(PrincipalElement::Typed(entries))
        }
        _ => None,
    }
}

/// A condition value: string, number or boolean (the JSON spelling of the latter two).
fn condition_scalar(value: &JsonNode) -> Option<String> {
    match value {
        JsonNode::String(text) => Some(text.clone()),
        JsonNode::Number(number) => Some(number.to_string()),
        JsonNode::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// The `Condition` block: operator → (key → value or array of values).
fn read_conditions(
    condition: &JsonNode,
    statement_path: &str,
) -> Result<Vec<ConditionEntry>, MalformedPolicyError> {
    let condition_path = format!("{statement_path}.Condition");
    let JsonNode::Object(operators) = condition else {
        return Err(syntax(format!("{condition_path} must be an object")));
    };
    let mut entries = Vec::new();
    for (operator_name, block) in &operators.members {
        let operator_path = path_member(&condition_path, operator_name);
        let JsonNode::Object(keys) = block else {
            return Err(syntax(format!("{operator_path} must be an object")));
        };
        let Some(operator) = ConditionOperator::parse(operator_name) else {
            if keys.members.is_empty() {
                // IAM accepts an unknown operator whose block is empty; it constrains nothing.
                continue;
            }
            return Err(syntax(format!(
                "unknown condition operator {operator_name:?}"
            )));
        };
        for (key, value) in &keys.members {
            let key_path = path_member(&operator_path, key);
            let values = match value {
                JsonNode::Array(items) => items.iter().map(condition_scalar).collect(),
                scalar => condition_scalar(scalar).map(|text| vec![text]),
            }
            .ok_or_else(|| {
                syntax(format!(
                    "{key_path} must be a string, number, boolean or an array of them"
                ))
            })?;
            entries.push(ConditionEntry {
                operator,
                key: key.clone(),
                values,
                path: key_path,
            });
        }
    }
    Ok(entries)
}

/// Builds the statement value from a syntactically valid raw statement.
fn read_statement(raw: &RawStatement) -> Result<Statement, MalformedPolicyError> {
    let object = &raw.object;
    let list = |name: &str| object.get(name).and_then(string_or_strings);
    let actions = match (list("Action"), list("NotAction")) {
        (Some(patterns), _) => ActionElement::Action(patterns),
        (None, Some(patterns)) => ActionElement::NotAction(patterns),
        (None, None) => ActionElement::Action(Vec::new()),
    };
    let effect = if raw.effect_text == "Deny" {
        StatementEffect::Deny
    } else {
        StatementEffect::Allow
    };
    let conditions = match object.get("Condition") {
        Some(condition) => read_conditions(condition, &raw.path)?,
        None => Vec::new(),
    };
    Ok(Statement {
        index: raw.index,
        sid: object
            .get("Sid")
            .and_then(JsonNode::as_str)
            .map(str::to_owned),
        effect,
        principal: object.get("Principal").and_then(read_principal),
        actions,
        resources: list("Resource").unwrap_or_default(),
        conditions,
        path: raw.path.clone(),
    })
}

/// The rules IAM checks after the syntax pass, in its order.
fn check_after_syntax(
    raw_statements: &[RawStatement],
    statements: &[Statement],
    kind: PolicyKind,
) -> Result<(), MalformedPolicyError> {
    for raw in raw_statements {
        if raw.effect_text != "Allow" && raw.effect_text != "Deny" {
            return Err(MalformedPolicyError::new(
                MESSAGE_LEGACY_PARSING,
                format!(
                    "{}.Effect is {:?}; Effect is case-sensitive (Allow or Deny)",
                    raw.path, raw.effect_text
                ),
            ));
        }
    }
    let mut sids: Vec<&str> = Vec::new();
    for statement in statements {
        if let Some(sid) = statement.sid.as_deref().filter(|sid| !sid.is_empty()) {
            if sids.contains(&sid) {
                return Err(MalformedPolicyError::new(
                    MESSAGE_DUPLICATE_SID,
                    format!("Sid {sid:?} appears twice"),
                ));
            }
            if !sid
                .chars()
                .all(|character| character.is_ascii_alphanumeric())
            {
                return Err(MalformedPolicyError::new(
                    MESSAGE_SID_NOT_ALPHANUMERIC,
                    format!("Sid {sid:?} has characters outside [0-9A-Za-z]"),
                ));
            }
            sids.push(sid);
        }
    }
    for statement in statements {
        if statement.actions.patterns().is_empty() {
            return Err(MalformedPolicyError::new(
                MESSAGE_MISSING_ACTIONS,
                format!("{} has no Action or NotAction", statement.path),
            ));
        }
        for action in statement.actions.patterns() {
            check_action_name(action)?;
        }
    }
    match kind {
        PolicyKind::Trust => check_trust_rules(raw_statements, statements),
        PolicyKind::Permissions => check_permissions_rules(raw_statements),
    }
}

/// `vendor:name` with one colon and a plain vendor, or `*`.
fn check_action_name(action: &str) -> Result<(), MalformedPolicyError> {
    let parts: Vec<&str> = action.split(':').collect();
    match parts.as_slice() {
        ["*"] => Ok(()),
        [_] => Err(MalformedPolicyError::new(
            MESSAGE_ACTION_WITHOUT_VENDOR,
            format!("action {action:?} has no vendor prefix"),
        )),
        [vendor, _] => {
            let plain = vendor == &"*"
                || vendor
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || "-.".contains(character));
            if plain {
                Ok(())
            } else {
                Err(MalformedPolicyError::new(
                    &format!("Vendor {vendor} is not valid"),
                    format!("action {action:?} has an invalid vendor"),
                ))
            }
        }
        _ => Err(MalformedPolicyError::new(
            MESSAGE_ACTION_TWO_COLONS,
            format!("action {action:?} has more than one colon"),
        )),
    }
}

/// Trust policies, in IAM's order: assume-role actions only, no Resource/NotResource/NotPrincipal,
/// a Principal.
fn check_trust_rules(
    raw_statements: &[RawStatement],
    statements: &[Statement],
) -> Result<(), MalformedPolicyError> {
    for statement in statements {
        for action in statement.actions.patterns() {
            let lowered = action.to_ascii_lowercase();
            let allowed = TRUST_POLICY_ACTIONS
                .iter()
                .any(|known| wildcard_match(&lowered, known));
            if !allowed {
                return Err(MalformedPolicyError::new(
                    MESSAGE_TRUST_POLICY_ACTIONS,
                    format!("{} names action {action:?}", statement.path),
                ));
            }
        }
    }
    for raw in raw_statements {
        for field in ["Resource", "NotResource", "NotPrincipal"] {
            if raw.object.get(field).is_some() {
                return Err(MalformedPolicyError::new(
                    &format!("Has prohibited field {field}"),
                    format!(
                        "{} has {field}, which a trust policy may not have",
                        raw.path
                    ),
                ));
            }
        }
    }
    for statement in statements {
        if statement.principal.is_none() {
            return Err(MalformedPolicyError::new(
                MESSAGE_NO_PRINCIPALS,
                format!("{} has no Principal", statement.path),
            ));
        }
    }
    Ok(())
}

/// Permissions policies: no Principal/NotPrincipal, a Resource or NotResource.
fn check_permissions_rules(raw_statements: &[RawStatement]) -> Result<(), MalformedPolicyError> {
    for raw in raw_statements {
        if raw.object.get("Principal").is_some() || raw.object.get("NotPrincipal").is_some() {
            return Err(MalformedPolicyError::new(
                MESSAGE_PRINCIPAL_IN_PERMISSIONS_POLICY,
                format!("{} names a principal", raw.path),
            ));
        }
        let has_resources = ["Resource", "NotResource"].iter().any(|name| {
            raw.object
                .get(name)
                .and_then(string_or_strings)
                .is_some_and(|values| !values.is_empty())
        });
        if !has_resources {
            return Err(MalformedPolicyError::new(
                MESSAGE_MISSING_RESOURCES,
                format!("{} has no Resource", raw.path),
            ));
        }
    }
    Ok(())
}
