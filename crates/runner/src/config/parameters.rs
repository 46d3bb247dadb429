//! Parameter declarations (`parameters:` of jobs, commands, executors and the pipeline) checked
//! against the arguments of an invocation, as CircleCI does when it compiles a configuration.

use serde_norway::{Mapping, Value};

/// Resolves declared parameters against `arguments`: every argument must be declared, every
/// parameter without a default must be given, and each value must fit its type. Returns the
/// parameter values by name; an `Err` holds a CircleCI-like message.
pub(crate) fn resolve_parameters(
    declared: Option<&Value>,
    arguments: &Mapping,
) -> Result<Mapping, String> {
    let empty = Mapping::new();
    let declared = match declared {
        None => &empty,
        Some(Value::Mapping(declared)) => declared,
        Some(_) => return Err("`parameters` must be a mapping".into()),
    };
    let unexpected: Vec<&str> = arguments
        .keys()
        .filter_map(Value::as_str)
        .filter(|name| !declared.contains_key(*name))
        .collect();
    if !unexpected.is_empty() {
        return Err(format!("Unexpected argument(s): {}", unexpected.join(", ")));
    }
    let mut values = Mapping::new();
    let mut missing = Vec::new();
    for (name, declaration) in declared {
        let name_text = name.as_str().unwrap_or("?");
        let declaration = declaration
            .as_mapping()
            .ok_or_else(|| format!("parameter `{name_text}` must be a mapping with a `type`"))?;
        let kind = declaration
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("parameter `{name_text}` has no `type`"))?;
        let Some(value) = arguments
            .get(name)
            .or_else(|| declaration.get("default"))
            .cloned()
        else {
            missing.push(name_text.to_string());
            continue;
        };
        let value = check_type(name_text, kind, declaration, value)?;
        values.insert(name.clone(), value);
    }
    if !missing.is_empty() {
        return Err(format!(
            "Missing required argument(s): {}",
            missing.join(", ")
        ));
    }
    Ok(values)
}

/// Checks (and where CircleCI does, converts) one value against its declared type.
fn check_type(
    name: &str,
    kind: &str,
    declaration: &Mapping,
    value: Value,
) -> Result<Value, String> {
    let wrong = |expected: &str| {
        Err(format!(
            "argument `{name}` must be {expected}, got {}",
            describe(&value)
        ))
    };
    match kind {
        "string" => match &value {
            Value::String(_) => Ok(value),
            Value::Number(number) => Ok(Value::String(number.to_string())),
            Value::Bool(flag) => Ok(Value::String(flag.to_string())),
            _ => wrong("a string"),
        },
        "boolean" => match &value {
            Value::Bool(_) => Ok(value),
            _ => wrong("a boolean"),
        },
        "integer" => match &value {
            Value::Number(number) if number.is_i64() || number.is_u64() => Ok(value),
            _ => wrong("an integer"),
        },
        "enum" => {
            let allowed: Vec<String> = declaration
                .get("enum")
                .and_then(Value::as_sequence)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(super::interpolate::scalar_text)
                        .collect()
                })
                .unwrap_or_default();
            let text = super::interpolate::scalar_text(&value).unwrap_or_default();
            if allowed.contains(&text) {
                Ok(Value::String(text))
            } else {
                Err(format!(
                    "argument `{name}` must be one of [{}], got {text:?}",
                    allowed.join(", ")
                ))
            }
        }
        "steps" => match &value {
            Value::Sequence(_) => Ok(value),
            Value::Null => Ok(Value::Sequence(Vec::new())),
            _ => wrong("a list of steps"),
        },
        "executor" => match &value {
            Value::String(_) | Value::Mapping(_) => Ok(value),
            _ => wrong("an executor name or invocation"),
        },
        "env_var_name" => match value.as_str() {
            Some(text) if is_env_var_name(text) => Ok(value),
            _ => wrong("an environment variable name"),
        },
        other => Err(format!("parameter `{name}` has unknown type `{other}`")),
    }
}

/// Whether `text` is a POSIX environment variable name (`[A-Za-z_][A-Za-z0-9_]*`).
pub(crate) fn is_env_var_name(text: &str) -> bool {
    let mut characters = text.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
}

/// A short description of a value's type for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => format!("boolean {flag}"),
        Value::Number(number) => format!("number {number}"),
        Value::String(text) => format!("string {text:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}
