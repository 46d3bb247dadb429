//! Expanding a job's `steps`: `run` and `checkout`, reusable `commands` (with their
//! parameters), conditional `when`/`unless` steps, and everything else reported as not
//! simulated.

use std::time::Duration;

use serde_norway::{Mapping, Value};

use super::DEFAULT_NO_OUTPUT_TIMEOUT;
use super::interpolate::{InterpolationBudget, Scope, interpolate, scalar_text};
use super::load::{Config, ConfigError};
use super::model::{PipelineValues, RunStep, RunWhen, Step};
use super::parameters::resolve_parameters;

/// Built-in steps that exist on CircleCI but need its infrastructure (storage, remote Docker,
/// SSH keys); they are reported and do not run.
const NOT_SIMULATED_STEPS: [(&str, &str); 9] = [
    ("save_cache", "caches are not simulated"),
    ("restore_cache", "caches are not simulated"),
    ("persist_to_workspace", "workspaces are not simulated"),
    ("attach_workspace", "workspaces are not simulated"),
    ("store_artifacts", "artifacts are not simulated"),
    ("store_test_results", "test results are not simulated"),
    ("setup_remote_docker", "remote Docker is not simulated"),
    ("add_ssh_keys", "SSH keys are not simulated"),
    (
        "deploy",
        "the deprecated `deploy` step is not simulated; use `run`",
    ),
];

/// Keys a `run` map may carry that keyless-runner honours.
const RUN_KEYS: [&str; 8] = [
    "command",
    "name",
    "environment",
    "working_directory",
    "shell",
    "when",
    "background",
    "no_output_timeout",
];

/// Commands may call commands; this bounds the depth so a cycle is an error, not a hang.
const MAX_COMMAND_DEPTH: usize = 32;

/// The most step entries one job's expansion may visit (every `run`, command invocation,
/// `when` and nested list counts). Commands that call a command twice, nested 32 deep, would
/// otherwise expand to billions of steps.
pub const MAX_EXPANDED_STEPS: usize = 10_000;

/// Expands step lists of one job.
pub(crate) struct StepExpander<'a> {
    pub config: &'a Config,
    pub pipeline: &'a PipelineValues,
    /// The job's interpolation budget.
    pub budget: &'a InterpolationBudget,
    pub notices: &'a mut Vec<String>,
    /// Step entries visited so far, bounded by [`MAX_EXPANDED_STEPS`].
    pub expanded_steps: usize,
}

impl StepExpander<'_> {
    /// Expands `steps` (already interpolated for the enclosing job or command) into `output`.
    pub fn expand(
        &mut self,
        steps: &Value,
        at: &str,
        depth: usize,
        output: &mut Vec<Step>,
    ) -> Result<(), ConfigError> {
        if depth > MAX_COMMAND_DEPTH {
            return Err(self.config.invalid(
                at,
                "commands nest too deeply (a command probably calls itself)",
            ));
        }
        let items = match steps {
            Value::Sequence(items) => items,
            Value::Null => return Ok(()),
            _ => return Err(self.config.invalid(at, "`steps` must be a list")),
        };
        for (index, item) in items.iter().enumerate() {
            let at = format!("{at}[{index}]");
            self.expanded_steps += 1;
            if self.expanded_steps > MAX_EXPANDED_STEPS {
                return Err(self.config.invalid(
                    &at,
                    format!(
                        "the job expands to more than {MAX_EXPANDED_STEPS} steps (commands that call commands several times multiply)"
                    ),
                ));
            }
            match item {
                Value::Sequence(_) => self.expand(item, &at, depth, output)?,
                Value::String(name) => {
                    self.expand_named(name, &Mapping::new(), &at, depth, output)?
                }
                Value::Mapping(step) if step.len() == 1 => {
                    let (key, body) = step.iter().next().ok_or_else(
                        // The guard above proves the mapping has one entry.
                        || self.config.invalid(&at, "empty step"),
                    )?;
                    let name = key
                        .as_str()
                        .ok_or_else(|| self.config.invalid(&at, "a step name must be a string"))?;
                    self.expand_keyed(name, body, &at, depth, output)?;
                }
                Value::Mapping(_) => {
                    return Err(self.config.invalid(
                        &at,
                        "a step must be a single key (`run`, `checkout`, a command name, …)",
                    ));
                }
                _ => {
                    return Err(self
                        .config
                        .invalid(&at, "a step must be a string or a mapping"));
                }
            }
        }
        Ok(())
    }

    /// A step given as a bare name (`- checkout`, `- my-command`).
    fn expand_named(
        &mut self,
        name: &str,
        arguments: &Mapping,
        at: &str,
        depth: usize,
        output: &mut Vec<Step>,
    ) -> Result<(), ConfigError> {
        if name == "checkout" {
            output.push(Step::Checkout {
                path: arguments.get("path").and_then(scalar_text),
            });
            return Ok(());
        }
        if let Some((_, reason)) = NOT_SIMULATED_STEPS.iter().find(|(step, _)| *step == name) {
            output.push(Step::NotSimulated {
                name: name.to_string(),
                reason: (*reason).to_string(),
            });
            return Ok(());
        }
        if let Some((orb, _)) = name.split_once('/') {
            output.push(Step::NotSimulated {
                name: name.to_string(),
                reason: format!("orb command from `{orb}`: orbs are not simulated"),
            });
            return Ok(());
        }
        let Some(command) = self
            .config
            .section("commands")
            .and_then(|commands| commands.get(name))
        else {
            return Err(self.config.invalid(
                at,
                format!(
                    "unknown step or command `{name}` (not in `commands`, not a built-in step)"
                ),
            ));
        };
        let command_at = format!("commands.{name}");
        let parameters = resolve_parameters(command.get("parameters"), arguments)
            .map_err(|message| self.config.invalid(at, message))?;
        let scope = Scope {
            parameters: Some(&parameters),
            pipeline: self.pipeline,
            budget: self.budget,
        };
        let body = command
            .get("steps")
            .ok_or_else(|| self.config.invalid(&command_at, "a command needs `steps`"))?;
        let body =
            interpolate(body, &scope).map_err(|error| self.config.invalid(&command_at, error.0))?;
        self.expand(&body, &format!("{command_at}.steps"), depth + 1, output)
    }

    /// A step given as `name: body`.
    fn expand_keyed(
        &mut self,
        name: &str,
        body: &Value,
        at: &str,
        depth: usize,
        output: &mut Vec<Step>,
    ) -> Result<(), ConfigError> {
        match name {
            "run" => {
                output.push(Step::Run(self.run_step(body, at)?));
                Ok(())
            }
            "when" | "unless" => {
                let body = body.as_mapping().ok_or_else(|| {
                    self.config
                        .invalid(at, format!("`{name}` needs `condition` and `steps`"))
                })?;
                let condition = body.get("condition").unwrap_or(&Value::Null);
                let truth = evaluate_condition(condition).map_err(|message| {
                    self.config
                        .invalid(&format!("{at}.{name}.condition"), message)
                })?;
                if truth == (name == "when") {
                    let steps = body.get("steps").unwrap_or(&Value::Null);
                    self.expand(steps, &format!("{at}.{name}.steps"), depth, output)?;
                }
                Ok(())
            }
            _ => {
                let arguments = match body {
                    Value::Mapping(arguments) => arguments.clone(),
                    Value::Null => Mapping::new(),
                    _ => {
                        return Err(self
                            .config
                            .invalid(at, format!("the arguments of `{name}` must be a mapping")));
                    }
                };
                self.expand_named(name, &arguments, at, depth, output)
            }
        }
    }

    /// Reads a `run` step (string or map form).
    fn run_step(&mut self, body: &Value, at: &str) -> Result<RunStep, ConfigError> {
        let (command, fields) = match body {
            Value::String(command) => (command.clone(), Mapping::new()),
            Value::Mapping(fields) => {
                let command = fields
                    .get("command")
                    .and_then(scalar_text)
                    .ok_or_else(|| self.config.invalid(at, "`run` needs a `command`"))?;
                (command, fields.clone())
            }
            _ => {
                return Err(self
                    .config
                    .invalid(at, "`run` must be a command or a mapping"));
            }
        };
        let name = fields
            .get("name")
            .and_then(scalar_text)
            .unwrap_or_else(|| command.lines().next().unwrap_or("").trim().to_string());
        for key in fields.keys().filter_map(Value::as_str) {
            if !RUN_KEYS.contains(&key) {
                self.notices
                    .push(format!("step \"{name}\": `{key}` is not simulated"));
            }
        }
        let environment = environment_list(fields.get("environment"))
            .map_err(|message| self.config.invalid(&format!("{at}.environment"), message))?;
        let when = match fields.get("when").and_then(Value::as_str) {
            None | Some("on_success") => RunWhen::OnSuccess,
            Some("on_fail") => RunWhen::OnFail,
            Some("always") => RunWhen::Always,
            Some(other) => {
                return Err(self.config.invalid(
                    &format!("{at}.when"),
                    format!("`when` must be always, on_success or on_fail, not {other:?}"),
                ));
            }
        };
        let background = match fields.get("background") {
            None => false,
            Some(Value::Bool(flag)) => *flag,
            Some(_) => {
                return Err(self.config.invalid(
                    &format!("{at}.background"),
                    "`background` must be a boolean",
                ));
            }
        };
        let no_output_timeout = match fields.get("no_output_timeout").and_then(scalar_text) {
            None => DEFAULT_NO_OUTPUT_TIMEOUT,
            Some(text) => parse_duration(&text).ok_or_else(|| {
                self.config.invalid(
                    &format!("{at}.no_output_timeout"),
                    format!("`no_output_timeout` must look like 10m, 1h30m or 90s, not {text:?}"),
                )
            })?,
        };
        Ok(RunStep {
            name,
            command,
            environment,
            working_directory: fields.get("working_directory").and_then(scalar_text),
            shell: fields.get("shell").and_then(scalar_text),
            when,
            background,
            no_output_timeout,
        })
    }
}

/// Reads an `environment` mapping into ordered pairs (values rendered as text).
pub(crate) fn environment_list(value: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let mapping = match value {
        Value::Mapping(mapping) => mapping,
        Value::Null => return Ok(Vec::new()),
        _ => return Err("`environment` must be a mapping of NAME: value".into()),
    };
    mapping
        .iter()
        .map(|(name, value)| {
            let name = name
                .as_str()
                .ok_or("environment variable names must be strings")?;
            let value = scalar_text(value)
                .ok_or_else(|| format!("environment variable {name} must be a scalar"))?;
            Ok((name.to_string(), value))
        })
        .collect()
}

/// Parses CircleCI durations such as `10m`, `1h30m`, `90s` or `500ms`; a bare number is
/// seconds.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|character: char| !character.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let amount: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_length = rest
            .find(|character: char| character.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_length] {
            "ms" => Duration::from_millis(amount),
            "s" => Duration::from_secs(amount),
            "m" => Duration::from_secs(amount * 60),
            "h" => Duration::from_secs(amount * 3600),
            _ => return None,
        };
        total += unit;
        rest = &rest[unit_length..];
    }
    Some(total)
}

/// Evaluates a `when`/`unless` condition (CircleCI logic statements: literals, `and`, `or`,
/// `not`, `equal`). Falsy literals are `false`, `null`, `0` and the empty string.
pub(crate) fn evaluate_condition(condition: &Value) -> Result<bool, String> {
    match condition {
        Value::Bool(flag) => Ok(*flag),
        Value::Null => Ok(false),
        Value::Number(number) => Ok(number.as_f64().is_some_and(|value| value != 0.0)),
        Value::String(text) => Ok(!text.is_empty()),
        Value::Sequence(_) => Err("a condition cannot be a list".into()),
        Value::Tagged(tagged) => evaluate_condition(&tagged.value),
        Value::Mapping(statement) => {
            let (operator, operand) = statement
                .iter()
                .next()
                .filter(|_| statement.len() == 1)
                .ok_or("a logic statement has exactly one operator")?;
            let operands = || {
                operand
                    .as_sequence()
                    .ok_or_else(|| format!("`{}` takes a list", operator.as_str().unwrap_or("?")))
            };
            match operator.as_str().unwrap_or("") {
                "not" => Ok(!evaluate_condition(operand)?),
                "and" => {
                    for item in operands()? {
                        if !evaluate_condition(item)? {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                }
                "or" => {
                    for item in operands()? {
                        if evaluate_condition(item)? {
                            return Ok(true);
                        }
                    }
                    Ok(false)
                }
                "equal" => {
                    let items = operands()?;
                    Ok(items.windows(2).all(|pair| pair[0] == pair[1]))
                }
                other => Err(format!(
                    "logic operator `{other}` is not simulated (keyless-runner knows and, or, not, equal)"
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_circleci() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("ten minutes"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("5x"), None);
    }

    #[test]
    fn conditions_follow_circleci_truthiness() {
        let condition = |text: &str| evaluate_condition(&serde_norway::from_str(text).unwrap());
        assert_eq!(condition("true"), Ok(true));
        assert_eq!(condition("\"\""), Ok(false));
        assert_eq!(condition("0"), Ok(false));
        assert_eq!(condition("~"), Ok(false));
        assert_eq!(condition("{or: [false, {equal: [a, a]}]}"), Ok(true));
        assert!(
            condition("{matches: {pattern: x, value: y}}")
                .unwrap_err()
                .contains("not simulated")
        );
    }
}
