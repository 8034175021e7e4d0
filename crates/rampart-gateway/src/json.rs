//! The little rampart needs from an OpenAI JSON body, read without re-encoding it.
//!
//! Bodies are forwarded as the client wrote them; only `model` is rewritten when the
//! model table maps it to another upstream name, and then every other top-level member
//! is copied as its raw text, so unknown fields, number formatting and key order pass
//! verbatim. Duplicate `model` members are refused: a gateway and a provider that read
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
}

/// The part of a tool definition that names a model.
#[derive(Debug, Deserialize)]
pub(crate) struct ToolHead<'a> {
    #[serde(borrow, default)]
    pub(crate) model: Option<Cow<'a, str>>,
}

impl RequestHead<'_> {
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

/// Returns `body` with its top-level `model` replaced by `model`, everything else kept
/// as written.
pub(crate) fn replace_model(body: &[u8], model: &str) -> Result<Vec<u8>, ApiError> {
    let members: Members<'_> = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("invalid_json", "We could not parse the JSON body of your request."))?;
    let mut out = Vec::with_capacity(body.len() + model.len());
    out.push(b'{');
    for (i, (key, value)) in members.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Keys and strings serialize infallibly into a Vec.
        serde_json::to_writer(&mut out, key).map_err(|_| ApiError::internal("json_encode"))?;
        out.push(b':');
        if key == "model" {
            serde_json::to_writer(&mut out, model).map_err(|_| ApiError::internal("json_encode"))?;
        } else {
            out.extend_from_slice(value.get().as_bytes());
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
        let out = replace_model(body, "gpt-4o-2024-08-06").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{"model":"gpt-4o-2024-08-06","temperature":1.0,"big":12345678901234567890123,"unknown_field":{"nested": [1, 2.50, "\u00e9"]},"stream":true}"#
        );
    }
}
