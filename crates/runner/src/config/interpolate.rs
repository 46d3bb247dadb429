//! `<< parameters.x >>` and `<< pipeline.* >>` interpolation over a YAML value tree.
//!
//! A string that is exactly one reference takes the referenced value with its type (so a
//! `steps` parameter becomes a list of steps, a boolean stays a boolean); a reference inside
//! longer text is replaced by the value's text. `\<<` escapes a reference, as on CircleCI.
//! Text like a shell here-document (`<<EOF`) is left alone: only `parameters.` and `pipeline.`
//! references are recognised.
//!
//! Interpolation can multiply text (a command passing `<< parameters.p >><< parameters.p >>`
//! on to a command that does the same doubles it at every level), so everything one job's
//! expansion produces is charged to an [`InterpolationBudget`], refused past
//! [`MAX_INTERPOLATED_BYTES`].

use std::cell::Cell;

use serde_norway::{Mapping, Value};

use super::model::PipelineValues;

/// The most text and nodes interpolation may produce while expanding one job (strings count
/// their bytes, every list, mapping and scalar counts one). A real job produces a few
/// kilobytes; this only stops configurations that multiply text exponentially.
pub const MAX_INTERPOLATED_BYTES: usize = 16 * 1024 * 1024;

/// What is left of [`MAX_INTERPOLATED_BYTES`] for one job's expansion.
#[derive(Debug)]
pub(crate) struct InterpolationBudget {
    left: Cell<usize>,
}

impl Default for InterpolationBudget {
    fn default() -> Self {
        Self {
            left: Cell::new(MAX_INTERPOLATED_BYTES),
        }
    }
}

impl InterpolationBudget {
    /// Takes `amount` from the budget, or fails once it is spent.
    fn charge(&self, amount: usize) -> Result<(), InterpolationError> {
        let left = self.left.get().checked_sub(amount).ok_or_else(|| {
            InterpolationError(format!(
                "interpolation produces more than {MAX_INTERPOLATED_BYTES} bytes for this job \
                 (parameters that repeat themselves multiply text at every level)"
            ))
        })?;
        self.left.set(left);
        Ok(())
    }
}

/// What `value` costs against the budget: string bytes, plus one for every node.
fn weight(value: &Value) -> usize {
    match value {
        Value::String(text) => 1 + text.len(),
        Value::Sequence(items) => 1 + items.iter().map(weight).sum::<usize>(),
        Value::Mapping(mapping) => {
            1 + mapping
                .iter()
                .map(|(key, item)| weight(key) + weight(item))
                .sum::<usize>()
        }
        Value::Tagged(tagged) => 1 + weight(&tagged.value),
        _ => 1,
    }
}

/// What references may read: the current parameters (job, command or executor) and the
/// pipeline values.
pub(crate) struct Scope<'a> {
    /// Declared parameters with their resolved values; `None` where no parameters exist.
    pub parameters: Option<&'a Mapping>,
    /// The pipeline values.
    pub pipeline: &'a PipelineValues,
    /// What the job's expansion may still produce.
    pub budget: &'a InterpolationBudget,
}

/// A reference that could not be resolved, with a CircleCI-like message.
#[derive(Debug)]
pub(crate) struct InterpolationError(pub String);

/// One `<< … >>` occurrence in a string.
struct Reference {
    start: usize,
    end: usize,
    path: String,
    escaped: bool,
}

/// Finds the parameter and pipeline references in `text`.
fn find_references(text: &str) -> Vec<Reference> {
    let mut references = Vec::new();
    let mut search_from = 0;
    while let Some(offset) = text[search_from..].find("<<") {
        let start = search_from + offset;
        let inner_start = start + 2;
        let rest = &text[inner_start..];
        let trimmed = rest.trim_start();
        let leading = rest.len() - trimmed.len();
        let is_reference = trimmed.starts_with("parameters.") || trimmed.starts_with("pipeline.");
        let path_length = trimmed
            .find(|character: char| {
                !(character.is_ascii_alphanumeric() || matches!(character, '_' | '-' | '.'))
            })
            .unwrap_or(trimmed.len());
        let after_path = &trimmed[path_length..];
        let after_trimmed = after_path.trim_start();
        if is_reference && after_trimmed.starts_with(">>") {
            let end =
                inner_start + leading + path_length + (after_path.len() - after_trimmed.len()) + 2;
            let escaped = start > 0 && text.as_bytes()[start - 1] == b'\\';
            references.push(Reference {
                start,
                end,
                path: trimmed[..path_length].to_string(),
                escaped,
            });
            search_from = end;
        } else {
            search_from = inner_start;
        }
    }
    references
}

/// The value a reference path names.
fn resolve(path: &str, scope: &Scope<'_>) -> Result<Value, InterpolationError> {
    if let Some(name) = path.strip_prefix("parameters.") {
        return scope
            .parameters
            .and_then(|parameters| parameters.get(name))
            .cloned()
            .ok_or_else(|| {
                InterpolationError(format!(
                    "Arguments referenced without declared parameters: {name}"
                ))
            });
    }
    let pipeline_path = path.strip_prefix("pipeline.").unwrap_or(path);
    scope.pipeline.lookup(pipeline_path).ok_or_else(|| {
        InterpolationError(format!(
            "unknown pipeline value `{path}` (keyless-runner knows pipeline.id, pipeline.number, pipeline.project.git_url, pipeline.project.type, pipeline.git.branch, pipeline.git.tag, pipeline.git.revision, pipeline.git.base_revision, pipeline.trigger_source, pipeline.in_setup and pipeline.parameters.*)"
        ))
    })
}

/// The text a scalar value contributes inside a longer string.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Interpolates one string.
fn interpolate_string(text: &str, scope: &Scope<'_>) -> Result<Value, InterpolationError> {
    let references = find_references(text);
    if references.is_empty() {
        scope.budget.charge(1 + text.len())?;
        return Ok(Value::String(text.to_string()));
    }
    if let [only] = references.as_slice()
        && !only.escaped
        && text[..only.start].trim().is_empty()
        && text[only.end..].trim().is_empty()
    {
        let value = resolve(&only.path, scope)?;
        scope.budget.charge(weight(&value))?;
        return Ok(value);
    }
    let mut output = String::with_capacity(text.len());
    let mut copied_to = 0;
    for reference in &references {
        if reference.escaped {
            output.push_str(&text[copied_to..reference.start - 1]);
            output.push_str(&text[reference.start..reference.end]);
        } else {
            output.push_str(&text[copied_to..reference.start]);
            let value = resolve(&reference.path, scope)?;
            let piece = scalar_text(&value).ok_or_else(|| {
                InterpolationError(format!(
                    "`<< {} >>` is a list or mapping and cannot be placed inside text",
                    reference.path
                ))
            })?;
            scope.budget.charge(piece.len())?;
            output.push_str(&piece);
        }
        copied_to = reference.end;
    }
    output.push_str(&text[copied_to..]);
    scope.budget.charge(1 + text.len())?;
    Ok(Value::String(output))
}

/// Interpolates every string in `value` (keys included), except a `parameters` declaration.
pub(crate) fn interpolate(value: &Value, scope: &Scope<'_>) -> Result<Value, InterpolationError> {
    if !value.is_string() {
        scope.budget.charge(1)?;
    }
    Ok(match value {
        Value::String(text) => interpolate_string(text, scope)?,
        Value::Sequence(items) => Value::Sequence(
            items
                .iter()
                .map(|item| interpolate(item, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Mapping(mapping) => {
            let mut output = Mapping::new();
            for (key, item) in mapping {
                if key.as_str() == Some("parameters") && item.is_mapping() && is_declaration(item) {
                    scope.budget.charge(weight(item))?;
                    output.insert(key.clone(), item.clone());
                    continue;
                }
                output.insert(interpolate(key, scope)?, interpolate(item, scope)?);
            }
            Value::Mapping(output)
        }
        Value::Tagged(tagged) => interpolate(&tagged.value, scope)?,
        other => other.clone(),
    })
}

/// Whether a `parameters:` mapping declares parameters (each entry has a `type`) rather than
/// passing arguments named `parameters`.
fn is_declaration(parameters: &Value) -> bool {
    parameters.as_mapping().is_some_and(|mapping| {
        !mapping.is_empty()
            && mapping.values().all(|declaration| {
                declaration
                    .as_mapping()
                    .is_some_and(|fields| fields.contains_key("type"))
            })
    })
}
