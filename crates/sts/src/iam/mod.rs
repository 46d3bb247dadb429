//! The IAM subset keyless-sts serves (spec `aws-sts-iam.md` §5): OpenID Connect providers and
//! roles with their trust policies. Each action reads its Query parameters, enforces the model's
//! constraints and AWS's rules, talks to the [`crate::store`], and returns the inner XML of its
//! `…Result` element (or `None` for actions without output).

mod providers;
mod roles;
mod validation;

pub use validation::{
    check_path as check_path_for_bootstrap, check_trust_policy, encode_policy_document,
    warn_about_lint_findings,
};

use crate::error::AwsError;
use crate::query::QueryParams;
use crate::server::AppState;

/// Every IAM action keyless-sts implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamAction {
    /// `CreateOpenIDConnectProvider`.
    CreateOpenIdConnectProvider,
    /// `GetOpenIDConnectProvider`.
    GetOpenIdConnectProvider,
    /// `ListOpenIDConnectProviders`.
    ListOpenIdConnectProviders,
    /// `DeleteOpenIDConnectProvider`.
    DeleteOpenIdConnectProvider,
    /// `AddClientIDToOpenIDConnectProvider`.
    AddClientIdToOpenIdConnectProvider,
    /// `RemoveClientIDFromOpenIDConnectProvider`.
    RemoveClientIdFromOpenIdConnectProvider,
    /// `UpdateOpenIDConnectProviderThumbprint`.
    UpdateOpenIdConnectProviderThumbprint,
    /// `CreateRole`.
    CreateRole,
    /// `GetRole`.
    GetRole,
    /// `ListRoles`.
    ListRoles,
    /// `UpdateRole`.
    UpdateRole,
    /// `UpdateAssumeRolePolicy`.
    UpdateAssumeRolePolicy,
    /// `DeleteRole`.
    DeleteRole,
}

impl IamAction {
    /// All actions, for lookup by name.
    pub const ALL: [IamAction; 13] = [
        IamAction::CreateOpenIdConnectProvider,
        IamAction::GetOpenIdConnectProvider,
        IamAction::ListOpenIdConnectProviders,
        IamAction::DeleteOpenIdConnectProvider,
        IamAction::AddClientIdToOpenIdConnectProvider,
        IamAction::RemoveClientIdFromOpenIdConnectProvider,
        IamAction::UpdateOpenIdConnectProviderThumbprint,
        IamAction::CreateRole,
        IamAction::GetRole,
        IamAction::ListRoles,
        IamAction::UpdateRole,
        IamAction::UpdateAssumeRolePolicy,
        IamAction::DeleteRole,
    ];

    /// The wire name (`Action=` value), case-sensitive as AWS's.
    pub fn name(self) -> &'static str {
        match self {
            IamAction::CreateOpenIdConnectProvider => "CreateOpenIDConnectProvider",
            IamAction::GetOpenIdConnectProvider => "GetOpenIDConnectProvider",
            IamAction::ListOpenIdConnectProviders => "ListOpenIDConnectProviders",
            IamAction::DeleteOpenIdConnectProvider => "DeleteOpenIDConnectProvider",
            IamAction::AddClientIdToOpenIdConnectProvider => "AddClientIDToOpenIDConnectProvider",
            IamAction::RemoveClientIdFromOpenIdConnectProvider => {
                "RemoveClientIDFromOpenIDConnectProvider"
            }
            IamAction::UpdateOpenIdConnectProviderThumbprint => {
                "UpdateOpenIDConnectProviderThumbprint"
            }
            IamAction::CreateRole => "CreateRole",
            IamAction::GetRole => "GetRole",
            IamAction::ListRoles => "ListRoles",
            IamAction::UpdateRole => "UpdateRole",
            IamAction::UpdateAssumeRolePolicy => "UpdateAssumeRolePolicy",
            IamAction::DeleteRole => "DeleteRole",
        }
    }

    /// The action with this wire name.
    pub fn from_name(name: &str) -> Option<IamAction> {
        IamAction::ALL
            .into_iter()
            .find(|action| action.name() == name)
    }
}

/// Runs one IAM action; `Ok(None)` for actions whose response has no `…Result` element.
pub async fn dispatch(
    state: &AppState,
    action: IamAction,
    params: &QueryParams,
) -> Result<Option<String>, AwsError> {
    match action {
        IamAction::CreateOpenIdConnectProvider => providers::create(state, params).await.map(Some),
        IamAction::GetOpenIdConnectProvider => providers::get(state, params).await.map(Some),
        IamAction::ListOpenIdConnectProviders => providers::list(state).await.map(Some),
        IamAction::DeleteOpenIdConnectProvider => {
            providers::delete(state, params).await.map(|()| None)
        }
        IamAction::AddClientIdToOpenIdConnectProvider => {
            providers::add_client_id(state, params).await.map(|()| None)
        }
        IamAction::RemoveClientIdFromOpenIdConnectProvider => {
            providers::remove_client_id(state, params)
                .await
                .map(|()| None)
        }
        IamAction::UpdateOpenIdConnectProviderThumbprint => {
            providers::update_thumbprints(state, params)
                .await
                .map(|()| None)
        }
        IamAction::CreateRole => roles::create(state, params).await.map(Some),
        IamAction::GetRole => roles::get(state, params).await.map(Some),
        IamAction::ListRoles => roles::list(state, params).await.map(Some),
        IamAction::UpdateRole => roles::update(state, params)
            .await
            .map(|()| Some(String::new())),
        IamAction::UpdateAssumeRolePolicy => roles::update_trust_policy(state, params)
            .await
            .map(|()| None),
        IamAction::DeleteRole => roles::delete(state, params).await.map(|()| None),
    }
}
