//! Measures the output guard on a streamed prose answer: CPU per chunk pushed.
//!
//! `cargo run --release -p rampart-scan --example guard_stream [-- BYTES CHUNKS]`
//! (defaults 1200 and 60: the load benchmark's streaming answer).

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use rampart_scan::Scanner;
use rampart_scan::guard::{OutputGuard, OutputPolicy};

const SENTENCES: &[&str] = &[
    "The weekly planning meeting covered the garden project and the new bike racks. ",
    "Please summarize the main points of this note in a few short bullet items. ",
    "Most of the team agreed that the spring schedule should start a little later. ",
    "The library will extend its opening hours during the exam period this year. ",
    "Several readers asked for more recipes that use seasonal vegetables and grains. ",
    "A short walk after lunch helps many people stay focused in the afternoon. ",
    "The committee thanked the volunteers who painted the fence near the playground. ",
    "Next month the group plans to visit the museum and the old railway station. ",
];

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().unwrap_or(0));
    let bytes = args.next().filter(|&n| n > 0).unwrap_or(1200);
    let chunks = args.next().filter(|&n| n > 0).unwrap_or(60);
    let mut text = String::new();
    for s in SENTENCES.iter().cycle().skip(2) {
        if text.len() >= bytes {
            break;
        }
        text.push_str(s);
    }
    text.truncate(bytes);
    let size = bytes.div_ceil(chunks);
    let pieces: Vec<&str> = text.as_bytes().chunks(size).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    let scanner = Scanner::new();
    let policy = std::sync::Arc::new(OutputPolicy {
        canaries: vec!["rampart-canary-3f9a1c2e7b".to_owned()],
        protected_prompt: Some("You are a helpful assistant for the city library.".to_owned()),
        ..OutputPolicy::default()
    });
    let mut samples = Vec::new();
    let mut out = String::with_capacity(bytes);
    for _ in 0..2000 {
        let start = Instant::now();
        let mut guard = OutputGuard::new(&scanner, policy.clone());
        out.clear();
        for piece in &pieces {
            let _ = guard.push(black_box(piece), &mut out);
        }
        let _ = guard.finish(&mut out);
        samples.push(start.elapsed());
        assert_eq!(out, text);
    }
    samples.sort();
    let median = samples[samples.len() / 2];
    println!(
        "{bytes} bytes in {} chunks: median {:.1} µs per answer, {:.2} µs per chunk, {:.1} ns per byte",
        pieces.len(),
        median.as_secs_f64() * 1e6,
        median.as_secs_f64() * 1e6 / pieces.len() as f64,
        median.as_secs_f64() * 1e9 / bytes as f64
    );
}
