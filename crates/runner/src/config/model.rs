//! What a job looks like once expanded: plain steps with their shell, environment and
//! conditions, ready to run; plus the pipeline values that `<< pipeline.* >>` reads.

use std::time::Duration;

use serde::Serialize;
use serde_norway::{Mapping, Value};

/// The executor a job declares. keyless-runner never starts it: steps run in the local shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// `docker:` (the first image is the primary container).
    Docker,
    /// `machine:`.
    Machine,
    /// `macos:`.
    Macos,
    /// No executor key at all (CircleCI would reject this; the steps still run locally).
    None,
}

/// The executor as declared, for the line that says it is not started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecutorSummary {
    /// Which kind of executor.
    pub kind: ExecutorKind,
    /// The image (docker, machine) or Xcode version (macos), when given.
    pub image: Option<String>,
    /// The `resource_class`, when given.
    pub resource_class: Option<String>,
}

impl ExecutorSummary {
    /// One sentence: what would have been started, and that it is not.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            ExecutorKind::Docker => "docker",
            ExecutorKind::Machine => "machine",
            ExecutorKind::Macos => "macos",
            ExecutorKind::None => {
                return "no executor declared: steps run in the local shell".to_string();
            }
        };
        let mut text = format!("executor {kind}");
        if let Some(image) = &self.image {
            text.push_str(&format!(" ({image})"));
        }
        if let Some(resource_class) = &self.resource_class {
            text.push_str(&format!(", resource_class {resource_class}"));
        }
        text.push_str(" not started: steps run in the local shell");
        text
    }
}

/// When a `run` step runs, relative to the steps before it (`when:` attribute of `run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunWhen {
    /// Only if every step so far succeeded (CircleCI's default).
    OnSuccess,
    /// Only if a step failed.
    OnFail,
    /// Whatever happened.
    Always,
}

/// A `run` step, fully interpolated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunStep {
    /// The step's name: `name`, or the command's first line.
    pub name: String,
    /// The shell script.
    pub command: String,
    /// Step-level `environment`, in file order.
    pub environment: Vec<(String, String)>,
    /// Step-level `working_directory` as written.
    pub working_directory: Option<String>,
    /// Step-level `shell` as written.
    pub shell: Option<String>,
    /// The `when` attribute.
    pub when: RunWhen,
    /// `background: true`.
    pub background: bool,
    /// `no_output_timeout` (ten minutes by default).
    pub no_output_timeout: Duration,
}

/// One step of an expanded job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    /// `checkout`: the local working tree stands in for the checkout.
    Checkout {
        /// `path:` when given.
        path: Option<String>,
    },
    /// A shell command.
    Run(RunStep),
    /// A step keyless-runner does not simulate (caches, workspaces, orb commands, …).
    NotSimulated {
        /// The step as named in the configuration.
        name: String,
        /// Why it does not run.
        reason: String,
    },
}

/// A job ready to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedJob {
    /// The job's name in the workflow (`name:` override) or in `jobs`.
    pub name: String,
    /// The job's key in `jobs`.
    pub definition: String,
    /// The executor that is not started.
    pub executor: ExecutorSummary,
    /// Executor and primary-container `environment`, then job `environment`, in file order.
    pub environment: Vec<(String, String)>,
    /// `working_directory` as written (CircleCI's default is `~/project`).
    pub working_directory: Option<String>,
    /// Job-level `shell`.
    pub shell: Option<String>,
    /// The steps, commands expanded.
    pub steps: Vec<Step>,
    /// Features of this job that are not simulated.
    pub notices: Vec<String>,
}

/// The values `<< pipeline.* >>` reads (CircleCI "Pipeline values" reference).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineValues {
    /// `pipeline.id`.
    pub id: String,
    /// `pipeline.number`.
    pub number: u64,
    /// `pipeline.project.git_url`, e.g. `https://github.com/acme/widgets`.
    pub project_git_url: String,
    /// `pipeline.project.type`, e.g. `github`.
    pub project_type: String,
    /// `pipeline.git.branch` (empty for tags).
    pub git_branch: String,
    /// `pipeline.git.tag` (empty for branches).
    pub git_tag: String,
    /// `pipeline.git.revision`.
    pub git_revision: String,
    /// `pipeline.trigger_source`.
    pub trigger_source: String,
    /// `pipeline.parameters.*`: declared pipeline parameters with their values.
    pub parameters: Mapping,
}

impl PipelineValues {
    /// The value of `pipeline.<path>`, or `None` when CircleCI defines no such value.
    pub fn lookup(&self, path: &str) -> Option<Value> {
        if let Some(name) = path.strip_prefix("parameters.") {
            return self.parameters.get(name).cloned();
        }
        let text = match path {
            "id" => self.id.clone(),
            "number" => return Some(Value::Number(self.number.into())),
            "project.git_url" => self.project_git_url.clone(),
            "project.type" => self.project_type.clone(),
            "git.branch" => self.git_branch.clone(),
            "git.tag" => self.git_tag.clone(),
            "git.revision" => self.git_revision.clone(),
            "git.base_revision" => String::new(),
            "trigger_source" => self.trigger_source.clone(),
            "in_setup" => return Some(Value::Bool(false)),
            _ => return None,
        };
        Some(Value::String(text))
    }
}
