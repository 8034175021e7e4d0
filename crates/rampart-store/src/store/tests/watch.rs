//! Change watching: the SQLite epoch behind [`ChangeWatch`], and PostgreSQL
//! notifications reaching another instance within a second, surviving a killed
//! listener connection.

use std::time::Instant;

use super::*;
use crate::store::admin::AdminRole;
use crate::watch::ChangeWatch;

/// Polls until `done(generation)` or the deadline; the generation seen last.
async fn wait_for(watch: &ChangeWatch, within: Duration, done: impl Fn(Option<u64>) -> bool) -> Option<u64> {
    let deadline = Instant::now() + within;
    loop {
        let generation = watch.generation();
        if done(generation) {
            return generation;
        }
        assert!(Instant::now() < deadline, "the watch did not change in {within:?} (last {generation:?})");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every change that withdraws or alters access moves the generation of a watch
/// opened by `observer` (another instance on the same database) within `within`;
/// creations and refused changes do not.
async fn changes_reach(actor: &Store, observer_watch: &ChangeWatch, within: Duration) {
    let hasher = hasher();
    let (key, _) = actor.create_key(&hasher, "watched", &ModelScope::all(), None).await.unwrap();
    let (other, _) = actor.create_key(&hasher, "other", &ModelScope::all(), None).await.unwrap();
    let user = actor.create_admin_user("watcher", AdminRole::Viewer, "$argon2id$x", None).await.unwrap();
    let (token, _) = actor.create_admin_token(&hasher, "t", AdminRole::Viewer, None, None).await.unwrap();
    let session = actor.create_session(&hasher, &user.id, Duration::from_secs(60), unix_now()).await.unwrap().unwrap();
    // Creations withdraw nothing, so they leave cached rows alone.
    let quiet = observer_watch.generation().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(observer_watch.generation(), Some(quiet), "creations must not invalidate caches");

    let mut last = quiet;
    macro_rules! moves {
        ($what:literal, $change:expr) => {{
            $change;
            let seen = wait_for(observer_watch, within, |g| g.is_some_and(|g| g != last)).await.unwrap();
            assert_ne!(seen, last, $what);
            last = seen;
        }};
    }
    moves!("revoke", assert!(actor.revoke_key(&key.id).await.unwrap()));
    moves!("update", actor.update_key(&other.id, &KeySpec::new("renamed", ModelScope::all())).await.unwrap().unwrap());
    moves!("rotate", actor.rotate_key(&hasher, &other.id, Duration::from_secs(5), unix_now()).await.unwrap().unwrap());
    moves!("token revoke", assert!(actor.revoke_admin_token(&token.id).await.unwrap()));
    moves!("session revoke", assert!(actor.revoke_session(&hasher, &session.token).await.unwrap()));
    moves!("role change", assert!(actor.set_admin_role(&user.id, AdminRole::Admin).await.unwrap()));
    moves!("disable", assert!(actor.disable_admin_user(&user.id, unix_now()).await.unwrap()));
    moves!("credential", actor.set_provider_credential("openai", "v1.k.s", "k", None).await.unwrap());

    // A refused change rolls back, and a rolled-back notification is never delivered.
    assert!(matches!(
        actor.rotate_key(&hasher, &key.id, Duration::from_secs(5), unix_now()).await,
        Err(StoreError::Conflict(_))
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(observer_watch.generation(), Some(last), "a rolled-back change must not be announced");
}

#[tokio::test]
async fn sqlite_watch_follows_the_epoch_file() {
    let (store, dir) = sqlite_store().await;
    let watch = store.watch_changes().await.unwrap();
    assert!(watch.generation().is_some());
    // A second process on the same file (the CLI) is heard through the file.
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    let cli = Store::connect(&url).await.unwrap();
    changes_reach(&cli, &watch, Duration::from_millis(1)).await;
    // The epoch reader the gateway already uses agrees with the watch's view.
    let reader = store.epoch_reader().unwrap();
    let before = (reader.read(), watch.generation());
    let (key, _) = store.create_key(&hasher(), "k", &ModelScope::all(), None).await.unwrap();
    assert_eq!((reader.read(), watch.generation()), before);
    store.revoke_key(&key.id).await.unwrap();
    assert_ne!(reader.read(), before.0);
    assert_ne!(watch.generation(), before.1);
}

#[tokio::test]
async fn a_watch_without_an_epoch_is_never_valid() {
    let watch = ChangeWatch::from_epoch(None);
    assert_eq!(watch.generation(), None);
    assert_eq!(watch.clone().generation(), None);
}

/// The URL of the database `name` on the test server.
fn postgres_url(name: &str) -> String {
    let base = std::env::var("RAMPART_TEST_DATABASE_URL").unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

/// Terminates this database's listener connections; how many there were.
async fn kill_listeners(store: &Store) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = $1 AND datname = current_database()) AS killed",
    )
    .bind(crate::watch::LISTENER_APPLICATION_NAME)
    .fetch_one(&store.pool)
    .await
    .unwrap()
}

async fn listeners(store: &Store) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
    )
    .bind(crate::watch::LISTENER_APPLICATION_NAME)
    .fetch_one(&store.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_changes_reach_another_instance_within_a_second() {
    let Some((a, name)) = postgres_store().await else { return };
    // A second gateway: its own pool, its own listener.
    let b = Store::connect(&postgres_url(&name)).await.unwrap();
    let watch_b = b.watch_changes().await.unwrap();
    let watch_a = a.watch_changes().await.unwrap();
    assert!(watch_b.generation().is_some());
    // The generation stays trusted while heartbeats succeed (well past MAX_STALENESS).
    let steady = watch_b.generation();
    tokio::time::sleep(crate::watch::MAX_STALENESS * 2).await;
    assert_eq!(watch_b.generation(), steady);

    changes_reach(&a, &watch_b, Duration::from_secs(1)).await;

    // The store that made a change sees it in its own watch at once.
    let (key, _) = a.create_key(&hasher(), "own", &ModelScope::all(), None).await.unwrap();
    let before = watch_a.generation();
    a.revoke_key(&key.id).await.unwrap();
    assert_ne!(watch_a.generation(), before);
    assert!(watch_a.generation().is_some());

    drop((watch_a, watch_b));
    a.close().await;
    b.close().await;
    drop_postgres(&name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_listener_reconnects_and_invalidates() {
    let Some((a, name)) = postgres_store().await else { return };
    let b = Store::connect(&postgres_url(&name)).await.unwrap();
    let watch = b.watch_changes().await.unwrap();
    let before = watch.generation().unwrap();
    assert_eq!(listeners(&a).await, 1);

    assert_eq!(kill_listeners(&a).await, 1);
    // Disconnected: nothing cached may be trusted...
    wait_for(&watch, Duration::from_secs(2), |g| g.is_none()).await;
    // ...until it is back, with a generation no cached row can carry.
    let after = wait_for(&watch, Duration::from_secs(5), |g| g.is_some()).await.unwrap();
    assert!(after > before, "{after} <= {before}");
    assert_eq!(listeners(&a).await, 1);

    // And it hears changes again.
    let (key, _) = a.create_key(&hasher(), "k", &ModelScope::all(), None).await.unwrap();
    a.revoke_key(&key.id).await.unwrap();
    let heard = wait_for(&watch, Duration::from_secs(1), |g| g.is_some_and(|g| g != after)).await.unwrap();
    assert!(heard > after);

    // Twice in a row works too.
    assert_eq!(kill_listeners(&a).await, 1);
    wait_for(&watch, Duration::from_secs(2), |g| g.is_none()).await;
    let again = wait_for(&watch, Duration::from_secs(5), |g| g.is_some()).await.unwrap();
    assert!(again > heard);

    // Dropping the last clone of the watch closes its connection.
    let clone = watch.clone();
    drop(watch);
    assert_eq!(clone.generation(), Some(again));
    drop(clone);
    let deadline = Instant::now() + Duration::from_secs(5);
    while listeners(&a).await > 0 {
        assert!(Instant::now() < deadline, "the listener connection outlived its watch");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.close().await;
    b.close().await;
    drop_postgres(&name).await;
}

/// The watch of a store whose first listener connection cannot be made is an error
/// (the gateway then runs without a cache), not a hang.
#[tokio::test]
async fn postgres_watch_fails_fast_without_a_server() {
    let Some((store, name)) = postgres_store().await else { return };
    let mut unreachable = store.clone();
    unreachable.listen_url = Some(crate::watch::ListenUrl::new("postgres://postgres@127.0.0.1:1/postgres".into()));
    let started = Instant::now();
    assert!(unreachable.watch_changes().await.is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
    store.close().await;
    drop_postgres(&name).await;
}
