//! Times `GatewayMetrics::request()` with a warm cache: 1_000_000 calls, 5 runs,
//! prints the median ns per call.
//!
//! `cargo run --release -p rampart-metrics --example metrics_cost`

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use rampart_metrics::GatewayMetrics;

const CALLS: u32 = 1_000_000;

fn main() {
    let m = GatewayMetrics::new();
    let endpoints = ["/v1/chat/completions", "/v1/embeddings", "/v1/messages", "/v1/completions"];
    let models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4"];
    // Warm: create every series used below.
    for e in endpoints {
        for mo in models {
            for st in [200, 429] {
                m.request(e, mo, "openai", st, Duration::from_millis(5), Duration::from_micros(80));
            }
        }
    }
    let mut runs = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for i in 0..CALLS {
            let i = i as usize;
            m.request(
                black_box(endpoints[i % 4]),
                black_box(models[i % 3]),
                black_box("openai"),
                black_box(if i % 10 == 0 { 429 } else { 200 }),
                black_box(Duration::from_micros((i % 5000) as u64)),
                black_box(Duration::from_micros((i % 200) as u64)),
            );
        }
        runs.push(start.elapsed().as_nanos() as f64 / f64::from(CALLS));
    }
    runs.sort_by(f64::total_cmp);
    let mut body = String::new();
    m.render(&mut body);
    println!("request(): {:.1} ns/call (median of 5 runs of {CALLS}; runs {runs:.1?})", runs[2]);
    println!("render: {} bytes", body.len());
}
