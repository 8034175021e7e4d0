//! The response side for JSON bodies, and what JSON and SSE share: one
//! [`Channel`] per model-written text (a choice's content, a tool call's arguments,
//! a Responses output part) running the output guard (secrets, PII, canary, prompt
//! leak, exfiltration links) and then restoring the request's pseudonyms.
//!
//! A JSON body is read whole within [`MAX_INSPECTED_BODY`] (fail closed past it),
//! its texts rewritten in place, and re-encoded. A stopped text empties its choice
//! and sets `finish_reason: "content_filter"` (Responses: `status: "incomplete"`
//! with `incomplete_details.reason: "content_filter"`). Error responses and bodies
//! that are not JSON pass as they are; event streams go to [`super::stream`].

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::BytesMut;
use futures_util::StreamExt;
use rampart_config::{Action, PolicyProfile};
use rampart_scan::Scanner;
use rampart_scan::guard::{OutputAction, OutputGuard, OutputPolicy, Stopped};
use rampart_scan::redact::{Restorer, Vault};
use serde_json::Value;

use super::{ResponsePlan, Verdict, Verdicts};
use crate::error::ApiError;
use crate::upstream::{Relay, is_event_stream};

/// Largest JSON response body held for inspection.
pub(crate) const MAX_INSPECTED_BODY: usize = 32 << 20;

/// The guard's policy for a profile and a request's plan.
pub(crate) fn output_policy(profile: &PolicyProfile, plan: &ResponsePlan) -> OutputPolicy {
    let action = |configured: Action| match profile.effective(configured) {
        Action::Block => OutputAction::Block,
        Action::Redact | Action::Pseudonymize => OutputAction::Redact,
        Action::Monitor => OutputAction::Monitor,
        Action::Allow => OutputAction::Allow,
    };
    let enforce = |configured: Action| profile.effective(configured) == Action::Block;
    OutputPolicy {
        secrets: action(profile.response_secrets),
        pii: action(profile.response_pii),
        canaries: plan.canary.iter().cloned().collect(),
        protected_prompt: if enforce(profile.prompt_leak) { plan.protected_prompt.clone() } else { None },
        link_hosts: (profile.effective(profile.links) == Action::Redact).then(|| profile.link_hosts.clone()),
        ..OutputPolicy::default()
    }
}

/// Whether `policy` leaves output alone (then responses are relayed untouched).
fn checks_nothing(policy: &OutputPolicy) -> bool {
    policy.secrets == OutputAction::Allow
        && policy.pii == OutputAction::Allow
        && policy.canaries.is_empty()
        && policy.protected_prompt.is_none()
        && policy.link_hosts.is_none()
}

/// One model-written text on its way to the client.
pub(crate) struct Channel {
    guard: OutputGuard<'static>,
    restorer: Option<Restorer<Arc<Vault>>>,
    /// Everything emitted so far (Responses `.done` events repeat the whole text).
    pub(crate) emitted: String,
    keep_emitted: bool,
    finished: bool,
    /// Guard events already turned into verdicts.
    reported: usize,
    scratch: String,
}

impl Channel {
    pub(crate) fn new(
        scanner: &'static Scanner,
        policy: &Arc<OutputPolicy>,
        plan: &ResponsePlan,
        keep_emitted: bool,
    ) -> Self {
        Self {
            guard: OutputGuard::new(scanner, Arc::clone(policy)),
            restorer: plan.vault.clone().map(Restorer::new),
            emitted: String::new(),
            keep_emitted,
            finished: false,
            reported: 0,
            scratch: String::new(),
        }
    }

    /// The next piece of text; returns what the client may see now.
    pub(crate) fn push(&mut self, text: &str) -> Result<String, Stopped> {
        if self.finished {
            // A provider sending text after ending it: inspect it as a new text.
            self.finished = false;
        }
        self.scratch.clear();
        self.guard.push(text, &mut self.scratch)?;
        Ok(self.restore(false))
    }

    /// The end of the text: returns everything still owed.
    pub(crate) fn finish(&mut self) -> Result<String, Stopped> {
        if self.finished {
            return Ok(String::new());
        }
        self.finished = true;
        self.scratch.clear();
        self.guard.finish(&mut self.scratch)?;
        Ok(self.restore(true))
    }

    fn restore(&mut self, last: bool) -> String {
        let mut out = String::new();
        match &mut self.restorer {
            Some(restorer) => {
                restorer.feed_str(&self.scratch, &mut out);
                if last {
                    restorer.finish_str(&mut out);
                }
            }
            None => out.push_str(&self.scratch),
        }
        if self.keep_emitted {
            self.emitted.push_str(&out);
        }
        out
    }

    /// Whether the text has ended.
    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    /// Whether the guard found something not yet reported.
    pub(crate) fn has_unreported(&self) -> bool {
        self.guard.events().len() > self.reported
    }

    /// Guard events not yet reported, as verdicts at `location`.
    pub(crate) fn drain_verdicts(&mut self, location: &str, verdicts: &mut Verdicts) {
        for event in &self.guard.events()[self.reported..] {
            verdicts.push(Verdict {
                phase: "response",
                detector: event.family.as_str(),
                rule: event.rule,
                score: event.score,
                action: event.action.as_str(),
                location: location.to_owned(),
            });
        }
        self.reported = self.guard.events().len();
    }
}

/// Relays `upstream` with the response side of `plan` applied.
pub(crate) async fn inspect(
    relay: Relay,
    upstream: http::Response<hyper::body::Incoming>,
    plan: Arc<ResponsePlan>,
    scanner: &'static Scanner,
) -> Result<Response, ApiError> {
    if !upstream.status().is_success() {
        return Ok(relay.relay(upstream));
    }
    let policy = output_policy(&plan.profile, &plan);
    if plan.vault.is_none() && checks_nothing(&policy) {
        return Ok(relay.relay(upstream));
    }
    let policy = Arc::new(policy);
    let (parts, body) = upstream.into_parts();
    let mut out = Relay::head(&parts);
    let provider = relay.provider.clone();
    let tally = relay.tally.clone();
    let (chunks, failure) = relay.chunks(body);
    if is_event_stream(&parts.headers) {
        let mut filter = super::stream::StreamInspector::new(scanner, policy, plan, failure.request_id_text());
        filter.tally = tally;
        *out.body_mut() = Body::from_stream(crate::upstream::sse_relay(chunks, failure, filter));
        return Ok(out);
    }
    let mut chunks = std::pin::pin!(chunks);
    let mut bytes = BytesMut::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| {
            failure.log(&error);
            ApiError::bad_gateway("upstream_broken", format!("upstream {provider}: the response body failed"))
                .not_retryable()
        })?;
        if bytes.len() + chunk.len() > MAX_INSPECTED_BODY {
            return Err(ApiError::bad_gateway(
                "response_too_large",
                format!("upstream {provider}: the response is too large to inspect"),
            )
            .not_retryable());
        }
        bytes.extend_from_slice(&chunk);
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        // Not JSON: nothing model-written rampart could find in it. Refuse rather than
        // relay uninspected text with a success status.
        return Err(ApiError::bad_gateway(
            "response_not_json",
            format!("upstream {provider}: the response is not JSON and cannot be inspected"),
        )
        .not_retryable());
    };
    let mut verdicts = Verdicts::default();
    rewrite_json(&mut value, scanner, &policy, &plan, &mut verdicts);
    let encoded = serde_json::to_vec(&value).map_err(|_| ApiError::internal("json_encode"))?;
    *out.body_mut() = Body::from(encoded);
    out.extensions_mut().insert(ResponseVerdicts(verdicts));
    Ok(out)
}

/// Members of model output that are identifiers, enumerations or binary payloads
/// (audio, images, encrypted reasoning), not text.
pub(crate) const OUTPUT_NOT_TEXT: &[&str] = &[
    "role",
    "type",
    "id",
    "call_id",
    "item_id",
    "status",
    "index",
    "data",
    "encrypted_content",
    "result",
    "logprobs",
    "finish_reason",
    "expires_at",
];

/// Response-side verdicts of a JSON response, merged into the request's by the route.
#[derive(Debug, Clone)]
pub(crate) struct ResponseVerdicts(pub(crate) Verdicts);

/// Inspects `text` whole, as one text of its own, recording what the guard found
/// (and a stop) in `verdicts` at `location`.
pub(crate) fn inspect_whole(
    scanner: &'static Scanner,
    policy: &Arc<OutputPolicy>,
    plan: &ResponsePlan,
    text: &str,
    location: &str,
    verdicts: &mut Verdicts,
) -> Result<String, Stopped> {
    let mut channel = Channel::new(scanner, policy, plan, false);
    let result = channel.push(text).and_then(|mut out| {
        out.push_str(&channel.finish()?);
        Ok(out)
    });
    channel.drain_verdicts(location, verdicts);
    if let Err(stopped) = result {
        verdicts.push(stop_verdict(stopped, location));
    }
    result
}

/// Rewrites every model-written text of a chat, completions or Responses body.
fn rewrite_json(
    value: &mut Value,
    scanner: &'static Scanner,
    policy: &Arc<OutputPolicy>,
    plan: &ResponsePlan,
    verdicts: &mut Verdicts,
) {
    // Every string under the value (deny by default: fields rampart does not know,
    // such as reasoning text, audio transcripts or annotations, are inspected too),
    // except identifiers, enumerations and binary payloads.
    fn walk(value: &mut Value, location: &str, text: &mut dyn FnMut(&mut Value, &str) -> bool) -> bool {
        // No short circuit: after a stop, every other text is still inspected.
        let mut ok = true;
        match value {
            Value::String(_) => ok = text(value, location),
            Value::Array(items) => {
                for item in items {
                    ok &= walk(item, location, text);
                }
            }
            Value::Object(members) => {
                for (key, member) in members.iter_mut() {
                    if !OUTPUT_NOT_TEXT.contains(&key.as_str()) {
                        ok &= walk(member, location, text);
                    }
                }
            }
            _ => {}
        }
        ok
    }
    let mut one_text = |text: &mut Value, location: &str| -> bool {
        let Some(original) = text.as_str() else { return true };
        match inspect_whole(scanner, policy, plan, original, location, verdicts) {
            Ok(new) => {
                *text = Value::String(new);
                true
            }
            Err(_) => false,
        }
    };
    if let Some(choices) = value.get_mut("choices").and_then(Value::as_array_mut) {
        for (i, choice) in choices.iter_mut().enumerate() {
            let location = format!("choices[{i}]");
            let mut ok = true;
            strip_logprobs(choice);
            if let Some(message) = choice.get_mut("message") {
                ok &= walk(message, &location, &mut one_text);
            }
            if let Some(text) = choice.get_mut("text") {
                ok &= one_text(text, &location);
            }
            if !ok {
                if let Some(message) = choice.get_mut("message").and_then(Value::as_object_mut) {
                    message.insert("content".into(), Value::Null);
                    message.insert("refusal".into(), Value::Null);
                    for field in ["tool_calls", "function_call", "audio", "reasoning_content", "annotations"] {
                        message.remove(field);
                    }
                }
                if choice.get("text").is_some() {
                    choice["text"] = Value::String(String::new());
                }
                choice["finish_reason"] = Value::String("content_filter".into());
            }
        }
    }
    if let Some(canary) = &plan.canary {
        hide_canary(value, canary);
    }
    if value.get("object").and_then(Value::as_str) == Some("response") {
        let mut ok = true;
        if let Some(output) = value.get_mut("output").and_then(Value::as_array_mut) {
            for (i, item) in output.iter_mut().enumerate() {
                let location = format!("output[{i}]");
                if let Some(parts) = item.get_mut("content").and_then(Value::as_array_mut) {
                    parts.iter_mut().for_each(strip_logprobs);
                }
                ok &= walk(item, &location, &mut one_text);
            }
        }
        if !ok {
            stop_response_object(value);
        }
    }
}

/// Token log-probabilities carry the raw tokens the model produced, beside the text
/// the guard rewrote: they are dropped from inspected responses (`null`, or `[]` where
/// the Responses API has a list).
pub(crate) fn strip_logprobs(object: &mut Value) {
    if let Some(logprobs) = object.get_mut("logprobs") {
        if logprobs.is_array() {
            *logprobs = Value::Array(Vec::new());
        } else if !logprobs.is_null() {
            *logprobs = Value::Null;
        }
    }
}

/// The Responses API echoes `instructions`, canary included: take the canary out
/// again (it is the profile's, and the caller must not learn it).
pub(crate) fn hide_canary(value: &mut Value, canary: &str) {
    let marker = super::canary_marker(canary);
    let strip = |object: &mut Value| {
        if let Some(Value::String(instructions)) = object.get_mut("instructions") {
            if let Some(at) = instructions.find(&marker) {
                instructions.replace_range(at..at + marker.len(), "");
            }
        }
    };
    strip(value);
    if let Some(response) = value.get_mut("response") {
        strip(response);
    }
}

/// A Responses object stopped by the guard: no output, `incomplete`.
pub(crate) fn stop_response_object(value: &mut Value) {
    if let Some(object) = value.as_object_mut() {
        object.insert("status".into(), Value::String("incomplete".into()));
        object.insert("incomplete_details".into(), serde_json::json!({"reason": "content_filter"}));
        object.insert("output".into(), Value::Array(Vec::new()));
        object.remove("output_text");
    }
}

/// The verdict recording that an output was stopped, and why.
pub(crate) fn stop_verdict(stopped: Stopped, location: &str) -> Verdict {
    Verdict {
        phase: "response",
        detector: stopped.reason.as_str(),
        rule: "output.stopped",
        score: 1.0,
        action: "stop",
        location: location.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner() -> &'static Scanner {
        static SCANNER: std::sync::OnceLock<Scanner> = std::sync::OnceLock::new();
        SCANNER.get_or_init(Scanner::new)
    }

    const TOKEN: &str = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5";

    fn rewrite(mut value: Value) -> (Value, Verdicts) {
        let profile = Arc::new(PolicyProfile::builtin("default"));
        let plan = ResponsePlan { profile: profile.clone(), vault: None, canary: None, protected_prompt: None };
        let policy = Arc::new(output_policy(&profile, &plan));
        let mut verdicts = Verdicts::default();
        rewrite_json(&mut value, scanner(), &policy, &plan, &mut verdicts);
        (value, verdicts)
    }

    #[test]
    fn every_model_written_field_is_inspected_and_token_logprobs_dropped() {
        let (chat, verdicts) = rewrite(serde_json::json!({
            "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": format!("use {TOKEN}"), "refusal": format!("no {TOKEN}"),
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": format!("{{\"t\":\"{TOKEN}\"}}")}}]},
                "logprobs": {"content": [{"token": TOKEN, "logprob": -0.1}]}}]
        }));
        let text = chat.to_string();
        assert!(!text.contains(TOKEN), "{text}");
        assert!(chat["choices"][0]["logprobs"].is_null());
        assert_eq!(chat["choices"][0]["message"]["content"], "use [SECRET_REDACTED]");
        assert_eq!(verdicts.summary, super::super::Summary::Redacted);

        let (response, _) = rewrite(serde_json::json!({
            "object": "response", "status": "completed",
            "output": [{"type": "message", "content": [
                {"type": "output_text", "text": format!("key {TOKEN}"), "logprobs": [{"token": TOKEN}]},
                {"type": "refusal", "refusal": format!("key {TOKEN}")}]},
                {"type": "function_call", "arguments": format!("{{\"k\":\"{TOKEN}\"}}")}]
        }));
        let text = response.to_string();
        assert!(!text.contains(TOKEN), "{text}");
        assert_eq!(response["output"][0]["content"][0]["logprobs"], serde_json::json!([]));
    }

    #[test]
    fn the_canary_is_taken_out_of_echoed_instructions() {
        let canary = "rampart-canary-0123";
        let with = format!("Be brief.{}", super::super::canary_marker(canary));
        let mut value =
            serde_json::json!({"object": "response", "instructions": with, "response": {"instructions": with}});
        hide_canary(&mut value, canary);
        assert_eq!(value["instructions"], "Be brief.");
        assert_eq!(value["response"]["instructions"], "Be brief.");
    }

    #[test]
    fn a_stopped_text_empties_its_choice_with_content_filter() {
        let profile = Arc::new(PolicyProfile::builtin("default"));
        let plan = ResponsePlan {
            profile: profile.clone(),
            vault: None,
            canary: Some("rampart-canary-00ff".into()),
            protected_prompt: None,
        };
        let policy = Arc::new(output_policy(&profile, &plan));
        let mut verdicts = Verdicts::default();
        let mut value = serde_json::json!({"choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "the marker is rampart-canary-00ff ok"}}]});
        rewrite_json(&mut value, scanner(), &policy, &plan, &mut verdicts);
        assert_eq!(value["choices"][0]["finish_reason"], "content_filter");
        assert!(value["choices"][0]["message"]["content"].is_null());
        assert_eq!(verdicts.summary, super::super::Summary::Blocked);
        assert!(verdicts.log_field().contains("response:canary/output.stopped"), "{}", verdicts.log_field());
    }
}
