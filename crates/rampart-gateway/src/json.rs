//! The little rampart needs from an OpenAI JSON body, read without re-encoding it.
//!
//! Bodies are forwarded as the client wrote them. The few top-level members rampart
//! sets (`model` when the model table maps it to another upstream name, a key's
//! completion cap, `stream_options.include_usage` on metered streams) are spliced in
//! with [`set_members`], and every other top-level member is copied as its raw text,
//! so unknown fields, number formatting and key order pass verbatim. Duplicate
//! `model` (and other head) members are refused: a gateway and a provider that read
//! different copies is a classic parser-differential bypass.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::ApiError;

/// The routing- and scope-relevant members of a request body.
#[derive(Debug, Deserialize)]
pub(crate) struct RequestHead<'a> {
    #[serde(borrow, default)]
    pub(crate) model: Option<Cow<'a, str>>,
    /// Tools may run a model of their own (e.g. Responses API `image_generation`).
    #[serde(borrow, default)]
    pub(crate) tools: Option<Vec<ToolHead<'a>>>,
    /// Whether the answer streams.
    #[serde(default)]
    pub(crate) stream: Option<bool>,
    /// Chat and completions stream options (`include_usage`).
    #[serde(default)]
    pub(crate) stream_options: Option<StreamOptionsHead>,
    /// Completion caps: chat (`max_completion_tokens`, or the older `max_tokens`),
    /// completions (`max_tokens`), Responses (`max_output_tokens`).
    #[serde(default)]
    pub(crate) max_completion_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) max_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) max_output_tokens: Option<u64>,
    /// Choices per request (chat, completions).
    #[serde(default)]
    pub(crate) n: Option<u64>,
    /// Completions generated server-side per prompt (legacy completions).
    #[serde(default)]
    pub(crate) best_of: Option<u64>,
    /// Responses state stored at the provider, whose tokens the body does not show.
    #[serde(borrow, default)]
    pub(crate) previous_response_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(crate) conversation: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(crate) prompt: Option<&'a RawValue>,
}

/// `stream_options` as far as metering needs it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StreamOptionsHead {
    #[serde(default)]
    pub(crate) include_usage: Option<bool>,
}

/// The part of a tool definition that names a model.
#[derive(Debug, Deserialize)]
pub(crate) struct ToolHead<'a> {
    #[serde(borrow, default)]
    pub(crate) model: Option<Cow<'a, str>>,
}

impl RequestHead<'_> {
    /// The largest completion cap the request sets in any cap member, and the member
    /// that set it: a provider may honour a member its endpoint does not define.
    pub(crate) fn completion_cap(&self) -> Option<(&'static str, u64)> {
        [
            ("max_completion_tokens", self.max_completion_tokens),
            ("max_tokens", self.max_tokens),
            ("max_output_tokens", self.max_output_tokens),
        ]
        .into_iter()
        .filter_map(|(member, n)| n.map(|n| (member, n)))
        .max_by_key(|&(_, n)| n)
    }

    /// Completions generated per prompt: the larger of `n` and `best_of` (at least 1).
    pub(crate) fn choices(&self) -> u64 {
        self.n.unwrap_or(1).max(self.best_of.unwrap_or(1)).max(1)
    }

    /// Whether the request continues state stored at the provider. A `prompt` that is
    /// an object is a stored prompt template (`{"id": ...}`); a string is a completions
    /// prompt, in the body.
    pub(crate) fn stored_context(&self) -> bool {
        let present = |v: Option<&RawValue>| v.is_some_and(|v| v.get() != "null");
        present(self.previous_response_id)
            || present(self.conversation)
            || self.prompt.is_some_and(|p| p.get().trim_start().starts_with('{'))
    }

    /// Models named by tools, which the key's scope must cover too.
    pub(crate) fn tool_models(&self) -> impl Iterator<Item = &str> {
        self.tools.iter().flatten().filter_map(|tool| tool.model.as_deref())
    }
}

/// Parses the head of a JSON object body. Anything but a well-formed object is a 400.
pub(crate) fn parse_head(body: &[u8]) -> Result<RequestHead<'_>, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::bad_request(
            "invalid_json",
            "We could not parse the JSON body of your request: expected a JSON object.",
        ));
    }
    serde_json::from_slice(body).map_err(|error| {
        // serde_json's messages name the problem and its position, never the content
        // (for type errors it may quote a short token; keep only its classification).
        let detail = match error.classify() {
            serde_json::error::Category::Data => format!("invalid field: {}", scrub(&error)),
            _ => format!("line {} column {}", error.line(), error.column()),
        };
        ApiError::bad_request("invalid_json", format!("We could not parse the JSON body of your request ({detail})."))
    })
}

/// A data error without the offending value: `invalid type: integer `5`, expected ...`
/// becomes `invalid type, expected ...`.
fn scrub(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let text = text.split(" at line ").next().unwrap_or_default();
    match (text.find(": "), text.find(", expected")) {
        (Some(colon), Some(expected)) if colon < expected => {
            format!("{}{}", &text[..colon], &text[expected..])
        }
        _ => text.to_owned(),
    }
}

/// Returns `body` with each `(name, raw JSON)` of `set` as a top-level member: a member
/// of that name is replaced where it stands, a missing one is appended; every other
/// member is kept as written. The raw values must be valid JSON (the caller encodes
/// them).
pub(crate) fn set_members(body: &[u8], set: &[(&str, &str)]) -> Result<Vec<u8>, ApiError> {
    let members: Members<'_> = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("invalid_json", "We could not parse the JSON body of your request."))?;
    let extra: usize = set.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    let mut out = Vec::with_capacity(body.len() + extra);
    let mut seen = vec![false; set.len()];
    out.push(b'{');
    let mut first = true;
    let mut member = |out: &mut Vec<u8>, key: &str, value: &str| -> Result<(), ApiError> {
        if !first {
            out.push(b',');
        }
        first = false;
        // Keys serialize infallibly into a Vec.
        serde_json::to_writer(&mut *out, key).map_err(|_| ApiError::internal("json_encode"))?;
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        Ok(())
    };
    for (key, value) in &members.0 {
        match set.iter().position(|(name, _)| name == key) {
            Some(i) => {
                seen[i] = true;
                member(&mut out, key, set[i].1)?;
            }
            None => member(&mut out, key, value.get())?,
        }
    }
    for (i, (name, value)) in set.iter().enumerate() {
        if !seen[i] {
            member(&mut out, name, value)?;
        }
    }
    out.push(b'}');
    Ok(out)
}

/// The members of a JSON object in document order, values as raw text borrowed from
/// `body` (so their offsets in it can be computed).
pub(crate) fn object_members(body: &[u8]) -> Result<Vec<(Cow<'_, str>, &RawValue)>, serde_json::Error> {
    serde_json::from_slice::<Members<'_>>(body).map(|m| m.0)
}

/// Top-level members of an object in document order, values as raw text.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, value));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_model_and_ignores_everything_else() {
        let head =
            parse_head(br#"{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o","x":{"y":1}}"#).unwrap();
        assert_eq!(head.model.as_deref(), Some("gpt-4o"));
        assert!(parse_head(br#"{"input":"x"}"#).unwrap().model.is_none());
        let head = parse_head(br#"{"model":"m","tools":[{"type":"function","function":{"name":"f"}},{"type":"image_generation","model":"gpt-image-1"}]}"#).unwrap();
        assert_eq!(head.tool_models().collect::<Vec<_>>(), ["gpt-image-1"]);
    }

    #[test]
    fn refuses_non_objects_duplicates_and_garbage() {
        for bad in [
            &b"[\"gpt-4o\"]"[..],
            b"",
            b"null",
            b"{\"model\":",
            b"{\"model\":5}",
            b"\xff\xfe",
            b"{\"model\":\"a\",\"model\":\"b\"}",
        ] {
            let error = parse_head(bad).unwrap_err();
            assert_eq!(error.status, http::StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }

    #[test]
    fn type_errors_do_not_echo_values() {
        let error = parse_head(br#"{"model": 123456789}"#).unwrap_err();
        assert!(!error.message.contains("123456789"), "{}", error.message);
        assert!(error.message.contains("expected"), "{}", error.message);
    }

    #[test]
    fn replacing_the_model_keeps_other_members_verbatim() {
        let body = br#"{ "model" : "alias", "temperature": 1.0, "big": 12345678901234567890123, "unknown_field": {"nested": [1, 2.50, "\u00e9"]}, "stream": true }"#;
        let out = set_members(body, &[("model", r#""gpt-4o-2024-08-06""#)]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{"model":"gpt-4o-2024-08-06","temperature":1.0,"big":12345678901234567890123,"unknown_field":{"nested": [1, 2.50, "\u00e9"]},"stream":true}"#
        );
    }

    #[test]
    fn set_members_replaces_in_place_and_appends_the_rest() {
        let body = br#"{"stream_options":{"include_usage":false},"n":1.50}"#;
        let out =
            set_members(body, &[("max_completion_tokens", "64"), ("stream_options", r#"{"include_usage":true}"#)]);
        assert_eq!(
            String::from_utf8(out.unwrap()).unwrap(),
            r#"{"stream_options":{"include_usage":true},"n":1.50,"max_completion_tokens":64}"#
        );
        assert_eq!(set_members(b"{}", &[("a", "1")]).unwrap(), br#"{"a":1}"#);
        assert!(set_members(b"[1]", &[("a", "1")]).is_err());
    }
}
