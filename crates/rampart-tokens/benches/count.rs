//! Criterion benches of prompt counting in the gateway's latency path: a ~2 KB chat
//! request (system + user message, English prose) counted end to end, and its parts
//! (parsing alone; the text through this crate's fast path and through tiktoken-rs
//! directly; non-ASCII text), plus usage parsing. Run with
//! `cargo bench -p rampart-tokens --bench count`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_tokens::{Encoding, Endpoint, Request, count_text, parse_usage, prompt_tokens};

const PROSE: &str = include_str!("prose.txt");

const SYSTEM: &str = "You are a careful travel writer's assistant. Answer in British English, keep a warm \
    but factual tone, avoid inventing facts about real places, and when the user shares a draft, suggest \
    concrete edits rather than rewriting it wholesale. Keep answers under 300 words unless asked otherwise.";

/// A chat request of about 2 KB: the system prompt and most of the prose as the user turn.
fn chat_body() -> Vec<u8> {
    let user = &PROSE[..PROSE.len() - 400];
    let body = serde_json::json!({
        "model": "gpt-4o-mini",
        "temperature": 0.7,
        "max_completion_tokens": 600,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": user},
        ],
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn bench_chat(c: &mut Criterion) {
    for encoding in Encoding::ALL {
        // Build the tokenizer outside the measurement, as the gateway does at startup.
        let took = encoding.load().unwrap_or_default();
        eprintln!("{encoding} tokenizer built in {took:?}");
    }
    let body = chat_body();
    eprintln!("chat body: {} bytes", body.len());
    let mut group = c.benchmark_group("chat_request");
    group.throughput(Throughput::Bytes(body.len() as u64));
    for encoding in Encoding::ALL {
        group.bench_function(format!("prompt_tokens/{encoding}"), |b| {
            b.iter(|| prompt_tokens(Endpoint::ChatCompletions, encoding, black_box(&body)))
        });
    }
    group.bench_function("parse_only", |b| {
        b.iter(|| Request::parse(Endpoint::ChatCompletions, black_box(&body)).is_ok())
    });
    group.finish();
}

fn bench_text(c: &mut Criterion) {
    let ascii = &PROSE[..2048];
    let accented = PROSE[..2000].replace('\'', "\u{2019}").replace('"', "\u{201c}").replace("ea", "éa");
    let mut group = c.benchmark_group("text_2kb");
    for encoding in Encoding::ALL {
        group.throughput(Throughput::Bytes(ascii.len() as u64));
        group.bench_function(format!("count_text/{encoding}"), |b| b.iter(|| count_text(encoding, black_box(ascii))));
        group.throughput(Throughput::Bytes(accented.len() as u64));
        group.bench_function(format!("count_text_non_ascii/{encoding}"), |b| {
            b.iter(|| count_text(encoding, black_box(&accented)))
        });
    }
    // The same text through tiktoken-rs directly, for comparison.
    let (Ok(o200k), Ok(cl100k)) = (tiktoken_rs::o200k_base(), tiktoken_rs::cl100k_base()) else { return };
    group.throughput(Throughput::Bytes(ascii.len() as u64));
    group.bench_function("tiktoken_encode_ordinary/o200k_base", |b| {
        b.iter(|| o200k.encode_ordinary(black_box(ascii)).len())
    });
    group.bench_function("tiktoken_encode_with_special_tokens/o200k_base", |b| {
        b.iter(|| o200k.encode_with_special_tokens(black_box(ascii)).len())
    });
    group.bench_function("tiktoken_encode_ordinary/cl100k_base", |b| {
        b.iter(|| cl100k.encode_ordinary(black_box(ascii)).len())
    });
    group.finish();
}

fn bench_usage(c: &mut Criterion) {
    let response = format!(
        r#"{{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{{"index":0,"message":{{"role":"assistant","content":{}}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":450,"completion_tokens":410,"total_tokens":860,"prompt_tokens_details":{{"cached_tokens":0}}}}}}"#,
        serde_json::to_string(PROSE).unwrap_or_default()
    );
    let chunk = br#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" harbour"}}],"usage":null}"#;
    let mut group = c.benchmark_group("usage");
    group.bench_function("response_2kb", |b| b.iter(|| parse_usage(black_box(response.as_bytes()))));
    group.bench_function("stream_chunk", |b| b.iter(|| parse_usage(black_box(chunk))));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench_chat, bench_text, bench_usage
}
criterion_main!(benches);
