//! Scoped keys, scope updates, rotation with grace, and teams.

use super::*;
use crate::limits::{KeyLimits, Priority};

fn metadata(json: &str) -> Metadata {
    serde_json::from_str(json).unwrap()
}

fn full_spec(team: Option<&str>) -> KeySpec {
    KeySpec {
        name: "ci runner".into(),
        models: ModelScope::new(vec!["gpt-4o*".into(), "text-embedding-3-small".into()]),
        endpoints: EndpointScope::new(vec!["/v1/chat/*".into(), "/v1/embeddings".into()]),
        cidrs: ClientNetworks::parse(&["10.0.0.0/8", "2001:db8::/32"]).unwrap(),
        expires_at: Some(unix_now() + 86_400),
        policy: Some("strict".into()),
        owner: Some("alice@example.com".into()),
        team: team.map(str::to_owned),
        role: Some("developer".into()),
        metadata: Some(metadata(
            r#"{"cost_center":"42","nested":{"list":[1,2.5,null,true]},"quote":"x'\"; DROP TABLE teams; --","nul":"a\u0000b","emoji":"\ud83d\ude00"}"#,
        )),
        limits: KeyLimits {
            rpm: Some(60),
            tpm: Some(100_000),
            max_concurrency: Some(8),
            daily_budget_micros: Some(5_000_000),
            monthly_budget_micros: None,
            max_tokens: Some(4096),
            priority: Some(Priority::Batch),
        },
    }
}

fn assert_same_scope(a: &KeyRecord, b: &KeyRecord) {
    assert_eq!(a.name, b.name);
    assert_eq!(a.models.patterns(), b.models.patterns());
    assert_eq!(a.endpoints.patterns(), b.endpoints.patterns());
    assert_eq!(a.cidrs, b.cidrs);
    assert_eq!(a.expires_at, b.expires_at);
    assert_eq!(a.policy, b.policy);
    assert_eq!(a.owner, b.owner);
    assert_eq!(a.team, b.team);
    assert_eq!(a.role, b.role);
    assert_eq!(a.metadata, b.metadata);
    assert_eq!(a.limits, b.limits);
}

async fn scoped_keys_round_trip(store: &Store) {
    let hasher = hasher();
    store.create_team("platform", None, None).await.unwrap();
    let spec = full_spec(Some("platform"));
    let (record, key) = store.create_scoped_key(&hasher, &spec).await.unwrap();
    assert!(validate::is_id("key_", &record.id));
    let found = store.find_key(&hasher, PresentedKey::parse(&key.key).unwrap()).await.unwrap().unwrap();
    assert_same_scope(&found, &record);
    assert_eq!(found.metadata.as_ref().unwrap()["nul"], "a\u{0}b");
    assert_eq!(found.metadata.as_ref().unwrap()["emoji"], "\u{1f600}");
    assert_eq!(found.metadata.as_ref().unwrap()["quote"], "x'\"; DROP TABLE teams; --");
    assert!(found.endpoints.allows("/v1/chat/completions"));
    assert!(!found.endpoints.allows("/v1/files"));
    assert!(found.cidrs.allows("10.1.2.3".parse().unwrap()));
    assert!(found.cidrs.allows("::ffff:10.1.2.3".parse().unwrap()));
    assert!(!found.cidrs.allows("192.0.2.1".parse().unwrap()));
    assert_eq!(found.status(unix_now()), KeyStatus::Active);
    let got = store.get_key(&record.id).await.unwrap().unwrap();
    assert_same_scope(&got, &record);
    assert_eq!(store.list_keys().await.unwrap().len(), 1);

    // The legacy constructors still make keys for every endpoint and address.
    let (legacy, _) = store.create_key(&hasher, "legacy", &ModelScope::all(), None).await.unwrap();
    let legacy = store.get_key(&legacy.id).await.unwrap().unwrap();
    assert!(legacy.endpoints.is_unrestricted());
    assert!(legacy.cidrs.is_any());
    assert_eq!((legacy.owner, legacy.team, legacy.metadata), (None, None, None));
    let (with_policy, _) =
        store.create_key_with_policy(&hasher, "p", &ModelScope::all(), None, Some("lenient")).await.unwrap();
    assert_eq!(store.get_key(&with_policy.id).await.unwrap().unwrap().policy.as_deref(), Some("lenient"));

    // An empty endpoint scope is stored as such, and denies.
    let deny = KeySpec { endpoints: EndpointScope::new(vec![]), ..KeySpec::new("deny", ModelScope::all()) };
    let (deny, _) = store.create_scoped_key(&hasher, &deny).await.unwrap();
    assert!(!store.get_key(&deny.id).await.unwrap().unwrap().endpoints.allows("/v1/chat/completions"));
}

async fn invalid_specs_are_refused_before_writing(store: &Store) {
    let hasher = hasher();
    let base = || KeySpec::new("ok", ModelScope::all());
    let mut too_big = Metadata::new();
    too_big.insert("blob".into(), serde_json::Value::String("x".repeat(validate::MAX_METADATA_BYTES)));
    let cases: Vec<(&str, KeySpec)> = vec![
        ("empty name", KeySpec { name: String::new(), ..base() }),
        ("long name", KeySpec { name: "n".repeat(129), ..base() }),
        ("NUL in name", KeySpec { name: "a\0b".into(), ..base() }),
        ("newline in name", KeySpec { name: "a\nb".into(), ..base() }),
        ("metadata over 8 KiB", KeySpec { metadata: Some(too_big), ..base() }),
        ("65 model patterns", KeySpec { models: ModelScope::new(vec!["m".into(); 65]), ..base() }),
        ("long model pattern", KeySpec { models: ModelScope::new(vec!["m".repeat(257)]), ..base() }),
        ("empty model pattern", KeySpec { models: ModelScope::new(vec![String::new()]), ..base() }),
        ("relative endpoint", KeySpec { endpoints: EndpointScope::new(vec!["v1/chat".into()]), ..base() }),
        ("NUL in endpoint", KeySpec { endpoints: EndpointScope::new(vec!["/v1/\0".into()]), ..base() }),
        (
            "65 networks",
            KeySpec {
                cidrs: ClientNetworks::new(vec![crate::scope::Network::parse("10.0.0.0/8").unwrap(); 65]),
                ..base()
            },
        ),
        ("long owner", KeySpec { owner: Some("o".repeat(129)), ..base() }),
        ("NUL in role", KeySpec { role: Some("\0".into()), ..base() }),
        ("empty policy", KeySpec { policy: Some(String::new()), ..base() }),
        ("unknown team", KeySpec { team: Some("nobody".into()), ..base() }),
    ];
    for (what, spec) in cases {
        let result = store.create_scoped_key(&hasher, &spec).await;
        assert!(matches!(result, Err(StoreError::Invalid(_))), "{what}: {result:?}");
    }
    // Limits are inclusive.
    let edge = KeySpec { name: "é".repeat(128), models: ModelScope::new(vec!["m".repeat(256); 64]), ..base() };
    store.create_scoped_key(&hasher, &edge).await.unwrap();
    assert_eq!(store.list_keys().await.unwrap().len(), 1);
}

async fn malformed_ids_are_not_found_without_a_query(store: &Store) {
    let hasher = hasher();
    let long = format!("key_{}", "a".repeat(100_000));
    for id in ["", "' OR '1'='1", "key_' OR '1'='1", "key_0123456789abcde\0", long.as_str(), "key_0123456789abcdef"] {
        assert!(store.get_key(id).await.unwrap().is_none(), "{id:?}");
        assert!(!store.revoke_key(id).await.unwrap());
        assert!(store.rotate_key(&hasher, id, Duration::ZERO, unix_now()).await.unwrap().is_none());
        assert!(store.update_key(id, &KeySpec::new("x", ModelScope::all())).await.unwrap().is_none());
    }
}

async fn updates_replace_scope(store: &Store) {
    let hasher = hasher();
    store.create_team("a-team", None, None).await.unwrap();
    let (record, key) = store.create_key(&hasher, "before", &ModelScope::all(), None).await.unwrap();
    let spec = full_spec(Some("a-team"));
    let updated = store.update_key(&record.id, &spec).await.unwrap().unwrap();
    let found = store.find_key(&hasher, PresentedKey::parse(&key.key).unwrap()).await.unwrap().unwrap();
    assert_same_scope(&found, &updated);
    assert_eq!(found.name, "ci runner");
    assert_eq!(found.team.as_deref(), Some("a-team"));
    assert_eq!(found.created_at, record.created_at);
    // Unknown teams are refused and change nothing.
    let bad = KeySpec { team: Some("b-team".into()), ..spec.clone() };
    assert!(matches!(store.update_key(&record.id, &bad).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.get_key(&record.id).await.unwrap().unwrap().team.as_deref(), Some("a-team"));
    // So are zero limits (a key that may do nothing is a revoked key).
    let zero = KeySpec { limits: KeyLimits { rpm: Some(0), ..spec.limits }, ..spec.clone() };
    assert!(matches!(store.update_key(&record.id, &zero).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.get_key(&record.id).await.unwrap().unwrap().limits, spec.limits);
    // Revoked keys stay as they were.
    assert!(store.revoke_key(&record.id).await.unwrap());
    let again = KeySpec::new("after", ModelScope::all());
    assert!(matches!(store.update_key(&record.id, &again).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_key(&record.id).await.unwrap().unwrap().name, "ci runner");
}

async fn rotation_keeps_scope_and_honours_grace(store: &Store) {
    let hasher = hasher();
    store.create_team("platform", None, None).await.unwrap();
    let (old, old_key) = store.create_scoped_key(&hasher, &full_spec(Some("platform"))).await.unwrap();
    let now = unix_now();
    let (new, new_key) = store.rotate_key(&hasher, &old.id, Duration::from_secs(3600), now).await.unwrap().unwrap();
    assert_ne!(new.id, old.id);
    assert_ne!(new_key.key, old_key.key);
    assert_same_scope(&new, &old);
    assert_eq!(new.rotated_from.as_deref(), Some(old.id.as_str()));
    assert_eq!((new.superseded_by.as_deref(), new.grace_until), (None, None));

    let found_new = store.find_key(&hasher, PresentedKey::parse(&new_key.key).unwrap()).await.unwrap().unwrap();
    assert_same_scope(&found_new, &old);
    assert_eq!(found_new.rotated_from.as_deref(), Some(old.id.as_str()));
    assert_eq!(found_new.status(now), KeyStatus::Active);

    let found_old = store.find_key(&hasher, PresentedKey::parse(&old_key.key).unwrap()).await.unwrap().unwrap();
    assert_eq!(found_old.superseded_by.as_deref(), Some(new.id.as_str()));
    assert_eq!(found_old.grace_until, Some(now + 3600));
    // Valid during the grace period, expired from its end.
    assert_eq!(found_old.status(now), KeyStatus::Active);
    assert_eq!(found_old.status(now + 3599), KeyStatus::Active);
    assert_eq!(found_old.status(now + 3600), KeyStatus::Expired);

    // A superseded key cannot be rotated again; its successor can.
    let again = store.rotate_key(&hasher, &old.id, Duration::from_secs(60), now).await;
    assert!(matches!(&again, Err(StoreError::Conflict(m)) if m.contains(&new.id)), "{again:?}");
    let (third, _) = store.rotate_key(&hasher, &new.id, Duration::from_secs(60), now).await.unwrap().unwrap();
    assert_eq!(third.rotated_from.as_deref(), Some(new.id.as_str()));
    assert_same_scope(&third, &old);
    assert_eq!(store.list_keys().await.unwrap().len(), 3);

    // Grace zero: the old key is refused at once.
    let (quick, quick_key) = store.create_key(&hasher, "quick", &ModelScope::all(), None).await.unwrap();
    store.rotate_key(&hasher, &quick.id, Duration::ZERO, now).await.unwrap().unwrap();
    let quick = store.find_key(&hasher, PresentedKey::parse(&quick_key.key).unwrap()).await.unwrap().unwrap();
    assert_eq!(quick.status(now), KeyStatus::Expired);

    // Revoked and expired keys are refused, and nothing is created.
    let (revoked, _) = store.create_key(&hasher, "revoked", &ModelScope::all(), None).await.unwrap();
    store.revoke_key(&revoked.id).await.unwrap();
    let refused = store.rotate_key(&hasher, &revoked.id, Duration::from_secs(60), now).await;
    assert!(matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("revoked")), "{refused:?}");
    let (expired, _) = store.create_key(&hasher, "expired", &ModelScope::all(), Some(now - 1)).await.unwrap();
    let refused = store.rotate_key(&hasher, &expired.id, Duration::from_secs(60), now).await;
    assert!(matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("expired")), "{refused:?}");
    let keys = store.list_keys().await.unwrap();
    assert_eq!(keys.len(), 7);
    assert_eq!(keys.iter().filter(|k| k.rotated_from.is_some()).count(), 3);

    // An earlier grace_until already on the key is kept.
    let (early, _) = store.create_key(&hasher, "early", &ModelScope::all(), None).await.unwrap();
    sqlx::query("UPDATE virtual_keys SET grace_until = $1 WHERE id = $2")
        .bind(now + 10)
        .bind(&early.id)
        .execute(&store.pool)
        .await
        .unwrap();
    store.rotate_key(&hasher, &early.id, Duration::from_secs(3600), now).await.unwrap().unwrap();
    assert_eq!(store.get_key(&early.id).await.unwrap().unwrap().grace_until, Some(now + 10));
}

async fn concurrent_rotations_make_one_successor(store: &Store) {
    let hasher = hasher();
    let (old, _) = store.create_key(&hasher, "contended", &ModelScope::all(), None).await.unwrap();
    let now = unix_now();
    let attempts = (0..8).map(|_| {
        let store = store.clone();
        let hasher = hasher.clone();
        let id = old.id.clone();
        tokio::spawn(async move { store.rotate_key(&hasher, &id, Duration::from_secs(60), now).await })
    });
    let results: Vec<_> = futures_util::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok().and_then(Option::as_ref)).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r.is_err()).all(|r| matches!(r, Err(StoreError::Conflict(_)))), "{results:?}");
    let keys = store.list_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    let old = store.get_key(&old.id).await.unwrap().unwrap();
    assert_eq!(old.superseded_by.as_deref(), Some(winners[0].0.id.as_str()));
}

async fn teams_lifecycle(store: &Store) {
    let hasher = hasher();
    let meta = metadata(r##"{"slack":"#platform"}"##);
    let team = store.create_team("platform", Some("strict"), Some(&meta)).await.unwrap();
    assert!(validate::is_id("team_", &team.id));
    assert!(matches!(store.create_team("platform", None, None).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_team(&team.id).await.unwrap().as_ref(), Some(&team));
    assert_eq!(store.get_team("platform").await.unwrap().as_ref(), Some(&team));
    assert_eq!(store.get_team("team_0000000000000000").await.unwrap(), None);
    assert_eq!(store.get_team("nobody").await.unwrap(), None);
    let other = store.create_team("data", None, None).await.unwrap();
    let names: Vec<_> = store.list_teams().await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["data", "platform"]);
    for bad in ["", "a\0b", &"t".repeat(129), "team_0123456789abcdef"] {
        assert!(matches!(store.create_team(bad, None, None).await, Err(StoreError::Invalid(_))), "{bad:?}");
    }

    // A team is not deleted while unrevoked keys (expired ones too) belong to it.
    let spec = KeySpec { team: Some("platform".into()), ..KeySpec::new("k", ModelScope::all()) };
    let (key, _) = store.create_scoped_key(&hasher, &spec).await.unwrap();
    let expired = KeySpec { expires_at: Some(unix_now() - 10), ..spec.clone() };
    let (expired, _) = store.create_scoped_key(&hasher, &expired).await.unwrap();
    let refused = store.delete_team("platform").await;
    assert!(matches!(&refused, Err(StoreError::Conflict(m)) if m.starts_with("2 ")), "{refused:?}");
    store.revoke_key(&key.id).await.unwrap();
    assert!(matches!(store.delete_team(&team.id).await, Err(StoreError::Conflict(_))));
    store.revoke_key(&expired.id).await.unwrap();
    assert!(store.delete_team(&team.id).await.unwrap());
    assert!(!store.delete_team(&team.id).await.unwrap());
    assert_eq!(store.get_team("platform").await.unwrap(), None);
    // Keys can no longer be created in it.
    assert!(matches!(store.create_scoped_key(&hasher, &spec).await, Err(StoreError::Invalid(_))));
    assert!(store.delete_team("data").await.unwrap());
    assert!(store.get_team(&other.id).await.unwrap().is_none());
    assert!(!store.delete_team("' OR '1'='1").await.unwrap());
}

/// Key writes and team deletions racing: whatever the interleaving, no unrevoked key
/// ends up in a deleted team.
async fn team_deletion_races_key_creation(store: &Store) {
    let hasher = hasher();
    for round in 0..5 {
        let name = format!("racing-{round}");
        store.create_team(&name, None, None).await.unwrap();
        let spec = KeySpec { team: Some(name.clone()), ..KeySpec::new("k", ModelScope::all()) };
        let create = {
            let (store, hasher, spec) = (store.clone(), hasher.clone(), spec.clone());
            tokio::spawn(async move { store.create_scoped_key(&hasher, &spec).await })
        };
        let delete = {
            let (store, name) = (store.clone(), name.clone());
            tokio::spawn(async move { store.delete_team(&name).await })
        };
        let (created, deleted) = (create.await.unwrap(), delete.await.unwrap());
        let team_exists = store.get_team(&name).await.unwrap().is_some();
        let keys_in_team =
            store.list_keys().await.unwrap().into_iter().filter(|k| k.team.as_deref() == Some(&name)).count();
        match (&created, &deleted) {
            (Ok(_), Err(StoreError::Conflict(_))) => assert!(team_exists && keys_in_team == 1),
            (Err(StoreError::Invalid(_)), Ok(true)) => assert!(!team_exists && keys_in_team == 0),
            other => panic!("round {round}: {other:?}"),
        }
    }
}

on_both_backends!(
    scoped_keys_round_trip,
    invalid_specs_are_refused_before_writing,
    malformed_ids_are_not_found_without_a_query,
    updates_replace_scope,
    rotation_keeps_scope_and_honours_grace,
    concurrent_rotations_make_one_successor,
    teams_lifecycle,
    team_deletion_races_key_creation,
);

#[test]
fn lone_surrogates_cannot_reach_metadata() {
    // serde_json refuses unpaired surrogate escapes, so no metadata value holds one;
    // a proper pair is one character.
    assert!(serde_json::from_str::<Metadata>(r#"{"a":"\ud800"}"#).is_err());
    assert!(serde_json::from_str::<Metadata>(r#"{"a":"\udc00x"}"#).is_err());
    assert_eq!(metadata(r#"{"a":"\ud83d\ude00"}"#)["a"], "\u{1f600}");
}
