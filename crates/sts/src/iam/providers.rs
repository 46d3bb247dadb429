//! IAM OpenID Connect provider actions (spec §5.2): Create, Get, List, Delete,
//! AddClientID…, RemoveClientID…, UpdateOpenIDConnectProviderThumbprint.

use crate::error::AwsError;
use crate::identifiers::{provider_arn, provider_url_from_arn, provider_url_without_scheme};
use crate::query::{ParamReader, QueryParams};
use crate::server::AppState;
use crate::store::{ClientIdAddition, Insertion, OidcProvider};
use crate::xml::{XmlWriter, timestamp};

use super::validation::read_tags;

/// Client ids per provider (IAM quota `ClientIdsPerOpenIdConnectProvider`).
pub const MAX_CLIENT_IDS: usize = 100;
/// Thumbprints per provider (model `thumbprintListType`).
pub const MAX_THUMBPRINTS: usize = 5;
/// Refused provider URL ([INFER] message, moto's; docs/decisions.md).
pub const INVALID_PROVIDER_URL_MESSAGE: &str = "Invalid Open ID Connect Provider URL";

fn client_id_limit_exceeded() -> AwsError {
    AwsError::limit_exceeded(format!(
        "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
    ))
}

fn no_such_provider(arn: &str) -> AwsError {
    AwsError::no_such_entity(format!("OpenIDConnect Provider not found for arn {arn}"))
}

fn check_client_id(reader: &mut ParamReader<'_>, client_id: &str, member: &str) {
    reader.check_length(client_id, member, 1, 255);
}

fn check_thumbprints(reader: &mut ParamReader<'_>, thumbprints: &[String]) {
    for (index, thumbprint) in thumbprints.iter().enumerate() {
        reader.check_length(
            thumbprint,
            &format!("thumbprintList.{}.member", index + 1),
            40,
            40,
        );
    }
}

/// Reads the `OpenIDConnectProviderArn` parameter and resolves it to a stored provider URL.
fn read_provider_arn<'a>(reader: &mut ParamReader<'a>) -> Option<&'a str> {
    let arn = reader.required("OpenIDConnectProviderArn", "openIDConnectProviderArn")?;
    reader.check_length(arn, "openIDConnectProviderArn", 20, 2048);
    Some(arn)
}

/// The provider an ARN names, or `NoSuchEntity`.
async fn existing_provider(state: &AppState, arn: &str) -> Result<OidcProvider, AwsError> {
    let Some(url) = provider_url_from_arn(&state.config.account_id, arn) else {
        return Err(no_such_provider(arn));
    };
    state
        .store
        .provider(url)
        .await?
        .ok_or_else(|| no_such_provider(arn))
}

fn write_tags(writer: &mut XmlWriter, tags: &[crate::store::Tag]) {
    if tags.is_empty() {
        return;
    }
    writer.open("Tags");
    for tag in tags {
        writer
            .open("member")
            .leaf("Key", &tag.key)
            .leaf("Value", &tag.value)
            .close("member");
    }
    writer.close("Tags");
}

/// `CreateOpenIDConnectProvider`.
pub async fn create(state: &AppState, params: &QueryParams) -> Result<String, AwsError> {
    let mut reader = ParamReader::new(params);
    let url = reader.required("Url", "url");
    if let Some(url) = url {
        reader.check_length(url, "url", 1, 255);
    }
    let client_ids = params.list("ClientIDList").unwrap_or_default();
    for (index, client_id) in client_ids.iter().enumerate() {
        check_client_id(
            &mut reader,
            client_id,
            &format!("clientIDList.{}.member", index + 1),
        );
    }
    let thumbprints = reader
        .list("ThumbprintList", "thumbprintList", MAX_THUMBPRINTS)
        .unwrap_or_default();
    check_thumbprints(&mut reader, &thumbprints);
    let tags = read_tags(&mut reader, params);
    reader.finish()?;
    let url = url.unwrap_or_default();
    let url_without_scheme = provider_url_without_scheme(url).map_err(|error| {
        AwsError::invalid_input(INVALID_PROVIDER_URL_MESSAGE).with_detail(error.to_string())
    })?;
    let mut unique_client_ids: Vec<String> = Vec::new();
    for client_id in client_ids {
        if !unique_client_ids.contains(&client_id) {
            unique_client_ids.push(client_id);
        }
    }
    if unique_client_ids.len() > MAX_CLIENT_IDS {
        return Err(client_id_limit_exceeded());
    }
    let provider = OidcProvider {
        url: url_without_scheme.to_owned(),
        client_ids: unique_client_ids,
        thumbprints,
        tags,
        created_at: state.config.clock.now(),
    };
    let tags = provider.tags.clone();
    if state.store.insert_provider(provider).await? == Insertion::AlreadyExists {
        return Err(AwsError::entity_already_exists(format!(
            "Provider with url {url} already exists."
        )));
    }
    let arn = provider_arn(&state.config.account_id, url_without_scheme);
    tracing::info!(provider_arn = %arn, "created OpenID Connect provider");
    let mut writer = XmlWriter::at_depth(2);
    writer.leaf("OpenIDConnectProviderArn", &arn);
    write_tags(&mut writer, &tags);
    Ok(writer.finish())
}

/// `GetOpenIDConnectProvider`: `Url` without scheme (spec §5.2).
pub async fn get(state: &AppState, params: &QueryParams) -> Result<String, AwsError> {
    let mut reader = ParamReader::new(params);
    let arn = read_provider_arn(&mut reader);
    reader.finish()?;
    let provider = existing_provider(state, arn.unwrap_or_default()).await?;
    let mut writer = XmlWriter::at_depth(2);
    writer
        .string_list("ThumbprintList", &provider.thumbprints)
        .leaf("CreateDate", &timestamp(provider.created_at))
        .string_list("ClientIDList", &provider.client_ids)
        .leaf("Url", &provider.url);
    write_tags(&mut writer, &provider.tags);
    Ok(writer.finish())
}

/// `ListOpenIDConnectProviders`.
pub async fn list(state: &AppState) -> Result<String, AwsError> {
    let providers = state.store.providers().await?;
    let mut writer = XmlWriter::at_depth(2);
    writer.open("OpenIDConnectProviderList");
    for provider in providers {
        writer
            .open("member")
            .leaf(
                "Arn",
                &provider_arn(&state.config.account_id, &provider.url),
            )
            .close("member");
    }
    writer.close("OpenIDConnectProviderList");
    Ok(writer.finish())
}

/// `DeleteOpenIDConnectProvider`. Roles naming it are left alone (spec §5.2).
pub async fn delete(state: &AppState, params: &QueryParams) -> Result<(), AwsError> {
    let mut reader = ParamReader::new(params);
    let arn = read_provider_arn(&mut reader);
    reader.finish()?;
    let arn = arn.unwrap_or_default();
    let provider = existing_provider(state, arn).await?;
    if !state.store.delete_provider(&provider.url).await? {
        return Err(no_such_provider(arn));
    }
    tracing::info!(provider_arn = %arn, "deleted OpenID Connect provider");
    Ok(())
}

/// `AddClientIDToOpenIDConnectProvider` (adding a present id is a no-op).
pub async fn add_client_id(state: &AppState, params: &QueryParams) -> Result<(), AwsError> {
    let mut reader = ParamReader::new(params);
    let arn = read_provider_arn(&mut reader);
    let client_id = reader.required("ClientID", "clientID");
    if let Some(client_id) = client_id {
        check_client_id(&mut reader, client_id, "clientID");
    }
    reader.finish()?;
    let arn = arn.unwrap_or_default();
    let provider = existing_provider(state, arn).await?;
    match state
        .store
        .add_client_id(&provider.url, client_id.unwrap_or_default(), MAX_CLIENT_IDS)
        .await?
    {
        ClientIdAddition::Done => Ok(()),
        ClientIdAddition::NoSuchProvider => Err(no_such_provider(arn)),
        ClientIdAddition::LimitExceeded => Err(client_id_limit_exceeded()),
    }
}

/// `RemoveClientIDFromOpenIDConnectProvider` (removing an absent id is a no-op, as documented).
pub async fn remove_client_id(state: &AppState, params: &QueryParams) -> Result<(), AwsError> {
    let mut reader = ParamReader::new(params);
    let arn = read_provider_arn(&mut reader);
    let client_id = reader.required("ClientID", "clientID");
    if let Some(client_id) = client_id {
        check_client_id(&mut reader, client_id, "clientID");
    }
    reader.finish()?;
    let arn = arn.unwrap_or_default();
    let provider = existing_provider(state, arn).await?;
    if state
        .store
        .remove_client_id(&provider.url, client_id.unwrap_or_default())
        .await?
    {
        Ok(())
    } else {
        Err(no_such_provider(arn))
    }
}

/// `UpdateOpenIDConnectProviderThumbprint` (replaces the whole list).
pub async fn update_thumbprints(state: &AppState, params: &QueryParams) -> Result<(), AwsError> {
    let mut reader = ParamReader::new(params);
    let arn = read_provider_arn(&mut reader);
    let thumbprints = reader.list("ThumbprintList", "thumbprintList", MAX_THUMBPRINTS);
    if thumbprints.is_none() {
        reader.violation(None, "thumbprintList", "not be null");
    }
    let thumbprints = thumbprints.unwrap_or_default();
    check_thumbprints(&mut reader, &thumbprints);
    reader.finish()?;
    let arn = arn.unwrap_or_default();
    let provider = existing_provider(state, arn).await?;
    if state
        .store
        .set_thumbprints(&provider.url, thumbprints)
        .await?
    {
        Ok(())
    } else {
        Err(no_such_provider(arn))
    }
}
