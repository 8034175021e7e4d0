//! `POST /v1/responses` (the Responses API), plain and streamed as named SSE events.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::CREATED;
use crate::control::{AnswerControls, EVENT_STREAM, Echo, Outcome, Reply, last_message_text, parse};
use crate::sse::{self, ANSWER, JSON_ANSWER, Streamed, Text, tokens};

const MESSAGE_ID: &str = "msg_mock";
const CALL_ITEM_ID: &str = "fc_mock";
const TOOL_ARGUMENTS: &str = "{}";

#[derive(Deserialize)]
struct ResponsesRequest<'a> {
    #[serde(default)]
    model: Option<String>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
    #[serde(default)]
    instructions: Option<Value>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    text: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    max_output_tokens: Option<u64>,
    #[serde(default)]
    previous_response_id: Option<String>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    store: Option<bool>,
    #[serde(default)]
    user: Option<String>,
}

/// What the response answers with.
enum Answer {
    Text(Text),
    ToolCall(String),
}

/// What a streamed response answers with.
enum Streaming {
    Text(Streamed),
    ToolCall(String),
}

/// `POST /v1/responses`
pub(crate) fn create(body: &[u8], controls: &mut AnswerControls) -> Outcome {
    let req: ResponsesRequest<'_> = parse(body)?;
    let instructions_len = match &req.instructions {
        Some(Value::String(s)) => s.len(),
        _ => 0,
    };
    let input_tokens = tokens(req.input.map_or(0, |i| i.get().len()) + instructions_len);
    let answer = match pick_tool(req.tools.as_deref().unwrap_or_default(), req.tool_choice.as_ref()) {
        Some(name) => Answer::ToolCall(name),
        None => {
            let canned = if wants_json(req.text.as_ref()) { JSON_ANSWER } else { ANSWER };
            Answer::Text(controls.text(canned, |echo| echoed(&req, echo)))
        }
    };
    let stream = req.stream.unwrap_or(false);
    let template = ResponseTemplate::new(req);

    if !stream {
        let output_tokens = match &answer {
            Answer::Text(text) => tokens(text.len()),
            Answer::ToolCall(name) => tokens(name.len() + TOOL_ARGUMENTS.len()),
        };
        let output = match &answer {
            Answer::Text(text) => message_item(text, "completed"),
            Answer::ToolCall(name) => call_item(name, TOOL_ARGUMENTS, "completed"),
        };
        let usage = usage(input_tokens, output_tokens);
        return Ok(Reply::json_of(&template.build("completed", vec![output], usage)));
    }

    let answer = match answer {
        Answer::Text(text) => Streaming::Text(controls.streamed(text)),
        Answer::ToolCall(name) => Streaming::ToolCall(name),
    };
    let stream = ResponsesStream { template, answer, input_tokens };
    Ok(Reply::stream(EVENT_STREAM, (0..).map_while(move |i| stream.event(i))))
}

/// `x-mock-echo` for responses: for `user` a string `input`, else the last user
/// item of `input`; for `system` a string `instructions`, else the last
/// system or developer item of `input`.
fn echoed(req: &ResponsesRequest<'_>, echo: Echo) -> Option<String> {
    if echo == Echo::System {
        if let Some(Value::String(instructions)) = &req.instructions {
            return Some(instructions.clone());
        }
    }
    match serde_json::from_str::<Value>(req.input?.get()).ok()? {
        Value::String(input) => (echo == Echo::User).then_some(input),
        Value::Array(items) => last_message_text(items.iter(), echo),
        _ => None,
    }
}

/// Whether `text.format.type` asks for JSON output.
fn wants_json(text: Option<&Value>) -> bool {
    let kind = text.and_then(|t| t.get("format")).and_then(|f| f.get("type")).and_then(Value::as_str);
    matches!(kind, Some("json_object" | "json_schema"))
}

/// The function tool to call: a named `tool_choice`, else the first function
/// tool, unless `tool_choice` is `"none"`.
fn pick_tool(tools: &[Value], choice: Option<&Value>) -> Option<String> {
    if tools.is_empty() {
        return None;
    }
    match choice {
        Some(Value::String(s)) if s == "none" => return None,
        Some(Value::Object(o)) => {
            if let Some(name) = o.get("name").and_then(Value::as_str) {
                return Some(name.to_owned());
            }
        }
        _ => {}
    }
    tools.iter().find_map(|t| {
        if t.get("type").and_then(Value::as_str) != Some("function") {
            return None;
        }
        t.get("name").and_then(Value::as_str).map(str::to_owned)
    })
}

fn usage(input_tokens: u64, output_tokens: u64) -> Value {
    json!({
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    })
}

fn message_item(text: &str, status: &str) -> Value {
    let content = if status == "completed" {
        json!([{"type": "output_text", "text": text, "annotations": [], "logprobs": []}])
    } else {
        json!([])
    };
    json!({
        "type": "message",
        "id": MESSAGE_ID,
        "status": status,
        "role": "assistant",
        "content": content,
    })
}

fn call_item(name: &str, arguments: &str, status: &str) -> Value {
    json!({
        "type": "function_call",
        "id": CALL_ITEM_ID,
        "call_id": "call_mock",
        "name": name,
        "arguments": arguments,
        "status": status,
    })
}

/// The request fields a Response echoes back.
struct ResponseTemplate {
    model: String,
    instructions: Value,
    tools: Vec<Value>,
    tool_choice: Value,
    temperature: f64,
    top_p: f64,
    text: Value,
    metadata: Value,
    max_output_tokens: Option<u64>,
    previous_response_id: Option<String>,
    parallel_tool_calls: bool,
    store: bool,
    user: Option<String>,
}

impl ResponseTemplate {
    fn new(req: ResponsesRequest<'_>) -> Self {
        Self {
            model: req.model.unwrap_or_else(|| "mock-model".to_owned()),
            instructions: req.instructions.unwrap_or(Value::Null),
            tools: req.tools.unwrap_or_default(),
            tool_choice: req.tool_choice.unwrap_or_else(|| json!("auto")),
            temperature: req.temperature.unwrap_or(1.0),
            top_p: req.top_p.unwrap_or(1.0),
            text: req.text.unwrap_or_else(|| json!({"format": {"type": "text"}})),
            metadata: req.metadata.unwrap_or_else(|| json!({})),
            max_output_tokens: req.max_output_tokens,
            previous_response_id: req.previous_response_id,
            parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
            store: req.store.unwrap_or(true),
            user: req.user,
        }
    }

    /// The Response object with the given status, output and usage.
    fn build(&self, status: &str, output: Vec<Value>, usage: Value) -> Value {
        json!({
            "id": "resp_mock",
            "object": "response",
            "created_at": CREATED,
            "status": status,
            "background": false,
            "error": null,
            "incomplete_details": null,
            "instructions": self.instructions,
            "max_output_tokens": self.max_output_tokens,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": self.parallel_tool_calls,
            "previous_response_id": self.previous_response_id,
            "reasoning": {"effort": null, "summary": null},
            "service_tier": "default",
            "store": self.store,
            "temperature": self.temperature,
            "text": self.text,
            "tool_choice": self.tool_choice,
            "tools": self.tools,
            "top_p": self.top_p,
            "truncation": "disabled",
            "usage": usage,
            "user": self.user,
            "metadata": self.metadata,
        })
    }
}

/// The events of a streamed response, produced lazily. A text answer:
/// created, in_progress, output_item.added, content_part.added, K ×
/// output_text.delta, output_text.done, content_part.done, output_item.done,
/// completed. A tool call: created, in_progress, output_item.added, 2 ×
/// function_call_arguments.delta, function_call_arguments.done,
/// output_item.done, completed.
struct ResponsesStream {
    template: ResponseTemplate,
    answer: Streaming,
    input_tokens: u64,
}

impl ResponsesStream {
    fn event(&self, i: usize) -> Option<Bytes> {
        let seq = i;
        match i {
            0 => return Some(self.lifecycle("response.created", seq)),
            1 => return Some(self.lifecycle("response.in_progress", seq)),
            _ => {}
        }
        let j = i - 2;
        match &self.answer {
            Streaming::Text(body) => self.text_event(body, j, seq),
            Streaming::ToolCall(name) => self.call_event(name, j, seq),
        }
    }

    fn lifecycle(&self, kind: &str, seq: usize) -> Bytes {
        let response = self.template.build("in_progress", Vec::new(), Value::Null);
        sse::event(kind, &json!({"type": kind, "sequence_number": seq, "response": response}))
    }

    fn completed(&self, output: Value, output_tokens: u64, seq: usize) -> Bytes {
        let usage = usage(self.input_tokens, output_tokens);
        let response = self.template.build("completed", vec![output], usage);
        sse::event(
            "response.completed",
            &json!({"type": "response.completed", "sequence_number": seq, "response": response}),
        )
    }

    fn text_event(&self, body: &Streamed, j: usize, seq: usize) -> Option<Bytes> {
        let k = body.count();
        let part = |text: &str| json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
        let (kind, data) = match j {
            0 => ("response.output_item.added", json!({"output_index": 0, "item": message_item("", "in_progress")})),
            1 => (
                "response.content_part.added",
                json!({"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0, "part": part("")}),
            ),
            j if j < k + 2 => (
                "response.output_text.delta",
                json!({
                    "item_id": MESSAGE_ID, "output_index": 0, "content_index": 0,
                    "delta": body.chunk(j - 2), "logprobs": [],
                }),
            ),
            j if j == k + 2 => (
                "response.output_text.done",
                json!({
                    "item_id": MESSAGE_ID, "output_index": 0, "content_index": 0,
                    "text": body.full(), "logprobs": [],
                }),
            ),
            j if j == k + 3 => (
                "response.content_part.done",
                json!({
                    "item_id": MESSAGE_ID, "output_index": 0, "content_index": 0,
                    "part": part(&body.full()),
                }),
            ),
            j if j == k + 4 => (
                "response.output_item.done",
                json!({"output_index": 0, "item": message_item(&body.full(), "completed")}),
            ),
            j if j == k + 5 => {
                let output = message_item(&body.full(), "completed");
                return Some(self.completed(output, tokens(body.full_len()), seq));
            }
            _ => return None,
        };
        Some(typed_event(kind, seq, data))
    }

    fn call_event(&self, name: &str, j: usize, seq: usize) -> Option<Bytes> {
        let n = TOOL_ARGUMENTS.len();
        let (kind, data) = match j {
            0 => ("response.output_item.added", json!({"output_index": 0, "item": call_item(name, "", "in_progress")})),
            j if j <= n => (
                "response.function_call_arguments.delta",
                json!({"item_id": CALL_ITEM_ID, "output_index": 0, "delta": sse::chunk(TOOL_ARGUMENTS, n, j - 1)}),
            ),
            j if j == n + 1 => (
                "response.function_call_arguments.done",
                json!({"item_id": CALL_ITEM_ID, "output_index": 0, "arguments": TOOL_ARGUMENTS}),
            ),
            j if j == n + 2 => (
                "response.output_item.done",
                json!({"output_index": 0, "item": call_item(name, TOOL_ARGUMENTS, "completed")}),
            ),
            j if j == n + 3 => {
                let output = call_item(name, TOOL_ARGUMENTS, "completed");
                return Some(self.completed(output, tokens(name.len() + n), seq));
            }
            _ => return None,
        };
        Some(typed_event(kind, seq, data))
    }
}

/// `event: kind` with `data` plus `type` and `sequence_number`.
fn typed_event(kind: &str, seq: usize, mut data: Value) -> Bytes {
    if let Value::Object(map) = &mut data {
        map.insert("type".to_owned(), json!(kind));
        map.insert("sequence_number".to_owned(), json!(seq));
    }
    sse::event(kind, &data)
}
