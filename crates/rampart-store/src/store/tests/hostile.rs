//! Hostile input in every parameter: each is refused, or stored and returned verbatim,
//! and never matches or changes anything else (every table survives, other rows are
//! untouched).

use super::*;
use crate::store::admin::AdminRole;

fn hostile() -> Vec<String> {
    vec![
        "' OR '1'='1".into(),
        "\"; DROP TABLE virtual_keys; --".into(),
        "x'); DROP TABLE admin_users; --".into(),
        "'; DELETE FROM teams WHERE '1'='1".into(),
        "%".into(),
        "_".into(),
        "*".into(),
        "nul\0byte".into(),
        "a".repeat(100_000),
        "\u{202e}gnp.exe".into(),
        "\u{1f600} emoji".into(),
        "$1".into(),
        "\\x00".into(),
    ]
}

/// What must still hold after each round: every table answers, and the bystander
/// rows are exactly as they were.
async fn bystanders_untouched(store: &Store, key: &KeyRecord, user_id: &str, team: &str) {
    let keys = store.list_keys().await.unwrap();
    let bystander = keys.iter().find(|k| k.id == key.id).unwrap();
    assert_eq!(
        (bystander.name.as_str(), bystander.revoked_at, bystander.superseded_by.as_deref()),
        ("bystander", None, None)
    );
    let user = store.get_admin_user_by_id(user_id).await.unwrap().unwrap();
    assert_eq!((user.failed_attempts, user.totp_last_step, user.disabled_at), (0, None, None));
    assert_eq!(user.role, AdminRole::Viewer);
    assert!(store.get_team(team).await.unwrap().is_some());
    store.list_teams().await.unwrap();
    store.list_admin_tokens().await.unwrap();
    store.list_provider_credentials().await.unwrap();
}

async fn hostile_input_everywhere(store: &Store) {
    let hasher = hasher();
    let (bystander, _) = store.create_key(&hasher, "bystander", &ModelScope::all(), None).await.unwrap();
    let user = store.create_admin_user("bystander", AdminRole::Viewer, "$argon2id$x", None).await.unwrap();
    store.create_team("bystanders", None, None).await.unwrap();
    let now = unix_now();
    let mut stored_names = 0;
    let mut users = 1;
    for text in hostile() {
        let text = text.as_str();
        let short_printable = text.chars().count() <= 128 && !text.chars().any(char::is_control);

        // Identifiers and presented secrets: never found, nothing changed.
        assert!(store.get_key(text).await.unwrap().is_none());
        assert!(!store.revoke_key(text).await.unwrap());
        assert!(store.rotate_key(&hasher, text, Duration::from_secs(1), now).await.unwrap().is_none());
        assert!(store.update_key(text, &KeySpec::new("x", ModelScope::all())).await.unwrap().is_none());
        assert!(store.get_admin_user_by_id(text).await.unwrap().is_none());
        assert!(store.get_admin_user(text).await.unwrap().is_none());
        assert!(!store.set_admin_role(text, AdminRole::Admin).await.unwrap());
        assert!(!store.disable_admin_user(text, now).await.unwrap());
        assert!(store.record_login_failure(text, now, 1, Duration::from_secs(60)).await.unwrap().is_none());
        assert!(!store.record_login_success(text).await.unwrap());
        assert!(!store.consume_totp_step(text, 1).await.unwrap());
        assert!(store.find_admin_token(&hasher, text).await.unwrap().is_none());
        assert!(!store.revoke_admin_token(text).await.unwrap());
        assert!(store.find_session(&hasher, text, now).await.unwrap().is_none());
        assert!(!store.revoke_session(&hasher, text).await.unwrap());
        assert_eq!(store.revoke_sessions_of(text).await.unwrap(), 0);
        assert!(store.create_session(&hasher, text, Duration::from_secs(60), now).await.unwrap().is_none());
        assert!(store.get_team(text).await.unwrap().is_none());
        assert!(!store.delete_team(text).await.unwrap());
        assert!(store.get_sealed_credential(text).await.unwrap().is_none());
        assert!(!store.delete_provider_credential(text).await.unwrap());
        // Usernames have a narrow alphabet: only `_` of these strings is one.
        match store.create_admin_user(text, AdminRole::Admin, "$argon2id$x", None).await {
            Ok(created) => {
                assert_eq!(text, "_");
                assert_eq!(store.get_admin_user(text).await.unwrap().unwrap().id, created.id);
                users += 1;
            }
            Err(error) => assert!(matches!(error, StoreError::Invalid(_)), "{error}"),
        }

        // Labels and free text: stored verbatim when within the rules, refused otherwise.
        let spec = KeySpec {
            owner: Some(text.to_owned()),
            role: Some(text.to_owned()),
            policy: Some(text.to_owned()),
            models: ModelScope::new(vec![text.to_owned()]),
            ..KeySpec::new(text, ModelScope::all())
        };
        let created = store.create_scoped_key(&hasher, &spec).await;
        let team = store.create_team(text, Some(text), None).await;
        let token = store.create_admin_token(&hasher, text, AdminRole::Viewer, None, Some(text)).await;
        let credential = store.set_provider_credential(text, "v1.k.sealed", text, Some(text)).await;
        let mut metadata = Metadata::new();
        metadata.insert(text.to_owned(), serde_json::Value::String(text.to_owned()));
        let with_metadata = store
            .create_scoped_key(&hasher, &KeySpec { metadata: Some(metadata), ..KeySpec::new("m", ModelScope::all()) })
            .await;
        if short_printable {
            let (record, _) = created.unwrap();
            let stored = store.get_key(&record.id).await.unwrap().unwrap();
            assert_eq!(
                (stored.name.as_str(), stored.owner.as_deref(), stored.role.as_deref()),
                (text, Some(text), Some(text))
            );
            assert_eq!((stored.policy.as_deref(), stored.models.patterns()), (Some(text), &[text.to_owned()][..]));
            let team = team.unwrap();
            assert_eq!(store.get_team(text).await.unwrap().unwrap(), team);
            assert_eq!(store.get_team(&team.id).await.unwrap().unwrap().name, text);
            let (token, _) = token.unwrap();
            assert_eq!(store.list_admin_tokens().await.unwrap().iter().find(|t| t.id == token.id).unwrap().name, text);
            assert_eq!(credential.unwrap().provider, text);
            let sealed = store.get_sealed_credential(text).await.unwrap().unwrap();
            assert_eq!((sealed.info.kek_id.as_str(), sealed.info.updated_by.as_deref()), (text, Some(text)));
            assert!(store.delete_provider_credential(text).await.unwrap());
            stored_names += 1;
        } else {
            for result in [created.map(|_| ()), team.map(|_| ()), token.map(|_| ()), credential.map(|_| ())] {
                assert!(matches!(result, Err(StoreError::Invalid(_))), "{:?}: {result:?}", &text[..text.len().min(20)]);
            }
        }
        // Metadata holds any text (JSON-escaped) within its size limit.
        if text.len() < 4000 {
            let (record, _) = with_metadata.unwrap();
            let stored = store.get_key(&record.id).await.unwrap().unwrap().metadata.unwrap();
            assert_eq!(stored[text], text);
        } else {
            assert!(matches!(with_metadata, Err(StoreError::Invalid(_))));
        }
        bystanders_untouched(store, &bystander, &user.id, "bystanders").await;
    }
    assert!(stored_names >= 10);
    // Nothing a hostile string did matched a row that was not its own.
    let keys = store.list_keys().await.unwrap();
    assert!(keys.iter().all(|k| k.revoked_at.is_none() && k.superseded_by.is_none()));
    assert_eq!(store.list_admin_users().await.unwrap().len(), users);
    assert_eq!(users, 2);
}

on_both_backends!(hostile_input_everywhere);
