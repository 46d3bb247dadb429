//! IAM role actions (spec §5.2): CreateRole, GetRole, ListRoles, UpdateRole,
//! UpdateAssumeRolePolicy, DeleteRole. Trust policies are checked by
//! [`super::check_trust_policy`]; documents are returned URL-encoded.

use crate::error::AwsError;
use crate::identifiers::{new_role_id, role_arn};
use crate::query::{ParamReader, QueryParams};
use crate::server::AppState;
use crate::store::{Insertion, Role};
use crate::xml::{XmlWriter, timestamp};

use super::validation::{
    check_description, check_path, check_policy_text, check_role_name, check_trust_policy,
    encode_policy_document, read_tags, warn_about_lint_findings,
};

/// `MaxSessionDuration` default and bounds in seconds (spec §5.2).
pub const DEFAULT_MAX_SESSION_DURATION: i64 = 3600;
/// Lower bound of `MaxSessionDuration`.
pub const MIN_MAX_SESSION_DURATION: i64 = 3600;
/// Upper bound of `MaxSessionDuration`.
pub const MAX_MAX_SESSION_DURATION: i64 = 43_200;
/// `ListRoles` page size default and bounds.
pub const DEFAULT_LIST_MAX_ITEMS: i64 = 100;

/// `NoSuchEntity` for a role, with AWS's message (spec §5.2).
pub fn no_such_role(name: &str) -> AwsError {
    AwsError::no_such_entity(format!("The role with name {name} cannot be found."))
}

/// Which optional `Role` members a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoleView {
    /// CreateRole: tags, no `RoleLastUsed`.
    Created,
    /// GetRole: tags and an empty `RoleLastUsed`.
    Full,
    /// ListRoles: neither.
    Listed,
}

fn write_role(
    writer: &mut XmlWriter,
    element: &str,
    state: &AppState,
    role: &Role,
    view: RoleView,
) {
    writer
        .open(element)
        .leaf("Path", &role.path)
        .leaf("RoleName", &role.name)
        .leaf("RoleId", &role.role_id)
        .leaf(
            "Arn",
            &role_arn(&state.config.account_id, &role.path, &role.name),
        )
        .leaf("CreateDate", &timestamp(role.created_at))
        .leaf(
            "AssumeRolePolicyDocument",
            &encode_policy_document(&role.trust_policy),
        )
        .optional_leaf("Description", role.description.as_deref())
        .leaf("MaxSessionDuration", &role.max_session_duration.to_string());
    if view != RoleView::Listed && !role.tags.is_empty() {
        writer.open("Tags");
        for tag in &role.tags {
            writer
                .open("member")
                .leaf("Key", &tag.key)
                .leaf("Value", &tag.value)
                .close("member");
        }
        writer.close("Tags");
    }
    if view == RoleView::Full {
        writer.empty("RoleLastUsed");
    }
    writer.close(element);
}

/// Reads and checks `RoleName`.
fn read_role_name<'a>(reader: &mut ParamReader<'a>) -> Option<&'a str> {
    let name = reader.required("RoleName", "roleName")?;
    check_role_name(reader, name);
    Some(name)
}

/// `CreateRole`.
pub async fn create(state: &AppState, params: &QueryParams) -> Result<String, AwsError> {
    let mut reader = ParamReader::new(params);
    let name = read_role_name(&mut reader);
    let trust_policy = reader.required("AssumeRolePolicyDocument", "assumeRolePolicyDocument");
    if let Some(text) = trust_policy {
        check_policy_text(&mut reader, text, "assumeRolePolicyDocument");
    }
    let path = reader.optional("Path").unwrap_or("/");
    check_path(&mut reader, path);
    let description = reader.optional("Description");
    if let Some(description) = description {
        check_description(&mut reader, description);
    }
    let max_session_duration = reader
        .optional_integer(
            "MaxSessionDuration",
            "maxSessionDuration",
            MIN_MAX_SESSION_DURATION,
            MAX_MAX_SESSION_DURATION,
        )
        .unwrap_or(DEFAULT_MAX_SESSION_DURATION);
    let tags = read_tags(&mut reader, params);
    reader.finish()?;
    let (name, trust_policy) = (name.unwrap_or_default(), trust_policy.unwrap_or_default());
    check_trust_policy(&state.store, &state.config.account_id, trust_policy).await?;
    if params.get("PermissionsBoundary").is_some() {
        tracing::warn!(
            role_name = name,
            "PermissionsBoundary is accepted but not modelled"
        );
    }
    warn_about_lint_findings(name, trust_policy);
    let role = Role {
        name: name.to_owned(),
        path: path.to_owned(),
        role_id: new_role_id(),
        trust_policy: trust_policy.to_owned(),
        description: description.map(str::to_owned),
        max_session_duration,
        tags,
        created_at: state.config.clock.now(),
    };
    if state.store.insert_role(role.clone()).await? == Insertion::AlreadyExists {
        return Err(AwsError::entity_already_exists(format!(
            "Role with name {name} already exists."
        )));
    }
    tracing::info!(role_name = name, role_id = %role.role_id, "created role");
    let mut writer = XmlWriter::at_depth(2);
    write_role(&mut writer, "Role", state, &role, RoleView::Created);
    Ok(writer.finish())
}

/// `GetRole`.
pub async fn get(state: &AppState, params: &QueryParams) -> Result<String, AwsError> {
    let mut reader = ParamReader::new(params);
    let name = read_role_name(&mut reader);
    reader.finish()?;
    let name = name.unwrap_or_default();
    let role = state
        .store
        .role(name)
        .await?
        .ok_or_else(|| no_such_role(name))?;
    let mut writer = XmlWriter::at_depth(2);
    write_role(&mut writer, "Role", state, &role, RoleView::Full);
    Ok(writer.finish())
}

/// `ListRoles` with `PathPrefix`, `Marker` and `MaxItems`.
pub async fn list(state: &AppState, params: &QueryParams) -> Result<String, AwsError> {
    let mut reader = ParamReader::new(params);
    let path_prefix = reader.optional("PathPrefix").unwrap_or("/");
    reader.check_length(path_prefix, "pathPrefix", 1, 512);
    let marker = reader.optional("Marker");
    if let Some(marker) = marker {
        reader.check_length(marker, "marker", 1, 320);
    }
    let max_items = reader
        .optional_integer("MaxItems", "maxItems", 1, 1000)
        .unwrap_or(DEFAULT_LIST_MAX_ITEMS);
    reader.finish()?;
    let matching: Vec<Role> = state
        .store
        .roles()
        .await?
        .into_iter()
        .filter(|role| role.path.starts_with(path_prefix))
        .filter(|role| {
            marker.is_none_or(|marker| role.name.to_ascii_lowercase().as_str() >= marker)
        })
        .collect();
    // `max_items` was checked to be within 1..=1000 above.
    let page_size = usize::try_from(max_items).unwrap_or(100);
    let mut writer = XmlWriter::at_depth(2);
    writer.open("Roles");
    for role in matching.iter().take(page_size) {
        write_role(&mut writer, "member", state, role, RoleView::Listed);
    }
    writer.close("Roles");
    match matching.get(page_size) {
        Some(next) => {
            writer
                .leaf("IsTruncated", "true")
                .leaf("Marker", &next.name.to_ascii_lowercase());
        }
        None => {
            writer.leaf("IsTruncated", "false");
        }
    }
    Ok(writer.finish())
}

/// `UpdateRole`: `Description` and/or `MaxSessionDuration`.
pub async fn update(state: &AppState, params: &QueryParams) -> Result<(), AwsError> {
    let mut reader = ParamReader::new(params);
    let name = read_role_name(&mut reader);
    let description = reader.optional("Description");
    if let Some(description) = description {
        check_description(&mut reader, description);
    }
    let max_session_duration = reader.optional_integer(
        "MaxSessionDuration",
        "maxSessionDuration",
        MIN_MAX_SESSION_DURATION,
        MAX_MAX_SESSION_DURATION,
    );
    reader.finish()?;
    let name = name.unwrap_or_default();
    if state
        .store
        .update_role(name, description.map(str::to_owned), max_session_duration)
        .await?
    {
        Ok(())
    } else {
        Err(no_such_role(name))
    }
}

/// `UpdateAssumeRolePolicy`.
pub async fn update_trust_policy(state: &AppState, params: &QueryParams) -> Result<(), AwsError> {
    let mut reader = ParamReader::new(params);
    let name = read_role_name(&mut reader);
    let document = reader.required("PolicyDocument", "policyDocument");
    if let Some(document) = document {
        check_policy_text(&mut reader, document, "policyDocument");
    }
    reader.finish()?;
    let (name, document) = (name.unwrap_or_default(), document.unwrap_or_default());
    if state.store.role(name).await?.is_none() {
        return Err(no_such_role(name));
    }
    check_trust_policy(&state.store, &state.config.account_id, document).await?;
    warn_about_lint_findings(name, document);
    if state
        .store
        .set_trust_policy(name, document.to_owned())
        .await?
    {
        Ok(())
    } else {
        Err(no_such_role(name))
    }
}

/// `DeleteRole`.
pub async fn delete(state: &AppState, params: &QueryParams) -> Result<(), AwsError> {
    let mut reader = ParamReader::new(params);
    let name = read_role_name(&mut reader);
    reader.finish()?;
    let name = name.unwrap_or_default();
    if state.store.delete_role(name).await? {
        tracing::info!(role_name = name, "deleted role");
        Ok(())
    } else {
        Err(no_such_role(name))
    }
}
