//! Errors as clients see them: OpenAI's shape `{"error":{"message","type","param","code"}}`
//! so the official SDKs raise their usual classes (401 `AuthenticationError`, 403
//! `PermissionDeniedError`, 404 `NotFoundError`, 400 `BadRequestError`, ...).
//!
//! Every error also answers two questions for the access log: which [`Side`] caused it
//! (chooses the log level) and a closed `label` for metrics. Messages never carry
//! prompt text, completion text or credentials.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};

/// Who caused an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client sent something we refuse.
    Client,
    /// The provider failed or timed out.
    Upstream,
    /// rampart itself (storage, bugs).
    Internal,
}

impl Side {
    /// Stable lowercase name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Upstream => "upstream",
            Self::Internal => "internal",
        }
    }
}

/// An error response in OpenAI's shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// OpenAI `type`.
    pub kind: &'static str,
    /// OpenAI `code`.
    pub code: Option<&'static str>,
    /// OpenAI `param`.
    pub param: Option<&'static str>,
    /// Human-readable message (never content or secrets).
    pub message: Cow<'static, str>,
    /// Who caused it.
    pub side: Side,
    /// Closed label for logs and metrics.
    pub label: &'static str,
    /// Sends `x-should-retry: false`: the request may have reached the provider, or
    /// retrying cannot help.
    pub no_retry: bool,
    /// Sends `retry-after` (seconds, rounded up) and `retry-after-ms`.
    pub retry_after: Option<std::time::Duration>,
    /// Rate-limit figures for the `x-ratelimit-*` headers of a 429.
    pub rate: Option<Box<rampart_limits::RateHeaders>>,
}

/// The outcome attached to error responses, read by the access log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorOutcome {
    /// Who caused it.
    pub side: Side,
    /// Closed label.
    pub label: &'static str,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: Option<&'static str>,
        side: Side,
        label: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            param: None,
            message: message.into(),
            side,
            label,
            no_retry: false,
            retry_after: None,
            rate: None,
        }
    }

    /// Marks the error as unsafe to retry automatically (`x-should-retry: false`,
    /// honoured by the official SDKs).
    pub fn not_retryable(mut self) -> Self {
        self.no_retry = true;
        self
    }

    /// Sets `param`.
    pub fn with_param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    /// 401: missing, malformed, unknown, revoked or expired credential.
    pub fn unauthorized(label: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            Some("invalid_api_key"),
            Side::Client,
            label,
            message,
        )
    }

    /// 403: the key may not use this model or endpoint.
    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission_error", Some(code), Side::Client, code, message)
    }

    /// 400: the request is malformed.
    pub fn bad_request(label: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", None, Side::Client, label, message)
    }

    /// 400 `content_policy_violation`: an inspection policy refused the request.
    /// `label` names the detector category for logs and metrics.
    pub fn content_policy(label: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("content_policy_violation"),
            Side::Client,
            label,
            message,
        )
    }

    /// 404: unknown route.
    pub fn unknown_url(method: &http::Method, path: &str) -> Self {
        // The path is echoed like OpenAI does, but bounded: it is client input.
        let path: String = path.chars().take(200).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("unknown_url"),
            Side::Client,
            "unknown_url",
            format!("Unrecognized request URL ({method} {path}). Please check the URL and method."),
        )
    }

    /// 404: no such model, or not one this key can see.
    pub fn model_not_found(model: &str) -> Self {
        let model: String = model.chars().take(200).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model_not_found"),
            Side::Client,
            "model_not_found",
            format!("The model `{model}` does not exist or you do not have access to it."),
        )
        .with_param("model")
    }

    /// 405.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            Some("method_not_allowed"),
            Side::Client,
            "method_not_allowed",
            "method not allowed for this URL",
        )
    }

    /// 413: body over the configured limit.
    pub fn payload_too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            Some("request_too_large"),
            Side::Client,
            "body_too_large",
            format!("request body exceeds the limit of {limit} bytes"),
        )
    }

    /// 415: a body encoding rampart does not read.
    pub fn unsupported_media_type(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            Some("unsupported_media_type"),
            Side::Client,
            "unsupported_media_type",
            message,
        )
    }

    /// 408: the client took too long to send its body.
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            Some("request_timeout"),
            Side::Client,
            "body_timeout",
            "the request body was not received in time",
        )
    }

    /// 502: the provider could not be reached or broke the exchange.
    pub fn bad_gateway(label: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "api_error", Some("upstream_error"), Side::Upstream, label, message)
    }

    /// 504: the provider did not answer in time.
    pub fn gateway_timeout(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "api_error",
            Some("upstream_timeout"),
            Side::Upstream,
            "upstream_timeout",
            message,
        )
    }

    /// 503: a dependency rampart needs (the key store) is unavailable; fail closed.
    pub fn unavailable(label: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            Some("service_unavailable"),
            Side::Internal,
            label,
            message,
        )
    }

    /// 429: a rate limit (`rate_limit_exceeded`, type `requests`, `tokens` or
    /// `concurrency`) or a spend budget (`insufficient_quota`) refused the request.
    /// `retry_after: None` means waiting cannot help (the request alone exceeds the
    /// limit): `x-should-retry: false`, so SDKs do not retry in vain; so for a budget,
    /// which renews only with its period.
    pub fn rate_limited(
        budget: bool,
        dimension: &'static str,
        message: impl Into<Cow<'static, str>>,
        retry_after: Option<std::time::Duration>,
    ) -> Self {
        let (kind, code) =
            if budget { ("insufficient_quota", "insufficient_quota") } else { (dimension, "rate_limit_exceeded") };
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, kind, Some(code), Side::Client, code, message);
        error.retry_after = retry_after;
        error.no_retry = budget || retry_after.is_none();
        error
    }

    /// 503 with `retry-after`: rampart sheds load, or cannot count the request.
    pub fn overloaded(
        label: &'static str,
        message: impl Into<Cow<'static, str>>,
        retry_after: std::time::Duration,
    ) -> Self {
        let mut error = Self::unavailable(label, message);
        error.retry_after = Some(retry_after);
        error
    }

    /// 500.
    pub fn internal(label: &'static str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            Some("internal_error"),
            Side::Internal,
            label,
            "internal error; the request id identifies it in rampart's logs",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.no_retry {
            response.headers_mut().insert("x-should-retry", HeaderValue::from_static("false"));
        }
        if let Some(after) = self.retry_after {
            let ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX).max(1);
            response.headers_mut().insert("retry-after", HeaderValue::from(ms.div_ceil(1000)));
            response.headers_mut().insert("retry-after-ms", HeaderValue::from(ms));
        }
        if let Some(rate) = &self.rate {
            crate::admission::write_rate_headers(rate, response.headers_mut());
        }
        response.extensions_mut().insert(ErrorOutcome { side: self.side, label: self.label });
        response
    }
}
