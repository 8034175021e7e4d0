//! `POST /v1/chat/completions` and the legacy `POST /v1/completions`, plain and streamed.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::control::{AnswerControls, EVENT_STREAM, Echo, Outcome, Reply, last_message_text, parse};
use crate::sse::{self, ANSWER, DONE, JSON_ANSWER, Streamed, tokens};

const CREATED: u64 = crate::CREATED;
const FINGERPRINT: &str = "fp_mock";
const TOOL_ARGUMENTS: &str = "{}";
const DEFAULT_MODEL: &str = "mock-model";

#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(default)]
    model: Option<String>,
    #[serde(default, borrow)]
    messages: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    tools: Option<Vec<ChatTool>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    response_format: Option<ResponseFormat>,
}

#[derive(Deserialize, Default)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct ChatTool {
    #[serde(default)]
    function: Option<FunctionName>,
}

#[derive(Deserialize)]
struct FunctionName {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct ResponseFormat {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Serialize, Clone, Copy)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

impl Usage {
    fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens }
    }
}

/// `POST /v1/chat/completions`
pub(crate) fn chat_completions(body: &[u8], answer: &mut AnswerControls) -> Outcome {
    let req: ChatRequest<'_> = parse(body)?;
    let Some(messages) = req.messages else {
        return Err(Reply::invalid("Missing required parameter: 'messages'.", Some("messages")));
    };
    let model = req.model.unwrap_or_else(|| DEFAULT_MODEL.to_owned());
    let prompt_tokens = tokens(messages.get().len());
    let tool = pick_tool(req.tools.as_deref().unwrap_or_default(), req.tool_choice.as_ref());
    let json_mode = req.response_format.and_then(|f| f.kind).is_some_and(|k| k == "json_object" || k == "json_schema");
    let text = answer.text(if json_mode { JSON_ANSWER } else { ANSWER }, |echo| echoed(messages, echo));

    if req.stream.unwrap_or(false) {
        let include_usage = req.stream_options.and_then(|o| o.include_usage).unwrap_or(false);
        let body = answer.streamed(text);
        let completion_tokens = match &tool {
            Some(name) => tokens(name.len() + TOOL_ARGUMENTS.len()),
            None => tokens(body.full_len()),
        };
        let stream =
            ChatStream { model, body, tool, include_usage, usage: Usage::new(prompt_tokens, completion_tokens) };
        return Ok(Reply::stream(EVENT_STREAM, (0..).map_while(move |i| stream.event(i))));
    }

    let (message, finish_reason, completion_tokens) = match &tool {
        Some(name) => (
            Message {
                role: "assistant",
                content: None,
                refusal: None,
                annotations: &[],
                tool_calls: Some([ToolCall {
                    id: "call_mock",
                    kind: "function",
                    function: FunctionCall { name, arguments: TOOL_ARGUMENTS },
                }]),
            },
            "tool_calls",
            tokens(name.len() + TOOL_ARGUMENTS.len()),
        ),
        None => (
            Message { role: "assistant", content: Some(&text), refusal: None, annotations: &[], tool_calls: None },
            "stop",
            tokens(text.len()),
        ),
    };
    Ok(Reply::json_of(&ChatCompletion {
        id: "chatcmpl-mock",
        object: "chat.completion",
        created: CREATED,
        model: &model,
        choices: [Choice { index: 0, message, logprobs: None, finish_reason }],
        usage: Usage::new(prompt_tokens, completion_tokens),
        system_fingerprint: FINGERPRINT,
        x_mock_extra: Extra { kept: true },
    }))
}

/// `x-mock-echo` for chat: the text of the last message with the role.
fn echoed(messages: &RawValue, echo: Echo) -> Option<String> {
    let messages: Vec<Value> = serde_json::from_str(messages.get()).ok()?;
    last_message_text(messages.iter(), echo)
}

/// The tool to call: a named `tool_choice`, else the first tool, unless there
/// are no tools or `tool_choice` is `"none"`.
fn pick_tool(tools: &[ChatTool], choice: Option<&Value>) -> Option<String> {
    if tools.is_empty() {
        return None;
    }
    match choice {
        Some(Value::String(s)) if s == "none" => return None,
        Some(Value::Object(o)) => {
            let named = o.get("function").and_then(|f| f.get("name"));
            if let Some(name) = named.and_then(Value::as_str) {
                return Some(name.to_owned());
            }
        }
        _ => {}
    }
    tools.iter().find_map(|t| t.function.as_ref()?.name.clone())
}

#[derive(Serialize)]
struct ChatCompletion<'a> {
    id: &'static str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: Usage,
    system_fingerprint: &'static str,
    /// An unknown field, so tests can check unknown fields pass through verbatim.
    x_mock_extra: Extra,
}

#[derive(Serialize)]
struct Extra {
    kept: bool,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Option<&'a str>,
    refusal: Option<()>,
    annotations: &'static [()],
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCall<'a> {
    id: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionCall<'a>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    arguments: &'static str,
}

#[derive(Serialize)]
struct ChatChunk<'a> {
    id: &'static str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: &'a [ChunkChoice<'a>],
    /// Absent without `include_usage`; `null` on every chunk but the last with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Option<()>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'static str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'static str,
}

/// The events of a streamed chat completion, produced lazily:
/// role chunk, body chunks, finish chunk, optional usage chunk, `[DONE]`.
struct ChatStream {
    model: String,
    /// The answer text (unused for a tool call).
    body: Streamed,
    tool: Option<String>,
    include_usage: bool,
    usage: Usage,
}

impl ChatStream {
    /// Number of chunks between the role chunk and the finish chunk.
    fn body_chunks(&self) -> usize {
        if self.tool.is_some() { TOOL_ARGUMENTS.len() } else { self.body.count() }
    }

    fn event(&self, i: usize) -> Option<Bytes> {
        let n = self.body_chunks();
        let (delta, finish_reason) = match i {
            0 => (self.first_delta(), None),
            i if i <= n => (self.body_delta(i - 1), None),
            i if i == n + 1 => {
                let reason = if self.tool.is_some() { "tool_calls" } else { "stop" };
                (Delta::default(), Some(reason))
            }
            i if i == n + 2 && self.include_usage => {
                return Some(sse::data(&self.chunk(&[], Some(Some(self.usage)))));
            }
            i if i == n + 2 + usize::from(self.include_usage) => return Some(DONE),
            _ => return None,
        };
        let choice = [ChunkChoice { index: 0, delta, logprobs: None, finish_reason }];
        let usage = self.include_usage.then_some(None);
        Some(sse::data(&self.chunk(&choice, usage)))
    }

    fn chunk<'a>(&'a self, choices: &'a [ChunkChoice<'a>], usage: Option<Option<Usage>>) -> ChatChunk<'a> {
        ChatChunk {
            id: "chatcmpl-mock",
            object: "chat.completion.chunk",
            created: CREATED,
            model: &self.model,
            system_fingerprint: FINGERPRINT,
            choices,
            usage,
        }
    }

    fn first_delta(&self) -> Delta<'_> {
        match &self.tool {
            Some(name) => Delta {
                role: Some("assistant"),
                content: Some(None),
                refusal: Some(None),
                tool_calls: Some([ToolCallDelta {
                    index: 0,
                    id: Some("call_mock"),
                    kind: Some("function"),
                    function: FunctionDelta { name: Some(name), arguments: "" },
                }]),
            },
            None => Delta { role: Some("assistant"), content: Some(Some("")), refusal: Some(None), tool_calls: None },
        }
    }

    fn body_delta(&self, j: usize) -> Delta<'_> {
        if self.tool.is_some() {
            Delta {
                tool_calls: Some([ToolCallDelta {
                    index: 0,
                    id: None,
                    kind: None,
                    function: FunctionDelta {
                        name: None,
                        arguments: sse::chunk(TOOL_ARGUMENTS, TOOL_ARGUMENTS.len(), j),
                    },
                }]),
                ..Delta::default()
            }
        } else {
            Delta { content: Some(Some(self.body.chunk(j))), ..Delta::default() }
        }
    }
}

#[derive(Deserialize)]
struct CompletionRequest<'a> {
    #[serde(default)]
    model: Option<String>,
    #[serde(default, borrow)]
    prompt: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct TextCompletion<'a> {
    id: &'static str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [TextChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

#[derive(Serialize)]
struct TextChoice<'a> {
    text: &'a str,
    index: u32,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

/// `POST /v1/completions` (legacy)
pub(crate) fn completions(body: &[u8], answer: &mut AnswerControls) -> Outcome {
    let req: CompletionRequest<'_> = parse(body)?;
    let model = req.model.unwrap_or_else(|| DEFAULT_MODEL.to_owned());
    let prompt_tokens = tokens(req.prompt.map_or(0, |p| p.get().len()));
    // `x-mock-echo: user` echoes a string prompt; there is no system text.
    let text = answer.text(ANSWER, |echo| {
        let prompt = req.prompt.filter(|_| echo == Echo::User)?;
        serde_json::from_str::<String>(prompt.get()).ok()
    });

    if req.stream.unwrap_or(false) {
        let include_usage = req.stream_options.and_then(|o| o.include_usage).unwrap_or(false);
        let body = answer.streamed(text);
        let usage = Usage::new(prompt_tokens, tokens(body.full_len()));
        let chunks = body.count();
        let event = move |i: usize| -> Option<Bytes> {
            let (text, finish_reason) = match i {
                i if i < chunks => (body.chunk(i), None),
                i if i == chunks => ("", Some("stop")),
                i if i == chunks + 1 && include_usage => {
                    return Some(sse::data(&TextCompletion {
                        id: "cmpl-mock",
                        object: "text_completion",
                        created: CREATED,
                        model: &model,
                        choices: &[],
                        usage: Some(Some(usage)),
                    }));
                }
                i if i == chunks + 1 + usize::from(include_usage) => return Some(DONE),
                _ => return None,
            };
            Some(sse::data(&TextCompletion {
                id: "cmpl-mock",
                object: "text_completion",
                created: CREATED,
                model: &model,
                choices: &[TextChoice { text, index: 0, logprobs: None, finish_reason }],
                usage: include_usage.then_some(None),
            }))
        };
        return Ok(Reply::stream(EVENT_STREAM, (0..).map_while(event)));
    }

    Ok(Reply::json_of(&TextCompletion {
        id: "cmpl-mock",
        object: "text_completion",
        created: CREATED,
        model: &model,
        choices: &[TextChoice { text: &text, index: 0, logprobs: None, finish_reason: Some("stop") }],
        usage: Some(Some(Usage::new(prompt_tokens, tokens(text.len())))),
    }))
}
