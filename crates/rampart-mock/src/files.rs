//! `/v1/files` and `/v1/batches`, plus best-effort scanning of the start of a
//! multipart body for form fields (uploads themselves are only counted).

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::CREATED;
use crate::control::{Outcome, Reply, parse};

const FILE_ID: &str = "file-mock";
const OUTPUT_FILE_ID: &str = "file-mock-output";
const BATCH_ID: &str = "batch_mock";

fn file_object(id: &str, bytes: u64, filename: &str, purpose: &str) -> Value {
    json!({
        "id": id,
        "object": "file",
        "bytes": bytes,
        "created_at": CREATED,
        "expires_at": null,
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
        "status_details": null,
    })
}

/// `POST /v1/files`: `prefix` is the start of the multipart body, `body_len` its full size.
pub(crate) fn upload(prefix: &[u8], body_len: u64) -> Outcome {
    let filename = form_filename(prefix).unwrap_or_else(|| "upload".to_owned());
    let purpose = form_field(prefix, "purpose");
    let purpose = purpose.as_deref().map_or("batch", str::trim);
    Ok(Reply::json_of(&file_object(FILE_ID, body_len, &filename, purpose)))
}

/// `GET /v1/files`
pub(crate) fn list() -> Outcome {
    let file = file_object(FILE_ID, CONTENT.len() as u64, "upload.jsonl", "batch");
    Ok(Reply::json_of(&json!({
        "object": "list",
        "data": [file],
        "first_id": FILE_ID,
        "last_id": FILE_ID,
        "has_more": false,
    })))
}

/// `GET /v1/files/{id}`
pub(crate) fn get(id: &str) -> Outcome {
    let file = file_object(id, CONTENT.len() as u64, "upload.jsonl", "batch");
    Ok(Reply::json_of(&file))
}

/// What `GET /v1/files/{id}/content` returns: one batch output line.
const CONTENT: &str = concat!(
    r#"{"id":"batch_req_mock","custom_id":"request-1","response":{"status_code":200,"request_id":"req_mock","body":"#,
    r#"{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the rampart mock provider.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":9,"total_tokens":10}}"#,
    r#"},"error":null}"#,
    "\n"
);

/// `GET /v1/files/{id}/content`
pub(crate) fn content() -> Outcome {
    Ok(Reply::Full {
        status: http::StatusCode::OK,
        content_type: "application/octet-stream",
        body: Bytes::from_static(CONTENT.as_bytes()),
    })
}

/// `DELETE /v1/files/{id}`
pub(crate) fn delete(id: &str) -> Outcome {
    Ok(Reply::json_of(&json!({"id": id, "object": "file", "deleted": true})))
}

#[derive(Deserialize)]
struct BatchRequest {
    #[serde(default)]
    input_file_id: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    completion_window: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
}

fn batch_object(id: &str, status: &str, req: &BatchRequest) -> Value {
    let done = status == "completed";
    json!({
        "id": id,
        "object": "batch",
        "endpoint": req.endpoint.as_deref().unwrap_or("/v1/chat/completions"),
        "errors": null,
        "input_file_id": req.input_file_id.as_deref().unwrap_or(FILE_ID),
        "completion_window": req.completion_window.as_deref().unwrap_or("24h"),
        "status": status,
        "output_file_id": if done { Some(OUTPUT_FILE_ID) } else { None },
        "error_file_id": null,
        "created_at": CREATED,
        "in_progress_at": if done { Some(CREATED) } else { None },
        "expires_at": CREATED + 86_400,
        "finalizing_at": if done { Some(CREATED) } else { None },
        "completed_at": if done { Some(CREATED) } else { None },
        "failed_at": null,
        "expired_at": null,
        "cancelling_at": if status == "cancelling" { Some(CREATED) } else { None },
        "cancelled_at": null,
        "request_counts": {"total": u8::from(done), "completed": u8::from(done), "failed": 0},
        "metadata": req.metadata.clone().unwrap_or(Value::Null),
    })
}

const NO_BATCH: BatchRequest =
    BatchRequest { input_file_id: None, endpoint: None, completion_window: None, metadata: None };

/// `POST /v1/batches`
pub(crate) fn create_batch(body: &[u8]) -> Outcome {
    let req: BatchRequest = parse(body)?;
    Ok(Reply::json_of(&batch_object(BATCH_ID, "validating", &req)))
}

/// `GET /v1/batches`
pub(crate) fn list_batches() -> Outcome {
    let batch = batch_object(BATCH_ID, "completed", &NO_BATCH);
    Ok(Reply::json_of(&json!({
        "object": "list",
        "data": [batch],
        "first_id": BATCH_ID,
        "last_id": BATCH_ID,
        "has_more": false,
    })))
}

/// `GET /v1/batches/{id}`
pub(crate) fn get_batch(id: &str) -> Outcome {
    Ok(Reply::json_of(&batch_object(id, "completed", &NO_BATCH)))
}

/// `POST /v1/batches/{id}/cancel`
pub(crate) fn cancel_batch(id: &str) -> Outcome {
    Ok(Reply::json_of(&batch_object(id, "cancelling", &NO_BATCH)))
}

/// The value of the multipart form field `name`, if it is within `prefix`.
pub(crate) fn form_field(prefix: &[u8], name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = find(prefix, marker.as_bytes())?;
    let rest = &prefix[at + marker.len()..];
    // The field's headers end at the first blank line; a file part has `filename=` before it.
    let headers_end = find(rest, b"\r\n\r\n")?;
    if !rest[..headers_end].starts_with(b"\r\n") && !rest[..headers_end].is_empty() {
        return None;
    }
    let value = &rest[headers_end + 4..];
    let end = find(value, b"\r\n")?;
    String::from_utf8(value[..end].to_vec()).ok()
}

/// The `filename="..."` of the first file part within `prefix`.
fn form_filename(prefix: &[u8]) -> Option<String> {
    const MARKER: &[u8] = b"filename=\"";
    let at = find(prefix, MARKER)?;
    let rest = &prefix[at + MARKER.len()..];
    let end = rest.iter().position(|&b| b == b'"')?;
    String::from_utf8(rest[..end].to_vec()).ok().filter(|name| !name.is_empty())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &[u8] = b"--b\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n{}\r\n--b--\r\n";

    #[test]
    fn scans_form_fields() {
        assert_eq!(form_field(FORM, "purpose").as_deref(), Some("fine-tune"));
        assert_eq!(form_field(FORM, "file"), None);
        assert_eq!(form_field(FORM, "missing"), None);
        assert_eq!(form_filename(FORM).as_deref(), Some("data.jsonl"));
    }
}
