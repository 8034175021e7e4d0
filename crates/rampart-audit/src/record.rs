//! The audit record schema.

use serde::{Deserialize, Serialize};

/// What kind of event a record describes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// A proxied API request (`request`).
    #[default]
    Request,
    /// An administrative action (`admin`).
    Admin,
    /// A detected anomaly not tied to one request (`anomaly`).
    Anomaly,
}

impl RecordKind {
    /// The lowercase name stored in the `kind` column (`request`, `admin`, `anomaly`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Request => "request",
            RecordKind::Admin => "admin",
            RecordKind::Anomaly => "anomaly",
        }
    }
}

/// One inspection verdict. Never holds the matched text itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Verdict {
    /// The detector that produced it (e.g. `pii`, `secrets`, `injection`).
    pub detector: String,
    /// The rule within the detector (e.g. `email`, `aws_access_key`).
    pub rule: String,
    /// The detector's score, when it has one.
    pub score: Option<f64>,
    /// The action taken (e.g. `allow`, `redact`, `block`, `flag`).
    pub action: String,
    /// Where it matched (e.g. `request.messages[2].content`, `response`), never what.
    pub location: String,
}

/// One audited event. Serialized with serde_json in the declared field order, every
/// field present (absent values as `null`): that exact text is what the hash chain
/// covers (see [`crate::chain::record_hash`]). Unknown or absent numeric values are
/// `None`, never 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditRecord {
    /// When the event happened, unix milliseconds.
    pub time: i64,
    /// The gateway's request id (or an admin action id).
    pub request_id: String,
    /// `request`, `admin` or `anomaly`.
    pub kind: RecordKind,
    /// Who acted: the virtual key id, the JWT subject, or the admin user/token id.
    pub principal: Option<String>,
    /// What the principal is (e.g. `virtual_key`, `jwt`, `admin_user`, `admin_token`).
    pub principal_kind: Option<String>,
    /// The principal's team, when it has one.
    pub team: Option<String>,
    /// The client's address (IP, optionally `IP:port`).
    pub client_addr: Option<String>,
    /// The request path (e.g. `/v1/chat/completions`), without the query string.
    pub endpoint: Option<String>,
    /// The HTTP method (e.g. `POST`).
    pub method: Option<String>,
    /// The model requested.
    pub model: Option<String>,
    /// The upstream provider the request went to.
    pub provider: Option<String>,
    /// The HTTP status returned to the client.
    pub status: Option<u16>,
    /// A short error label when the request failed (e.g. `rate_limited`, `upstream_timeout`).
    pub error: Option<String>,
    /// Prompt tokens, when known.
    pub prompt_tokens: Option<u64>,
    /// Completion tokens, when known.
    pub completion_tokens: Option<u64>,
    /// Cost in millionths of the billing currency unit, when known.
    pub cost_micros: Option<u64>,
    /// Total latency seen by the client, microseconds.
    pub latency_us: Option<u64>,
    /// The gateway's own overhead (latency minus upstream time), microseconds.
    pub overhead_us: Option<u64>,
    /// Inspection verdicts, in the order they were produced.
    pub verdicts: Vec<Verdict>,
    /// An already-encrypted body blob (opaque to this crate; encryption is the caller's).
    pub body: Option<String>,
}

/// A record as stored: its position in the chain and its hashes (lowercase hex).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// Position in the chain: 1, 2, 3 … without gaps.
    pub seq: u64,
    /// The previous record's hash (64 zero hex digits for seq 1).
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
    /// The record.
    pub record: AuditRecord,
}
