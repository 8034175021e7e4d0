//! The smaller endpoints: models, embeddings, moderations, images and audio.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::CREATED;
use crate::control::{Outcome, Reply, parse, to_json};
use crate::files::form_field;
use crate::sse::tokens;

/// Models listed by `GET /v1/models`.
const MODELS: [&str; 5] = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "omni-moderation-latest", "mock-model"];

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": "rampart-mock"})
}

/// `GET /v1/models`
pub(crate) fn list_models() -> Outcome {
    static BODY: LazyLock<Bytes> = LazyLock::new(|| {
        let data: Vec<Value> = MODELS.iter().map(|id| model_object(id)).collect();
        to_json(&json!({"object": "list", "data": data}))
    });
    Ok(Reply::json(BODY.clone()))
}

/// `GET /v1/models/{id}`: any id exists.
pub(crate) fn get_model(id: &str) -> Outcome {
    Ok(Reply::json_of(&model_object(id)))
}

#[derive(Deserialize)]
struct EmbeddingRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    dimensions: Option<u64>,
    #[serde(default)]
    encoding_format: Option<String>,
}

/// Default embedding dimension.
const DEFAULT_DIMENSIONS: usize = 8;
/// Largest accepted `dimensions`.
const MAX_DIMENSIONS: usize = 8192;

#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<Embedding>,
    model: &'a str,
    usage: EmbeddingUsage,
}

#[derive(Serialize)]
struct Embedding {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// `POST /v1/embeddings`
pub(crate) fn embeddings(body: &[u8]) -> Outcome {
    let req: EmbeddingRequest = parse(body)?;
    let invalid_input = || Reply::invalid("'input' must be a non-empty string or array.", Some("input"));
    let inputs = embedding_inputs(req.input.as_ref()).ok_or_else(invalid_input)?;
    let dims = match req.dimensions {
        None => DEFAULT_DIMENSIONS,
        Some(d) if (1..=MAX_DIMENSIONS as u64).contains(&d) => d as usize,
        Some(_) => {
            return Err(Reply::invalid(
                &format!("'dimensions' must be between 1 and {MAX_DIMENSIONS}."),
                Some("dimensions"),
            ));
        }
    };
    let base64 = req.encoding_format.as_deref() == Some("base64");
    let data = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let values = vector(index, input.len, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                Vector::Base64(BASE64.encode(bytes))
            } else {
                Vector::Floats(values)
            };
            Embedding { object: "embedding", index, embedding }
        })
        .collect();
    let prompt_tokens = inputs.iter().map(|i| i.tokens).sum();
    Ok(Reply::json_of(&EmbeddingList {
        object: "list",
        data,
        model: req.model.as_deref().unwrap_or("text-embedding-3-small"),
        usage: EmbeddingUsage { prompt_tokens, total_tokens: prompt_tokens },
    }))
}

struct EmbeddingInput {
    /// Bytes (text) or token count (token arrays): seeds the vector.
    len: usize,
    tokens: u64,
}

/// The inputs of an embeddings request: a string, strings, a token array or token arrays.
fn embedding_inputs(input: Option<&Value>) -> Option<Vec<EmbeddingInput>> {
    let text = |s: &str| EmbeddingInput { len: s.len(), tokens: tokens(s.len()) };
    let token_array = |items: &[Value]| {
        items.iter().all(Value::is_u64).then_some(EmbeddingInput { len: items.len(), tokens: items.len() as u64 })
    };
    match input? {
        Value::String(s) => Some(vec![text(s)]),
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) if items.iter().all(Value::is_u64) => Some(vec![token_array(items)?]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Some(text(s)),
                Value::Array(tokens) if !tokens.is_empty() => token_array(tokens),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// A deterministic vector in [-1, 1) from the input's index and length.
fn vector(index: usize, len: usize, dims: usize) -> Vec<f32> {
    let seed = (index as u64 + 1).wrapping_mul(1_000_003).wrapping_add(len as u64);
    (0..dims as u64)
        .map(|j| {
            let x = seed.wrapping_mul(2_654_435_761).wrapping_add(j.wrapping_mul(40_503)) % 2000;
            x as f32 / 1000.0 - 1.0
        })
        .collect()
}

#[derive(Deserialize)]
struct ModerationRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    input: Option<Value>,
}

const CATEGORIES: [&str; 13] = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
];

/// One unflagged moderation result, precomputed.
static MODERATION_RESULT: LazyLock<Value> = LazyLock::new(|| {
    let categories: serde_json::Map<String, Value> =
        CATEGORIES.iter().map(|c| ((*c).to_owned(), json!(false))).collect();
    let scores: serde_json::Map<String, Value> = CATEGORIES.iter().map(|c| ((*c).to_owned(), json!(0.0001))).collect();
    let applied: serde_json::Map<String, Value> =
        CATEGORIES.iter().map(|c| ((*c).to_owned(), json!(["text"]))).collect();
    json!({
        "flagged": false,
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": applied,
    })
});

/// `POST /v1/moderations`: one unflagged result per input.
pub(crate) fn moderations(body: &[u8]) -> Outcome {
    let req: ModerationRequest = parse(body)?;
    let count = match &req.input {
        Some(Value::String(_)) => 1,
        // An array of multi-modal parts is a single input.
        Some(Value::Array(items)) if items.iter().any(Value::is_object) => 1,
        Some(Value::Array(items)) if !items.is_empty() => items.len(),
        _ => {
            return Err(Reply::invalid("'input' must be a non-empty string or array.", Some("input")));
        }
    };
    let results = vec![MODERATION_RESULT.clone(); count];
    Ok(Reply::json_of(&json!({
        "id": "modr-mock",
        "model": req.model.as_deref().unwrap_or("omni-moderation-latest"),
        "results": results,
    })))
}

/// A 1×1 PNG, base64.
const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn images(n: u64) -> Outcome {
    let data: Vec<Value> = (0..n.clamp(1, 10)).map(|_| json!({"b64_json": PNG_1X1})).collect();
    Ok(Reply::json_of(&json!({"created": CREATED, "data": data})))
}

#[derive(Deserialize)]
struct ImageRequest {
    #[serde(default)]
    n: Option<u64>,
}

/// `POST /v1/images/generations` (JSON)
pub(crate) fn image_generations(body: &[u8]) -> Outcome {
    let req: ImageRequest = parse(body)?;
    images(req.n.unwrap_or(1))
}

/// `POST /v1/images/edits` (multipart; `prefix` is its start)
pub(crate) fn image_edits(prefix: &[u8]) -> Outcome {
    let n = form_field(prefix, "n").and_then(|n| n.trim().parse().ok());
    images(n.unwrap_or(1))
}

#[derive(Deserialize)]
struct SpeechRequest {
    #[serde(default)]
    response_format: Option<String>,
}

/// Fake audio: an ID3 tag then deterministic filler, 4 KiB.
static AUDIO: LazyLock<Bytes> = LazyLock::new(|| {
    let mut bytes = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    bytes.extend((0..4096 - bytes.len()).map(|i| (i * 31 % 251) as u8));
    Bytes::from(bytes)
});

/// `POST /v1/audio/speech`: fake audio streamed in `chunks` chunks.
pub(crate) fn speech(body: &[u8], chunks: usize) -> Outcome {
    let req: SpeechRequest = parse(body)?;
    let content_type = match req.response_format.as_deref() {
        Some("opus") => "audio/ogg",
        Some("aac") => "audio/aac",
        Some("flac") => "audio/flac",
        Some("wav") => "audio/wav",
        Some("pcm") => "audio/pcm",
        _ => "audio/mpeg",
    };
    let audio = AUDIO.clone();
    let len = audio.len();
    let k = chunks.min(len);
    let pieces = (0..k).map(move |i| audio.slice(i * len / k..(i + 1) * len / k));
    Ok(Reply::stream(content_type, pieces))
}

/// `POST /v1/audio/transcriptions` and `/v1/audio/translations` (multipart).
pub(crate) fn transcription(prefix: &[u8]) -> Outcome {
    const TEXT: &str = "mock transcription";
    match form_field(prefix, "response_format").as_deref().map(str::trim) {
        Some("text" | "srt" | "vtt") => Ok(Reply::Full {
            status: http::StatusCode::OK,
            content_type: "text/plain; charset=utf-8",
            body: Bytes::from_static(TEXT.as_bytes()),
        }),
        _ => Ok(Reply::json_of(&json!({"text": TEXT}))),
    }
}
