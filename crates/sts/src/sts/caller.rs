//! `GetCallerIdentity` (spec §6.1): who signed the request. A session answers with its
//! assumed-role ARN and `RoleId:session`; the admin credential is the account's root
//! (`arn:aws:iam::ACCT:root`, `UserId` = the account id, as AWS answers for root keys).

use serde_json::Value;

use super::{RequestMeta, audit_identity, store_failure};
use crate::audit::UserIdentity;
use crate::error::AwsError;
use crate::server::{AppState, Caller};
use crate::xml::{XmlWriter, timestamp};

/// The identity a caller is answered with: `(Arn, UserId, Account)`.
pub fn caller_identity(state: &AppState, caller: &Caller) -> (String, String, String) {
    match caller {
        Caller::Admin => {
            let account = state.config.account_id.to_string();
            (
                format!("arn:aws:iam::{account}:root"),
                account.clone(),
                account,
            )
        }
        Caller::Session(session) => (
            session.assumed_role_arn.clone(),
            session.assumed_role_id.clone(),
            session.account_id.clone(),
        ),
    }
}

/// The handler; `caller` is `None` only if dispatch was misconfigured.
pub async fn get_caller_identity(
    state: &AppState,
    caller: Option<&Caller>,
    meta: &RequestMeta,
) -> Result<Option<String>, AwsError> {
    let Some(caller) = caller else {
        return Err(crate::sigv4::missing_authentication_token());
    };
    let (arn, user_id, account) = caller_identity(state, caller);
    let identity = UserIdentity {
        identity_type: match caller {
            Caller::Admin => "Root".to_owned(),
            Caller::Session(_) => "AssumedRole".to_owned(),
        },
        principal_id: user_id.clone(),
        user_name: None,
        identity_provider: None,
        arn: Some(arn.clone()),
        access_key_id: meta.access_key_id.clone(),
        account_id: Some(account.clone()),
    };
    let mut event = audit_identity(
        state,
        meta,
        "GetCallerIdentity",
        identity,
        timestamp(state.config.clock.now()),
    );
    // CloudTrail records GetCallerIdentity with null request parameters and response elements.
    event.request_parameters = Value::Null;
    super::persist(state, None, None, &event)
        .await
        .map_err(store_failure)?;
    let mut xml = XmlWriter::at_depth(2);
    xml.leaf("Arn", &arn)
        .leaf("UserId", &user_id)
        .leaf("Account", &account);
    Ok(Some(xml.finish()))
}
