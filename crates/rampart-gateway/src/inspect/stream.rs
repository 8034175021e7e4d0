//! The response side for server-sent events: chat and completions chunks, and the
//! Responses API's typed events, rewritten event by event as they arrive.
//!
//! Each model-written text (a choice's content, a tool call's arguments, a Responses
//! output part) has its own [`Channel`]: what the guard holds back waits for the next
//! event, everything else goes out at once. Held text is released before the event
//! that ends its text (a chunk with a `finish_reason`, `[DONE]`, a Responses `.done`
//! event), whose full-text fields are replaced by exactly what the client was sent.
//! Events that carry no model text (usage chunks, lifecycle events) pass unchanged.
//!
//! When the guard stops a text, the stream ends cleanly: chat and completions get a
//! final chunk with `finish_reason: "content_filter"` for every choice, then
//! `data: [DONE]`; Responses streams get a `response.incomplete` event with
//! `incomplete_details.reason: "content_filter"`. The provider connection is dropped.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use rampart_scan::Scanner;
use rampart_scan::guard::{OutputPolicy, Stopped};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::response::{
    Channel, OUTPUT_NOT_TEXT, hide_canary, inspect_whole, stop_response_object, stop_verdict, strip_logprobs,
};
use super::{ResponsePlan, Verdicts};
use crate::upstream::EventFilter;

/// A channel key: (choice or output index, part): part 0 is a choice's content,
/// `1 + j` its tool call `j`; for Responses, the content index, or [`ARGUMENTS`].
type Key = (u64, u64);
const ARGUMENTS: u64 = u64::MAX;
/// A chat choice's refusal text.
const REFUSAL: u64 = u64::MAX - 1;
/// A chat choice's reasoning text (`reasoning_content`, as some providers stream it).
const REASONING: u64 = u64::MAX - 2;
/// A chat choice's legacy `function_call.arguments`.
const FUNCTION_CALL: u64 = u64::MAX - 3;
/// A chat choice's audio transcript.
const TRANSCRIPT: u64 = u64::MAX - 4;
/// Keys at or above this are the special texts above; tool calls stay below.
const SPECIAL: u64 = u64::MAX - 16;

/// The stream rewriter handed to the SSE relay.
pub(crate) struct StreamInspector {
    scanner: &'static Scanner,
    policy: Arc<OutputPolicy>,
    plan: Arc<ResponsePlan>,
    channels: BTreeMap<Key, Channel>,
    /// Chat/completions: `id`, `object`, `created`, `model` of the first chunk, for
    /// synthesized chunks. Responses: the `response` object of `response.created`.
    meta: Option<Value>,
    /// Choice indexes seen.
    choices: Vec<u64>,
    last_sequence: u64,
    verdicts: Verdicts,
    request_id: String,
    stopped: bool,
    /// The stream is a Responses API stream (typed events).
    responses: bool,
    /// The verdicts were logged (at the end, or when dropped early).
    logged: bool,
    /// The chunk being rewritten had text the guard held back in full.
    withheld: bool,
    /// The audited request's tally: the verdicts go there at the end.
    pub(crate) tally: Option<Arc<crate::monitor::Tally>>,
}

impl Drop for StreamInspector {
    /// A stream that ends early (client gone, provider failed) still leaves its
    /// verdicts in the log.
    fn drop(&mut self) {
        self.log();
    }
}

/// One parsed event: its non-data lines, and its data.
struct Event<'a> {
    other: Vec<&'a str>,
    /// Borrowed from the block when the event has one `data:` line (the usual case).
    data: Cow<'a, str>,
}

fn parse_event(text: &str) -> Event<'_> {
    let mut other = Vec::new();
    let mut data: Option<Cow<'_, str>> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(rest) = line.strip_prefix("data:") {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            data = Some(match data {
                None => Cow::Borrowed(rest),
                Some(before) => {
                    let mut joined = before.into_owned();
                    joined.push('\n');
                    joined.push_str(rest);
                    Cow::Owned(joined)
                }
            });
        } else if !line.is_empty() {
            other.push(line);
        }
    }
    Event { other, data: data.unwrap_or_default() }
}

/// The common chat chunk: one choice whose delta carries `content` text and at most a
/// `role`, with no finish reason, log probabilities, usage or `type`. It is rewritten
/// in place (the content string replaced, every other byte kept), which spares the
/// parse into a [`Value`] and the serialization back that most of a stream's chunks
/// would otherwise cost. Anything else fails to read as one (`deny_unknown_fields`; a
/// duplicate member is an error too, so no copy of `content` goes uninspected) and
/// takes the general path, [`StreamInspector::chat_chunk`].
#[derive(Deserialize)]
struct PlainChunk<'a> {
    #[serde(borrow)]
    choices: [PlainChoice<'a>; 1],
    #[serde(default, borrow)]
    usage: Option<&'a RawValue>,
    #[serde(default, borrow, rename = "type")]
    kind: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainChoice<'a> {
    index: u64,
    #[serde(borrow)]
    delta: PlainDelta<'a>,
    #[serde(default, borrow)]
    logprobs: Option<&'a RawValue>,
    #[serde(default, borrow)]
    finish_reason: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainDelta<'a> {
    #[serde(default, borrow)]
    role: Option<&'a RawValue>,
    #[serde(borrow)]
    content: &'a RawValue,
}

/// What [`StreamInspector::plain_chunk`] did with an event.
enum Plain {
    /// Rewritten into `out` (or, held back in full, dropped).
    Done,
    /// The guard stopped the text.
    Stopped,
    /// Not a plain chunk: the general path reads it.
    Other,
}

/// [`write_event`] for a JSON value, serialized straight into `out`.
fn write_json_event(out: &mut BytesMut, other: &[&str], data: &Value) {
    for line in other {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"data: ");
    // Writing a `Value` to memory cannot fail: its keys are strings.
    let _ = serde_json::to_writer((&mut *out).writer(), data);
    out.extend_from_slice(b"\n\n");
}

fn write_event(out: &mut BytesMut, other: &[&str], data: &str) {
    for line in other {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// A block of complete events with every line ending (CRLF, CR, LF: the SSE spec
/// allows all three) written as LF and a leading byte-order mark dropped, so events
/// split exactly where a client's parser splits them.
fn normalize_lines(block: &str) -> std::borrow::Cow<'_, str> {
    let block = block.strip_prefix('\u{feff}').unwrap_or(block);
    if block.contains('\r') {
        std::borrow::Cow::Owned(block.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(block)
    }
}

/// Splits a block of complete, LF-normalized events at blank lines (as
/// `block.split("\n\n")`, with a searcher built once rather than per block).
fn split_events(block: &str) -> impl Iterator<Item = &str> {
    static BLANK_LINE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n\n"));
    let mut rest = Some(block);
    std::iter::from_fn(move || {
        let block = rest?;
        Some(match BLANK_LINE.find(block.as_bytes()) {
            // `\n` is one byte: both cuts fall on char boundaries.
            Some(at) => {
                rest = Some(&block[at + 2..]);
                &block[..at]
            }
            None => {
                rest = None;
                block
            }
        })
    })
    .filter(|e| !e.trim().is_empty())
}

impl StreamInspector {
    pub(crate) fn new(
        scanner: &'static Scanner,
        policy: Arc<OutputPolicy>,
        plan: Arc<ResponsePlan>,
        request_id: String,
    ) -> Self {
        Self {
            scanner,
            policy,
            plan,
            channels: BTreeMap::new(),
            meta: None,
            choices: Vec::new(),
            last_sequence: 0,
            verdicts: Verdicts::default(),
            request_id,
            stopped: false,
            responses: false,
            logged: false,
            withheld: false,
            tally: None,
        }
    }

    fn channel(&mut self, key: Key) -> &mut Channel {
        let (scanner, policy, plan) = (self.scanner, &self.policy, &self.plan);
        // Only the Responses API repeats a whole text in its `.done` events.
        let keep_emitted = self.responses;
        self.channels.entry(key).or_insert_with(|| Channel::new(scanner, policy, plan, keep_emitted))
    }

    /// Pushes text into a channel; `None` when it stopped.
    fn push(&mut self, key: Key, text: &str) -> Option<String> {
        let channel = self.channel(key);
        let result = channel.push(text);
        self.report(key);
        let shown = self.stopped_by(key, result)?;
        self.withheld |= shown.is_empty() && !text.is_empty();
        Some(shown)
    }

    /// Ends a channel's text; returns what was still held.
    fn finish(&mut self, key: Key) -> Option<String> {
        let channel = self.channel(key);
        let result = channel.finish();
        self.report(key);
        self.stopped_by(key, result)
    }

    fn stopped_by(&mut self, key: Key, result: Result<String, Stopped>) -> Option<String> {
        match result {
            Ok(text) => Some(text),
            Err(stopped) => {
                self.verdicts.push(stop_verdict(stopped, &location(self.responses, key)));
                None
            }
        }
    }

    fn report(&mut self, key: Key) {
        if let Some(channel) = self.channels.get_mut(&key).filter(|c| c.has_unreported()) {
            channel.drain_verdicts(&location(self.responses, key), &mut self.verdicts);
        }
    }

    /// A chat or completions chunk. Returns the rewritten data, or `None` to stop.
    fn chat_chunk(&mut self, mut chunk: Value) -> Option<Value> {
        if self.meta.is_none() {
            let mut meta = serde_json::Map::new();
            for key in ["id", "object", "created", "model", "system_fingerprint"] {
                if let Some(v) = chunk.get(key) {
                    meta.insert(key.into(), v.clone());
                }
            }
            self.meta = Some(Value::Object(meta));
        }
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else { return Some(chunk) };
        let mut taken = std::mem::take(choices);
        for (position, choice) in taken.iter_mut().enumerate() {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
            if !self.choices.contains(&index) {
                self.choices.push(index);
            }
            strip_logprobs(choice);
            // Chat: delta.content, delta.refusal and delta.tool_calls[].function.arguments.
            if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) {
                for (field, part) in
                    [("content", 0), ("refusal", REFUSAL), ("reasoning_content", REASONING), ("reasoning", REASONING)]
                {
                    if let Some(Value::String(text)) = delta.get_mut(field) {
                        *text = self.push((index, part), text)?;
                    }
                }
                for (outer, inner, part) in
                    [("function_call", "arguments", FUNCTION_CALL), ("audio", "transcript", TRANSCRIPT)]
                {
                    if let Some(Value::String(text)) = delta.get_mut(outer).and_then(|o| o.get_mut(inner)) {
                        *text = self.push((index, part), text)?;
                    }
                }
                if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                    for (j, call) in calls.iter_mut().enumerate() {
                        let j = call.get("index").and_then(Value::as_u64).unwrap_or(j as u64);
                        // Tool-call indexes are small; one that would collide with the
                        // special keys stops the stream rather than share a channel.
                        let part = j.checked_add(1).filter(|&p| p < SPECIAL)?;
                        if let Some(Value::String(text)) = call.get_mut("function").and_then(|f| f.get_mut("arguments"))
                        {
                            *text = self.push((index, part), text)?;
                        }
                    }
                }
            }
            // Completions: text.
            if let Some(Value::String(text)) = choice.get_mut("text") {
                *text = self.push((index, 0), text)?;
            }
            if choice.get("finish_reason").is_some_and(|r| !r.is_null()) {
                self.release_choice(index, choice)?;
            }
        }
        chunk["choices"] = Value::Array(taken);
        Some(chunk)
    }

    /// A [`PlainChunk`], rewritten in place. Only after the first chunk (which sets
    /// the metadata for synthesized chunks) and never in a Responses stream.
    fn plain_chunk(&mut self, data: &str, other: &[&str], out: &mut BytesMut) -> Plain {
        if self.responses || self.meta.is_none() {
            return Plain::Other;
        }
        let Ok(chunk) = serde_json::from_str::<PlainChunk<'_>>(data) else { return Plain::Other };
        let [choice] = &chunk.choices;
        if chunk.usage.is_some() || chunk.kind.is_some() || choice.logprobs.is_some() || choice.finish_reason.is_some()
        {
            return Plain::Other;
        }
        let raw = choice.delta.content.get();
        // Where the content string sits in `data` (the raw value borrows from it).
        let start = raw.as_ptr().addr().wrapping_sub(data.as_ptr().addr());
        if !raw.starts_with('"') || data.get(start..start.saturating_add(raw.len())) != Some(raw) {
            return Plain::Other;
        }
        let text: Cow<'_, str> = match serde_json::from_str::<&str>(raw) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => match serde_json::from_str::<String>(raw) {
                Ok(text) => Cow::Owned(text),
                Err(_) => return Plain::Other,
            },
        };
        let index = choice.index;
        if !self.choices.contains(&index) {
            self.choices.push(index);
        }
        self.withheld = false;
        let Some(shown) = self.push((index, 0), &text) else { return Plain::Stopped };
        // Held back in full, the chunk says nothing (see `says_nothing`): not sent.
        if self.withheld && choice.delta.role.is_none_or(|role| role.get() == "\"\"") {
            return Plain::Done;
        }
        for line in other {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\n");
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&data.as_bytes()[..start]);
        // Writing a string to memory cannot fail.
        let _ = serde_json::to_writer((&mut *out).writer(), shown.as_str());
        out.extend_from_slice(&data.as_bytes()[start + raw.len()..]);
        out.extend_from_slice(b"\n\n");
        Plain::Done
    }

    /// Ends every text of choice `index`, appending what was held to `choice`.
    fn release_choice(&mut self, index: u64, choice: &mut Value) -> Option<()> {
        let keys: Vec<Key> = self.channels.keys().filter(|k| k.0 == index).copied().collect();
        for key in keys {
            let rest = self.finish(key)?;
            if rest.is_empty() {
                continue;
            }
            if choice.get("text").is_some() {
                let text = choice["text"].as_str().unwrap_or_default().to_owned();
                choice["text"] = Value::String(text + &rest);
                continue;
            }
            let delta = choice.as_object_mut()?.entry("delta").or_insert_with(|| json!({}));
            let special = match key.1 {
                0 => Some("content"),
                REFUSAL => Some("refusal"),
                REASONING => Some("reasoning_content"),
                FUNCTION_CALL | TRANSCRIPT => None,
                _ => Some(""),
            };
            if key.1 == FUNCTION_CALL || key.1 == TRANSCRIPT {
                let (outer, inner) =
                    if key.1 == FUNCTION_CALL { ("function_call", "arguments") } else { ("audio", "transcript") };
                let object = delta.as_object_mut()?.entry(outer).or_insert_with(|| json!({}));
                let text = object.get(inner).and_then(Value::as_str).unwrap_or_default().to_owned();
                *object.as_object_mut()?.entry(inner).or_insert(Value::Null) = Value::String(text + &rest);
            } else if let Some(field) = special.filter(|f| !f.is_empty()) {
                let text = delta.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
                *delta.as_object_mut()?.entry(field).or_insert(Value::Null) = Value::String(text + &rest);
            } else {
                let j = key.1 - 1;
                let calls = delta.as_object_mut()?.entry("tool_calls").or_insert_with(|| json!([]));
                let list = calls.as_array_mut()?;
                match list.iter_mut().find(|c| c.get("index").and_then(Value::as_u64) == Some(j)) {
                    Some(call) => {
                        let text =
                            call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default().to_owned();
                        call["function"]["arguments"] = Value::String(text + &rest);
                    }
                    None => list.push(json!({"index": j, "function": {"arguments": rest}})),
                }
            }
        }
        Some(())
    }

    /// Chunks releasing whatever every open channel still holds (before `[DONE]`
    /// when the provider sent no `finish_reason`).
    fn release_all_chat(&mut self, out: &mut BytesMut) -> bool {
        let open: Vec<u64> = self.channels.keys().map(|k| k.0).collect();
        for index in open {
            if !self.channels.keys().any(|k| k.0 == index) {
                continue;
            }
            let completions =
                self.meta.as_ref().and_then(|m| m.get("object")).and_then(Value::as_str) == Some("text_completion");
            let mut choice = if completions {
                json!({"index": index, "text": "", "logprobs": null, "finish_reason": null})
            } else {
                json!({"index": index, "delta": {}, "logprobs": null, "finish_reason": null})
            };
            if self.release_choice(index, &mut choice).is_none() {
                return false;
            }
            self.channels.retain(|k, _| k.0 != index);
            let has_text = choice.get("text").and_then(Value::as_str).is_some_and(|t| !t.is_empty())
                || choice.get("delta").and_then(Value::as_object).is_some_and(|d| !d.is_empty());
            if has_text {
                let mut chunk = self.meta.clone().unwrap_or_else(|| json!({}));
                chunk["choices"] = json!([choice]);
                write_json_event(out, &[], &chunk);
            }
        }
        true
    }

    /// The clean end of a stopped chat or completions stream.
    fn stop_chat(&mut self, out: &mut BytesMut) {
        let meta = self.meta.clone().unwrap_or_else(|| json!({}));
        let completions = meta.get("object").and_then(Value::as_str) == Some("text_completion");
        let indexes = if self.choices.is_empty() { vec![0] } else { self.choices.clone() };
        let mut chunk = meta;
        let choices: Vec<Value> = indexes
            .iter()
            .map(|&index| {
                if completions {
                    json!({"index": index, "text": "", "logprobs": null, "finish_reason": "content_filter"})
                } else {
                    json!({"index": index, "delta": {}, "logprobs": null, "finish_reason": "content_filter"})
                }
            })
            .collect();
        chunk["choices"] = Value::Array(choices);
        write_json_event(out, &[], &chunk);
        write_event(out, &[], "[DONE]");
        self.stopped = true;
    }

    /// A Responses API event. Returns the events to send (a held-text delta may
    /// precede a `.done` event), or `None` to stop.
    fn responses_event(&mut self, mut event: Value, other: &[&str], out: &mut BytesMut) -> Option<()> {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
        if let Some(n) = event.get("sequence_number").and_then(Value::as_u64) {
            self.last_sequence = n;
        }
        strip_logprobs(&mut event);
        if let Some(canary) = &self.plan.canary {
            hide_canary(&mut event, canary);
        }
        let output = event.get("output_index").and_then(Value::as_u64).unwrap_or(0);
        let content = event.get("content_index").and_then(Value::as_u64).unwrap_or(0);
        match kind.as_str() {
            "response.created" | "response.in_progress" if self.meta.is_none() => {
                self.meta = event.get("response").cloned();
            }
            "response.output_text.delta" | "response.function_call_arguments.delta" | "response.refusal.delta" => {
                let key = if kind.ends_with("arguments.delta") { (output, ARGUMENTS) } else { (output, content) };
                if let Some(text) = event.get("delta").and_then(Value::as_str).map(str::to_owned) {
                    event["delta"] = Value::String(self.push(key, &text)?);
                }
            }
            "response.output_text.done" | "response.function_call_arguments.done" | "response.refusal.done" => {
                let (key, field, delta_type) = if kind.ends_with("arguments.done") {
                    ((output, ARGUMENTS), "arguments", "response.function_call_arguments.delta")
                } else if kind == "response.refusal.done" {
                    ((output, content), "refusal", "response.refusal.delta")
                } else {
                    ((output, content), "text", "response.output_text.delta")
                };
                let full = self.settle(key, event.get(field).and_then(Value::as_str))?;
                if !full.rest.is_empty() {
                    let mut delta = event.clone();
                    if let Some(object) = delta.as_object_mut() {
                        object.remove(field);
                        object.remove("logprobs");
                        object.insert("type".into(), Value::String(delta_type.into()));
                        object.insert("delta".into(), Value::String(full.rest));
                    }
                    write_json_event(out, &delta_other(other, delta_type), &delta);
                }
                event[field] = Value::String(full.emitted);
            }
            "response.content_part.done" => {
                if let Some(part) = event.get_mut("part") {
                    strip_logprobs(part);
                }
                for field in ["text", "refusal"] {
                    let pointer = format!("/part/{field}");
                    if let Some(text) = event.pointer(&pointer).and_then(Value::as_str).map(str::to_owned) {
                        let full = self.settle((output, content), Some(&text))?;
                        event["part"][field] = Value::String(full.emitted);
                    }
                }
            }
            "response.output_item.done" => {
                let item = event.get_mut("item")?;
                let mut item = std::mem::take(item);
                self.rewrite_item(output, &mut item)?;
                event["item"] = item;
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if let Some(items) = event.pointer_mut("/response/output").and_then(Value::as_array_mut) {
                    let mut taken = std::mem::take(items);
                    for (i, item) in taken.iter_mut().enumerate() {
                        self.rewrite_item(i as u64, item)?;
                    }
                    event["response"]["output"] = Value::Array(taken);
                }
                if let Some(object) = event.get_mut("response").and_then(Value::as_object_mut) {
                    object.remove("output_text");
                }
            }
            // Other text-carrying events (reasoning summaries, custom tool input, code
            // interpreter code, audio transcripts, MCP arguments, and event types
            // rampart does not know): deltas go through a channel of their own, and
            // the full text of their `.done` event is inspected whole (the guard's
            // output does not depend on how a text was split).
            other_kind if other_kind.ends_with(".delta") => {
                if let Some(text) = event.get("delta").and_then(Value::as_str).map(str::to_owned) {
                    let key = (output, family_key(other_kind, &event));
                    event["delta"] = Value::String(self.push(key, &text)?);
                }
            }
            other_kind if other_kind.ends_with(".done") => {
                let key = (output, family_key(other_kind, &event));
                if self.channels.contains_key(&key) {
                    let rest = self.finish(key)?;
                    if !rest.is_empty() {
                        let mut delta = json!({"type": other_kind.replace(".done", ".delta"), "delta": rest});
                        for field in ["sequence_number", "item_id", "output_index", "content_index", "summary_index"] {
                            if let Some(v) = event.get(field) {
                                delta[field] = v.clone();
                            }
                        }
                        write_json_event(out, &[], &delta);
                    }
                }
                for field in ["text", "arguments", "refusal", "transcript", "code", "input", "output", "delta"] {
                    if let Some(text) = event.get_mut(field) {
                        self.inspect_whole(text, output)?;
                    }
                }
            }
            _ => {}
        }
        write_json_event(out, other, &event);
        Some(())
    }

    /// Replaces the texts of a finished output item with what the client was sent.
    fn rewrite_item(&mut self, output: u64, item: &mut Value) -> Option<()> {
        if let Some(parts) = item.get_mut("content").and_then(Value::as_array_mut) {
            for (k, part) in parts.iter_mut().enumerate() {
                strip_logprobs(part);
                for field in ["text", "refusal"] {
                    if let Some(text) = part.get(field).and_then(Value::as_str).map(str::to_owned) {
                        part[field] = Value::String(self.settle((output, k as u64), Some(&text))?.emitted);
                    }
                }
            }
        }
        if let Some(text) = item.get("arguments").and_then(Value::as_str).map(str::to_owned) {
            item["arguments"] = Value::String(self.settle((output, ARGUMENTS), Some(&text))?.emitted);
        }
        // Every other string of the item (reasoning summaries, tool input, code,
        // outputs, fields rampart does not know), inspected whole.
        if let Some(members) = item.as_object_mut() {
            for (key, member) in members.iter_mut() {
                if !matches!(key.as_str(), "content" | "arguments") && !OUTPUT_NOT_TEXT.contains(&key.as_str()) {
                    self.inspect_whole(member, output)?;
                }
            }
        }
        Some(())
    }

    /// Inspects every string under `value` (of output item `output`) as a whole text
    /// of its own; `None` when the guard stopped one.
    fn inspect_whole(&mut self, value: &mut Value, output: u64) -> Option<()> {
        match value {
            Value::String(text) => {
                let location = format!("output[{output}]");
                *text =
                    inspect_whole(self.scanner, &self.policy, &self.plan, text, &location, &mut self.verdicts).ok()?;
            }
            Value::Array(items) => {
                for item in items {
                    self.inspect_whole(item, output)?;
                }
            }
            Value::Object(members) => {
                for (key, member) in members.iter_mut() {
                    if !OUTPUT_NOT_TEXT.contains(&key.as_str()) {
                        self.inspect_whole(member, output)?;
                    }
                }
            }
            _ => {}
        }
        Some(())
    }

    /// Ends a Responses text whose full form is `full`: a channel that saw deltas is
    /// finished (its held rest returned), one that saw none inspects `full` whole.
    fn settle(&mut self, key: Key, full: Option<&str>) -> Option<Settled> {
        match self.channels.get(&key) {
            Some(channel) if channel.finished() => {
                Some(Settled { rest: String::new(), emitted: channel.emitted.clone() })
            }
            Some(_) => {
                let rest = self.finish(key)?;
                let emitted = self.channels.get(&key).map(|c| c.emitted.clone()).unwrap_or_default();
                Some(Settled { rest, emitted })
            }
            None => {
                let mut rest = self.push(key, full.unwrap_or_default())?;
                rest.push_str(&self.finish(key)?);
                let emitted = self.channels.get(&key).map(|c| c.emitted.clone()).unwrap_or_default();
                Some(Settled { rest, emitted })
            }
        }
    }

    /// The clean end of a stream of either kind, logged.
    fn stop_any(&mut self, out: &mut BytesMut) {
        if self.responses {
            self.stop_responses(out);
        } else {
            self.stop_chat(out);
        }
        self.log();
    }

    /// The clean end of a stopped Responses stream.
    fn stop_responses(&mut self, out: &mut BytesMut) {
        let mut response = self.meta.clone().unwrap_or_else(|| json!({"object": "response"}));
        stop_response_object(&mut response);
        let event = json!({
            "type": "response.incomplete",
            "sequence_number": self.last_sequence + 1,
            "response": response,
        });
        write_json_event(out, &["event: response.incomplete"], &event);
        self.stopped = true;
    }

    fn log(&mut self) {
        if std::mem::replace(&mut self.logged, true) {
            return;
        }
        if let Some(tally) = &self.tally {
            tally.with(|t| t.stream_verdicts.extend(self.verdicts.list.iter().cloned()));
        }
        if !self.verdicts.list.is_empty() {
            tracing::info!(
                request_id = %self.request_id,
                verdict = ?self.verdicts.summary,
                verdicts = %self.verdicts.log_field(),
                "response inspection"
            );
        }
    }
}

/// Whether a rewritten chat or completions chunk carries nothing for the client: no
/// usage, and choices whose every member is empty text, null, or an index (no role, no
/// tool call, no finish reason, no log probabilities, no filter results).
fn says_nothing(chunk: &Value) -> bool {
    let Some(object) = chunk.as_object() else { return false };
    if object.get("usage").is_some_and(|u| !u.is_null()) {
        return false;
    }
    let Some(choices) = object.get("choices").and_then(Value::as_array).filter(|c| !c.is_empty()) else {
        return false;
    };
    let blank = |v: &Value| v.is_null() || v.as_str() == Some("");
    choices.iter().all(|choice| {
        choice.as_object().is_some_and(|members| {
            members.iter().all(|(name, value)| match name.as_str() {
                "index" => true,
                "delta" => value.as_object().is_some_and(|delta| delta.values().all(blank)),
                _ => blank(value),
            })
        })
    })
}

/// The channel key of a Responses event family other than output text and
/// function arguments: the event type without `.delta`/`.done` and the part index,
/// hashed below the special keys.
fn family_key(kind: &str, event: &Value) -> u64 {
    let family = kind.trim_end_matches(".delta").trim_end_matches(".done");
    let part =
        ["content_index", "summary_index"].iter().find_map(|f| event.get(*f).and_then(Value::as_u64)).unwrap_or(0);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in family.bytes().chain(part.to_le_bytes()) {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (hash >> 1) | (1 << 40)
}

/// A channel's location, for verdicts.
fn location(responses: bool, key: Key) -> String {
    match (responses, key.1) {
        (true, ARGUMENTS) => format!("output[{}].arguments", key.0),
        (true, part) => format!("output[{}].content[{part}]", key.0),
        (false, 0) => format!("choices[{}].content", key.0),
        (false, REFUSAL) => format!("choices[{}].refusal", key.0),
        (false, REASONING) => format!("choices[{}].reasoning", key.0),
        (false, FUNCTION_CALL) => format!("choices[{}].function_call", key.0),
        (false, TRANSCRIPT) => format!("choices[{}].audio", key.0),
        (false, call) => format!("choices[{}].tool_calls[{}]", key.0, call.saturating_sub(1)),
    }
}

/// The `event:` line for a synthesized delta, other lines kept.
fn delta_other<'a>(other: &[&'a str], delta_type: &'a str) -> Vec<&'a str> {
    other.iter().map(|line| if line.starts_with("event:") { delta_event_line(delta_type) } else { line }).collect()
}

fn delta_event_line(delta_type: &str) -> &'static str {
    match delta_type {
        "response.function_call_arguments.delta" => "event: response.function_call_arguments.delta",
        "response.refusal.delta" => "event: response.refusal.delta",
        _ => "event: response.output_text.delta",
    }
}

struct Settled {
    /// Held text released now.
    rest: String,
    /// Everything the client was sent for this text.
    emitted: String,
}

impl EventFilter for StreamInspector {
    fn events(&mut self, block: &[u8], out: &mut BytesMut) -> bool {
        if self.stopped {
            return false;
        }
        // Providers send UTF-8; anything else cannot be inspected and does not pass.
        let Ok(text) = std::str::from_utf8(block) else {
            self.stop_any(out);
            return false;
        };
        let text = normalize_lines(text);
        for raw in split_events(&text) {
            let event = parse_event(raw);
            if event.data == "[DONE]" {
                if !self.release_all_chat(out) {
                    self.stop_chat(out);
                    self.log();
                    return false;
                }
                write_event(out, &event.other, "[DONE]");
                continue;
            }
            if event.data.is_empty() && !raw.lines().any(|l| l.starts_with("data")) {
                // Comments and keep-alives carry no model text.
                out.extend_from_slice(raw.as_bytes());
                out.extend_from_slice(b"\n\n");
                continue;
            }
            match self.plain_chunk(&event.data, &event.other, out) {
                Plain::Done => continue,
                Plain::Stopped => {
                    self.stop_chat(out);
                    self.log();
                    return false;
                }
                Plain::Other => {}
            }
            let Ok(value) = serde_json::from_str::<Value>(&event.data) else {
                // Data rampart cannot read is not relayed uninspected.
                self.stop_any(out);
                return false;
            };
            let is_responses = value.get("type").and_then(Value::as_str).is_some_and(|t| t.starts_with("response."));
            if is_responses {
                self.responses = true;
                let mut events = BytesMut::new();
                if self.responses_event(value, &event.other, &mut events).is_none() {
                    self.stop_responses(out);
                    self.log();
                    return false;
                }
                out.extend_from_slice(&events);
            } else {
                self.withheld = false;
                match self.chat_chunk(value) {
                    // A chunk whose only text was held back in full says nothing: it is
                    // not sent (the text goes out with a later chunk), which saves the
                    // client a write and a wake-up per held chunk.
                    Some(chunk) if self.withheld && says_nothing(&chunk) => {}
                    Some(chunk) => write_json_event(out, &event.other, &chunk),
                    None => {
                        self.stop_chat(out);
                        self.log();
                        return false;
                    }
                }
            }
        }
        true
    }

    fn end(&mut self, out: &mut BytesMut) {
        if !self.stopped && !self.responses && !self.release_all_chat(out) {
            self.stop_chat(out);
        }
        self.log();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_config::PolicyProfile;

    const TOKEN: &str = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5";

    #[test]
    fn events_split_at_blank_lines_as_str_split_does() {
        for block in [
            "",
            "\n\n",
            "data: a\n\n",
            "data: a\n\ndata: b\n\n",
            "data: a\n\n\ndata: b",
            "\n\n\n\ndata: é\n\n  \n\nevent: x\ndata: ü\n\n",
            "data: a\n\n\n\n\n",
            "data: no blank line",
        ] {
            let expected: Vec<&str> = block.split("\n\n").filter(|e| !e.trim().is_empty()).collect();
            assert_eq!(split_events(block).collect::<Vec<_>>(), expected, "{block:?}");
        }
    }

    fn inspector() -> StreamInspector {
        static SCANNER: std::sync::OnceLock<Scanner> = std::sync::OnceLock::new();
        let scanner = SCANNER.get_or_init(Scanner::new);
        let profile = Arc::new(PolicyProfile::builtin("default"));
        let plan =
            Arc::new(ResponsePlan { profile: profile.clone(), vault: None, canary: None, protected_prompt: None });
        let policy = Arc::new(super::super::response::output_policy(&profile, &plan));
        StreamInspector::new(scanner, policy, plan, "req_test".into())
    }

    fn chunk(text: &str) -> String {
        json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
            .to_string()
    }

    #[test]
    fn every_sse_line_ending_is_split_like_a_client_splits_it() {
        let half = TOKEN.len() / 2;
        for (eol, end) in [("\n", "\n\n"), ("\r\n", "\r\n\r\n"), ("\r", "\r\r"), ("\n", "\n\r\n")] {
            let mut f = inspector();
            let mut out = BytesMut::new();
            let block = format!(
                "\u{feff}event: x{eol}data: {}{end}data: {}{end}data: [DONE]{end}",
                chunk(&format!("key {}", &TOKEN[..half])),
                chunk(&format!("{} ok", &TOKEN[half..])),
            );
            assert!(f.events(block.as_bytes(), &mut out), "{eol:?}");
            f.end(&mut out);
            let text = String::from_utf8(out.to_vec()).unwrap();
            assert!(!text.contains(&TOKEN[..half]) && !text.contains(&TOKEN[half..]), "{eol:?}: {text}");
            assert!(text.contains("[SECRET_REDACTED]") && text.ends_with("data: [DONE]\n\n"), "{eol:?}: {text}");
        }
    }

    /// A chunk whose text is held back in full is not sent; one the provider sent
    /// empty itself, or one carrying a role, passes as it came.
    #[test]
    fn chunks_held_back_in_full_are_not_sent() {
        let mut f = inspector();
        let mut out = BytesMut::new();
        let role = json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]});
        let mut block = format!("data: {role}\n\ndata: {}\n\n", chunk(""));
        // A card number fed digit group by digit group is held until it is whole.
        for part in ["4111 ", "1111 ", "1111 ", "1111", " done."] {
            block.push_str(&format!("data: {}\n\n", chunk(part)));
        }
        let stop =
            json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
        block.push_str(&format!("data: {stop}\n\ndata: [DONE]\n\n"));
        assert!(f.events(block.as_bytes(), &mut out));
        f.end(&mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        let events: Vec<Value> = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let contents: Vec<&str> = events
            .iter()
            .map(|e| e.pointer("/choices/0/delta/content").and_then(Value::as_str).unwrap_or(""))
            .collect();
        assert_eq!(events[0], role, "the role chunk passes: {text}");
        assert_eq!(events[1].to_string(), chunk(""), "the provider's own empty chunk passes: {text}");
        assert!(!text.contains("4111"), "{text}");
        // Nothing after those two is an empty chunk of rampart's making.
        let held_chunks = events[2..].iter().filter(|e| says_nothing(e)).count();
        assert_eq!(held_chunks, 0, "{text}");
        assert!(events.len() < 2 + 5 + 1, "held chunks were dropped: {text}");
        assert!(contents.concat().ends_with(" done."), "{text}");
    }

    #[test]
    fn texts_in_fields_beyond_content_are_inspected_too() {
        let mut f = inspector();
        let mut out = BytesMut::new();
        let chat = json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {
            "reasoning_content": format!("think {TOKEN} "), "audio": {"transcript": format!("say {TOKEN} ")}}, "finish_reason": "stop"}]});
        let events = [
            json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": format!("a {TOKEN} ")}),
            json!({"type": "response.reasoning_summary_text.done", "output_index": 0, "summary_index": 0, "text": format!("a {TOKEN} ")}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "reasoning", "id": "r",
                "summary": [{"type": "summary_text", "text": format!("a {TOKEN} ")}]}}),
        ];
        let mut block = format!("data: {chat}\n\n");
        assert!(f.events(block.as_bytes(), &mut out));
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(!text.contains(TOKEN) && text.matches("[SECRET_REDACTED]").count() == 2, "{text}");

        let mut f = inspector();
        let mut out = BytesMut::new();
        block = events.iter().map(|e| format!("data: {e}\n\n")).collect();
        assert!(f.events(block.as_bytes(), &mut out));
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(!text.contains(TOKEN), "{text}");
    }

    /// Plain chunks are rewritten in place: their other bytes pass verbatim (a
    /// re-serialization would print `1.0e3` as `1000.0`), and whatever a chunk's shape,
    /// each copy of its text is inspected.
    #[test]
    fn plain_chunks_are_rewritten_in_place_and_no_shape_escapes_inspection() {
        let half = TOKEN.len() / 2;
        let escaped = format!("\\u{:04x}{}", u32::from(TOKEN.as_bytes()[0]), &TOKEN[1..]);
        let first = chunk("Hi ");
        let plain = |content: &str| {
            format!(
                r#"{{"id":"c","created":1.0e3,"choices":[{{"index":0,"delta":{{"content":"{content}"}},"logprobs":null}}],"x":[1 ,2]}}"#
            )
        };
        let cases = [
            // split over two plain chunks
            vec![plain(&format!("key {}", &TOKEN[..half])), plain(&format!("{} ok", &TOKEN[half..]))],
            // a JSON escape inside the token
            vec![plain(&format!("key {escaped} ok"))],
            // a duplicate content member: a reader keeps the last copy
            vec![format!(r#"{{"choices":[{{"index":0,"delta":{{"content":"fine ","content":"key {TOKEN} ok"}}}}]}}"#)],
            // two choices, a second delta field, a finish reason, usage: the general path
            vec![format!(
                r#"{{"choices":[{{"index":0,"delta":{{"content":"a "}}}},{{"index":1,"delta":{{"content":"key {TOKEN} ok"}}}}]}}"#
            )],
            vec![format!(r#"{{"choices":[{{"index":0,"delta":{{"content":"key {TOKEN} ok","refusal":null}}}}]}}"#)],
            vec![format!(
                r#"{{"choices":[{{"index":0,"delta":{{"content":"key {TOKEN} ok"}},"finish_reason":"stop"}}]}}"#
            )],
            vec![format!(
                r#"{{"choices":[{{"index":0,"delta":{{"content":"key {TOKEN} ok"}}}}],"usage":{{"total_tokens":3}}}}"#
            )],
        ];
        for (n, case) in cases.iter().enumerate() {
            let mut f = inspector();
            let mut out = BytesMut::new();
            let mut block = format!("data: {first}\n\n");
            for event in case {
                block.push_str(&format!("data: {event}\n\n"));
            }
            block.push_str("data: [DONE]\n\n");
            assert!(f.events(block.as_bytes(), &mut out), "case {n}");
            f.end(&mut out);
            let text = String::from_utf8(out.to_vec()).unwrap();
            assert!(!text.contains(&TOKEN[..half]) && !text.contains(&TOKEN[half..]), "case {n}: {text}");
            assert!(!text.contains(&escaped[..half]), "case {n}: {text}");
            assert!(text.contains("[SECRET_REDACTED]") && text.ends_with("data: [DONE]\n\n"), "case {n}: {text}");
            for data in text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).filter(|d| *d != "[DONE]") {
                serde_json::from_str::<Value>(data).unwrap_or_else(|e| panic!("case {n}: {e}: {data}"));
            }
            if n < 2 {
                assert!(text.contains(r#""created":1.0e3,"#) && text.contains(r#""x":[1 ,2]"#), "case {n}: {text}");
            }
        }
    }

    #[test]
    fn unreadable_data_stops_the_stream_instead_of_passing() {
        let mut f = inspector();
        let mut out = BytesMut::new();
        assert!(!f.events(format!("data: {{not json {TOKEN}\n\n").as_bytes(), &mut out));
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(
            !text.contains(TOKEN) && text.contains("content_filter") && text.ends_with("data: [DONE]\n\n"),
            "{text}"
        );
    }

    #[test]
    fn huge_tool_call_indexes_do_not_overflow() {
        let mut f = inspector();
        let mut out = BytesMut::new();
        let event = json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": u64::MAX, "function": {"arguments": "{}"}}]}, "finish_reason": null}]});
        assert!(!f.events(format!("data: {event}\n\n").as_bytes(), &mut out));
        assert!(String::from_utf8(out.to_vec()).unwrap().contains("content_filter"));
    }
}
