//! Store tests: uniqueness rules, idempotent updates, and durability across reopening.

use time::macros::datetime;

use super::*;

fn provider(url: &str) -> OidcProvider {
    OidcProvider {
        url: url.to_owned(),
        client_ids: vec!["aud-1".to_owned()],
        thumbprints: vec![],
        tags: vec![Tag {
            key: "team".to_owned(),
            value: "infra".to_owned(),
        }],
        created_at: datetime!(2026-11-26 00:10:22 UTC),
    }
}

fn role(name: &str, role_id: &str) -> Role {
    Role {
        name: name.to_owned(),
        path: "/ci/".to_owned(),
        role_id: role_id.to_owned(),
        trust_policy: "{\"Version\":\"2012-10-17\",\"Statement\":[]}".to_owned(),
        description: None,
        max_session_duration: 3600,
        tags: vec![],
        created_at: datetime!(2026-11-26 00:10:22 UTC),
    }
}

#[tokio::test]
async fn role_names_are_unique_case_insensitively() {
    let store = Store::open(&StoreLocation::InMemory).unwrap();
    assert_eq!(
        store
            .insert_role(role("Deploy", "AROAAAAAAAAAAAAAAAAAA"))
            .await
            .unwrap(),
        Insertion::Created
    );
    assert_eq!(
        store
            .insert_role(role("deploy", "AROABBBBBBBBBBBBBBBBB"))
            .await
            .unwrap(),
        Insertion::AlreadyExists
    );
    let stored = store.role("DEPLOY").await.unwrap().unwrap();
    assert_eq!(stored.name, "Deploy");
    assert!(store.delete_role("deploy").await.unwrap());
    assert!(store.role("Deploy").await.unwrap().is_none());
    assert!(!store.delete_role("deploy").await.unwrap());
}

#[tokio::test]
async fn client_ids_are_idempotent_and_bounded() {
    let store = Store::open(&StoreLocation::InMemory).unwrap();
    store
        .insert_provider(provider("issuer.example/org/1"))
        .await
        .unwrap();
    assert_eq!(
        store
            .add_client_id("issuer.example/org/1", "aud-1", 2)
            .await
            .unwrap(),
        ClientIdAddition::Done
    );
    assert_eq!(
        store
            .add_client_id("issuer.example/org/1", "aud-2", 2)
            .await
            .unwrap(),
        ClientIdAddition::Done
    );
    assert_eq!(
        store
            .add_client_id("issuer.example/org/1", "aud-3", 2)
            .await
            .unwrap(),
        ClientIdAddition::LimitExceeded
    );
    assert_eq!(
        store.add_client_id("nope", "aud-3", 2).await.unwrap(),
        ClientIdAddition::NoSuchProvider
    );
    assert!(
        store
            .remove_client_id("issuer.example/org/1", "absent")
            .await
            .unwrap()
    );
    assert!(
        store
            .remove_client_id("issuer.example/org/1", "aud-1")
            .await
            .unwrap()
    );
    let stored = store
        .provider("issuer.example/org/1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.client_ids, vec!["aud-2".to_owned()]);
    assert_eq!(stored.tags, provider("x").tags);
}

#[tokio::test]
async fn a_reopened_directory_keeps_everything() {
    let directory = tempfile::tempdir().unwrap();
    let location = StoreLocation::Directory(directory.path().join("data"));
    {
        let store = Store::open(&location).unwrap();
        store
            .insert_provider(provider("issuer.example/org/1"))
            .await
            .unwrap();
        store
            .insert_role(role("deploy", "AROAAAAAAAAAAAAAAAAAA"))
            .await
            .unwrap();
        assert!(
            store
                .set_thumbprints("issuer.example/org/1", vec!["a".repeat(40)])
                .await
                .unwrap()
        );
        assert!(
            store
                .update_role("deploy", Some("d".to_owned()), Some(7200))
                .await
                .unwrap()
        );
    }
    let store = Store::open(&location).unwrap();
    let stored = store
        .provider("issuer.example/org/1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.thumbprints, vec!["a".repeat(40)]);
    let stored_role = store.role("deploy").await.unwrap().unwrap();
    assert_eq!(stored_role.max_session_duration, 7200);
    assert_eq!(stored_role.description.as_deref(), Some("d"));
    assert_eq!(store.roles().await.unwrap().len(), 1);
    assert_eq!(store.providers().await.unwrap().len(), 1);
}

#[tokio::test]
async fn put_role_keeps_identity_of_an_existing_role() {
    let store = Store::open(&StoreLocation::InMemory).unwrap();
    store
        .insert_role(role("deploy", "AROAAAAAAAAAAAAAAAAAA"))
        .await
        .unwrap();
    let mut replacement = role("deploy", "AROABBBBBBBBBBBBBBBBB");
    replacement.max_session_duration = 7200;
    let stored = store.put_role(replacement).await.unwrap();
    assert_eq!(stored.role_id, "AROAAAAAAAAAAAAAAAAAA");
    assert_eq!(
        store
            .role("deploy")
            .await
            .unwrap()
            .unwrap()
            .max_session_duration,
        7200
    );
}

#[tokio::test]
async fn the_catalog_follows_every_committed_iam_write() {
    let store = Store::open(&StoreLocation::InMemory).unwrap();
    store
        .insert_provider(provider("issuer.example/a"))
        .await
        .unwrap();
    store
        .insert_role(role("Deploy", "AROAAAAAAAAAAAAAAAAAA"))
        .await
        .unwrap();
    let (found_provider, found_role) = store
        .provider_and_role("issuer.example/a", "deploy")
        .await
        .unwrap();
    assert!(found_provider.is_some());
    assert_eq!(found_role.unwrap().name, "Deploy");
    assert!(
        store
            .set_trust_policy("DEPLOY", "{\"changed\":true}".to_owned())
            .await
            .unwrap()
    );
    assert_eq!(
        store.role("deploy").await.unwrap().unwrap().trust_policy,
        "{\"changed\":true}"
    );
    assert!(store.delete_provider("issuer.example/a").await.unwrap());
    assert!(store.delete_role("deploy").await.unwrap());
    assert_eq!(
        store
            .provider_and_role("issuer.example/a", "deploy")
            .await
            .unwrap(),
        (None, None)
    );
}
