//! Admin request input and the errors it maps to: bounded JSON bodies (unknown
//! fields refused by each body type), path parameters, durations such as `24h`, and
//! store errors turned into OpenAI-shaped responses. Nothing here echoes a value the
//! client sent beyond a bounded field name.

use std::borrow::Cow;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use http::StatusCode;
use http::request::Parts;
use rampart_store::StoreError;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Side};

/// Largest admin request body.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// A JSON body of at most [`MAX_BODY`] bytes, parsed into `T`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        // JSON only: a cross-site form (`text/plain`, `application/x-www-form-urlencoded`)
        // can post to the login route without a CORS preflight, and could sign the
        // victim's browser in as the attacker.
        let json = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::unsupported_media_type("content-type must be application/json"));
        }
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::payload_too_large(MAX_BODY as u64))?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|error| json_error(&error))
    }
}

/// A 400 for a body that does not parse. Only the kind of problem and its position
/// are reported, plus the field name for unknown or missing fields: serde's own
/// messages can quote values, which may be secrets.
fn json_error(error: &serde_json::Error) -> ApiError {
    let text = error.to_string();
    let message = if text.starts_with("unknown field") || text.starts_with("missing field") {
        let first: String = text.split(',').next().unwrap_or_default().chars().take(120).collect();
        format!("invalid request body: {first}")
    } else {
        let what = match error.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not valid JSON",
            serde_json::error::Category::Data => "a field has the wrong type or value",
            serde_json::error::Category::Io => "unreadable",
        };
        format!("invalid request body: {what} (line {}, column {})", error.line(), error.column())
    };
    ApiError::bad_request("invalid_body", message)
}

/// The single path parameter of a route (`{id}` or `{name}`), percent-decoded.
/// Undecodable text (invalid UTF-8 included) is a 400.
#[derive(Debug)]
pub(crate) struct PathParam(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(value)) if value.len() <= 1024 => Ok(Self(value)),
            _ => Err(ApiError::bad_request("invalid_path_parameter", "invalid identifier in the URL path")),
        }
    }
}

/// An error with any status, in the admin API's own vocabulary.
fn error(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> ApiError {
    ApiError {
        status,
        kind: "invalid_request_error",
        code: Some(code),
        param: None,
        message: message.into(),
        side: Side::Client,
        label: code,
        no_retry: false,
        retry_after: None,
        rate: None,
    }
}

/// 404 for an id that names nothing (or could not name anything).
pub(crate) fn not_found(what: &'static str) -> ApiError {
    error(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
}

/// 409: the change conflicts with the stored state.
pub(crate) fn conflict(message: String) -> ApiError {
    error(StatusCode::CONFLICT, "conflict", message)
}

/// 429 `account_locked`.
pub(crate) fn locked() -> ApiError {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
        "This account is temporarily locked after too many failed logins.",
    )
}

/// A store failure as clients see it: refused input is 400 (the store's message
/// names the field, never a secret), a conflict 409, anything else 503 after logging.
pub(crate) fn store_error(failure: StoreError) -> ApiError {
    match failure {
        StoreError::Invalid(message) => ApiError::bad_request("invalid_input", message),
        StoreError::Conflict(message) => conflict(message),
        other => {
            tracing::error!(error = %other, "admin store operation failed");
            ApiError::unavailable("admin_store_unavailable", "the admin store is temporarily unavailable")
        }
    }
}

/// Parses a duration such as `30s`, `15m`, `24h`, `7d`, `2w` or `1h30m` (humantime's
/// common units). Anything else is `None`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let (number, tail) = rest.split_at(digits);
        let number: u64 = number.parse().ok()?;
        let tail = tail.trim_start();
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let seconds: u64 = match unit {
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 604_800,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(seconds)?)?;
        rest = tail.trim_start();
    }
    Some(Duration::from_secs(total))
}

/// A client-given duration field, or a 400 naming the field.
pub(crate) fn duration_field(field: &'static str, text: &str) -> Result<Duration, ApiError> {
    parse_duration(text).ok_or_else(|| {
        ApiError::bad_request("invalid_duration", format!("`{field}` must be a duration such as \"24h\" or \"30d\""))
            .with_param(field)
    })
}

/// `now + duration` as unix seconds, or a 400 when it overflows.
pub(crate) fn instant_after(field: &'static str, now: i64, duration: Duration) -> Result<i64, ApiError> {
    i64::try_from(duration.as_secs())
        .ok()
        .and_then(|seconds| now.checked_add(seconds))
        .ok_or_else(|| ApiError::bad_request("invalid_duration", format!("`{field}` is too long")).with_param(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_duration("7 days"), Some(Duration::from_secs(604_800)));
        for bad in ["", "h", "24", "1x", "-1h", "99999999999999999999w", "1h 2", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
