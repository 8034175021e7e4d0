//! OCSF mapping: each record as an "API Activity" event (class_uid 6003, category_uid
//! 6, Application Activity).
//!
//! | OCSF | from |
//! |---|---|
//! | `time` | `time` (unix ms) |
//! | `activity_id` / `activity_name` | HTTP method: POST → 1 Create, GET/HEAD → 2 Read, PUT/PATCH → 3 Update, DELETE → 4 Delete, else 99 Other |
//! | `type_uid` | `600300 + activity_id` |
//! | `severity_id` | 1 Informational; 3 Medium when a verdict's action is `block` |
//! | `status_id` / `status` | 1 Success when status < 400, 2 Failure when ≥ 400, 0 Unknown without status |
//! | `actor.user.uid` / `actor.user.type` | `principal` / `principal_kind`; `actor.user.groups[0].name`: `team` |
//! | `src_endpoint.ip` | `client_addr` (a port, if any, is stripped) |
//! | `http_request.http_method`, `http_request.url.path` | `method`, `endpoint` |
//! | `http_response.code` | `status` |
//! | `api.operation`, `api.request.uid` | `endpoint`, `request_id` |
//! | `metadata.product` | `{name: "rampart", vendor_name: "rampart"}`; `metadata.version`: "1.1.0"; `metadata.uid`: hash; `metadata.sequence`: seq |
//! | `unmapped` | everything else: kind, model, provider, error, tokens, cost, latencies, verdicts, chain hashes |
//!
//! The encrypted `body` is never exported.

use serde_json::{Map, Value, json};

use crate::record::StoredRecord;

/// OCSF API Activity class.
pub const CLASS_UID: u32 = 6003;
/// OCSF Application Activity category.
pub const CATEGORY_UID: u32 = 6;

fn activity(method: Option<&str>) -> (u32, &'static str) {
    match method.map(str::to_ascii_uppercase).as_deref() {
        Some("POST") => (1, "Create"),
        Some("GET" | "HEAD") => (2, "Read"),
        Some("PUT" | "PATCH") => (3, "Update"),
        Some("DELETE") => (4, "Delete"),
        _ => (99, "Other"),
    }
}

fn ip_of(addr: &str) -> &str {
    if let Ok(socket) = addr.parse::<std::net::SocketAddr>() {
        // Borrow-only: locate the IP text inside addr.
        let ip_len = match socket {
            std::net::SocketAddr::V4(_) => addr.rfind(':').unwrap_or(addr.len()),
            std::net::SocketAddr::V6(_) => return addr.trim_start_matches('[').split(']').next().unwrap_or(addr),
        };
        return &addr[..ip_len];
    }
    addr
}

/// The record as an OCSF API Activity event (see the module docs for the mapping).
pub fn to_ocsf(stored: &StoredRecord) -> Value {
    let r = &stored.record;
    let (activity_id, activity_name) = activity(r.method.as_deref());
    let (status_id, status) = match r.status {
        Some(code) if code < 400 => (1, "Success"),
        Some(_) => (2, "Failure"),
        None => (0, "Unknown"),
    };
    let blocked = r.verdicts.iter().any(|v| v.action.eq_ignore_ascii_case("block"));
    let mut event = Map::new();
    event.insert("class_uid".into(), json!(CLASS_UID));
    event.insert("class_name".into(), json!("API Activity"));
    event.insert("category_uid".into(), json!(CATEGORY_UID));
    event.insert("category_name".into(), json!("Application Activity"));
    event.insert("activity_id".into(), json!(activity_id));
    event.insert("activity_name".into(), json!(activity_name));
    event.insert("type_uid".into(), json!(CLASS_UID * 100 + activity_id));
    event.insert("time".into(), json!(r.time));
    event.insert("severity_id".into(), json!(if blocked { 3 } else { 1 }));
    event.insert("status_id".into(), json!(status_id));
    event.insert("status".into(), json!(status));
    if let Some(error) = &r.error {
        event.insert("status_detail".into(), json!(error));
    }
    let mut user = Map::new();
    if let Some(principal) = &r.principal {
        user.insert("uid".into(), json!(principal));
        user.insert("name".into(), json!(principal));
    }
    if let Some(kind) = &r.principal_kind {
        user.insert("type".into(), json!(kind));
    }
    if let Some(team) = &r.team {
        user.insert("groups".into(), json!([{ "name": team }]));
    }
    event.insert("actor".into(), json!({ "user": user }));
    if let Some(addr) = &r.client_addr {
        event.insert("src_endpoint".into(), json!({ "ip": ip_of(addr) }));
    }
    event.insert("http_request".into(), json!({ "http_method": r.method, "url": { "path": r.endpoint } }));
    if let Some(code) = r.status {
        event.insert("http_response".into(), json!({ "code": code }));
    }
    event.insert(
        "api".into(),
        json!({ "operation": r.endpoint.clone().unwrap_or_default(), "request": { "uid": r.request_id } }),
    );
    event.insert(
        "metadata".into(),
        json!({
            "version": "1.1.0",
            "product": { "name": "rampart", "vendor_name": "rampart" },
            "uid": stored.hash,
            "sequence": stored.seq,
        }),
    );
    event.insert(
        "unmapped".into(),
        json!({
            "kind": r.kind.as_str(),
            "model": r.model,
            "provider": r.provider,
            "error": r.error,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "cost_micros": r.cost_micros,
            "latency_us": r.latency_us,
            "overhead_us": r.overhead_us,
            "verdicts": r.verdicts,
            "seq": stored.seq,
            "prev_hash": stored.prev_hash,
            "hash": stored.hash,
        }),
    );
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{AuditRecord, Verdict};

    #[test]
    fn maps_api_activity() {
        let stored = StoredRecord {
            seq: 7,
            prev_hash: "00".repeat(32),
            hash: "ab".repeat(32),
            record: AuditRecord {
                time: 1_700_000_000_000,
                request_id: "req_1".into(),
                principal: Some("key_1".into()),
                client_addr: Some("10.0.0.1:5555".into()),
                endpoint: Some("/v1/chat/completions".into()),
                method: Some("POST".into()),
                status: Some(403),
                body: Some("secret-blob".into()),
                verdicts: vec![Verdict { detector: "pii".into(), action: "block".into(), ..Default::default() }],
                ..Default::default()
            },
        };
        let v = to_ocsf(&stored);
        assert_eq!(v["class_uid"], 6003);
        assert_eq!(v["category_uid"], 6);
        assert_eq!(v["activity_id"], 1);
        assert_eq!(v["type_uid"], 600301);
        assert_eq!(v["time"], 1_700_000_000_000i64);
        assert_eq!(v["actor"]["user"]["uid"], "key_1");
        assert_eq!(v["src_endpoint"]["ip"], "10.0.0.1");
        assert_eq!(v["http_request"]["http_method"], "POST");
        assert_eq!(v["http_request"]["url"]["path"], "/v1/chat/completions");
        assert_eq!(v["http_response"]["code"], 403);
        assert_eq!(v["status_id"], 2);
        assert_eq!(v["severity_id"], 3);
        assert_eq!(v["metadata"]["product"]["name"], "rampart");
        assert!(!v.to_string().contains("secret-blob"));
        assert_eq!(ip_of("[::1]:80"), "::1");
        assert_eq!(ip_of("::1"), "::1");
        assert_eq!(activity(Some("get")).0, 2);
        assert_eq!(activity(None).0, 99);
    }
}
