//! Token estimates of OpenAI-API request bodies, read from the raw JSON bytes: the
//! prompt tokens a request will be charged ([`Request::prompt_tokens`]) and the most
//! completion tokens it lets the model produce ([`Request::max_completion_tokens`]), for
//! `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/responses` and
//! `/v1/moderations`.
//!
//! The body is parsed once ([`Request::parse`]), borrowing its strings, and never
//! re-encoded. A body that is not a request of the endpoint (not an object, `messages`
//! not an array, a negative `max_tokens`…) is a [`CountError`]; parts of a request whose
//! shape this crate does not know are counted by a cautious rule rather than rejected.
//!
//! The counting rules are documented on [`Request`].

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::encoding::{Encoding, count_text};
use crate::json::{self, Kind, Str, present};

/// Tokens of one chat message's framing (`<|start|>{role}<|message|>…<|end|>`).
pub const TOKENS_PER_MESSAGE: u64 = 3;
/// Extra token for a message's `name`.
pub const TOKENS_PER_NAME: u64 = 1;
/// Tokens priming the reply (`<|start|>assistant<|message|>`).
pub const REPLY_PRIMING_TOKENS: u64 = 3;
/// Tokens of one tool call's framing, beyond its name and arguments (an estimate).
pub const TOOL_CALL_OVERHEAD: u64 = 3;
/// An image part with `detail: "low"` (OpenAI's fixed figure).
pub const IMAGE_TOKENS_LOW: u64 = 85;
/// An image part with high or automatic detail: 85 + 4 tiles of 170, a 1024×1024 image.
pub const IMAGE_TOKENS_DEFAULT: u64 = 765;
/// Bytes of JSON per token for parts whose content this crate does not read.
pub const BYTES_PER_OPAQUE_TOKEN: u64 = 4;
const INPUT_SHAPES: &str = "expected a string, an array of strings, a token array or an array of token arrays";

/// `max_tokens` of a completions request that does not set it (OpenAI's default).
pub const DEFAULT_COMPLETIONS_MAX_TOKENS: u64 = 16;

/// An OpenAI-API endpoint whose requests this crate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/v1/chat/completions`
    ChatCompletions,
    /// `/v1/completions`
    Completions,
    /// `/v1/embeddings`
    Embeddings,
    /// `/v1/responses`
    Responses,
    /// `/v1/moderations`
    Moderations,
}

impl Endpoint {
    /// The endpoint of a request path (`/v1/chat/completions`, or an Azure-style
    /// `/openai/deployments/{name}/chat/completions`; a query string and a trailing `/`
    /// are ignored), or `None` for paths whose bodies this crate does not count.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let path = path.trim_end_matches('/');
        // Longest suffix first: `/chat/completions` also ends with `/completions`.
        let endpoint = if path.ends_with("/chat/completions") {
            Endpoint::ChatCompletions
        } else if path.ends_with("/completions") {
            Endpoint::Completions
        } else if path.ends_with("/embeddings") {
            Endpoint::Embeddings
        } else if path.ends_with("/responses") {
            Endpoint::Responses
        } else if path.ends_with("/moderations") {
            Endpoint::Moderations
        } else {
            return None;
        };
        Some(endpoint)
    }

    /// The endpoint's path in OpenAI's API.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/v1/chat/completions",
            Endpoint::Completions => "/v1/completions",
            Endpoint::Embeddings => "/v1/embeddings",
            Endpoint::Responses => "/v1/responses",
            Endpoint::Moderations => "/v1/moderations",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// A body that is not a request of its endpoint.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// The body is not a JSON object (or not JSON).
    #[error("{endpoint} request body is not a JSON object: {source}")]
    Body {
        /// The endpoint.
        endpoint: Endpoint,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A field has the wrong type or value.
    #[error("{endpoint} request has an invalid `{field}`: {source}")]
    Invalid {
        /// The endpoint.
        endpoint: Endpoint,
        /// The field.
        field: &'static str,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A required field is missing (or `null`).
    #[error("{endpoint} request has no `{field}`")]
    Missing {
        /// The endpoint.
        endpoint: Endpoint,
        /// The field.
        field: &'static str,
    },
}

/// The prompt tokens of a request body (see [`Request::prompt_tokens`]).
pub fn prompt_tokens(endpoint: Endpoint, encoding: Encoding, body: &[u8]) -> Result<u64, CountError> {
    Request::parse(endpoint, body).map(|r| r.prompt_tokens(encoding))
}

/// The completion-token cap of a request body (see [`Request::max_completion_tokens`]).
pub fn max_completion_tokens(endpoint: Endpoint, body: &[u8]) -> Result<Option<u64>, CountError> {
    let fields = Fields::parse(endpoint, body)?;
    caps(endpoint, &fields)
}

/// A parsed request body: its model, what its prompt is made of, and its completion cap.
/// Borrows the body's strings.
///
/// # How prompts are counted
///
/// - **Chat messages** follow OpenAI's cookbook (`num_tokens_from_messages`, which the
///   API matches for the GPT-3.5/GPT-4/GPT-4o families): 3 tokens per message, plus the
///   tokens of every string field of the message (`role`, `content`, `name`,
///   `tool_call_id`, `refusal`…), plus 1 for a `name`, plus 3 priming the reply.
///   Content given as an array of parts counts its text parts. An assistant's
///   `tool_calls` (and legacy `function_call`) count the function's name and arguments
///   plus [`TOOL_CALL_OVERHEAD`] each.
/// - **Images** cannot be sized without fetching them: [`IMAGE_TOKENS_LOW`] for
///   `detail: "low"`, else [`IMAGE_TOKENS_DEFAULT`] (OpenAI's figure for a 1024×1024 image
///   at high detail; larger images at high detail cost up to about twice that, and
///   some small models report images multiplied; the settled usage corrects it).
/// - **Other opaque parts** (audio, files, unknown part or item types) count
///   [`BYTES_PER_OPAQUE_TOKEN`] bytes of their JSON per token — cheap, and cautious for
///   the base64 payloads they usually carry.
/// - **Tool and function definitions** (`tools`, `functions`) and a `json_schema`
///   response format count the tokens of their JSON text as sent. OpenAI renders them in
///   a terser internal form, so this over-counts (the cookbook's weather tool counts 115
///   tokens here where the API charges 68), which is the safe side for a limit.
/// - **Completions** count `prompt` (and `suffix`): a string, strings, a token array (its
///   length) or token arrays; no prompt is OpenAI's default `<|endoftext|>`, 1 token.
/// - **Embeddings** and **moderations** count `input` the same way (moderation image
///   parts as images), without per-message overhead.
/// - **Responses** count `instructions` as a system message, a string `input` as a user
///   message, message items like chat messages, function calls and their outputs like
///   tool calls, other items as opaque, plus `tools`, a `json_schema` `text.format`
///   and the 3 priming tokens. A `previous_response_id`'s conversation, stored upstream,
///   is invisible here: only the settled usage knows it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    endpoint: Endpoint,
    model: Option<Cow<'a, str>>,
    pieces: Vec<Piece<'a>>,
    overhead: u64,
    max_completion_tokens: Option<u64>,
}

/// A part of a prompt, counted by its own rule.
#[derive(Debug, Clone)]
enum Piece<'a> {
    /// Text, tokenized.
    Text(Cow<'a, str>),
    /// A known number of tokens (token arrays).
    Tokens(u64),
    /// An image part.
    Image { low_detail: bool },
    /// A part counted by its JSON size.
    Opaque { bytes: usize },
}

impl<'a> Request<'a> {
    /// Parses `body` as a request of `endpoint`.
    pub fn parse(endpoint: Endpoint, body: &'a [u8]) -> Result<Request<'a>, CountError> {
        let fields = Fields::parse(endpoint, body)?;
        let max_completion_tokens = caps(endpoint, &fields)?;
        let model = fields.model.and_then(json::as_str);
        let mut prompt = Prompt::default();
        match endpoint {
            Endpoint::ChatCompletions => prompt.chat(endpoint, &fields)?,
            Endpoint::Completions => {
                match fields.prompt.filter(|raw| json::kind(raw) != Kind::Null) {
                    Some(raw) => prompt.inputs(endpoint, "prompt", raw)?,
                    None => prompt.pieces.push(Piece::Tokens(1)),
                }
                if let Some(suffix) = fields.suffix.and_then(json::as_str) {
                    prompt.pieces.push(Piece::Text(suffix));
                }
            }
            Endpoint::Embeddings | Endpoint::Moderations => {
                let input = required(endpoint, "input", fields.input)?;
                prompt.inputs(endpoint, "input", input)?;
            }
            Endpoint::Responses => prompt.responses(&fields),
        }
        Ok(Request { endpoint, model, pieces: prompt.pieces, overhead: prompt.overhead, max_completion_tokens })
    }

    /// The endpoint the body was parsed for.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// The body's `model`, if it names one.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The encoding of the body's model ([`Encoding::for_model`]; `o200k_base` without one).
    pub fn encoding(&self) -> Encoding {
        self.model().map_or(Encoding::O200k, Encoding::for_model)
    }

    /// The prompt tokens of the request in `encoding`, by the rules above.
    pub fn prompt_tokens(&self, encoding: Encoding) -> u64 {
        self.pieces.iter().fold(self.overhead, |total, piece| {
            let tokens = match piece {
                Piece::Text(text) => count_text(encoding, text),
                Piece::Tokens(n) => *n,
                Piece::Image { low_detail: true } => IMAGE_TOKENS_LOW,
                Piece::Image { low_detail: false } => IMAGE_TOKENS_DEFAULT,
                Piece::Opaque { bytes } => (*bytes as u64).div_ceil(BYTES_PER_OPAQUE_TOKEN),
            };
            total.saturating_add(tokens)
        })
    }

    /// The most completion tokens the request lets the model produce, or `None` when the
    /// client set no cap (the gateway then applies its own default):
    ///
    /// - chat: `max_completion_tokens`, else `max_tokens`, times `n`;
    /// - completions: `max_tokens` (16 when absent, as OpenAI defaults it; `null` is no
    ///   cap) times the larger of `n` and `best_of`;
    /// - responses: `max_output_tokens`;
    /// - embeddings and moderations: 0.
    ///
    /// Products saturate; `n` of 0 counts as 1.
    pub fn max_completion_tokens(&self) -> Option<u64> {
        self.max_completion_tokens
    }
}

/// The top-level fields any endpoint reads, as raw JSON (present even when `null`).
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    model: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    messages: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    tools: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    functions: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    response_format: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    prompt: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    suffix: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    input: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    instructions: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    text: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    max_completion_tokens: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    max_tokens: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    max_output_tokens: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    n: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    best_of: Option<&'a RawValue>,
}

impl<'a> Fields<'a> {
    fn parse(endpoint: Endpoint, body: &'a [u8]) -> Result<Fields<'a>, CountError> {
        serde_json::from_slice(body).map_err(|source| CountError::Body { endpoint, source })
    }
}

fn required<'a>(
    endpoint: Endpoint,
    field: &'static str,
    raw: Option<&'a RawValue>,
) -> Result<&'a RawValue, CountError> {
    raw.filter(|raw| json::kind(raw) != Kind::Null).ok_or(CountError::Missing { endpoint, field })
}

fn count_field(endpoint: Endpoint, field: &'static str, raw: Option<&RawValue>) -> Result<Option<u64>, CountError> {
    match raw {
        None => Ok(None),
        Some(raw) => json::count(raw).map_err(|source| CountError::Invalid { endpoint, field, source }),
    }
}

fn caps(endpoint: Endpoint, fields: &Fields<'_>) -> Result<Option<u64>, CountError> {
    let choices = |fields: &[(&'static str, Option<&RawValue>)]| -> Result<u64, CountError> {
        let mut most = 1;
        for (name, raw) in fields {
            most = most.max(count_field(endpoint, name, *raw)?.unwrap_or(1));
        }
        Ok(most)
    };
    Ok(match endpoint {
        Endpoint::ChatCompletions => {
            let cap = match count_field(endpoint, "max_completion_tokens", fields.max_completion_tokens)? {
                Some(cap) => Some(cap),
                None => count_field(endpoint, "max_tokens", fields.max_tokens)?,
            };
            let n = choices(&[("n", fields.n)])?;
            cap.map(|cap| cap.saturating_mul(n))
        }
        Endpoint::Completions => {
            let cap = match fields.max_tokens {
                None => Some(DEFAULT_COMPLETIONS_MAX_TOKENS),
                Some(raw) => count_field(endpoint, "max_tokens", Some(raw))?,
            };
            let n = choices(&[("n", fields.n), ("best_of", fields.best_of)])?;
            cap.map(|cap| cap.saturating_mul(n))
        }
        Endpoint::Responses => count_field(endpoint, "max_output_tokens", fields.max_output_tokens)?,
        Endpoint::Embeddings | Endpoint::Moderations => Some(0),
    })
}

/// What a prompt is made of, as it is collected.
#[derive(Default)]
struct Prompt<'a> {
    pieces: Vec<Piece<'a>>,
    overhead: u64,
}

impl<'a> Prompt<'a> {
    fn text(&mut self, text: Cow<'a, str>) {
        if !text.is_empty() {
            self.pieces.push(Piece::Text(text));
        }
    }

    /// A JSON value counted by its text as sent (tool definitions, schemas, odd arguments).
    fn json_text(&mut self, raw: &'a RawValue) {
        self.text(Cow::Borrowed(raw.get()));
    }

    fn opaque(&mut self, raw: &RawValue) {
        self.pieces.push(Piece::Opaque { bytes: raw.get().len() });
    }

    fn add(&mut self, tokens: u64) {
        self.overhead = self.overhead.saturating_add(tokens);
    }

    fn chat(&mut self, endpoint: Endpoint, fields: &Fields<'a>) -> Result<(), CountError> {
        let messages = required(endpoint, "messages", fields.messages)?;
        let messages: Vec<Message<'a>> = serde_json::from_str(messages.get())
            .map_err(|source| CountError::Invalid { endpoint, field: "messages", source })?;
        for message in messages {
            self.add(TOKENS_PER_MESSAGE);
            for (key, value) in message.fields {
                self.message_field(&key, value);
            }
        }
        self.add(REPLY_PRIMING_TOKENS);
        self.definitions(fields.tools);
        self.definitions(fields.functions);
        if let Some(format) = fields.response_format {
            if is_json_schema(format) {
                self.json_text(format);
            }
        }
        Ok(())
    }

    fn definitions(&mut self, raw: Option<&'a RawValue>) {
        if let Some(raw) = raw.filter(|raw| json::kind(raw) != Kind::Null) {
            self.json_text(raw);
        }
    }

    /// One field of a chat message (or of a responses message item).
    fn message_field(&mut self, key: &str, value: &'a RawValue) {
        match key {
            "content" => self.content(value),
            "tool_calls" => {
                for call in json::elements(value).unwrap_or_default() {
                    match serde_json::from_str::<ToolCall<'a>>(call.get()) {
                        Ok(ToolCall { function: Some(function), .. } | ToolCall { custom: Some(function), .. }) => {
                            self.call(function)
                        }
                        _ => self.opaque(call),
                    }
                }
            }
            "function_call" if json::kind(value) == Kind::Object => {
                match serde_json::from_str::<FunctionCall<'a>>(value.get()) {
                    Ok(function) => self.call(function),
                    Err(_) => self.opaque(value),
                }
            }
            "name" => {
                if let Some(name) = json::as_str(value) {
                    self.text(name);
                    self.add(TOKENS_PER_NAME);
                }
            }
            _ => {
                if let Some(text) = json::as_str(value) {
                    self.text(text);
                }
            }
        }
    }

    fn call(&mut self, function: FunctionCall<'a>) {
        self.add(TOOL_CALL_OVERHEAD);
        if let Some(name) = function.name.and_then(json::as_str) {
            self.text(name);
        }
        for arguments in [function.arguments, function.input].into_iter().flatten() {
            match json::as_str(arguments) {
                Some(text) => self.text(text),
                None if json::kind(arguments) != Kind::Null => self.json_text(arguments),
                None => {}
            }
        }
    }

    /// Message content: a string, `null`, or an array of parts (strings are text too).
    fn content(&mut self, value: &'a RawValue) {
        match json::kind(value) {
            Kind::String => {
                if let Some(text) = json::as_str(value) {
                    self.text(text);
                }
            }
            Kind::Array => {
                for part in json::elements(value).unwrap_or_default() {
                    self.part(part);
                }
            }
            Kind::Null => {}
            Kind::Object => self.part(value),
            Kind::Scalar => self.opaque(value),
        }
    }

    /// One content part: text (`text`, `input_text`, `output_text`, `refusal`), an image
    /// (`image_url`, `input_image`), or anything else, opaque.
    fn part(&mut self, part: &'a RawValue) {
        match json::kind(part) {
            Kind::String => {
                if let Some(text) = json::as_str(part) {
                    self.text(text);
                }
                return;
            }
            Kind::Object => {}
            Kind::Null => return,
            Kind::Array | Kind::Scalar => return self.opaque(part),
        }
        let Ok(fields) = serde_json::from_str::<Part<'a>>(part.get()) else {
            return self.opaque(part);
        };
        if let Some(text) = fields.text.or(fields.refusal).and_then(json::as_str) {
            return self.text(text);
        }
        let kind = fields.kind.and_then(json::as_str);
        let is_image =
            matches!(kind.as_deref(), Some("image_url" | "input_image" | "image")) || fields.image_url.is_some();
        if is_image {
            let low = |raw: Option<&RawValue>| raw.and_then(json::as_str).is_some_and(|d| d == "low");
            let nested = fields
                .image_url
                .filter(|raw| json::kind(raw) == Kind::Object)
                .and_then(|raw| serde_json::from_str::<ImageUrl<'_>>(raw.get()).ok())
                .and_then(|url| url.detail);
            let low_detail = low(fields.detail) || low(nested);
            self.pieces.push(Piece::Image { low_detail });
        } else {
            self.opaque(part);
        }
    }

    /// `prompt` of completions, `input` of embeddings and moderations.
    fn inputs(&mut self, endpoint: Endpoint, field: &'static str, raw: &'a RawValue) -> Result<(), CountError> {
        let invalid = |source| CountError::Invalid { endpoint, field, source };
        match json::kind(raw) {
            Kind::String => {
                if let Some(text) = json::as_str(raw) {
                    self.text(text);
                }
            }
            Kind::Array => {
                let items: Vec<&'a RawValue> = serde_json::from_str(raw.get()).map_err(invalid)?;
                if items.first().is_some_and(|item| json::kind(item) == Kind::Scalar) {
                    // A token array: one token per element (which must all be numbers).
                    self.pieces.push(Piece::Tokens(json::token_array_len(raw).map_err(invalid)?));
                    return Ok(());
                }
                for item in items {
                    match json::kind(item) {
                        Kind::String => self.content(item),
                        Kind::Array => self.pieces.push(Piece::Tokens(json::token_array_len(item).map_err(invalid)?)),
                        Kind::Object if endpoint == Endpoint::Moderations => self.part(item),
                        Kind::Object | Kind::Null | Kind::Scalar => {
                            return Err(invalid(de::Error::custom(INPUT_SHAPES)));
                        }
                    }
                }
            }
            Kind::Object | Kind::Scalar | Kind::Null => return Err(invalid(de::Error::custom(INPUT_SHAPES))),
        }
        Ok(())
    }

    fn responses(&mut self, fields: &Fields<'a>) {
        if let Some(instructions) = fields.instructions.and_then(json::as_str) {
            self.add(TOKENS_PER_MESSAGE);
            self.text(Cow::Borrowed("system"));
            self.text(instructions);
        }
        if let Some(input) = fields.input {
            match json::kind(input) {
                Kind::String => {
                    self.add(TOKENS_PER_MESSAGE);
                    self.text(Cow::Borrowed("user"));
                    self.content(input);
                }
                Kind::Array => {
                    for item in json::elements(input).unwrap_or_default() {
                        self.item(item);
                    }
                }
                Kind::Null => {}
                Kind::Object => self.item(input),
                Kind::Scalar => self.opaque(input),
            }
        }
        self.add(REPLY_PRIMING_TOKENS);
        self.definitions(fields.tools);
        if let Some(text) = fields.text.filter(|raw| json::kind(raw) == Kind::Object) {
            let format = serde_json::from_str::<TextConfig<'_>>(text.get()).ok().and_then(|t| t.format);
            if format.is_some_and(is_json_schema) {
                self.json_text(text);
            }
        }
    }

    /// One item of a responses `input` array.
    fn item(&mut self, item: &'a RawValue) {
        if json::kind(item) == Kind::String {
            return self.content(item);
        }
        let Ok(fields) = serde_json::from_str::<Item<'a>>(item.get()) else {
            return self.opaque(item);
        };
        let kind = fields.kind.and_then(json::as_str);
        if let Some(role) = fields.role {
            self.add(TOKENS_PER_MESSAGE);
            self.message_field("role", role);
            if let Some(content) = fields.content {
                self.content(content);
            }
            return;
        }
        match kind.as_deref() {
            Some("function_call" | "custom_tool_call") => {
                self.call(FunctionCall { name: fields.name, arguments: fields.arguments, input: fields.input })
            }
            Some("function_call_output" | "custom_tool_call_output") => {
                self.add(TOOL_CALL_OVERHEAD);
                if let Some(output) = fields.output {
                    self.content(output);
                }
            }
            _ => self.opaque(item),
        }
    }
}

fn is_json_schema(format: &RawValue) -> bool {
    json::kind(format) == Kind::Object
        && serde_json::from_str::<Typed<'_>>(format.get())
            .ok()
            .and_then(|t| t.kind)
            .and_then(json::as_str)
            .is_some_and(|kind| kind == "json_schema")
}

/// A chat message: its fields in order, values raw.
struct Message<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Message<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MessageVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for MessageVisitor<'a> {
            type Value = Message<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Message<'a>, M::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    fields.push((key.0, value));
                }
                Ok(Message { fields })
            }
        }
        d.deserialize_map(MessageVisitor(PhantomData))
    }
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(default, borrow)]
    function: Option<FunctionCall<'a>>,
    #[serde(default, borrow)]
    custom: Option<FunctionCall<'a>>,
}

#[derive(Deserialize)]
struct FunctionCall<'a> {
    #[serde(default, borrow)]
    name: Option<&'a RawValue>,
    #[serde(default, borrow)]
    arguments: Option<&'a RawValue>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<&'a RawValue>,
    #[serde(default, borrow)]
    text: Option<&'a RawValue>,
    #[serde(default, borrow)]
    refusal: Option<&'a RawValue>,
    #[serde(default, borrow)]
    image_url: Option<&'a RawValue>,
    #[serde(default, borrow)]
    detail: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ImageUrl<'a> {
    #[serde(default, borrow)]
    detail: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<&'a RawValue>,
    #[serde(default, borrow)]
    role: Option<&'a RawValue>,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
    #[serde(default, borrow)]
    name: Option<&'a RawValue>,
    #[serde(default, borrow)]
    arguments: Option<&'a RawValue>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
    #[serde(default, borrow)]
    output: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct TextConfig<'a> {
    #[serde(default, borrow)]
    format: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Typed<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<&'a RawValue>,
}
