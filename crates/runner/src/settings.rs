//! What a run knows before any job starts: the issuer, the project and ref, the flags shared
//! by every job, and the pipeline values (`<< pipeline.* >>`) they imply.

use std::path::PathBuf;

use crate::config::{GitRef, PipelineValues};

/// CircleCI's default `working_directory`.
pub const DEFAULT_WORKING_DIRECTORY: &str = "~/project";

/// Settings shared by every job of a run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The issuer's base URL.
    pub issuer_url: String,
    /// The runner token.
    pub runner_token: String,
    /// Project id or slug.
    pub project: String,
    /// User id or login.
    pub user: Option<String>,
    /// The pipeline's ref.
    pub git_ref: GitRef,
    /// Repository without scheme.
    pub origin: Option<String>,
    /// Commit SHA.
    pub sha: Option<String>,
    /// Fork build.
    pub fork: bool,
    /// SSH rerun.
    pub ssh_rerun: bool,
    /// Contexts added to every job.
    pub extra_contexts: Vec<String>,
    /// `--aws-role-arn`.
    pub aws_role_arn: Option<String>,
    /// The local working tree standing in for the checkout.
    pub working_tree: PathBuf,
    /// This executable, for the `circleci` wrapper.
    pub runner_executable: PathBuf,
    /// Pipeline parameters (`pipeline.parameters.*`).
    pub pipeline_parameters: serde_norway::Mapping,
}

/// Pipeline values before the issuer has assigned a pipeline (used to check a configuration
/// before anything starts).
pub fn provisional_pipeline(settings: &RunSettings) -> PipelineValues {
    pipeline_values(settings, "00000000-0000-0000-0000-000000000000", 0, None)
}

/// The pipeline values for a pipeline id and number; `project_origin` (the issuer's project
/// repository) stands in when `--origin` was not given.
pub(crate) fn pipeline_values(
    settings: &RunSettings,
    id: &str,
    number: u64,
    project_origin: Option<&str>,
) -> PipelineValues {
    let origin = match (&settings.origin, settings.git_ref == GitRef::None) {
        (_, true) => String::new(),
        (Some(origin), false) => origin.clone(),
        (None, false) => project_origin.unwrap_or_default().to_string(),
    };
    let project_type = match origin.split('/').next().unwrap_or("") {
        "github.com" => "github",
        "bitbucket.org" => "bitbucket",
        "gitlab.com" => "gitlab",
        _ => "",
    };
    let (branch, tag) = match &settings.git_ref {
        GitRef::Branch(branch) => (branch.clone(), String::new()),
        GitRef::Tag(tag) => (String::new(), tag.clone()),
        GitRef::None => (String::new(), String::new()),
    };
    PipelineValues {
        id: id.to_string(),
        number,
        project_git_url: if origin.is_empty() {
            String::new()
        } else {
            format!("https://{origin}")
        },
        project_type: project_type.to_string(),
        git_branch: branch,
        git_tag: tag,
        git_revision: settings.sha.clone().unwrap_or_default(),
        trigger_source: if settings.git_ref == GitRef::None {
            "api".into()
        } else {
            "webhook".into()
        },
        parameters: settings.pipeline_parameters.clone(),
    }
}
