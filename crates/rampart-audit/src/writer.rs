//! The audit write path: a local write-ahead journal in front of the [`AuditStore`].
//!
//! [`AuditLog::record`] (called on the request path) appends the record as one line
//! to a local append-only journal file with a single `write(2)` and wakes the writer
//! task; it never waits for the database. The writer task runs on a runtime thread of
//! its own (`rampart-audit`), off the threads that serve requests. It *always* reads from the
//! journal (tailing it from the committed position), appends batches to the store and
//! records the journal position it reached in the store, in the same transaction as
//! the batch (`audit_journal_offsets`). The journal is therefore both the bounded
//! queue (bounded by [`AuditLogOptions::max_lag_bytes`]) and the spill file: ordering
//! and no-loss hold by construction, and the store's offset can never disagree with
//! the records it holds (no duplicates after a crash).
//!
//! Journal format: a header line `rampart-audit-journal v1 <generation>\n`, then one
//! line per record: `<16 hex digits: first 8 bytes of SHA-256(json)> <json>\n`. A line
//! whose checksum does not match (a torn write after a crash) is skipped and counted.
//!
//! Crash semantics: a process kill (`kill -9`) loses nothing that `record` returned
//! `Ok` for: the bytes are in the kernel page cache and replayed at the next
//! [`AuditLog::open`]. A machine crash (power loss, kernel panic) can lose the records
//! written since the last `fsync`: set [`AuditLogOptions::fsync_interval`] to bound
//! that window (the writer task syncs the journal at that interval).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::record::AuditRecord;
use crate::store::{AuditError, AuditStore};

const HEADER_PREFIX: &str = "rampart-audit-journal v1 ";

/// [`AuditLog::record`] could not persist the record (fail-closed: refuse the request).
#[derive(Debug, thiserror::Error)]
#[error("audit log unavailable: {0}")]
pub struct AuditUnavailable(pub String);

/// How [`AuditLog`] behaves.
#[derive(Debug, Clone)]
pub struct AuditLogOptions {
    /// When the journal cannot be written: `true` makes [`AuditLog::record`] return
    /// `Err` (refuse traffic); `false` counts the record as dropped and returns `Ok`.
    pub fail_closed: bool,
    /// Most records per store transaction.
    pub max_batch: usize,
    /// How long the writer waits for more records before writing a partial batch.
    pub batch_wait: Duration,
    /// After committing a partial batch, how long the writer lets records gather before
    /// the next transaction (records are durable in the journal meanwhile): one
    /// transaction per few dozen records instead of one per record, which is most of the
    /// database's cost per record.
    pub commit_interval: Duration,
    /// First retry delay after a store error (doubles up to `max_backoff`).
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Rotate (start a new, empty journal) once everything is committed and the
    /// journal is larger than this.
    pub rotate_bytes: u64,
    /// Uncommitted journal bytes beyond which the journal counts as full: `record`
    /// then behaves as if the journal write failed (fail-closed/open).
    pub max_lag_bytes: u64,
    /// `fsync` the journal at this interval (None: never; a machine crash can then
    /// lose what the OS had not written back yet).
    pub fsync_interval: Option<Duration>,
    /// Tests: do not start the writer task (simulates a process killed before it ran).
    pub(crate) spawn_writer: bool,
}

impl Default for AuditLogOptions {
    fn default() -> Self {
        Self {
            fail_closed: true,
            max_batch: 1000,
            batch_wait: Duration::from_millis(50),
            commit_interval: Duration::from_millis(25),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            rotate_bytes: 64 << 20,
            max_lag_bytes: 1 << 30,
            fsync_interval: None,
            spawn_writer: true,
        }
    }
}

/// Counters of [`AuditLog`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditLogStats {
    /// Records appended to the journal.
    pub journaled: u64,
    /// Records appended to the store.
    pub stored: u64,
    /// Records replayed from the journal at open (written before a restart).
    pub replayed: u64,
    /// Records dropped (journal unwritable, fail-open).
    pub dropped: u64,
    /// Failed store appends (each retried).
    pub store_errors: u64,
    /// Journal lines skipped because their checksum did not match (torn writes).
    pub torn_lines: u64,
    /// Journal bytes not yet committed to the store.
    pub lag_bytes: u64,
    /// Journal rotations.
    pub rotations: u64,
}

#[derive(Default)]
struct Counters {
    journaled: AtomicU64,
    stored: AtomicU64,
    replayed: AtomicU64,
    dropped: AtomicU64,
    store_errors: AtomicU64,
    torn_lines: AtomicU64,
    rotations: AtomicU64,
}

struct Journal {
    file: File,
    generation: u64,
    /// End of the last complete line.
    end: u64,
}

struct Shared {
    path: PathBuf,
    name: String,
    options: AuditLogOptions,
    journal: Mutex<Journal>,
    /// Mirrors `Journal::end` (lock-free reads).
    written: AtomicU64,
    committed: AtomicU64,
    wake: Notify,
    stop: AtomicBool,
    counters: Counters,
}

/// The non-blocking audit write path. See the module docs.
pub struct AuditLog {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("journal", &self.shared.path).finish()
    }
}

fn checksum(json: &[u8]) -> String {
    hex::encode(&Sha256::digest(json)[..8])
}

fn header(generation: u64) -> String {
    format!("{HEADER_PREFIX}{generation}\n")
}

fn io(e: std::io::Error) -> AuditError {
    AuditError::Io(e)
}

/// Parses complete lines of `buf` (starting at journal offset `base`) into records,
/// at most `max`; returns the records, the offset after the last consumed line and
/// how many lines were skipped as torn.
fn parse_lines(buf: &[u8], base: u64, max: usize) -> (Vec<AuditRecord>, u64, u64) {
    let mut records = Vec::new();
    let mut pos = 0usize;
    let mut torn = 0u64;
    while records.len() < max {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else { break };
        let line = &buf[pos..pos + nl];
        pos += nl + 1;
        let parsed = (line.len() > 17 && line[16] == b' ')
            .then(|| (&line[..16], &line[17..]))
            .filter(|(sum, json)| sum == &checksum(json).as_bytes())
            .and_then(|(_, json)| serde_json::from_slice::<AuditRecord>(json).ok());
        match parsed {
            Some(record) => records.push(record),
            None => torn += 1,
        }
    }
    (records, base + pos as u64, torn)
}

/// Opens (or creates) the journal: returns it, the generation and header length.
fn open_journal(path: &Path) -> Result<(File, u64, u64), AuditError> {
    let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(io)?;
    let mut first = Vec::new();
    (&mut file).take(128).read_to_end(&mut first).map_err(io)?;
    let header_line = first.iter().position(|&b| b == b'\n').map(|nl| &first[..=nl]);
    if let Some(line) = header_line {
        let text = std::str::from_utf8(line).map_err(|_| AuditError::Corrupt("journal header".into()))?;
        let generation = text
            .trim_end()
            .strip_prefix(HEADER_PREFIX)
            .and_then(|g| g.parse::<u64>().ok())
            .ok_or_else(|| AuditError::Corrupt(format!("not a rampart audit journal: {}", path.display())))?;
        return Ok((file, generation, line.len() as u64));
    }
    // Empty (or a torn header): start generation 1.
    file.set_len(0).map_err(io)?;
    let h = header(1);
    file.write_all(h.as_bytes()).map_err(io)?;
    Ok((file, 1, h.len() as u64))
}

impl AuditLog {
    /// Opens the journal at `journal_path` (created if needed), recovers: skips a torn
    /// final line, and starts the writer task, which first replays (in order) every
    /// record after the store's committed position. Must be called inside a tokio
    /// runtime.
    pub async fn open(store: AuditStore, journal_path: &Path, options: AuditLogOptions) -> Result<Self, AuditError> {
        let (mut file, generation, header_len) = open_journal(journal_path)?;
        let name = std::fs::canonicalize(journal_path).map_err(io)?.display().to_string();
        let start = match store.journal_offset(&name).await? {
            Some((g, pos)) if g == generation => pos.max(header_len),
            _ => header_len,
        };
        // Recovery scan: find the end of the last complete line, truncate a torn tail.
        let len = file.metadata().map_err(io)?.len();
        let mut tail = Vec::new();
        file.seek(SeekFrom::Start(start.min(len))).map_err(io)?;
        file.read_to_end(&mut tail).map_err(io)?;
        let (records, good_end, torn) = parse_lines(&tail, start.min(len), usize::MAX);
        let torn = torn + u64::from(good_end < len);
        if good_end < len {
            file.set_len(good_end).map_err(io)?;
        }
        let counters = Counters::default();
        counters.replayed.store(records.len() as u64, Ordering::Relaxed);
        counters.torn_lines.store(torn, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            path: journal_path.to_owned(),
            name,
            journal: Mutex::new(Journal { file, generation, end: good_end }),
            written: AtomicU64::new(good_end),
            committed: AtomicU64::new(start.min(good_end)),
            wake: Notify::new(),
            stop: AtomicBool::new(false),
            counters,
            options,
        });
        let task = shared.options.spawn_writer.then(|| {
            let task = writer(store, shared.clone(), start.min(good_end), generation);
            match writer_runtime() {
                Some(runtime) => runtime.spawn(task),
                None => tokio::spawn(task),
            }
        });
        Ok(Self { shared, task: Mutex::new(task) })
    }

    /// Journals `record` (one `write(2)`, no waiting for the database) and wakes the
    /// writer. `Err` only when the journal cannot be written (or is over
    /// `max_lag_bytes`) and `fail_closed` is set: refuse the request then.
    pub fn record(&self, record: &AuditRecord) -> Result<(), AuditUnavailable> {
        match self.journal_write(record) {
            Ok(()) => {
                self.shared.counters.journaled.fetch_add(1, Ordering::Relaxed);
                self.shared.wake.notify_one();
                Ok(())
            }
            Err(e) if self.shared.options.fail_closed => Err(e),
            Err(_) => {
                self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    fn journal_write(&self, record: &AuditRecord) -> Result<(), AuditUnavailable> {
        let json = serde_json::to_string(record).map_err(|e| AuditUnavailable(e.to_string()))?;
        let mut line = String::with_capacity(json.len() + 18);
        line.push_str(&checksum(json.as_bytes()));
        line.push(' ');
        line.push_str(&json);
        line.push('\n');
        let shared = &self.shared;
        let mut journal = shared.journal.lock().map_err(|_| AuditUnavailable("journal lock poisoned".into()))?;
        if journal.end.saturating_sub(shared.committed.load(Ordering::Relaxed)) > shared.options.max_lag_bytes {
            return Err(AuditUnavailable("journal lag above max_lag_bytes (store down too long)".into()));
        }
        if let Err(e) = journal.file.write_all(line.as_bytes()) {
            // Undo a partial line so the next one starts clean.
            let end = journal.end;
            let _ = journal.file.set_len(end);
            return Err(AuditUnavailable(format!("journal write failed: {e}")));
        }
        journal.end += line.len() as u64;
        shared.written.store(journal.end, Ordering::Release);
        Ok(())
    }

    /// The counters.
    pub fn stats(&self) -> AuditLogStats {
        let c = &self.shared.counters;
        AuditLogStats {
            journaled: c.journaled.load(Ordering::Relaxed),
            stored: c.stored.load(Ordering::Relaxed),
            replayed: c.replayed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            store_errors: c.store_errors.load(Ordering::Relaxed),
            torn_lines: c.torn_lines.load(Ordering::Relaxed),
            rotations: c.rotations.load(Ordering::Relaxed),
            lag_bytes: self.lag_bytes(),
        }
    }

    /// Journal bytes not yet committed to the store (two atomic loads: cheap enough
    /// for every request).
    pub fn lag_bytes(&self) -> u64 {
        self.shared.written.load(Ordering::Acquire).saturating_sub(self.shared.committed.load(Ordering::Acquire))
    }

    /// Stops the writer after it has committed everything journaled so far, or at
    /// `deadline`, whichever comes first. Returns whether everything was committed
    /// (what was not stays in the journal for the next [`AuditLog::open`]).
    pub async fn shutdown(&self, deadline: Duration) -> bool {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let abort = task.abort_handle();
            if tokio::time::timeout(deadline, task).await.is_err() {
                abort.abort();
            }
        }
        self.stats().lag_bytes == 0
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        // Like a kill: whatever is not committed stays in the journal.
        if let Ok(mut task) = self.task.lock()
            && let Some(task) = task.take()
        {
            task.abort();
        }
    }
}

/// The runtime the writer tasks run on: one thread of its own (`rampart-audit`), for
/// the life of the process. The writer's work per batch (reading and parsing the
/// journal, serializing, hashing and binding every record) is CPU time in one poll:
/// on the gateway's runtime it would hold up every request queued behind it (up to a
/// millisecond at a few thousand requests per second); on its own thread the kernel
/// preempts it when a request arrives. The runtime is never shut down, so connections
/// the store's pool opens from it stay usable from every other runtime. `None` when
/// the thread cannot be started: the writer then runs on the caller's runtime.
fn writer_runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Runtime>> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .max_blocking_threads(1)
                .thread_name("rampart-audit")
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
}

/// The writer task: tails the journal from `pos`, appends batches, retries with backoff.
async fn writer(store: AuditStore, shared: Arc<Shared>, mut pos: u64, mut generation: u64) {
    let mut reader: Option<File> = None;
    let mut backoff = shared.options.min_backoff;
    let mut last_sync = tokio::time::Instant::now();
    loop {
        let written = shared.written.load(Ordering::Acquire);
        if pos >= written {
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            if let Some(start) = maybe_rotate(&shared, pos, &mut generation, &mut reader) {
                pos = start;
            }
            if tokio::time::timeout(shared.options.batch_wait, shared.wake.notified()).await.is_ok()
                && !shared.stop.load(Ordering::Acquire)
            {
                // Woken from idle by a new record: let the next few join it, so light
                // traffic costs one commit per interval rather than one per request.
                tokio::time::sleep(shared.options.commit_interval).await;
            }
            continue;
        }
        if let Some(every) = shared.options.fsync_interval
            && last_sync.elapsed() >= every
        {
            if let Ok(journal) = shared.journal.lock() {
                let _ = journal.file.sync_data();
            }
            last_sync = tokio::time::Instant::now();
        }
        // Read a chunk of complete lines (the journal holds only complete lines up to `written`).
        let Some(batch) = read_batch(&shared, &mut reader, pos, written) else {
            tokio::time::sleep(backoff).await;
            continue;
        };
        let (records, end, torn) = batch;
        if torn > 0 {
            shared.counters.torn_lines.fetch_add(torn, Ordering::Relaxed);
        }
        let mut failed = false;
        loop {
            // A failed attempt may still have committed (its acknowledgement lost with
            // the connection): the journal position stored with every batch says
            // whether, so a batch is never appended twice.
            let stored = if failed { store.journal_offset(&shared.name).await.map(Some) } else { Ok(None) };
            let outcome = match stored {
                Ok(Some(Some((g, at)))) if g == generation && at >= end => Ok(()),
                Ok(_) => store.append_batch_committing(&records, &shared.name, generation, end).await.map(drop),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => {
                    shared.counters.stored.fetch_add(records.len() as u64, Ordering::Relaxed);
                    shared.committed.store(end, Ordering::Release);
                    pos = end;
                    backoff = shared.options.min_backoff;
                    if records.len() < shared.options.max_batch && !shared.stop.load(Ordering::Acquire) {
                        tokio::time::sleep(shared.options.commit_interval).await;
                    }
                    break;
                }
                Err(_) => {
                    failed = true;
                    shared.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(shared.options.max_backoff);
                }
            }
        }
    }
}

type Batch = (Vec<AuditRecord>, u64, u64);

fn read_batch(shared: &Shared, reader: &mut Option<File>, pos: u64, written: u64) -> Option<Batch> {
    if reader.is_none() {
        *reader = File::open(&shared.path).ok();
    }
    let file = reader.as_mut()?;
    // ~1 KiB per record is typical; read enough for a full batch, bounded at 16 MiB.
    let want = (written - pos).min((shared.options.max_batch as u64).saturating_mul(4096).clamp(1 << 16, 16 << 20));
    let mut buf = vec![0u8; usize::try_from(want).ok()?];
    file.seek(SeekFrom::Start(pos)).ok()?;
    file.read_exact(&mut buf).ok()?;
    let (records, end, torn) = parse_lines(&buf, pos, shared.options.max_batch.max(1));
    if end == pos {
        // One line longer than the chunk: read it whole.
        let mut rest = Vec::new();
        file.seek(SeekFrom::Start(pos)).ok()?;
        file.take(written - pos).read_to_end(&mut rest).ok()?;
        return Some(parse_lines(&rest, pos, shared.options.max_batch.max(1)));
    }
    Some((records, end, torn))
}

/// When everything is committed and the journal is above `rotate_bytes`, replaces it
/// with an empty journal of the next generation (atomic rename). The store still says
/// `(old generation, pos)`: a newer generation in the file means "replay from its start".
fn maybe_rotate(shared: &Shared, pos: u64, generation: &mut u64, reader: &mut Option<File>) -> Option<u64> {
    if pos < shared.options.rotate_bytes {
        return None;
    }
    let mut journal = shared.journal.lock().ok()?;
    if journal.end != pos {
        return None;
    }
    let next = journal.generation + 1;
    let tmp = shared.path.with_extension("rotating");
    let h = header(next);
    let created = (|| -> std::io::Result<File> {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(h.as_bytes())?;
        f.sync_data()?;
        std::fs::rename(&tmp, &shared.path)?;
        OpenOptions::new().read(true).append(true).open(&shared.path)
    })();
    if let Ok(file) = created {
        let end = h.len() as u64;
        *journal = Journal { file, generation: next, end };
        shared.written.store(end, Ordering::Release);
        shared.committed.store(end, Ordering::Release);
        *generation = next;
        *reader = None;
        shared.counters.rotations.fetch_add(1, Ordering::Relaxed);
        return Some(end);
    }
    None
}

#[cfg(test)]
impl AuditLog {
    /// Tests: replaces the journal's file handle (e.g. with `/dev/full`).
    pub(crate) fn swap_journal_file_for_test(&self, file: File) {
        if let Ok(mut journal) = self.shared.journal.lock() {
            journal.file = file;
        }
    }
}
