//! Token usage as providers report it ([`parse_usage`]), from a whole response body or
//! from one streamed event: chat and completions `usage.prompt_tokens` /
//! `completion_tokens` (with `prompt_tokens_details.cached_tokens`), responses
//! `usage.input_tokens` / `output_tokens` (also inside the `response` object of a
//! `response.completed` event), embeddings `usage.prompt_tokens` / `total_tokens`.
//!
//! Only `usage` (and `response.usage`) is deserialized; everything else in the body is
//! skipped by the parser without being built.

use serde::Deserialize;

/// Tokens a provider reports for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Prompt (input) tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Completion (output) tokens, reasoning tokens included.
    pub completion_tokens: u64,
    /// Of the prompt tokens, those served from the provider's prompt cache.
    pub cached_prompt_tokens: u64,
    /// Of the completion tokens, those spent on reasoning.
    pub reasoning_tokens: u64,
    /// The total the provider reports, else prompt + completion.
    pub total_tokens: u64,
}

/// The usage in a response body or a streamed event's JSON (a leading `data:` of an SSE
/// line is skipped), or `None` if it has none: no `usage`, `usage: null` (as chat stream
/// chunks have until the last), no token counts in it, or not a JSON object with
/// well-formed counts.
pub fn parse_usage(json: &[u8]) -> Option<Usage> {
    let json = json.trim_ascii_start();
    let json = json.strip_prefix(b"data:").unwrap_or(json);
    let envelope: Envelope = serde_json::from_slice(json).ok()?;
    envelope.usage.or(envelope.response.and_then(|r| r.usage))?.into_usage()
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    usage: Option<RawUsage>,
    /// Responses stream events (`response.completed`…) carry the response object.
    #[serde(default)]
    response: Option<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct RawUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
    #[serde(default)]
    input_tokens_details: Option<Details>,
    #[serde(default)]
    completion_tokens_details: Option<Details>,
    #[serde(default)]
    output_tokens_details: Option<Details>,
}

#[derive(Deserialize)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl RawUsage {
    fn into_usage(self) -> Option<Usage> {
        let prompt = self.prompt_tokens.or(self.input_tokens);
        let completion = self.completion_tokens.or(self.output_tokens);
        if prompt.is_none() && completion.is_none() && self.total_tokens.is_none() {
            return None;
        }
        // A total alone (no split) is all taken as prompt: it is charged either way.
        let prompt_tokens = prompt.unwrap_or(if completion.is_none() { self.total_tokens.unwrap_or(0) } else { 0 });
        let completion_tokens = completion.unwrap_or(0);
        let detail = |a: Option<Details>, b: Option<Details>, pick: fn(&Details) -> Option<u64>| {
            a.as_ref().and_then(pick).or_else(|| b.as_ref().and_then(pick)).unwrap_or(0)
        };
        let cached = detail(self.prompt_tokens_details, self.input_tokens_details, |d| d.cached_tokens);
        let reasoning = detail(self.completion_tokens_details, self.output_tokens_details, |d| d.reasoning_tokens);
        Some(Usage {
            prompt_tokens,
            completion_tokens,
            cached_prompt_tokens: cached.min(prompt_tokens),
            reasoning_tokens: reasoning.min(completion_tokens),
            total_tokens: self.total_tokens.unwrap_or(prompt_tokens.saturating_add(completion_tokens)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_completion_body() {
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o",
            "choices":[{"index":0,"message":{"role":"assistant","content":"Hi! \"usage\": not here"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,
              "prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},
              "completion_tokens_details":{"reasoning_tokens":2,"audio_tokens":0,"accepted_prediction_tokens":0}}}"#;
        assert_eq!(
            parse_usage(body),
            Some(Usage {
                prompt_tokens: 19,
                completion_tokens: 10,
                cached_prompt_tokens: 3,
                reasoning_tokens: 2,
                total_tokens: 29
            })
        );
    }

    #[test]
    fn completions_and_embeddings_bodies() {
        let completions = br#"{"object":"text_completion","choices":[{"text":"x"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#;
        assert_eq!(
            parse_usage(completions).map(|u| (u.prompt_tokens, u.completion_tokens, u.total_tokens)),
            Some((5, 7, 12))
        );
        let embeddings = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}"#;
        assert_eq!(parse_usage(embeddings), Some(Usage { prompt_tokens: 8, total_tokens: 8, ..Usage::default() }));
    }

    #[test]
    fn responses_body_and_completed_event() {
        let body = br#"{"id":"resp_1","object":"response","output":[{"type":"message","content":[{"type":"output_text","text":"ok"}]}],
            "usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":4},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":20},"total_tokens":123}}"#;
        let expected = Usage {
            prompt_tokens: 36,
            completion_tokens: 87,
            cached_prompt_tokens: 4,
            reasoning_tokens: 20,
            total_tokens: 123,
        };
        assert_eq!(parse_usage(body), Some(expected));
        let event = br#"{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","status":"completed",
            "usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":4},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":20},"total_tokens":123}}}"#;
        assert_eq!(parse_usage(event), Some(expected));
        let created = br#"{"type":"response.created","response":{"id":"resp_1","status":"in_progress","usage":null}}"#;
        assert_eq!(parse_usage(created), None);
    }

    #[test]
    fn stream_chunks() {
        let delta = br#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}],"usage":null}"#;
        assert_eq!(parse_usage(delta), None);
        let no_usage =
            br#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"}}]}"#;
        assert_eq!(parse_usage(no_usage), None);
        let last = br#"data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}"#;
        assert_eq!(parse_usage(last).map(|u| u.total_tokens), Some(13));
    }

    #[test]
    fn malformed_or_empty_usage_is_none() {
        for bad in [
            &b""[..],
            b"not json",
            b"[]",
            b"data: [DONE]",
            br#"{"usage":{}}"#,
            br#"{"usage":"lots"}"#,
            br#"{"usage":{"prompt_tokens":-1,"completion_tokens":2}}"#,
            br#"{"usage":{"prompt_tokens":1.5}}"#,
            br#"{"usage":{"prompt_tokens":1e400}}"#,
            br#"{"usage":{"prompt_tokens":1}"#,
        ] {
            assert_eq!(parse_usage(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn inconsistent_details_are_clamped() {
        let body = br#"{"usage":{"prompt_tokens":5,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":50},"completion_tokens_details":{"reasoning_tokens":9}}}"#;
        let usage = parse_usage(body).unwrap();
        assert_eq!((usage.cached_prompt_tokens, usage.reasoning_tokens, usage.total_tokens), (5, 1, 6));
        let total_only = parse_usage(br#"{"usage":{"total_tokens":42}}"#).unwrap();
        assert_eq!((total_only.prompt_tokens, total_only.completion_tokens), (42, 0));
    }
}
