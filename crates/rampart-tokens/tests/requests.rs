//! Prompt counting and completion caps of request bodies, through the public API.

// Helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rampart_tokens::{
    CountError, Encoding, Endpoint, IMAGE_TOKENS_DEFAULT, IMAGE_TOKENS_LOW, Request, count_text, max_completion_tokens,
    prompt_tokens,
};

/// The chat example of OpenAI's cookbook ("How to count tokens with tiktoken"), whose
/// prompt the API reports as 129 tokens for gpt-3.5-turbo-0613 / gpt-4-0613 (cl100k_base)
/// and 124 for gpt-4o / gpt-4o-mini (o200k_base).
const COOKBOOK_CHAT: &str = r#"{"model": "gpt-4", "max_tokens": 1, "temperature": 0, "messages": [
  {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
  {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
  {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
  {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
  {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
  {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
]}"#;

/// The cookbook's tool example: the API reports 105 prompt tokens on gpt-4 and 101 on gpt-4o.
const COOKBOOK_TOOLS: &str = r#"{"model": "gpt-4o", "messages": [
  {"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."},
  {"role": "user", "content": "What's the weather like in San Francisco?"}
], "tools": [{"type": "function", "function": {"name": "get_current_weather",
  "description": "Get the current weather in a given location",
  "parameters": {"type": "object", "properties": {
    "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
    "unit": {"type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"]}},
    "required": ["location"]}}}]}"#;

fn chat(encoding: Encoding, body: &str) -> u64 {
    prompt_tokens(Endpoint::ChatCompletions, encoding, body.as_bytes()).unwrap()
}

#[test]
fn cookbook_chat_example_matches_the_api() {
    assert_eq!(chat(Encoding::Cl100k, COOKBOOK_CHAT), 129);
    assert_eq!(chat(Encoding::O200k, COOKBOOK_CHAT), 124);
    let request = Request::parse(Endpoint::ChatCompletions, COOKBOOK_CHAT.as_bytes()).unwrap();
    assert_eq!(request.model(), Some("gpt-4"));
    assert_eq!(request.encoding(), Encoding::Cl100k);
    assert_eq!(request.endpoint(), Endpoint::ChatCompletions);
    assert_eq!(request.max_completion_tokens(), Some(1));
}

#[test]
fn tool_definitions_are_counted_cautiously() {
    let with_tools = chat(Encoding::O200k, COOKBOOK_TOOLS);
    assert!(with_tools >= 101, "at least the API's figure: {with_tools}");
    assert!(with_tools <= 2 * 101, "but not wildly above it: {with_tools}");
    assert!(chat(Encoding::Cl100k, COOKBOOK_TOOLS) >= 105);
    // The legacy `functions` field counts the same way.
    let functions = COOKBOOK_TOOLS
        .replace(r#""tools": [{"type": "function", "function": "#, r#""functions": ["#)
        .replace("}}}]}", "}}]}");
    let legacy = chat(Encoding::O200k, &functions);
    let bare = chat(Encoding::O200k, &format!("{}}}", &COOKBOOK_TOOLS[..COOKBOOK_TOOLS.find(", \"tools\"").unwrap()]));
    assert!(legacy > bare + 50, "{legacy} vs {bare}");
}

#[test]
fn message_rules() {
    let one = |message: &str| chat(Encoding::O200k, &format!(r#"{{"messages": [{message}]}}"#));
    let user = count_text(Encoding::O200k, "user");
    let hello = count_text(Encoding::O200k, "Hello there, how are you?");
    // 3 per message + role + content + 3 priming.
    assert_eq!(one(r#"{"role": "user", "content": "Hello there, how are you?"}"#), 3 + user + hello + 3);
    // Text parts count as the string would.
    assert_eq!(
        one(r#"{"role": "user", "content": [{"type": "text", "text": "Hello there, how are you?"}]}"#),
        3 + user + hello + 3
    );
    // Escaped strings count their decoded text.
    assert_eq!(one(r#"{"role": "user", "content": "Hello there, how are you\u003f"}"#), 3 + user + hello + 3);
    // Images: fixed estimates by detail.
    let image = |detail: &str| {
        one(&format!(
            r#"{{"role": "user", "content": [{{"type": "image_url", "image_url": {{"url": "https://example.com/a.png"{detail}}}}}]}}"#
        ))
    };
    assert_eq!(image(r#", "detail": "low""#), 3 + user + IMAGE_TOKENS_LOW + 3);
    assert_eq!(image(r#", "detail": "high""#), 3 + user + IMAGE_TOKENS_DEFAULT + 3);
    assert_eq!(image(""), 3 + user + IMAGE_TOKENS_DEFAULT + 3);
    // A name adds its tokens and one more.
    let name = count_text(Encoding::O200k, "alice");
    assert_eq!(
        one(r#"{"role": "user", "name": "alice", "content": "Hello there, how are you?"}"#),
        3 + user + name + 1 + hello + 3
    );
    // Tool calls count their name and arguments; tool results their content and id.
    let call = one(r#"{"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
           "function": {"name": "get_current_weather", "arguments": "{\"location\": \"Paris, France\"}"}}]}"#);
    let assistant = count_text(Encoding::O200k, "assistant");
    let fname = count_text(Encoding::O200k, "get_current_weather");
    let args = count_text(Encoding::O200k, r#"{"location": "Paris, France"}"#);
    assert_eq!(call, 3 + assistant + rampart_tokens::TOOL_CALL_OVERHEAD + fname + args + 3);
    let tool = one(r#"{"role": "tool", "tool_call_id": "call_1", "content": "22 degrees and sunny"}"#);
    assert_eq!(
        tool,
        3 + count_text(Encoding::O200k, "tool")
            + count_text(Encoding::O200k, "call_1")
            + count_text(Encoding::O200k, "22 degrees and sunny")
            + 3
    );
    // Opaque parts (audio) by size, at least one token per 4 bytes of JSON.
    let audio = one(
        r#"{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "format": "wav"}}]}"#,
    );
    assert!(audio >= 3 + user + 80 / 4 + 3, "{audio}");
    // Empty messages: only the priming.
    assert_eq!(chat(Encoding::O200k, r#"{"messages": []}"#), 3);
}

#[test]
fn json_schema_response_format_counts_but_json_mode_does_not() {
    let base = r#"{"messages": [{"role": "user", "content": "Hi"}]"#;
    let plain = chat(Encoding::O200k, &format!("{base}}}"));
    let json_mode = chat(Encoding::O200k, &format!(r#"{base}, "response_format": {{"type": "json_object"}}}}"#));
    let schema = chat(
        Encoding::O200k,
        &format!(
            r#"{base}, "response_format": {{"type": "json_schema", "json_schema": {{"name": "x", "schema": {{"type": "object"}}}}}}}}"#
        ),
    );
    assert_eq!(plain, json_mode);
    assert!(schema > plain + 10);
}

#[test]
fn completions_prompts() {
    let count = |body: &str| prompt_tokens(Endpoint::Completions, Encoding::Cl100k, body.as_bytes()).unwrap();
    let t = count_text(Encoding::Cl100k, "tiktoken is great!");
    assert_eq!(t, 6);
    assert_eq!(count(r#"{"prompt": "tiktoken is great!"}"#), 6);
    assert_eq!(count(r#"{"prompt": ["tiktoken is great!", "tiktoken is great!"]}"#), 12);
    assert_eq!(count(r#"{"prompt": [1, 2, 3, 4]}"#), 4);
    assert_eq!(count(r#"{"prompt": [[1, 2], [3, 4, 5], []]}"#), 5);
    assert_eq!(count(r#"{"prompt": "tiktoken is great!", "suffix": "tiktoken is great!"}"#), 12);
    // No prompt is the default <|endoftext|>: one token.
    assert_eq!(count(r#"{"model": "gpt-3.5-turbo-instruct"}"#), 1);
    assert_eq!(count(r#"{"prompt": null}"#), 1);
}

#[test]
fn embeddings_and_moderations_inputs() {
    let embed = |body: &str| prompt_tokens(Endpoint::Embeddings, Encoding::Cl100k, body.as_bytes());
    assert_eq!(embed(r#"{"input": "tiktoken is great!", "model": "text-embedding-3-small"}"#).unwrap(), 6);
    assert_eq!(embed(r#"{"input": ["tiktoken is great!", "hello world"]}"#).unwrap(), 8);
    assert_eq!(embed(r#"{"input": [5, 6, 7]}"#).unwrap(), 3);
    assert_eq!(embed(r#"{"input": [[5, 6, 7], [8]]}"#).unwrap(), 4);
    assert!(matches!(embed(r#"{"model": "text-embedding-3-small"}"#), Err(CountError::Missing { field: "input", .. })));
    assert!(matches!(embed(r#"{"input": null}"#), Err(CountError::Missing { .. })));
    assert!(matches!(embed(r#"{"input": 5}"#), Err(CountError::Invalid { field: "input", .. })));
    assert!(matches!(embed(r#"{"input": [{"type": "text", "text": "x"}]}"#), Err(CountError::Invalid { .. })));
    assert!(matches!(embed(r#"{"input": [1, "a"]}"#), Err(CountError::Invalid { .. })));
    assert!(matches!(embed(r#"{"input": [[1, [2]]]}"#), Err(CountError::Invalid { .. })));

    let moderate = |body: &str| prompt_tokens(Endpoint::Moderations, Encoding::O200k, body.as_bytes()).unwrap();
    assert_eq!(moderate(r#"{"input": "tiktoken is great!"}"#), 6);
    assert_eq!(
        moderate(
            r#"{"model": "omni-moderation-latest", "input": [{"type": "text", "text": "tiktoken is great!"},
               {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}"#
        ),
        6 + IMAGE_TOKENS_DEFAULT
    );
}

#[test]
fn responses_inputs() {
    let count = |body: &str| prompt_tokens(Endpoint::Responses, Encoding::O200k, body.as_bytes()).unwrap();
    let c = |text: &str| count_text(Encoding::O200k, text);
    let text = "Write a haiku about the sea.";
    // A string input is one user message.
    assert_eq!(count(&format!(r#"{{"model": "gpt-4.1", "input": "{text}"}}"#)), 3 + c("user") + c(text) + 3);
    // Instructions are a system message.
    assert_eq!(
        count(&format!(r#"{{"instructions": "Be brief.", "input": "{text}"}}"#)),
        3 + c("system") + c("Be brief.") + 3 + c("user") + c(text) + 3
    );
    // Items with content parts, function calls and their outputs.
    let body = format!(
        r#"{{"input": [
            {{"role": "user", "content": [{{"type": "input_text", "text": "{text}"}}, {{"type": "input_image", "image_url": "https://x/y.png", "detail": "low"}}]}},
            {{"type": "message", "role": "assistant", "content": [{{"type": "output_text", "text": "Waves."}}]}},
            {{"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{{}}"}},
            {{"type": "function_call_output", "call_id": "c1", "output": "nothing found"}}
        ]}}"#
    );
    let expected = (3 + c("user") + c(text) + IMAGE_TOKENS_LOW)
        + (3 + c("assistant") + c("Waves."))
        + (3 + c("lookup") + c("{}"))
        + (3 + c("nothing found"))
        + 3;
    assert_eq!(count(&body), expected);
    // No input at all (previous_response_id only): the priming.
    assert_eq!(count(r#"{"previous_response_id": "resp_1"}"#), 3);
    // Unknown items are opaque, counted by size.
    assert!(
        count(
            r#"{"input": [{"type": "reasoning", "id": "rs_1", "encrypted_content": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="}]}"#
        ) > 3 + 15
    );
}

#[test]
fn completion_caps() {
    let cap = |endpoint: Endpoint, body: &str| max_completion_tokens(endpoint, body.as_bytes());
    use Endpoint::*;
    assert_eq!(cap(ChatCompletions, r#"{"messages": []}"#).unwrap(), None);
    assert_eq!(cap(ChatCompletions, r#"{"max_tokens": 100}"#).unwrap(), Some(100));
    assert_eq!(cap(ChatCompletions, r#"{"max_tokens": 100, "max_completion_tokens": 50}"#).unwrap(), Some(50));
    assert_eq!(cap(ChatCompletions, r#"{"max_tokens": 100, "max_completion_tokens": null}"#).unwrap(), Some(100));
    assert_eq!(cap(ChatCompletions, r#"{"max_completion_tokens": 50, "n": 3}"#).unwrap(), Some(150));
    assert_eq!(cap(ChatCompletions, r#"{"max_completion_tokens": 50, "n": 0}"#).unwrap(), Some(50));
    assert_eq!(cap(ChatCompletions, r#"{"max_completion_tokens": 50, "n": null}"#).unwrap(), Some(50));
    assert_eq!(cap(ChatCompletions, r#"{"max_tokens": 18446744073709551615, "n": 2}"#).unwrap(), Some(u64::MAX));
    assert_eq!(cap(ChatCompletions, r#"{"max_tokens": 1e300}"#).unwrap(), Some(u64::MAX));
    assert_eq!(cap(ChatCompletions, r#"{"max_tokens": 99999999999999999999999999}"#).unwrap(), Some(u64::MAX));
    assert!(matches!(
        cap(ChatCompletions, r#"{"max_tokens": -1}"#),
        Err(CountError::Invalid { field: "max_tokens", .. })
    ));
    assert!(matches!(cap(ChatCompletions, r#"{"max_tokens": "100"}"#), Err(CountError::Invalid { .. })));
    assert!(matches!(
        cap(ChatCompletions, r#"{"n": -2, "max_tokens": 5}"#),
        Err(CountError::Invalid { field: "n", .. })
    ));

    assert_eq!(cap(Completions, r#"{"prompt": "x"}"#).unwrap(), Some(16));
    assert_eq!(cap(Completions, r#"{"prompt": "x", "max_tokens": null}"#).unwrap(), None);
    assert_eq!(cap(Completions, r#"{"max_tokens": 10, "n": 2, "best_of": 5}"#).unwrap(), Some(50));
    assert_eq!(cap(Completions, r#"{"max_tokens": 10, "n": 3, "best_of": 1}"#).unwrap(), Some(30));

    assert_eq!(cap(Responses, r#"{"input": "x"}"#).unwrap(), None);
    assert_eq!(cap(Responses, r#"{"input": "x", "max_output_tokens": 300, "max_tokens": 5}"#).unwrap(), Some(300));
    assert_eq!(cap(Embeddings, r#"{"input": "x", "max_tokens": 5}"#).unwrap(), Some(0));
    assert_eq!(cap(Moderations, r#"{"input": "x"}"#).unwrap(), Some(0));

    let parsed = Request::parse(Completions, br#"{"prompt": "x", "max_tokens": 7, "n": 2}"#).unwrap();
    assert_eq!(parsed.max_completion_tokens(), Some(14));
}

#[test]
fn bad_bodies_are_errors_not_panics() {
    let deep_array = format!(r#"{{"messages": {}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    let deep_content =
        format!(r#"{{"messages": [{{"role": "user", "content": {}{}}}]}}"#, "[".repeat(100_000), "]".repeat(100_000));
    let deep_prompt = format!(r#"{{"prompt": [{}{}]}}"#, "[".repeat(200), "]".repeat(200));
    let bodies: Vec<&[u8]> = vec![
        b"",
        b"not json",
        b"[]",
        b"null",
        b"42",
        b"{",
        b"{\"messages\": \"hello\"}",
        b"{\"messages\": [\"hello\"]}",
        b"{\"messages\": [null]}",
        b"{\"messages\": {\"role\": \"user\"}}",
        b"{\"messages\": null}",
        b"{\"model\": \"gpt-4o\"}",
        b"{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}",
        deep_array.as_bytes(),
        deep_prompt.as_bytes(),
    ];
    for body in bodies {
        for endpoint in [
            Endpoint::ChatCompletions,
            Endpoint::Completions,
            Endpoint::Embeddings,
            Endpoint::Responses,
            Endpoint::Moderations,
        ] {
            // Either outcome is acceptable; neither may panic.
            let _ = prompt_tokens(endpoint, Encoding::O200k, body);
            let _ = max_completion_tokens(endpoint, body);
        }
        assert!(
            prompt_tokens(Endpoint::ChatCompletions, Encoding::O200k, body).is_err(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // Deeply nested content is an opaque part: counted by size, cautiously.
    let n = prompt_tokens(Endpoint::ChatCompletions, Encoding::O200k, deep_content.as_bytes()).unwrap();
    assert!(n >= 200_000 / 4, "{n}");
    // Wrong shapes inside messages are counted cautiously rather than rejected.
    let odd = br#"{"messages": [{"role": 5, "content": 12, "tool_calls": "x", "name": ["a"]},
                   {"role": "user", "content": [7, null, [1], {"type": "text", "text": 3}]}]}"#;
    let n = prompt_tokens(Endpoint::ChatCompletions, Encoding::O200k, odd).unwrap();
    assert!(n > 3 + 3 + 3, "{n}");
}

#[test]
fn endpoints_from_paths() {
    assert_eq!(Endpoint::from_path("/v1/chat/completions"), Some(Endpoint::ChatCompletions));
    assert_eq!(Endpoint::from_path("/v1/chat/completions/"), Some(Endpoint::ChatCompletions));
    assert_eq!(
        Endpoint::from_path("/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"),
        Some(Endpoint::ChatCompletions)
    );
    assert_eq!(Endpoint::from_path("/v1/completions"), Some(Endpoint::Completions));
    assert_eq!(Endpoint::from_path("/v1/embeddings"), Some(Endpoint::Embeddings));
    assert_eq!(Endpoint::from_path("/v1/responses"), Some(Endpoint::Responses));
    assert_eq!(Endpoint::from_path("/v1/moderations"), Some(Endpoint::Moderations));
    assert_eq!(Endpoint::from_path("/v1/models"), None);
    assert_eq!(Endpoint::from_path("/v1/responses/resp_1"), None);
    assert_eq!(Endpoint::ChatCompletions.to_string(), "/v1/chat/completions");
}
