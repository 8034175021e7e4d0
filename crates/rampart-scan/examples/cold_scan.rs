//! Measures how much slower a request scan runs on a core that has just been idle:
//! the same 2 KB prompt (the load benchmark's body) scanned back to back, after a
//! sleep of 1, 5 or 20 ms, and after evicting the caches (writing a 2, 8 or 64 MiB
//! buffer) without sleeping. On the VM it was written on, a 20 ms sleep cost more
//! than evicting 64 MiB: more than the caches is cold when the core wakes.
//!
//! `taskset -c 0 cargo run --release -p rampart-scan --example cold_scan [-- ROUNDS]`
//! (default 200 scans per case; prints the p50 and p90 of each case in µs).

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use rampart_scan::Scanner;

/// What happens before each timed scan.
#[derive(Clone, Copy)]
enum Before {
    Nothing,
    Sleep(u64),
    Evict(usize),
}

fn main() {
    let rounds = std::env::args().nth(1).and_then(|a| a.parse::<usize>().ok()).filter(|&n| n >= 10).unwrap_or(200);
    let scanner = Scanner::new();
    let text = "Summarize the following customer note and list any action items. ".repeat(30);
    for _ in 0..50 {
        black_box(scanner.scan(&text));
    }
    let mut junk = vec![0u8; 64 << 20];
    let cases = [
        ("back to back", Before::Nothing),
        ("after 1 ms sleep", Before::Sleep(1)),
        ("after 5 ms sleep", Before::Sleep(5)),
        ("after 20 ms sleep", Before::Sleep(20)),
        ("after 2 MiB evicted", Before::Evict(2 << 20)),
        ("after 8 MiB evicted", Before::Evict(8 << 20)),
        ("after 64 MiB evicted", Before::Evict(64 << 20)),
    ];
    println!("{} bytes scanned, {rounds} scans per case", text.len());
    for (name, before) in cases {
        let mut took = Vec::with_capacity(rounds);
        for round in 0..rounds {
            match before {
                Before::Nothing => {}
                Before::Sleep(ms) => std::thread::sleep(Duration::from_millis(ms)),
                Before::Evict(bytes) => {
                    // One write per cache line: every line of the buffer is brought in.
                    for at in (0..bytes).step_by(64) {
                        junk[at] = junk[at].wrapping_add(round as u8);
                    }
                    black_box(&junk);
                }
            }
            let started = Instant::now();
            black_box(scanner.scan(black_box(&text)));
            took.push(started.elapsed());
        }
        took.sort();
        let at = |q: usize| took[(took.len() * q / 100).min(took.len() - 1)].as_secs_f64() * 1e6;
        println!("{name:>22}: p50 {:>6.1} µs  p90 {:>6.1} µs", at(50), at(90));
    }
}
