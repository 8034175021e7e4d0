//! Store tests against real SQLite files and, when `RAMPART_TEST_DATABASE_URL` is set,
//! a real PostgreSQL database created for the test and dropped after it.
//!
//! Scenarios are plain `async fn(&Store)`; [`on_both_backends!`] turns each into a
//! SQLite test and a PostgreSQL test. The submodules group them by area.

use super::*;

mod admin;
mod credentials;
mod hostile;
mod keys;
mod watch;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn hasher() -> KeyHasher {
    KeyHasher::new(SECRET)
}

async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    (Store::connect(&url).await.unwrap(), dir)
}

/// The URL of a fresh, empty PostgreSQL database and its name, or `None` (with a
/// note) when no server is configured.
async fn postgres_database() -> Option<(String, String)> {
    let Ok(base) = std::env::var("RAMPART_TEST_DATABASE_URL") else {
        eprintln!("RAMPART_TEST_DATABASE_URL is not set: skipping the PostgreSQL half of this test");
        return None;
    };
    install_default_drivers();
    let name = random_id("rampart_test_", 12).unwrap().to_lowercase();
    let admin = AnyPoolOptions::new().max_connections(1).connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
    admin.close().await;
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some((format!("{prefix}/{name}"), name))
}

/// A store on a fresh PostgreSQL database, or `None` (with a note) when no server is
/// configured.
async fn postgres_store() -> Option<(Store, String)> {
    let (url, name) = postgres_database().await?;
    Some((Store::connect(&url).await.unwrap(), name))
}

async fn drop_postgres(name: &str) {
    let base = std::env::var("RAMPART_TEST_DATABASE_URL").unwrap();
    let admin = AnyPoolOptions::new().max_connections(1).connect(&base).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.unwrap();
}

/// For each `async fn NAME(&Store)` scenario, a module `NAME` with a `sqlite` and a
/// `postgres` test (the latter skipped without `RAMPART_TEST_DATABASE_URL`). Tests run
/// on a multi-threaded runtime, so concurrency scenarios really race.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let (store, _dir) = crate::store::tests::sqlite_store().await;
                super::$name(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some((store, name)) = crate::store::tests::postgres_store().await else { return };
                super::$name(&store).await;
                store.close().await;
                crate::store::tests::drop_postgres(&name).await;
            }
        }
    )*};
}
use on_both_backends;

async fn key_lifecycle(store: &Store) {
    let hasher = hasher();
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

    // Suspension is reversible, keeps its first reason, and never outlives revocation.
    assert!(store.suspend_key(&record.id, "anomaly: attack_burst\n").await.unwrap());
    assert!(store.suspend_key(&record.id, "second").await.unwrap());
    let suspended = store.find_key(&hasher, presented).await.unwrap().unwrap();
    assert_eq!(suspended.status(unix_now()), KeyStatus::Suspended);
    assert_eq!(suspended.suspended_reason.as_deref(), Some("anomaly: attack_burst"));
    assert!(store.resume_key(&record.id).await.unwrap());
    let resumed = store.find_key(&hasher, presented).await.unwrap().unwrap();
    assert_eq!(resumed.status(unix_now()), KeyStatus::Active);
    assert_eq!((resumed.suspended_at, resumed.suspended_reason), (None, None));
    assert!(!store.suspend_key("key_doesnotexist", "x").await.unwrap());
    assert!(!store.resume_key("' OR '1'='1").await.unwrap());
    assert!(store.suspend_key(&record.id, "before revocation").await.unwrap());

    assert!(store.revoke_key(&record.id).await.unwrap());
    let revoked = store.find_key(&hasher, presented).await.unwrap().unwrap();
    assert_eq!(revoked.status(unix_now()), KeyStatus::Revoked);
    let first = revoked.revoked_at;
    assert!(store.revoke_key(&record.id).await.unwrap());
    assert_eq!(store.find_key(&hasher, presented).await.unwrap().unwrap().revoked_at, first);
    assert!(!store.revoke_key("key_doesnotexist").await.unwrap());
    assert!(!store.resume_key(&record.id).await.unwrap(), "a revoked key cannot be resumed");
    assert!(!store.suspend_key(&record.id, "x").await.unwrap());

    let (expired, expired_key) =
        store.create_key(&hasher, "old", &ModelScope::all(), Some(unix_now() - 1)).await.unwrap();
    let found = store.find_key(&hasher, PresentedKey::parse(&expired_key.key).unwrap()).await.unwrap().unwrap();
    assert_eq!(found.id, expired.id);
    assert_eq!(found.status(unix_now()), KeyStatus::Expired);
}

async fn hostile_input_is_data(store: &Store) {
    let hasher = hasher();
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

/// A database written by the previous release (migrations 1 and 2 only) keeps its
/// keys through migration 3, and they keep working: every endpoint, any address.
async fn upgrade_from_migration_2(url: &str) {
    install_default_drivers();
    let pool = AnyPoolOptions::new().max_connections(1).connect(url).await.unwrap();
    sqlx::query("CREATE TABLE rampart_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    for (version, statements) in &crate::migrate::MIGRATIONS[..2] {
        for statement in *statements {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        sqlx::query("INSERT INTO rampart_migrations (version, applied_at) VALUES ($1, 0)")
            .bind(version)
            .execute(&pool)
            .await
            .unwrap();
    }
    let hasher = hasher();
    let old = hasher.generate().unwrap();
    let legacy_name = format!("legacy\n{}", "n".repeat(300));
    sqlx::query(
        "INSERT INTO virtual_keys (id, name, key_hash, key_prefix, models, created_at, expires_at, revoked_at, policy)
         VALUES ('key_0123456789abcdef', $2, $1, 'rk-abcd', '[\"gpt-4o\"]', 1, NULL, NULL, 'strict')",
    )
    .bind(old.hash.to_hex())
    // Older releases took any name: one that today's rules refuse must still work.
    .bind(legacy_name.as_str())
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = Store::connect(url).await.unwrap();
    let found = store.find_key(&hasher, PresentedKey::parse(&old.key).unwrap()).await.unwrap().unwrap();
    assert_eq!(found.id, "key_0123456789abcdef");
    assert_eq!(found.models.patterns(), ["gpt-4o"]);
    assert_eq!(found.policy.as_deref(), Some("strict"));
    assert!(found.endpoints.is_unrestricted());
    assert!(found.endpoints.allows("/v1/chat/completions"));
    assert!(found.cidrs.is_any());
    assert_eq!(found.status(unix_now()), KeyStatus::Active);
    assert_eq!((&found.owner, &found.team, &found.role, &found.metadata), (&None, &None, &None, &None));
    assert_eq!((&found.rotated_from, &found.superseded_by, found.grace_until), (&None, &None, None));
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM rampart_migrations ORDER BY version")
        .fetch_all(&store.pool)
        .await
        .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    assert!(found.limits.is_empty());
    assert_eq!((found.suspended_at, found.suspended_reason.as_deref()), (None, None));
    // The legacy key can be rotated like any other.
    let (successor, _) =
        store.rotate_key(&hasher, &found.id, Duration::from_secs(60), unix_now()).await.unwrap().unwrap();
    assert!(successor.endpoints.is_unrestricted());
    assert_eq!(successor.name, legacy_name);
    assert_eq!(found.name, legacy_name);
    store.close().await;
}

#[tokio::test]
async fn sqlite_upgrade_from_migration_2() {
    let dir = tempfile::tempdir().unwrap();
    upgrade_from_migration_2(&format!("sqlite://{}?mode=rwc", dir.path().join("keys.db").display())).await;
}

#[tokio::test]
async fn postgres_upgrade_from_migration_2() {
    let Some((url, name)) = postgres_database().await else { return };
    upgrade_from_migration_2(&url).await;
    drop_postgres(&name).await;
}
