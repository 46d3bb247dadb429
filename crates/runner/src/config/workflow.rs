//! Workflows: which jobs run for a branch or tag (`filters`), in `requires` order, with which
//! contexts and arguments.

use serde_norway::{Mapping, Value};

use super::evaluate_workflow_condition;
use super::expand::JobInvocation;
use super::interpolate::scalar_text;
use super::load::{Config, ConfigError};
use super::model::{PipelineValues, ResolvedJob};

/// Workflow-entry keys that are not job parameters.
const ENTRY_KEYS: [&str; 10] = [
    "requires",
    "context",
    "filters",
    "name",
    "type",
    "matrix",
    "pre-steps",
    "post-steps",
    "serial-group",
    "override-with",
];

/// The most job entries a workflow may list; ordering by `requires` is quadratic, and a real
/// workflow lists tens of jobs.
pub const MAX_WORKFLOW_JOBS: usize = 1_000;

/// The ref a pipeline was triggered for, as filters see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitRef {
    /// A branch push (`refs/heads/<name>`).
    Branch(String),
    /// A tag push (`refs/tags/<name>`).
    Tag(String),
    /// No VCS (a custom-webhook pipeline).
    None,
}

impl GitRef {
    /// Reads a full ref (`refs/heads/main`, `refs/tags/v1`) or a bare branch name.
    pub fn from_ref(reference: &str) -> Self {
        if let Some(tag) = reference.strip_prefix("refs/tags/") {
            Self::Tag(tag.to_string())
        } else if let Some(branch) = reference.strip_prefix("refs/heads/") {
            Self::Branch(branch.to_string())
        } else {
            Self::Branch(reference.to_string())
        }
    }

    /// The full ref (`refs/heads/…`, `refs/tags/…`), or `None` without VCS.
    pub fn full_ref(&self) -> Option<String> {
        match self {
            Self::Branch(branch) => Some(format!("refs/heads/{branch}")),
            Self::Tag(tag) => Some(format!("refs/tags/{tag}")),
            Self::None => None,
        }
    }
}

/// A workflow job that will run.
#[derive(Debug, Clone)]
pub struct WorkflowJob {
    /// The job's name in the workflow.
    pub name: String,
    /// The key in `jobs` (empty for approval jobs).
    pub definition: String,
    /// Names of the jobs it requires.
    pub requires: Vec<String>,
    /// Context names or ids.
    pub contexts: Vec<String>,
    /// `type: approval`: nothing runs; keyless-runner approves it.
    pub approval: bool,
    /// Entry features that are not simulated.
    pub notices: Vec<String>,
    pub(crate) invocation: JobInvocation,
}

/// A workflow job that will not run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredJob {
    /// The job's name in the workflow.
    pub name: String,
    /// Why it does not run.
    pub reason: String,
}

/// A workflow ready to run: jobs in an order that respects `requires`.
#[derive(Debug, Clone)]
pub struct WorkflowPlan {
    /// The workflow's name.
    pub name: String,
    /// Jobs to run, dependencies first (file order among independent jobs).
    pub jobs: Vec<WorkflowJob>,
    /// Jobs left out by filters, with the reason.
    pub filtered: Vec<FilteredJob>,
    /// Workflow features that are not simulated.
    pub notices: Vec<String>,
}

impl Config {
    /// Plans workflow `name` for `git_ref`.
    pub fn plan_workflow(
        &self,
        name: &str,
        git_ref: &GitRef,
        pipeline: &PipelineValues,
    ) -> Result<WorkflowPlan, ConfigError> {
        let at = format!("workflows.{name}");
        let workflow = self
            .section("workflows")
            .and_then(|workflows| workflows.get(name))
            .and_then(Value::as_mapping)
            .ok_or_else(|| {
                self.invalid(
                    "workflows",
                    format!(
                        "no workflow named `{name}` (workflows: {})",
                        self.workflow_names().join(", ")
                    ),
                )
            })?;
        let mut notices = Vec::new();
        for key in workflow.keys().filter_map(Value::as_str) {
            match key {
                "jobs" | "when" | "unless" => {}
                "triggers" => {
                    notices.push("workflow `triggers` (schedules) are not simulated".into())
                }
                other => notices.push(format!("workflow key `{other}` is not simulated")),
            }
        }
        for (key, runs_when) in [("when", true), ("unless", false)] {
            if let Some(condition) = workflow.get(key) {
                let truth =
                    evaluate_workflow_condition(self, condition, pipeline, &format!("{at}.{key}"))?;
                if truth != runs_when {
                    notices.push(format!(
                        "workflow `{key}` condition says this workflow does not run"
                    ));
                    return Ok(WorkflowPlan {
                        name: name.to_string(),
                        jobs: Vec::new(),
                        filtered: Vec::new(),
                        notices,
                    });
                }
            }
        }
        let entries = workflow
            .get("jobs")
            .and_then(Value::as_sequence)
            .ok_or_else(|| self.invalid(&at, "a workflow needs a `jobs` list"))?;
        if entries.len() > MAX_WORKFLOW_JOBS {
            return Err(self.invalid(
                &format!("{at}.jobs"),
                format!(
                    "a workflow may list at most {MAX_WORKFLOW_JOBS} jobs, not {}",
                    entries.len()
                ),
            ));
        }
        let mut candidates = Vec::new();
        let mut filtered = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let entry_at = format!("{at}.jobs[{index}]");
            let (key, fields) = match entry {
                Value::String(key) => (key.clone(), Mapping::new()),
                Value::Mapping(mapping) if mapping.len() == 1 => {
                    let (key, fields) = mapping
                        .iter()
                        .next()
                        .ok_or_else(|| self.invalid(&entry_at, "empty job entry"))?;
                    let key = key
                        .as_str()
                        .ok_or_else(|| self.invalid(&entry_at, "a job name must be a string"))?;
                    (
                        key.to_string(),
                        fields.as_mapping().cloned().unwrap_or_default(),
                    )
                }
                _ => return Err(self.invalid(&entry_at, "a workflow job is a name or `name: {…}`")),
            };
            let job_name = fields
                .get("name")
                .and_then(scalar_text)
                .unwrap_or_else(|| key.clone());
            let requires = requirements(&fields, &mut notices, &job_name)
                .map_err(|message| self.invalid(&format!("{entry_at}.requires"), message))?;
            let contexts = match fields.get("context") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Sequence(items)) => items.iter().filter_map(scalar_text).collect(),
                Some(other) => scalar_text(other).into_iter().collect(),
            };
            let approval = fields.get("type").and_then(Value::as_str) == Some("approval");
            let mut entry_notices = Vec::new();
            for entry_key in ["serial-group", "override-with"] {
                if fields.contains_key(entry_key) {
                    entry_notices.push(format!("`{entry_key}` is not simulated"));
                }
            }
            let skip_reason = if fields.contains_key("matrix") {
                Some("matrix jobs are not simulated".to_string())
            } else if key.contains('/') && !approval {
                Some(format!("`{key}` is an orb job: orbs are not simulated"))
            } else {
                filter_rejection(fields.get("filters"), git_ref)
                    .map_err(|message| self.invalid(&format!("{entry_at}.filters"), message))?
            };
            let arguments: Mapping = fields
                .iter()
                .filter(|(name, _)| !name.as_str().is_some_and(|name| ENTRY_KEYS.contains(&name)))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            let invocation = JobInvocation {
                name: job_name.clone(),
                arguments,
                pre_steps: fields.get("pre-steps").cloned(),
                post_steps: fields.get("post-steps").cloned(),
            };
            let job = WorkflowJob {
                name: job_name,
                definition: if approval { String::new() } else { key },
                requires,
                contexts,
                approval,
                notices: entry_notices,
                invocation,
            };
            match skip_reason {
                Some(reason) => filtered.push(FilteredJob {
                    name: job.name,
                    reason,
                }),
                None => candidates.push(job),
            }
        }
        let jobs = self.order_jobs(candidates, &mut filtered, &at)?;
        Ok(WorkflowPlan {
            name: name.to_string(),
            jobs,
            filtered,
            notices,
        })
    }

    /// Orders jobs so each comes after what it requires; jobs requiring a filtered job are
    /// filtered too.
    fn order_jobs(
        &self,
        mut pending: Vec<WorkflowJob>,
        filtered: &mut Vec<FilteredJob>,
        at: &str,
    ) -> Result<Vec<WorkflowJob>, ConfigError> {
        let known: Vec<String> = pending
            .iter()
            .map(|job| job.name.clone())
            .chain(filtered.iter().map(|job| job.name.clone()))
            .collect();
        for job in &pending {
            if let Some(unknown) = job.requires.iter().find(|name| !known.contains(name)) {
                return Err(self.invalid(
                    at,
                    format!(
                        "job `{}` requires `{unknown}`, which is not in this workflow",
                        job.name
                    ),
                ));
            }
        }
        let mut ordered: Vec<WorkflowJob> = Vec::new();
        while !pending.is_empty() {
            let blocked_by_filter = pending.iter().position(|job| {
                job.requires
                    .iter()
                    .any(|name| filtered.iter().any(|skipped| &skipped.name == name))
            });
            if let Some(index) = blocked_by_filter {
                let job = pending.remove(index);
                let requirement = job
                    .requires
                    .iter()
                    .find(|name| filtered.iter().any(|skipped| &skipped.name == *name))
                    .cloned()
                    .unwrap_or_default();
                filtered.push(FilteredJob {
                    name: job.name,
                    reason: format!("requires `{requirement}`, which does not run"),
                });
                continue;
            }
            let ready = pending.iter().position(|job| {
                job.requires
                    .iter()
                    .all(|name| ordered.iter().any(|done| &done.name == name))
            });
            let Some(index) = ready else {
                let names: Vec<&str> = pending.iter().map(|job| job.name.as_str()).collect();
                return Err(self.invalid(
                    at,
                    format!("`requires` forms a cycle among: {}", names.join(", ")),
                ));
            };
            ordered.push(pending.remove(index));
        }
        Ok(ordered)
    }

    /// The contexts each workflow gives the job defined as `definition` (for a note when
    /// `--job` runs it without them).
    pub fn workflow_contexts_of(&self, definition: &str) -> Vec<(String, Vec<String>)> {
        let mut found = Vec::new();
        for workflow in self.workflow_names() {
            let entries = self
                .section("workflows")
                .and_then(|workflows| workflows.get(workflow.as_str()))
                .and_then(|body| body.get("jobs"))
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default();
            for entry in entries {
                let Some((key, fields)) =
                    entry.as_mapping().and_then(|mapping| mapping.iter().next())
                else {
                    continue;
                };
                if key.as_str() != Some(definition) {
                    continue;
                }
                let contexts: Vec<String> = match fields.get("context") {
                    Some(Value::Sequence(items)) => items.iter().filter_map(scalar_text).collect(),
                    Some(other) => scalar_text(other).into_iter().collect(),
                    None => Vec::new(),
                };
                if !contexts.is_empty() {
                    found.push((workflow.clone(), contexts));
                }
            }
        }
        found
    }

    /// Expands a planned workflow job.
    pub fn resolve_workflow_job(
        &self,
        job: &WorkflowJob,
        pipeline: &PipelineValues,
    ) -> Result<ResolvedJob, ConfigError> {
        let mut resolved =
            self.resolve_job_invocation(&job.definition, &job.invocation, pipeline)?;
        resolved.notices.extend(job.notices.iter().cloned());
        Ok(resolved)
    }
}

/// The `requires` names of a workflow entry (a `name: [statuses]` entry keeps its name); a
/// `requires` that is not a list of names is an error, not "no requirements".
fn requirements(
    fields: &Mapping,
    notices: &mut Vec<String>,
    job_name: &str,
) -> Result<Vec<String>, String> {
    let items = match fields.get("requires") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Sequence(items)) => items,
        Some(_) => {
            return Err(format!(
                "`requires` of job `{job_name}` must be a list of job names"
            ));
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::Mapping(mapping) => {
                notices.push(format!(
                    "job `{job_name}`: `requires` with job statuses is not simulated; success is required"
                ));
                mapping
                    .keys()
                    .next()
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| format!("`requires` of job `{job_name}` has an empty entry"))
            }
            other => scalar_text(other)
                .ok_or_else(|| format!("`requires` of job `{job_name}` must list job names")),
        })
        .collect()
}

/// Why `filters` keep a job from running for `git_ref`, or `None` when it runs. On CircleCI a
/// job runs for every branch unless `branches` says otherwise, and for a tag only when
/// `tags` allows it.
fn filter_rejection(filters: Option<&Value>, git_ref: &GitRef) -> Result<Option<String>, String> {
    let filters = filters.and_then(Value::as_mapping);
    let (section, name, kind) = match git_ref {
        GitRef::Branch(branch) => ("branches", branch.as_str(), "branch"),
        GitRef::Tag(tag) => ("tags", tag.as_str(), "tag"),
        GitRef::None => ("branches", "", "branch"),
    };
    let Some(rules) = filters
        .and_then(|filters| filters.get(section))
        .and_then(Value::as_mapping)
    else {
        return Ok(match git_ref {
            GitRef::Tag(tag) => Some(format!("runs for tag `{tag}` only with a `tags` filter")),
            _ => None,
        });
    };
    if let Some(only) = rules.get("only")
        && !patterns_match(only, name)?
    {
        return Ok(Some(format!(
            "{kind} `{name}` is not in `filters.{section}.only`"
        )));
    }
    if let Some(ignore) = rules.get("ignore")
        && patterns_match(ignore, name)?
    {
        return Ok(Some(format!(
            "{kind} `{name}` matches `filters.{section}.ignore`"
        )));
    }
    Ok(None)
}

/// Whether `name` matches a filter value: a string or list of strings, each an exact name or
/// a `/regex/` that must match the whole name.
fn patterns_match(patterns: &Value, name: &str) -> Result<bool, String> {
    let patterns: Vec<String> = match patterns {
        Value::Sequence(items) => items.iter().filter_map(scalar_text).collect(),
        other => scalar_text(other).into_iter().collect(),
    };
    for pattern in patterns {
        let matched = if pattern.len() >= 2 && pattern.starts_with('/') && pattern.ends_with('/') {
            let body = &pattern[1..pattern.len() - 1];
            let regex = regex::Regex::new(&format!("^(?:{body})$"))
                .map_err(|error| format!("invalid filter regex {pattern}: {error}"))?;
            regex.is_match(name)
        } else {
            pattern == name
        };
        if matched {
            return Ok(true);
        }
    }
    Ok(false)
}
