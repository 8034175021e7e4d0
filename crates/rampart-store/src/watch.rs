//! Change watching: how a gateway learns, on either backend, that something which
//! withdraws or alters access (a key revoked, rotated or re-scoped, an admin token or
//! session revoked, an admin user disabled or re-roled, a provider credential changed)
//! was committed by any process, so it may cache rows between changes.
//!
//! [`ChangeWatch::generation`] is a cheap value that changes whenever such a change
//! may have happened, and is `None` whenever the watch cannot vouch for that (then
//! nothing may be cached). A cache follows the same protocol as with the SQLite epoch
//! (see [`crate::epoch`]):
//!
//! 1. read `generation()` *before* querying the row;
//! 2. if it was `Some(g)`, the row may be cached under `g`;
//! 3. a cached row is used only while `generation()` still returns `Some(g)`, the same
//!    `g` (compare for equality only).
//!
//! Sources:
//!
//! - **PostgreSQL**: every change runs `pg_notify('rampart_key_changes', ...)` inside
//!   its transaction, delivered on commit. A background task holds a dedicated
//!   `LISTEN` connection (`application_name=rampart-listener`) and adds one to the
//!   generation per notification and per reconnection (notifications sent while
//!   disconnected are lost, so everything cached before must go). It also sends a
//!   heartbeat query every 250 ms on that connection; a notification committed before
//!   a heartbeat starts is received before the heartbeat's answer, so when a heartbeat
//!   succeeds every change committed before it started is counted. The generation is
//!   `None` while disconnected and whenever the last successful heartbeat started more
//!   than 1 s ago: a cached row is therefore never trusted for a change committed more
//!   than about 1 s earlier, even if the connection silently stalls. The same `Store`
//!   also counts its own changes at once, after their commit.
//! - **SQLite file**: the epoch file (16 random bytes folded to 64 bits), rewritten
//!   after every change's commit; `None` when it cannot be read.
//! - **SQLite in memory**: always `None` (no other process can tell it anything).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::epoch::EpochReader;
use crate::store::{CHANGE_CHANNEL, StoreError};

/// `application_name` of the listening connection (to find it in `pg_stat_activity`).
pub const LISTENER_APPLICATION_NAME: &str = "rampart-listener";
/// Interval between heartbeats on the listening connection.
pub const HEARTBEAT: Duration = Duration::from_millis(250);
/// How long after the start of the last successful heartbeat the generation is
/// trusted: the bound on how stale a cached row can be.
pub const MAX_STALENESS: Duration = Duration::from_secs(1);
/// A heartbeat or connection attempt slower than this counts as a lost connection.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// First wait before reconnecting, doubled per failure up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Set in the generation word while disconnected.
const DISCONNECTED: u64 = 1 << 63;

/// A PostgreSQL URL kept for the listener's own connection. `Debug` hides it (it may
/// hold a password).
#[derive(Clone)]
pub(crate) struct ListenUrl(Arc<str>);

impl ListenUrl {
    pub(crate) fn new(url: String) -> Self {
        Self(url.into())
    }
}

impl fmt::Debug for ListenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ListenUrl(<redacted>)")
    }
}

/// Watches created by one `Store` (and its clones), so its own commits count at once.
#[derive(Debug, Default)]
pub(crate) struct LocalWatches(Mutex<Vec<Weak<Shared>>>);

impl LocalWatches {
    fn register(&self, shared: &Arc<Shared>) {
        if let Ok(mut watches) = self.0.lock() {
            watches.retain(|w| w.strong_count() > 0);
            watches.push(Arc::downgrade(shared));
        }
    }

    /// After a commit: count a change in every live watch of this store.
    pub(crate) fn bump(&self) {
        if let Ok(watches) = self.0.lock() {
            for shared in watches.iter().filter_map(Weak::upgrade) {
                shared.bump();
            }
        }
    }
}

/// A watch for access changes; see the module documentation for the caching
/// protocol. Cheap to clone; on PostgreSQL the listening task ends when the last
/// clone is dropped.
#[derive(Clone, Debug)]
pub struct ChangeWatch {
    source: Source,
}

#[derive(Clone, Debug)]
enum Source {
    Never,
    Epoch(Arc<EpochReader>),
    Listener(Arc<Listener>),
}

impl ChangeWatch {
    /// The current generation, or `None` when no cached row may be trusted. Costs an
    /// atomic load and a clock read (PostgreSQL) or one `pread` (SQLite).
    pub fn generation(&self) -> Option<u64> {
        match &self.source {
            Source::Never => None,
            Source::Epoch(reader) => reader.read().map(|epoch| {
                let (low, high) = epoch.split_at(8);
                let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or([0; 8]));
                word(low) ^ word(high)
            }),
            Source::Listener(listener) => listener.shared.generation(),
        }
    }

    /// A watch over a SQLite epoch file, or one that is never valid.
    pub(crate) fn from_epoch(reader: Option<EpochReader>) -> Self {
        Self { source: reader.map_or(Source::Never, |reader| Source::Epoch(Arc::new(reader))) }
    }

    /// Opens the listening connection (failing if this first attempt fails) and
    /// starts the task that keeps it.
    pub(crate) async fn listen(url: &ListenUrl, local: &LocalWatches) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(&url.0)?.application_name(LISTENER_APPLICATION_NAME);
        let shared = Arc::new(Shared {
            generation: AtomicU64::new(DISCONNECTED),
            fresh_until_ms: AtomicU64::new(0),
            base: Instant::now(),
        });
        let started = shared.now_ms();
        let listener = match tokio::time::timeout(IO_TIMEOUT, connect(&options)).await {
            Ok(result) => result?,
            Err(_) => return Err(StoreError::Database(sqlx::Error::PoolTimedOut)),
        };
        shared.connected(started);
        local.register(&shared);
        let task = tokio::spawn(keep_listening(listener, options, shared.clone()));
        Ok(Self { source: Source::Listener(Arc::new(Listener { shared, task })) })
    }
}

/// The listening task's handle; dropping it stops the task.
struct Listener {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener").field("generation", &self.shared.generation()).finish()
    }
}

/// State shared by the listening task and the watches.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The generation, with [`DISCONNECTED`] set while there is no connection.
    generation: AtomicU64,
    /// Milliseconds since `base` until which the generation is trusted.
    fresh_until_ms: AtomicU64,
    base: Instant,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn generation(&self) -> Option<u64> {
        // Freshness first: its store (Release) comes after the bumps it vouches for.
        let fresh_until = self.fresh_until_ms.load(Ordering::Acquire);
        let generation = self.generation.load(Ordering::Acquire);
        (generation & DISCONNECTED == 0 && self.now_ms() < fresh_until).then_some(generation)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Every change committed before `started_ms` has been counted.
    fn vouch_from(&self, started_ms: u64) {
        let until = started_ms.saturating_add(u64::try_from(MAX_STALENESS.as_millis()).unwrap_or(u64::MAX));
        self.fresh_until_ms.fetch_max(until, Ordering::AcqRel);
    }

    fn disconnected(&self) {
        self.generation.fetch_or(DISCONNECTED, Ordering::AcqRel);
        self.fresh_until_ms.store(0, Ordering::Release);
    }

    /// A new connection listens since `started_ms`: a new generation, never used.
    fn connected(&self, started_ms: u64) {
        let previous = self.generation.load(Ordering::Acquire);
        self.generation.store(((previous & !DISCONNECTED) + 1) & !DISCONNECTED, Ordering::Release);
        self.vouch_from(started_ms);
    }
}

async fn connect(options: &PgConnectOptions) -> Result<PgListener, sqlx::Error> {
    // A pool of one, only because PgListener takes its connection from a pool. A
    // fresh pool per attempt: nothing of a broken connection is reused.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(IO_TIMEOUT)
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    // A lost connection ends `try_recv` at once; this task reconnects itself.
    listener.eager_reconnect(false);
    listener.ignore_pool_close_event(true);
    listener.listen(CHANGE_CHANNEL).await?;
    Ok(listener)
}

async fn keep_listening(listener: PgListener, options: PgConnectOptions, shared: Arc<Shared>) {
    let mut listener = Some(listener);
    let mut backoff = INITIAL_BACKOFF;
    loop {
        if let Some(mut connected) = listener.take() {
            let why = serve(&mut connected, &shared).await;
            shared.disconnected();
            tracing::warn!(reason = %why, "change listener lost its connection: cached keys are not trusted until it reconnects");
            backoff = INITIAL_BACKOFF;
        }
        let jitter = rand::random_range(0..=u64::try_from(backoff.as_millis() / 2).unwrap_or(0));
        tokio::time::sleep(backoff + Duration::from_millis(jitter)).await;
        let started = shared.now_ms();
        match tokio::time::timeout(IO_TIMEOUT, connect(&options)).await {
            Ok(Ok(connected)) => {
                shared.connected(started);
                tracing::info!("change listener reconnected");
                listener = Some(connected);
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "change listener could not reconnect");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(_) => {
                tracing::warn!("change listener could not reconnect: timed out");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Counts notifications and sends heartbeats until the connection is lost; returns
/// why.
async fn serve(listener: &mut PgListener, shared: &Shared) -> String {
    let mut next_heartbeat = tokio::time::Instant::now() + HEARTBEAT;
    loop {
        tokio::select! {
            // `try_recv` is cancel safe: a heartbeat interrupting it loses nothing.
            received = listener.try_recv() => match received {
                Ok(Some(_)) => shared.bump(),
                Ok(None) => return "connection closed".to_owned(),
                Err(error) => return error.to_string(),
            },
            () = tokio::time::sleep_until(next_heartbeat) => {
                let started = shared.now_ms();
                match tokio::time::timeout(IO_TIMEOUT, sqlx::query("SELECT 1").execute(&mut *listener)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => return error.to_string(),
                    Err(_) => return "heartbeat timed out".to_owned(),
                }
                // Notifications that arrived during the heartbeat were buffered.
                while listener.next_buffered().is_some() {
                    shared.bump();
                }
                shared.vouch_from(started);
                next_heartbeat = tokio::time::Instant::now() + HEARTBEAT;
            }
        }
    }
}
