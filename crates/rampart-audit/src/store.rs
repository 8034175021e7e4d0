//! The [`AuditStore`]: a pooled connection to SQLite or PostgreSQL holding the chain.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::chain::{self, AuditPublicKey, AuditSigner, GENESIS};
use crate::record::{AuditRecord, RecordKind, StoredRecord};
use crate::verify::VerifyReport;

/// Audit storage failures. Messages never include keys or connection passwords.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database failed.
    #[error("audit database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A record could not be (de)serialized.
    #[error("audit record JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing an export failed.
    #[error("audit export I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A signing or verification key was invalid.
    #[error("audit key error: {0}")]
    Key(String),
    /// A checkpoint was needed but the store has no signing key.
    #[error("audit store has no signing key: checkpoints cannot be created")]
    NoSigner,
    /// Stored data is not what this crate writes (run `verify` for details).
    #[error("audit trail is corrupt: {0}")]
    Corrupt(String),
}

/// A signed checkpoint: the chain head `(seq, hash)` at `time` (unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The checkpointed record's seq.
    pub seq: u64,
    /// That record's hash (hex).
    pub hash: String,
    /// When the checkpoint was made, unix ms.
    pub time: i64,
    /// Ed25519 signature over [`chain::checkpoint_message`] (standard base64).
    pub signature: String,
}

/// What [`AuditStore::append_batch`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The first record's seq (`last_seq + 1` when the batch was empty).
    pub first_seq: u64,
    /// The last record's seq: the chain head.
    pub last_seq: u64,
    /// The chain head's hash (hex).
    pub last_hash: String,
    /// The seqs of the checkpoints made in the same transaction.
    pub checkpoints: Vec<u64>,
}

/// Which records [`AuditStore::query`] and [`AuditStore::export_jsonl`] return. Every
/// field set narrows the selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryFilter {
    /// Records at or after this time (unix ms).
    pub from: Option<i64>,
    /// Records before this time (unix ms, exclusive).
    pub to: Option<i64>,
    /// Records of this principal.
    pub principal: Option<String>,
    /// Records of this kind.
    pub kind: Option<RecordKind>,
}

/// One page of [`AuditStore::query`], in seq order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The records.
    pub records: Vec<StoredRecord>,
    /// The cursor of the next page (`after_seq`), or `None` when this was the last.
    pub next_after_seq: Option<u64>,
}

/// How [`AuditStore::export_jsonl`] writes each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// [`StoredRecord`] as JSON (seq, prev_hash, hash, record).
    #[default]
    Native,
    /// [`crate::ocsf::to_ocsf`].
    Ocsf,
}

/// Records inserted per statement (7 parameters each: under SQLite's 999 limit).
const INSERT_CHUNK: usize = 100;

/// The multi-row insert of `rows` records. PostgreSQL takes numbered placeholders
/// (`$1`…); SQLite gets anonymous ones (`?`): for numbered ones sqlx looks up each
/// parameter's name, which SQLite finds by a linear scan of all the names, quadratic in
/// a 700-parameter statement (2% of the gateway's CPU at 2,000 requests/s).
fn insert_sql(rows: usize, postgres: bool) -> String {
    let mut sql =
        String::from("INSERT INTO audit_records (seq, time, kind, principal, record, prev_hash, hash) VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        if postgres {
            let b = i * 7;
            let _ = write!(sql, "(${},${},${},${},${},${},${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7);
        } else {
            sql.push_str("(?,?,?,?,?,?,?)");
        }
    }
    sql
}
/// Records per page when walking the chain.
pub(crate) const PAGE: i64 = 1000;

/// The audit trail on SQLite or PostgreSQL. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct AuditStore {
    pool: AnyPool,
    postgres: bool,
    signer: Option<Arc<AuditSigner>>,
    checkpoint_every: u64,
}

pub(crate) fn unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn to_u64(v: i64) -> Result<u64, AuditError> {
    u64::try_from(v).map_err(|_| AuditError::Corrupt(format!("negative seq {v}")))
}

pub(crate) fn to_i64(v: u64) -> Result<i64, AuditError> {
    i64::try_from(v).map_err(|_| AuditError::Corrupt(format!("seq {v} out of range")))
}

fn hash_of(text: &str) -> Result<[u8; 32], AuditError> {
    chain::parse_hash(text).ok_or_else(|| AuditError::Corrupt(format!("invalid stored hash {text:?}")))
}

impl AuditStore {
    /// Connects to `url` (`sqlite://PATH`, created if needed, or `postgres://...`) and
    /// applies the audit migrations. The store has no signing key until
    /// [`AuditStore::with_signer`].
    pub async fn connect(url: &str) -> Result<Self, AuditError> {
        install_default_drivers();
        let postgres = !url.starts_with("sqlite:");
        let url = if !postgres && !url.contains('?') { format!("{url}?mode=rwc") } else { url.to_owned() };
        let options = AnyPoolOptions::new()
            .max_connections(if postgres { 8 } else { 4 })
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false);
        let options = if postgres {
            options
        } else {
            options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL: readers (verify, query) proceed while the writer appends;
                    // busy_timeout: writers wait for each other instead of failing.
                    sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                    // Checkpoints of 100 pages instead of SQLite's 1000: the commit that
                    // crosses the mark copies the WAL into the database on the writer's
                    // thread, and on a gateway sharing its cores that burst of work showed
                    // in the tail of concurrent requests (streamed time to first content,
                    // p99, paired runs: +1.8 ms over the provider with 1000, +1.0 with 100);
                    // the sustained write rate stays far above need (README, Performance).
                    sqlx::query("PRAGMA wal_autocheckpoint = 100").execute(&mut *conn).await?;
                    Ok(())
                })
            })
        };
        let pool = options.connect(&url).await?;
        crate::migrate::run(&pool, postgres).await?;
        Ok(Self { pool, postgres, signer: None, checkpoint_every: 0 })
    }

    /// Signs checkpoints with `signer`: one automatically every `checkpoint_every`
    /// records (at seqs that are multiples of it; 0: only on demand), in the same
    /// transaction as the append.
    pub fn with_signer(mut self, signer: AuditSigner, checkpoint_every: u64) -> Self {
        self.signer = Some(Arc::new(signer));
        self.checkpoint_every = checkpoint_every;
        self
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        if self.postgres { "postgres" } else { "sqlite" }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    #[cfg(test)]
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction holding the chain lock: the first statement writes the
    /// lock row, so concurrent appenders (any number of stores, any process) take
    /// turns: a row lock on PostgreSQL, the database write lock on SQLite.
    async fn locked(&self) -> Result<Transaction<'static, Any>, AuditError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE audit_chain_lock SET appends = appends + 1 WHERE id = 1").execute(&mut *tx).await?;
        Ok(tx)
    }

    /// The chain head: the last record's `(seq, hash)`, or the last checkpoint's when
    /// every record was purged, or `(0, zeros)`.
    async fn head(tx: &mut Transaction<'static, Any>) -> Result<(u64, [u8; 32]), AuditError> {
        let record = sqlx::query("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
        let checkpoint = sqlx::query("SELECT seq, hash FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
        let mut head = (0u64, GENESIS);
        for row in [record, checkpoint].into_iter().flatten() {
            let seq = to_u64(row.try_get::<i64, _>("seq")?)?;
            if seq > head.0 {
                head = (seq, hash_of(&row.try_get::<String, _>("hash")?)?);
            }
        }
        Ok(head)
    }

    async fn insert_checkpoint(
        &self,
        tx: &mut Transaction<'static, Any>,
        seq: u64,
        hash: &[u8; 32],
    ) -> Result<Checkpoint, AuditError> {
        let signer = self.signer.as_ref().ok_or(AuditError::NoSigner)?;
        let time = unix_ms();
        let checkpoint = Checkpoint {
            seq,
            hash: hex::encode(hash),
            time,
            signature: STANDARD.encode(signer.sign_checkpoint(seq, hash, time)),
        };
        sqlx::query("INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES ($1, $2, $3, $4)")
            .bind(to_i64(seq)?)
            .bind(checkpoint.hash.clone())
            .bind(time)
            .bind(checkpoint.signature.clone())
            .execute(&mut **tx)
            .await?;
        Ok(checkpoint)
    }

    /// Appends `records` in order, in one transaction: assigns seqs continuing the
    /// chain, hashes each, and makes the periodic checkpoints that fall in the batch.
    /// Safe to call concurrently from any number of stores on one database.
    pub async fn append_batch(&self, records: &[AuditRecord]) -> Result<AppendOutcome, AuditError> {
        self.append_inner(records, None).await
    }

    /// [`AuditStore::append_batch`] that also records, in the same transaction, that
    /// the journal `journal` is committed up to `(generation, pos)`.
    pub(crate) async fn append_batch_committing(
        &self,
        records: &[AuditRecord],
        journal: &str,
        generation: u64,
        pos: u64,
    ) -> Result<AppendOutcome, AuditError> {
        self.append_inner(records, Some((journal, generation, pos))).await
    }

    /// The journal `journal`'s committed `(generation, pos)`, if any.
    pub(crate) async fn journal_offset(&self, journal: &str) -> Result<Option<(u64, u64)>, AuditError> {
        let row = sqlx::query("SELECT generation, pos FROM audit_journal_offsets WHERE journal = $1")
            .bind(journal.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => {
                Ok(Some((to_u64(row.try_get::<i64, _>("generation")?)?, to_u64(row.try_get::<i64, _>("pos")?)?)))
            }
            None => Ok(None),
        }
    }

    async fn append_inner(
        &self,
        records: &[AuditRecord],
        journal: Option<(&str, u64, u64)>,
    ) -> Result<AppendOutcome, AuditError> {
        let mut rows = Vec::with_capacity(records.len());
        for record in records {
            rows.push((record.time, record.kind.as_str(), record.principal.clone(), serde_json::to_string(record)?));
        }
        let mut tx = self.locked().await?;
        let (mut seq, mut hash) = Self::head(&mut tx).await?;
        let first_seq = seq + 1;
        let mut checkpoints = Vec::new();
        let mut due = Vec::new();
        for chunk in rows.chunks(INSERT_CHUNK) {
            let sql = insert_sql(chunk.len(), self.postgres);
            let mut query = sqlx::query(&sql);
            for (time, kind, principal, json) in chunk {
                let prev = hash;
                seq += 1;
                hash = chain::record_hash(&prev, seq, json.as_bytes());
                query = query
                    .bind(to_i64(seq)?)
                    .bind(*time)
                    .bind(*kind)
                    .bind(principal.clone())
                    .bind(json.clone())
                    .bind(hex::encode(prev))
                    .bind(hex::encode(hash));
                if self.checkpoint_every > 0 && self.signer.is_some() && seq % self.checkpoint_every == 0 {
                    due.push((seq, hash));
                }
            }
            query.execute(&mut *tx).await?;
        }
        for (cp_seq, cp_hash) in due {
            checkpoints.push(self.insert_checkpoint(&mut tx, cp_seq, &cp_hash).await?.seq);
        }
        if let Some((journal, generation, pos)) = journal {
            sqlx::query(
                "INSERT INTO audit_journal_offsets (journal, generation, pos) VALUES ($1, $2, $3) \
                 ON CONFLICT (journal) DO UPDATE SET generation = excluded.generation, pos = excluded.pos",
            )
            .bind(journal.to_owned())
            .bind(to_i64(generation)?)
            .bind(to_i64(pos)?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(AppendOutcome { first_seq, last_seq: seq, last_hash: hex::encode(hash), checkpoints })
    }

    /// Signs a checkpoint at the current chain head (returns the existing one when the
    /// head is already checkpointed), or `None` when the trail is empty.
    pub async fn checkpoint_now(&self) -> Result<Option<Checkpoint>, AuditError> {
        if self.signer.is_none() {
            return Err(AuditError::NoSigner);
        }
        let mut tx = self.locked().await?;
        let (seq, hash) = Self::head(&mut tx).await?;
        if seq == 0 {
            return Ok(None);
        }
        if let Some(existing) = Self::checkpoint_at(&mut tx, seq).await? {
            return Ok(Some(existing));
        }
        let checkpoint = self.insert_checkpoint(&mut tx, seq, &hash).await?;
        tx.commit().await?;
        Ok(Some(checkpoint))
    }

    async fn checkpoint_at(tx: &mut Transaction<'static, Any>, seq: u64) -> Result<Option<Checkpoint>, AuditError> {
        let row = sqlx::query("SELECT seq, hash, time, signature FROM audit_checkpoints WHERE seq = $1")
            .bind(to_i64(seq)?)
            .fetch_optional(&mut **tx)
            .await?;
        row.map(|row| checkpoint_from_row(&row)).transpose()
    }

    /// Every checkpoint, in seq order (there is one per `checkpoint_every` records).
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, AuditError> {
        let rows = sqlx::query("SELECT seq, hash, time, signature FROM audit_checkpoints ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    /// Retention: deletes the records before the first one at or after `time` (unix
    /// ms), a prefix of the chain, so what remains stays contiguous. First makes sure a
    /// signed checkpoint anchors the new first record's predecessor (`seq - 1`, its
    /// hash), which is where [`AuditStore::verify`] then starts; older checkpoints are
    /// deleted too. Returns how many records were deleted. Needs the signing key unless
    /// that anchor checkpoint already exists.
    pub async fn purge_before(&self, time: i64) -> Result<u64, AuditError> {
        let mut tx = self.locked().await?;
        let first: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_records").fetch_one(&mut *tx).await?;
        let Some(first) = first else { return Ok(0) };
        let keep: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_records WHERE time >= $1")
            .bind(time)
            .fetch_one(&mut *tx)
            .await?;
        let keep = match keep {
            Some(keep) => keep,
            None => {
                let last: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(seq) FROM audit_records").fetch_one(&mut *tx).await?;
                last.unwrap_or(first) + 1
            }
        };
        if keep <= first {
            return Ok(0);
        }
        let anchor = to_u64(keep - 1)?;
        if Self::checkpoint_at(&mut tx, anchor).await?.is_none() {
            let hash: Option<String> = sqlx::query_scalar("SELECT hash FROM audit_records WHERE seq = $1")
                .bind(keep - 1)
                .fetch_optional(&mut *tx)
                .await?;
            let hash = hash.ok_or_else(|| AuditError::Corrupt(format!("record {anchor} is missing")))?;
            self.insert_checkpoint(&mut tx, anchor, &hash_of(&hash)?).await?;
        }
        let deleted =
            sqlx::query("DELETE FROM audit_records WHERE seq < $1").bind(keep).execute(&mut *tx).await?.rows_affected();
        sqlx::query("DELETE FROM audit_checkpoints WHERE seq < $1").bind(keep - 1).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Up to `limit` records matching `filter` with seq greater than `after_seq`, in
    /// seq order.
    pub async fn query(&self, filter: &QueryFilter, after_seq: Option<u64>, limit: u32) -> Result<Page, AuditError> {
        let records = self.select(filter, after_seq, limit, false).await?;
        let next_after_seq = if records.len() >= usize::try_from(limit.max(1)).unwrap_or(usize::MAX) {
            records.last().map(|r| r.seq)
        } else {
            None
        };
        Ok(Page { records, next_after_seq })
    }

    /// The last `limit` records matching `filter`, in seq order: one indexed query
    /// (newest first, then reversed), whatever the trail's length.
    pub async fn latest(&self, filter: &QueryFilter, limit: u32) -> Result<Vec<StoredRecord>, AuditError> {
        let mut records = self.select(filter, None, limit, true).await?;
        records.reverse();
        Ok(records)
    }

    /// Up to `limit` records matching `filter` after `after_seq`, oldest or newest first.
    async fn select(
        &self,
        filter: &QueryFilter,
        after_seq: Option<u64>,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<StoredRecord>, AuditError> {
        enum Arg {
            I(i64),
            S(String),
        }
        let mut args = vec![Arg::I(to_i64(after_seq.unwrap_or(0))?)];
        let mut sql = String::from("SELECT seq, record, prev_hash, hash FROM audit_records WHERE seq > $1");
        let mut push = |cond: &str, arg: Arg| {
            args.push(arg);
            sql.push_str(&format!(" AND {cond} ${}", args.len()));
        };
        if let Some(from) = filter.from {
            push("time >=", Arg::I(from));
        }
        if let Some(to) = filter.to {
            push("time <", Arg::I(to));
        }
        if let Some(principal) = &filter.principal {
            push("principal =", Arg::S(principal.clone()));
        }
        if let Some(kind) = filter.kind {
            push("kind =", Arg::S(kind.as_str().to_owned()));
        }
        let order = if newest_first { "DESC" } else { "ASC" };
        sql.push_str(&format!(" ORDER BY seq {order} LIMIT {}", limit.max(1)));
        let mut query = sqlx::query(&sql);
        for arg in args {
            query = match arg {
                Arg::I(v) => query.bind(v),
                Arg::S(v) => query.bind(v),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            records.push(StoredRecord {
                seq: to_u64(row.try_get::<i64, _>("seq")?)?,
                prev_hash: row.try_get("prev_hash")?,
                hash: row.try_get("hash")?,
                record: serde_json::from_str(&row.try_get::<String, _>("record")?)?,
            });
        }
        Ok(records)
    }

    /// Writes every record matching `filter` to `writer`, one JSON document per line,
    /// in seq order (paged: bounded memory). Returns how many were written.
    pub async fn export_jsonl<W: std::io::Write>(
        &self,
        filter: &QueryFilter,
        format: ExportFormat,
        writer: &mut W,
    ) -> Result<u64, AuditError> {
        let mut after = None;
        let mut count = 0u64;
        loop {
            let page = self.query(filter, after, 1000).await?;
            for record in &page.records {
                match format {
                    ExportFormat::Native => serde_json::to_writer(&mut *writer, record)?,
                    ExportFormat::Ocsf => serde_json::to_writer(&mut *writer, &crate::ocsf::to_ocsf(record))?,
                }
                writer.write_all(b"\n")?;
                count += 1;
            }
            match page.next_after_seq {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        writer.flush()?;
        Ok(count)
    }

    /// Verifies the whole trail against `public_key`: see [`VerifyReport`].
    pub async fn verify(&self, public_key: &AuditPublicKey) -> Result<VerifyReport, AuditError> {
        crate::verify::run(&self.pool, public_key).await
    }
}

pub(crate) fn checkpoint_from_row(row: &sqlx::any::AnyRow) -> Result<Checkpoint, AuditError> {
    Ok(Checkpoint {
        seq: to_u64(row.try_get::<i64, _>("seq")?)?,
        hash: row.try_get("hash")?,
        time: row.try_get("time")?,
        signature: row.try_get("signature")?,
    })
}
