//! Expanding one job of the configuration into a [`ResolvedJob`]: job parameters, the
//! executor (inline or from `executors`, with its parameters), environment, shell, working
//! directory and steps.

use serde_norway::{Mapping, Value};

use super::interpolate::{InterpolationBudget, Scope, interpolate, scalar_text};
use super::load::{Config, ConfigError};
use super::model::{ExecutorKind, ExecutorSummary, PipelineValues, ResolvedJob, Step};
use super::parameters::resolve_parameters;
use super::steps::{StepExpander, environment_list};

/// Job keys keyless-runner honours or reports through the executor line.
const JOB_KEYS: [&str; 11] = [
    "docker",
    "machine",
    "macos",
    "executor",
    "resource_class",
    "environment",
    "working_directory",
    "shell",
    "parameters",
    "steps",
    "description",
];

/// Executor keys keyless-runner honours or reports through the executor line.
const EXECUTOR_KEYS: [&str; 8] = [
    "docker",
    "machine",
    "macos",
    "resource_class",
    "environment",
    "working_directory",
    "shell",
    "parameters",
];

/// The parts of a job a workflow entry can add: its display name, arguments and extra steps.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobInvocation {
    /// `name:` in the workflow, or the job's key.
    pub name: String,
    /// Parameter arguments.
    pub arguments: Mapping,
    /// `pre-steps`.
    pub pre_steps: Option<Value>,
    /// `post-steps`.
    pub post_steps: Option<Value>,
}

impl Config {
    /// Expands the job defined as `definition` for `invocation`, with `pipeline` values.
    pub(crate) fn resolve_job_invocation(
        &self,
        definition: &str,
        invocation: &JobInvocation,
        pipeline: &PipelineValues,
    ) -> Result<ResolvedJob, ConfigError> {
        let at = format!("jobs.{definition}");
        let job = self
            .section("jobs")
            .and_then(|jobs| jobs.get(definition))
            .ok_or_else(|| {
                self.invalid(
                    "jobs",
                    format!(
                        "no job named `{definition}` (jobs: {})",
                        self.job_names().join(", ")
                    ),
                )
            })?;
        let job = job
            .as_mapping()
            .ok_or_else(|| self.invalid(&at, "a job must be a mapping"))?;
        let budget = InterpolationBudget::default();
        let workflow_scope = Scope {
            parameters: None,
            pipeline,
            budget: &budget,
        };
        let arguments = interpolate(
            &Value::Mapping(invocation.arguments.clone()),
            &workflow_scope,
        )
        .map_err(|error| self.invalid(&at, error.0))?;
        let arguments = arguments.as_mapping().cloned().unwrap_or_default();
        let parameters = resolve_parameters(job.get("parameters"), &arguments)
            .map_err(|message| self.invalid(&at, message))?;
        let scope = Scope {
            parameters: Some(&parameters),
            pipeline,
            budget: &budget,
        };
        let job = interpolate(&Value::Mapping(job.clone()), &scope)
            .map_err(|error| self.invalid(&at, error.0))?;
        let job = job.as_mapping().cloned().unwrap_or_default();

        let mut notices = Vec::new();
        for key in job.keys().filter_map(Value::as_str) {
            if key == "parallelism" {
                notices.push(format!(
                    "`parallelism: {}` is not simulated: the job runs once (CIRCLE_NODE_TOTAL=1)",
                    job.get(key).and_then(scalar_text).unwrap_or_default()
                ));
            } else if !JOB_KEYS.contains(&key) {
                notices.push(format!("job key `{key}` is not simulated"));
            }
        }

        let mut executor_environment = Vec::new();
        let mut working_directory = None;
        let mut shell = None;
        let executor = if let Some(reference) = job.get("executor") {
            let executor =
                self.resolve_executor(reference, &workflow_scope, &format!("{at}.executor"))?;
            for key in executor.keys().filter_map(Value::as_str) {
                if !EXECUTOR_KEYS.contains(&key) {
                    notices.push(format!("executor key `{key}` is not simulated"));
                }
            }
            executor_environment = environment_list(executor.get("environment"))
                .map_err(|message| self.invalid(&format!("{at}.executor.environment"), message))?;
            working_directory = executor.get("working_directory").and_then(scalar_text);
            shell = executor.get("shell").and_then(scalar_text);
            self.executor_summary(&executor, &mut executor_environment, &at)?
        } else {
            self.executor_summary(&job, &mut executor_environment, &at)?
        };
        let mut environment = executor_environment;
        environment.extend(
            environment_list(job.get("environment"))
                .map_err(|message| self.invalid(&format!("{at}.environment"), message))?,
        );
        if let Some(job_directory) = job.get("working_directory").and_then(scalar_text) {
            working_directory = Some(job_directory);
        }
        if let Some(job_shell) = job.get("shell").and_then(scalar_text) {
            shell = Some(job_shell);
        }

        let mut steps: Vec<Step> = Vec::new();
        let mut expander = StepExpander {
            config: self,
            pipeline,
            budget: &budget,
            notices: &mut notices,
            expanded_steps: 0,
        };
        if let Some(pre_steps) = &invocation.pre_steps {
            let pre_steps = interpolate(pre_steps, &workflow_scope)
                .map_err(|error| self.invalid(&format!("{at} pre-steps"), error.0))?;
            expander.expand(&pre_steps, &format!("{at} pre-steps"), 0, &mut steps)?;
        }
        let job_steps = job
            .get("steps")
            .ok_or_else(|| self.invalid(&at, "a job needs `steps`"))?;
        expander.expand(job_steps, &format!("{at}.steps"), 0, &mut steps)?;
        if let Some(post_steps) = &invocation.post_steps {
            let post_steps = interpolate(post_steps, &workflow_scope)
                .map_err(|error| self.invalid(&format!("{at} post-steps"), error.0))?;
            expander.expand(&post_steps, &format!("{at} post-steps"), 0, &mut steps)?;
        }
        Ok(ResolvedJob {
            name: invocation.name.clone(),
            definition: definition.to_string(),
            executor,
            environment,
            working_directory,
            shell,
            steps,
            notices,
        })
    }

    /// Expands a job for `keyless-runner run --job NAME` (no workflow arguments).
    pub fn resolve_job(
        &self,
        definition: &str,
        pipeline: &PipelineValues,
    ) -> Result<ResolvedJob, ConfigError> {
        let invocation = JobInvocation {
            name: definition.to_string(),
            ..JobInvocation::default()
        };
        self.resolve_job_invocation(definition, &invocation, pipeline)
    }

    /// Looks up and interpolates an executor reference (`name` or `{name, …arguments}`);
    /// `outer` gives the pipeline values and the job's interpolation budget.
    fn resolve_executor(
        &self,
        reference: &Value,
        outer: &Scope<'_>,
        at: &str,
    ) -> Result<Mapping, ConfigError> {
        let (name, mut arguments) = match reference {
            Value::String(name) => (name.clone(), Mapping::new()),
            Value::Mapping(fields) => {
                let name = fields
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| self.invalid(at, "an executor invocation needs `name`"))?
                    .to_string();
                (name, fields.clone())
            }
            _ => return Err(self.invalid(at, "`executor` must be a name or a mapping")),
        };
        arguments.remove("name");
        if name.contains('/') {
            let mut orb_executor = Mapping::new();
            orb_executor.insert(Value::from("orb_executor"), Value::from(name));
            return Ok(orb_executor);
        }
        let executor = self
            .section("executors")
            .and_then(|executors| executors.get(name.as_str()))
            .and_then(Value::as_mapping)
            .ok_or_else(|| {
                self.invalid(at, format!("no executor named `{name}` in `executors`"))
            })?;
        let parameters = resolve_parameters(executor.get("parameters"), &arguments)
            .map_err(|message| self.invalid(at, message))?;
        let scope = Scope {
            parameters: Some(&parameters),
            pipeline: outer.pipeline,
            budget: outer.budget,
        };
        let executor = interpolate(&Value::Mapping(executor.clone()), &scope)
            .map_err(|error| self.invalid(&format!("executors.{name}"), error.0))?;
        Ok(executor.as_mapping().cloned().unwrap_or_default())
    }

    /// Summarises the executor keys of a job or executor body; the primary Docker container's
    /// `environment` is added to `environment` (CircleCI applies it to every step).
    fn executor_summary(
        &self,
        body: &Mapping,
        environment: &mut Vec<(String, String)>,
        at: &str,
    ) -> Result<ExecutorSummary, ConfigError> {
        let resource_class = body.get("resource_class").and_then(scalar_text);
        if let Some(orb_executor) = body.get("orb_executor").and_then(Value::as_str) {
            return Ok(ExecutorSummary {
                kind: ExecutorKind::None,
                image: Some(format!("orb executor {orb_executor}, not simulated")),
                resource_class,
            });
        }
        if let Some(docker) = body.get("docker") {
            let primary = docker
                .as_sequence()
                .and_then(|images| images.first())
                .and_then(Value::as_mapping)
                .ok_or_else(|| {
                    self.invalid(&format!("{at}.docker"), "`docker` must be a list of images")
                })?;
            environment.extend(environment_list(primary.get("environment")).map_err(
                |message| self.invalid(&format!("{at}.docker[0].environment"), message),
            )?);
            return Ok(ExecutorSummary {
                kind: ExecutorKind::Docker,
                image: primary.get("image").and_then(scalar_text),
                resource_class,
            });
        }
        if let Some(machine) = body.get("machine") {
            return Ok(ExecutorSummary {
                kind: ExecutorKind::Machine,
                image: machine.get("image").and_then(scalar_text),
                resource_class,
            });
        }
        if let Some(macos) = body.get("macos") {
            return Ok(ExecutorSummary {
                kind: ExecutorKind::Macos,
                image: macos
                    .get("xcode")
                    .and_then(scalar_text)
                    .map(|xcode| format!("xcode {xcode}")),
                resource_class,
            });
        }
        Ok(ExecutorSummary {
            kind: ExecutorKind::None,
            image: None,
            resource_class,
        })
    }

    /// Resolves the pipeline parameters (top-level `parameters`) with their defaults and the
    /// given overrides.
    pub fn pipeline_parameters(&self, overrides: &Mapping) -> Result<Mapping, ConfigError> {
        resolve_parameters(self.root.get("parameters"), overrides)
            .map_err(|message| self.invalid("parameters", message))
    }
}
