//! Store tests against real SQLite files and, when `RAMPART_TEST_DATABASE_URL` is set,
//! a real PostgreSQL database created for the test and dropped after it.

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    (Store::connect(&url).await.unwrap(), dir)
}

/// A fresh PostgreSQL database, or `None` (with a note) when no server is configured.
async fn postgres_store() -> Option<(Store, String)> {
    let Ok(base) = std::env::var("RAMPART_TEST_DATABASE_URL") else {
        eprintln!("RAMPART_TEST_DATABASE_URL is not set: skipping the PostgreSQL half of this test");
        return None;
    };
    install_default_drivers();
    let name = random_id("rampart_test_", 12).unwrap().to_lowercase();
    let admin = AnyPoolOptions::new().max_connections(1).connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some((Store::connect(&format!("{prefix}/{name}")).await.unwrap(), name))
}

async fn drop_postgres(name: &str) {
    let base = std::env::var("RAMPART_TEST_DATABASE_URL").unwrap();
    let admin = AnyPoolOptions::new().max_connections(1).connect(&base).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.unwrap();
}

async fn key_lifecycle(store: &Store) {
    let hasher = KeyHasher::new(SECRET);
    let scope = ModelScope::new(vec!["gpt-4o*".into()]);
    let (record, new_key) = store.create_key(&hasher, "ci", &scope, None).await.unwrap();
    assert!(new_key.key.starts_with(&record.prefix));

    let presented = PresentedKey::parse(&new_key.key).unwrap();
    let found = store.find_key(&hasher, presented).await.unwrap().unwrap();
    assert_eq!(found.id, record.id);
    assert_eq!(found.models.patterns(), ["gpt-4o*"]);
    assert_eq!(found.status(unix_now()), KeyStatus::Active);

    // The same key under another server secret is unknown.
    let other = KeyHasher::new(b"another-secret-another-secret-!!");
    assert!(store.find_key(&other, presented).await.unwrap().is_none());

    // Keys are stored only as hashes.
    let listed = store.list_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_ne!(listed[0].hash.to_hex(), new_key.key);

    assert!(store.revoke_key(&record.id).await.unwrap());
    let revoked = store.find_key(&hasher, presented).await.unwrap().unwrap();
    assert_eq!(revoked.status(unix_now()), KeyStatus::Revoked);
    let first = revoked.revoked_at;
    assert!(store.revoke_key(&record.id).await.unwrap());
    assert_eq!(store.find_key(&hasher, presented).await.unwrap().unwrap().revoked_at, first);
    assert!(!store.revoke_key("key_doesnotexist").await.unwrap());

    let (expired, expired_key) =
        store.create_key(&hasher, "old", &ModelScope::all(), Some(unix_now() - 1)).await.unwrap();
    let found = store.find_key(&hasher, PresentedKey::parse(&expired_key.key).unwrap()).await.unwrap().unwrap();
    assert_eq!(found.id, expired.id);
    assert_eq!(found.status(unix_now()), KeyStatus::Expired);
}

async fn hostile_input_is_data(store: &Store) {
    let hasher = KeyHasher::new(SECRET);
    let name = "x'); DROP TABLE virtual_keys; --";
    let (record, _) = store.create_key(&hasher, name, &ModelScope::all(), None).await.unwrap();
    assert!(!store.revoke_key("' OR '1'='1").await.unwrap());
    let listed = store.list_keys().await.unwrap();
    let stored = listed.iter().find(|k| k.id == record.id).unwrap();
    assert_eq!(stored.name, name);
    assert_eq!(stored.revoked_at, None);
}

#[tokio::test]
async fn sqlite_key_lifecycle() {
    let (store, _dir) = sqlite_store().await;
    assert_eq!(store.backend_name(), "sqlite");
    key_lifecycle(&store).await;
    hostile_input_is_data(&store).await;
}

#[tokio::test]
async fn sqlite_reopen_keeps_keys_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    let hasher = KeyHasher::new(SECRET);
    let (_, key) =
        Store::connect(&url).await.unwrap().create_key(&hasher, "a", &ModelScope::all(), None).await.unwrap();
    let reopened = Store::connect(&url).await.unwrap();
    assert!(reopened.find_key(&hasher, PresentedKey::parse(&key.key).unwrap()).await.unwrap().is_some());
}

#[tokio::test]
async fn postgres_key_lifecycle() {
    let Some((store, name)) = postgres_store().await else {
        return;
    };
    assert_eq!(store.backend_name(), "postgres");
    key_lifecycle(&store).await;
    hostile_input_is_data(&store).await;
    store.pool.close().await;
    drop_postgres(&name).await;
}

#[tokio::test]
async fn postgres_instances_starting_together_migrate_once() {
    let Some((store, name)) = postgres_store().await else {
        return;
    };
    store.pool.close().await;
    let base = std::env::var("RAMPART_TEST_DATABASE_URL").unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    // A fresh database for the race itself.
    let race = format!("{name}_race");
    let admin = AnyPoolOptions::new().max_connections(1).connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {race}")).execute(&admin).await.unwrap();
    let url = format!("{prefix}/{race}");
    let starts = (0..6).map(|_| Store::connect(&url));
    for result in futures_util::future::join_all(starts).await {
        result.unwrap().pool.close().await;
    }
    drop_postgres(&race).await;
    drop_postgres(&name).await;
}
