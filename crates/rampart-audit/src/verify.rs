//! Chain verification: walks the records in seq order, a page at a time (memory is
//! bounded by the page size plus the checkpoint list, one entry per
//! `checkpoint_every` records).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use sqlx::{AnyPool, Row};

use crate::chain::{self, AuditPublicKey, GENESIS};
use crate::store::{AuditError, PAGE, checkpoint_from_row, to_u64};

/// A verification failure, with the seq it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// The record's content (or prev_hash) no longer matches its stored hash.
    Edited {
        /// The record.
        seq: u64,
    },
    /// Records `from..=to` are missing: a gap in seqs, records before the first one
    /// without a checkpoint anchoring them, or records up to a checkpoint after the end.
    Deleted {
        /// The first missing seq.
        from: u64,
        /// The last missing seq.
        to: u64,
    },
    /// The record's prev_hash is not its predecessor's hash: it was inserted (or
    /// duplicated, or its predecessor replaced).
    Inserted {
        /// The record.
        seq: u64,
    },
    /// The record's stored hash is valid for its content at `original_seq`, but it is
    /// stored at `seq`.
    Reordered {
        /// Where it is stored.
        seq: u64,
        /// Where its hash says it belongs.
        original_seq: u64,
    },
    /// A stored value is not what this crate writes (bad hex, bad seq).
    Malformed {
        /// The record or checkpoint.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint's signature does not verify with the given public key.
    CheckpointSignatureInvalid {
        /// The checkpoint.
        seq: u64,
    },
    /// A checkpoint's hash is not the hash of the record at its seq.
    CheckpointMismatch {
        /// The checkpoint.
        seq: u64,
    },
}

/// Something verification could not vouch for, without evidence of tampering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum Warning {
    /// Records `from..=to` come after the last valid checkpoint: they are chained but
    /// unsigned, so truncating them would go unnoticed.
    UnsignedTail {
        /// The first unsigned seq.
        from: u64,
        /// The last.
        to: u64,
    },
}

/// The outcome of [`crate::AuditStore::verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// No problems (warnings allowed).
    pub ok: bool,
    /// Records walked.
    pub records: u64,
    /// The first record's seq (`> 1` after a purge).
    pub first_seq: Option<u64>,
    /// The last record's seq.
    pub last_seq: Option<u64>,
    /// Checkpoints examined.
    pub checkpoints: u64,
    /// Checkpoints whose signature verified.
    pub valid_checkpoints: u64,
    /// Every problem found, in seq order per kind of check (at most [`MAX_PROBLEMS`]).
    pub problems: Vec<Problem>,
    /// Whether problems beyond [`MAX_PROBLEMS`] were left out.
    pub problems_truncated: bool,
    /// Warnings.
    pub warnings: Vec<Warning>,
}

/// The most problems a report lists.
pub const MAX_PROBLEMS: usize = 10_000;
/// How far from its stored seq a record's original position is searched for when its
/// hash does not match (to tell reordered from edited).
const REORDER_WINDOW: u64 = 64;
/// At most this many mismatching records get that search (it costs 2×window hashes).
const REORDER_SEARCHES: u32 = 1000;

impl VerifyReport {
    fn problem(&mut self, problem: Problem) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        } else {
            self.problems_truncated = true;
        }
    }
}

struct Cp {
    hash: Option<[u8; 32]>,
    valid: bool,
}

struct Prev {
    seq: u64,
    hash: [u8; 32],
    reordered: bool,
}

pub(crate) async fn run(pool: &AnyPool, key: &AuditPublicKey) -> Result<VerifyReport, AuditError> {
    let mut report = VerifyReport::default();
    let mut checkpoints = BTreeMap::new();
    let rows =
        sqlx::query("SELECT seq, hash, time, signature FROM audit_checkpoints ORDER BY seq").fetch_all(pool).await?;
    for row in &rows {
        let cp = match checkpoint_from_row(row) {
            Ok(cp) => cp,
            Err(error) => {
                let seq = row.try_get::<i64, _>("seq").map_or(0, |s| u64::try_from(s).unwrap_or(0));
                report.problem(Problem::Malformed { seq, reason: error.to_string() });
                continue;
            }
        };
        report.checkpoints += 1;
        let hash = chain::parse_hash(&cp.hash);
        let valid = match (hash, STANDARD.decode(&cp.signature)) {
            (Some(hash), Ok(sig)) => key.verify_checkpoint(cp.seq, &hash, cp.time, &sig),
            _ => false,
        };
        if valid {
            report.valid_checkpoints += 1;
        } else {
            report.problem(Problem::CheckpointSignatureInvalid { seq: cp.seq });
        }
        checkpoints.insert(cp.seq, Cp { hash, valid });
    }

    let mut after = i64::MIN;
    let mut prev: Option<Prev> = None;
    let mut searches = 0u32;
    loop {
        let rows =
            sqlx::query("SELECT seq, record, prev_hash, hash FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after)
                .bind(PAGE)
                .fetch_all(pool)
                .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("seq")?;
        for row in &rows {
            let raw_seq: i64 = row.try_get("seq")?;
            let Ok(seq) = to_u64(raw_seq) else {
                report.problem(Problem::Malformed { seq: 0, reason: format!("negative seq {raw_seq}") });
                continue;
            };
            report.records += 1;
            report.first_seq.get_or_insert(seq);
            report.last_seq = Some(seq);
            let json: String = row.try_get("record")?;
            let (Some(prev_hash), Some(hash)) = (
                chain::parse_hash(&row.try_get::<String, _>("prev_hash")?),
                chain::parse_hash(&row.try_get::<String, _>("hash")?),
            ) else {
                report.problem(Problem::Malformed { seq, reason: "invalid hash hex".into() });
                prev = None;
                continue;
            };

            // What prev_hash must be, and whether a gap already explains a mismatch.
            let mut gap = false;
            let expected = match &prev {
                None if seq == 1 => Some(GENESIS),
                None => match checkpoints.get(&(seq - 1)) {
                    Some(cp) if cp.valid => cp.hash,
                    Some(_) => None, // already reported: an invalid anchor
                    None => {
                        report.problem(Problem::Deleted { from: 1, to: seq - 1 });
                        gap = true;
                        None
                    }
                },
                Some(p) => {
                    if seq != p.seq + 1 {
                        report.problem(Problem::Deleted { from: p.seq + 1, to: seq - 1 });
                        gap = true;
                    }
                    Some(p.hash)
                }
            };

            let mut reordered = false;
            if chain::record_hash(&prev_hash, seq, json.as_bytes()) != hash {
                let mut original = None;
                if searches < REORDER_SEARCHES {
                    searches += 1;
                    original = (seq.saturating_sub(REORDER_WINDOW).max(1)..=seq.saturating_add(REORDER_WINDOW))
                        .filter(|&s| s != seq)
                        .find(|&s| chain::record_hash(&prev_hash, s, json.as_bytes()) == hash);
                }
                match original {
                    Some(original_seq) => {
                        reordered = true;
                        report.problem(Problem::Reordered { seq, original_seq });
                    }
                    None => report.problem(Problem::Edited { seq }),
                }
            }
            let prev_reordered = prev.as_ref().is_some_and(|p| p.reordered);
            if expected.is_some_and(|e| e != prev_hash) && !gap && !reordered && !prev_reordered {
                report.problem(Problem::Inserted { seq });
            }
            if let Some(cp) = checkpoints.get(&seq)
                && cp.hash != Some(hash)
            {
                report.problem(Problem::CheckpointMismatch { seq });
            }
            prev = Some(Prev { seq, hash, reordered });
        }
    }

    // Checkpoints past the end: records up to them were truncated.
    let last = report.last_seq.unwrap_or(0);
    if let Some((&cp_seq, _)) = checkpoints.range(last + 1..).next_back()
        && report.last_seq.is_some()
    {
        report.problem(Problem::Deleted { from: last + 1, to: cp_seq });
    }
    if let (Some(first), Some(last)) = (report.first_seq, report.last_seq) {
        let signed = checkpoints.iter().rev().find(|(_, cp)| cp.valid).map_or(0, |(&s, _)| s);
        if signed < last {
            report.warnings.push(Warning::UnsignedTail { from: (signed + 1).max(first), to: last });
        }
    }
    report.ok = report.problems.is_empty();
    Ok(report)
}
