//! rampart's token accounting, for rate limits and budgets: which tokenizer a model
//! uses and the exact tiktoken count of a text ([`Encoding`], [`count_text`]), the
//! prompt tokens and completion cap of an OpenAI-API request body ([`Request`]), and the
//! usage providers report ([`parse_usage`]). Pure and synchronous: no IO, no async, no
//! configuration parsing; prices and what a count means for a request are the
//! caller's (the gateway's admission).
//!
//! Tokenizers are built once per process on first use (or by [`Encoding::load`] at
//! startup) and shared. ASCII text is split by a hand-written equivalent of tiktoken's
//! regex, several times faster and checked against tiktoken in the tests; other text goes
//! through tiktoken-rs itself.

mod ascii;
mod encoding;
mod json;
mod request;
mod usage;

pub use encoding::{Encoding, MAX_CHUNK, TokenizerError, count_text};
pub use request::{
    BYTES_PER_OPAQUE_TOKEN, CountError, DEFAULT_COMPLETIONS_MAX_TOKENS, Endpoint, IMAGE_TOKENS_DEFAULT,
    IMAGE_TOKENS_LOW, REPLY_PRIMING_TOKENS, Request, TOKENS_PER_MESSAGE, TOKENS_PER_NAME, TOOL_CALL_OVERHEAD,
    max_completion_tokens, prompt_tokens,
};
pub use usage::{Usage, parse_usage};
