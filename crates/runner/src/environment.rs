//! The environment a step sees: CircleCI's built-in variables, consistent with the claims of
//! the job's tokens (the issuer's job-start answer is the single source of both), the
//! contexts' variables, the tokens, and the executor, job and step `environment`, in
//! CircleCI's order of precedence (CircleCI docs, "Environment variable precedence").

use std::path::Path;

use crate::config::GitRef;
use crate::issuer::StartedJob;

/// Facts about a started job that the built-in variables are made from.
pub struct JobFacts<'a> {
    /// The issuer's answer to the job start.
    pub job: &'a StartedJob,
    /// The job's name (`CIRCLE_JOB`).
    pub job_name: &'a str,
    /// The pipeline's ref.
    pub git_ref: &'a GitRef,
    /// The commit (`CIRCLE_SHA1`), when known.
    pub sha: Option<&'a str>,
    /// The repository without scheme, when the pipeline has VCS.
    pub origin: Option<&'a str>,
    /// The local working tree standing in for the checkout.
    pub working_directory: &'a Path,
}

/// The repository's owner and name: from a `gh/owner/repo` style slug, else from the origin,
/// else the org and project names.
pub fn owner_and_repository(job: &StartedJob, origin: Option<&str>) -> (String, String) {
    let slug_parts: Vec<&str> = job.project.slug.split('/').collect();
    if let [_, owner, repository] = slug_parts.as_slice() {
        return ((*owner).to_string(), (*repository).to_string());
    }
    if let Some(origin) = origin {
        let parts: Vec<&str> = origin.split('/').collect();
        if let [_, owner, repository] = parts.as_slice() {
            return ((*owner).to_string(), (*repository).to_string());
        }
    }
    (job.org.name.clone(), job.project.name.clone())
}

/// `git@github.com:acme/widgets.git` for origin `github.com/acme/widgets` (the SSH form
/// CircleCI puts in `CIRCLE_REPOSITORY_URL`).
pub fn repository_url(origin: &str) -> String {
    match origin.split_once('/') {
        Some((host, path)) => format!("git@{host}:{path}.git"),
        None => origin.to_string(),
    }
}

/// CircleCI's built-in variables for this job (CircleCI docs, "Built-in environment
/// variables"; `spec/circleci-oidc.md` §1.8). The OIDC tokens are added separately, only when
/// granted.
pub fn builtin_variables(facts: &JobFacts<'_>) -> Vec<(String, String)> {
    let job = facts.job;
    let (owner, repository) = owner_and_repository(job, facts.origin);
    let mut variables = vec![
        ("CI".to_string(), "true".to_string()),
        ("CIRCLECI".to_string(), "true".to_string()),
        ("CIRCLE_JOB".to_string(), facts.job_name.to_string()),
        ("CIRCLE_BUILD_NUM".to_string(), job.build_num.to_string()),
        (
            "CIRCLE_BUILD_URL".to_string(),
            format!(
                "https://circleci.com/{}/{}",
                job.project.slug, job.build_num
            ),
        ),
        ("CIRCLE_NODE_INDEX".to_string(), "0".to_string()),
        ("CIRCLE_NODE_TOTAL".to_string(), "1".to_string()),
        ("CIRCLE_ORGANIZATION_ID".to_string(), job.org.id.clone()),
        ("CIRCLE_PROJECT_ID".to_string(), job.project.id.clone()),
        ("CIRCLE_PROJECT_USERNAME".to_string(), owner),
        ("CIRCLE_PROJECT_REPONAME".to_string(), repository),
        ("CIRCLE_USERNAME".to_string(), job.user.login.clone()),
        ("CIRCLE_PIPELINE_ID".to_string(), job.pipeline_id.clone()),
        ("CIRCLE_WORKFLOW_ID".to_string(), job.workflow_id.clone()),
        (
            "CIRCLE_WORKFLOW_WORKSPACE_ID".to_string(),
            job.workflow_id.clone(),
        ),
        ("CIRCLE_WORKFLOW_JOB_ID".to_string(), job.job_id.clone()),
        (
            "CIRCLE_WORKING_DIRECTORY".to_string(),
            facts.working_directory.display().to_string(),
        ),
    ];
    match facts.git_ref {
        GitRef::Branch(branch) => variables.push(("CIRCLE_BRANCH".to_string(), branch.clone())),
        GitRef::Tag(tag) => variables.push(("CIRCLE_TAG".to_string(), tag.clone())),
        GitRef::None => {}
    }
    if let Some(sha) = facts.sha {
        variables.push(("CIRCLE_SHA1".to_string(), sha.to_string()));
    }
    if let Some(origin) = facts.origin {
        variables.push(("CIRCLE_REPOSITORY_URL".to_string(), repository_url(origin)));
    }
    variables
}

/// Whether an inherited variable must not reach steps: the runner's own configuration (it
/// holds the runner token) and any CircleCI variable of an enclosing CI job.
pub fn is_withheld_from_steps(name: &str) -> bool {
    name.starts_with("KEYLESS_RUNNER_") || name.starts_with("CIRCLE_") || name == "CIRCLECI"
}

/// An ordered environment where later assignments override earlier ones.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    variables: Vec<(String, String)>,
}

impl Environment {
    /// Sets `name` (replacing an earlier value).
    pub fn set(&mut self, name: &str, value: &str) {
        self.variables.retain(|(existing, _)| existing != name);
        self.variables.push((name.to_string(), value.to_string()));
    }

    /// Sets every pair in order.
    pub fn extend<'a>(&mut self, pairs: impl IntoIterator<Item = &'a (String, String)>) {
        for (name, value) in pairs {
            self.set(name, value);
        }
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.variables
            .iter()
            .find(|(existing, _)| existing == name)
            .map(|(_, value)| value.as_str())
    }

    /// The pairs, in assignment order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.variables
    }
}
