//! Validation of a job start against the model: the project, user and contexts must exist and
//! belong to the runner token's org, and the VCS trigger must be one CircleCI could send.

use keyless_claims::{ProjectId, UserId};

use super::job_types::VcsRequest;
use crate::error::{PlatformError, PlatformResult};
use crate::model::{Org, Project, User, Vcs};
use crate::store::Tx;

/// The org's project named by id, slug or name.
pub fn resolve_project(tx: &Tx<'_>, org: &Org, reference: &str) -> PlatformResult<Project> {
    let found = match reference.parse::<ProjectId>() {
        Ok(id) => tx.project_by_id(&id)?,
        Err(_) => match tx.project_by_slug(reference)? {
            Some(project) => Some(project),
            None => tx.project_by_name(&org.id, reference)?,
        },
    };
    let project = found.ok_or_else(|| {
        PlatformError::not_found(
            "project_not_found",
            format!("No project {reference:?} in org {}.", org.name),
        )
    })?;
    if project.org_id != org.id {
        return Err(PlatformError::invalid(
            "project_of_another_org",
            format!(
                "Project {reference:?} belongs to another org than {}.",
                org.name
            ),
        ));
    }
    Ok(project)
}

/// The org member named by id or login, or the org's first member.
pub fn resolve_user(tx: &Tx<'_>, org: &Org, reference: Option<&str>) -> PlatformResult<User> {
    let members = tx.members(&org.id)?;
    let Some(reference) = reference else {
        return members.into_iter().next().ok_or_else(|| {
            PlatformError::invalid(
                "org_has_no_users",
                format!("Org {} has no users; name one or add one.", org.name),
            )
        });
    };
    let found = match reference.parse::<UserId>() {
        Ok(id) => tx.user_by_id(&id)?,
        Err(_) => tx.user_by_login(reference)?,
    };
    let user = found.ok_or_else(|| {
        PlatformError::not_found("user_not_found", format!("No user {reference:?}."))
    })?;
    if !members.contains(&user) {
        return Err(PlatformError::invalid(
            "user_not_in_org",
            format!("User {reference:?} is not a member of org {}.", org.name),
        ));
    }
    Ok(user)
}

/// The job's VCS trigger, with the origin defaulted to the project's and checked.
pub fn check_vcs(project: &Project, request: &VcsRequest, fork: bool) -> PlatformResult<Vcs> {
    let origin = match (&request.origin, &project.vcs_origin) {
        (Some(origin), _) => origin.clone(),
        (None, Some(origin)) => origin.clone(),
        (None, None) => {
            return Err(PlatformError::invalid(
                "vcs_origin_required",
                format!(
                    "Project {} has no VCS origin; give vcs.origin or vcs: null.",
                    project.slug
                ),
            ));
        }
    };
    super::admin::check_vcs_origin(&origin)?;
    if !fork
        && project
            .vcs_origin
            .as_ref()
            .is_some_and(|own| *own != origin)
    {
        return Err(PlatformError::invalid(
            "vcs_origin_mismatch",
            format!(
                "vcs.origin {origin:?} is not project {}'s repository; only fork builds come from another repository.",
                project.slug
            ),
        ));
    }
    let valid_ref = request.git_ref.starts_with("refs/")
        && request.git_ref.len() > "refs/".len()
        && request.git_ref.len() <= 255
        && !request
            .git_ref
            .chars()
            .any(|character| character.is_whitespace() || character.is_control());
    if !valid_ref {
        return Err(PlatformError::invalid(
            "invalid_vcs_ref",
            format!(
                "vcs.ref {:?} must be a Git ref like refs/heads/main.",
                request.git_ref
            ),
        ));
    }
    let is_sha = |sha: &str| {
        sha.len() == 40
            && sha
                .chars()
                .all(|character| matches!(character, '0'..='9' | 'a'..='f'))
    };
    if request.sha.as_deref().is_some_and(|sha| !is_sha(sha)) {
        return Err(PlatformError::invalid(
            "invalid_vcs_sha",
            "vcs.sha must be 40 lowercase hex digits.",
        ));
    }
    Ok(Vcs {
        origin,
        git_ref: request.git_ref.clone(),
        sha: request.sha.clone(),
    })
}
