//! Evaluates the secrets detector against a labelled corpus directory:
//! `cargo run --release -p rampart-scan --example eval_secrets -- /path/to/corpus`
//! where the directory holds `secrets/*.jsonl` (`text`, `label` positive|negative,
//! `rule`, `rule_name`) and `prompts/*.jsonl` (`text` or `prompt`, `label`).
//!
//! Prints recall over every positive, the false-positive rate over the negatives, how
//! many benign prompts get any finding, throughput, and the time of one 2 KB benign
//! prompt scan. `VERBOSE=1` also lists every miss, false positive and benign hit.
//!
//! With `-` instead of a directory, scans each line of stdin (JSON-escaped, as the
//! misses are printed) and prints its findings: handy when tuning a rule.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use rampart_scan::secrets::SecretsDetector;

fn rows(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("read corpus file");
    text.lines().filter(|l| !l.trim().is_empty()).filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn jsonl_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> =
        std::fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    v.sort();
    v
}

/// Rule names whose positives are identifiers (hosts, ids, user names) rather than
/// credentials; only used for an extra breakdown line, never for the headline recall.
fn identifier_rule(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["domain", "url", "host", " id", "username", "user", "account", "bucket", "resource name", "email", "name", "org"]
        .iter()
        .any(|w| name.contains(w))
        && !name.contains("password")
}

fn snippet(s: &str) -> String {
    s.chars().take(140).collect()
}

/// Scans each stdin line (a JSON string literal, or raw text if it is not one).
fn scan_stdin(det: &SecretsDetector) {
    let mut out = Vec::new();
    for line in std::io::stdin().lines().map_while(Result::ok) {
        let text = serde_json::from_str::<String>(&line).unwrap_or(line);
        out.clear();
        det.scan(&text, &mut out);
        println!("{:?}", snippet(&text));
        for f in &out {
            println!("  {} {:.2} {:?}", f.rule, f.score, &text[f.span.clone()]);
        }
    }
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: eval_secrets <corpus dir>");
    let dir = Path::new(&dir);
    let verbose = std::env::var("VERBOSE").is_ok_and(|v| v != "0");
    let det = SecretsDetector::new();
    if dir == Path::new("-") {
        scan_stdin(&det);
        return;
    }
    println!("format rules: {}", det.rule_count());

    let (mut pos, mut tp, mut neg, mut fp) = (0usize, 0usize, 0usize, 0usize);
    let (mut pos_id, mut tp_id) = (0usize, 0usize);
    let mut missed: Vec<String> = Vec::new();
    let mut fps: Vec<String> = Vec::new();
    let mut bytes = 0usize;
    let mut elapsed = Duration::ZERO;
    let mut out = Vec::new();
    for file in jsonl_files(&dir.join("secrets")) {
        for row in rows(&file) {
            let text = row["text"].as_str().unwrap_or_default();
            out.clear();
            let t = Instant::now();
            det.scan(text, &mut out);
            elapsed += t.elapsed();
            bytes += text.len();
            let rule = row["rule"].as_str().unwrap_or("?");
            if row["label"] == "positive" {
                pos += 1;
                let is_id = identifier_rule(row["rule_name"].as_str().unwrap_or(""));
                pos_id += usize::from(is_id);
                if out.is_empty() {
                    missed.push(format!("{rule}: {:?}", snippet(text)));
                } else {
                    tp += 1;
                    tp_id += usize::from(is_id);
                }
            } else {
                neg += 1;
                if let Some(f) = out.first() {
                    fp += 1;
                    fps.push(format!("{rule} [{}] {:?}", f.rule, &text[f.span.clone()]));
                }
            }
        }
    }
    println!("positives: {pos}");
    println!("recall: {tp}/{pos} = {:.2}%", 100.0 * tp as f64 / pos.max(1) as f64);
    println!("negatives: {neg}");
    println!("FPR: {fp}/{neg} = {:.2}%", 100.0 * fp as f64 / neg.max(1) as f64);
    println!(
        "  (breakdown: identifier-like rules (hosts, ids, user names) {tp_id}/{pos_id}, credentials {}/{})",
        tp - tp_id,
        pos - pos_id
    );

    let (mut benign, mut hits) = (0usize, 0usize);
    let mut benign_hits: Vec<String> = Vec::new();
    let mut benign_texts: Vec<String> = Vec::new();
    let (mut bbytes, mut belapsed) = (0usize, Duration::ZERO);
    for file in jsonl_files(&dir.join("prompts")) {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for row in rows(&file) {
            if row["label"] != "benign" {
                continue;
            }
            let text = row["text"].as_str().or_else(|| row["prompt"].as_str()).unwrap_or_default();
            out.clear();
            let t = Instant::now();
            det.scan(text, &mut out);
            belapsed += t.elapsed();
            bbytes += text.len();
            benign += 1;
            benign_texts.push(text.to_string());
            if let Some(f) = out.first() {
                hits += 1;
                benign_hits.push(format!("{name} [{}] {:?}", f.rule, &text[f.span.clone()]));
            }
        }
    }
    println!("benign-prompt hits: {hits}/{benign}");

    // Throughput: a second, warm pass over everything.
    let t = Instant::now();
    let mut n = 0usize;
    for text in &benign_texts {
        out.clear();
        det.scan(text, &mut out);
        n += text.len();
    }
    let warm = t.elapsed();
    if verbose {
        let mut slow: Vec<(Duration, usize, &String)> = benign_texts
            .iter()
            .map(|text| {
                let t = Instant::now();
                out.clear();
                det.scan(text, &mut out);
                (t.elapsed(), text.len(), text)
            })
            .collect();
        slow.sort_by_key(|s| std::cmp::Reverse(s.0));
        for (d, len, text) in slow.iter().take(5) {
            println!("  slow benign {d:?} {len} bytes {:?}", snippet(text));
        }
    }
    println!(
        "bytes/s: secrets corpus {:.1} MB/s (first pass, {bytes} bytes), benign prompts {:.1} MB/s first pass, {:.1} MB/s warm ({n} bytes)",
        bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9),
        bbytes as f64 / 1e6 / belapsed.as_secs_f64().max(1e-9),
        n as f64 / 1e6 / warm.as_secs_f64().max(1e-9),
    );

    // One 2 KB benign prompt: consecutive benign prompts joined and cut to 2048 bytes.
    let mut prompt = String::new();
    for text in &benign_texts {
        if prompt.len() >= 2048 {
            break;
        }
        prompt.push_str(text);
        prompt.push('\n');
    }
    let mut cut = 2048.min(prompt.len());
    while !prompt.is_char_boundary(cut) {
        cut -= 1;
    }
    prompt.truncate(cut);
    for _ in 0..200 {
        out.clear();
        det.scan(&prompt, &mut out);
    }
    let iters = 5000u32;
    let t = Instant::now();
    for _ in 0..iters {
        out.clear();
        det.scan(std::hint::black_box(&prompt), &mut out);
    }
    let per = t.elapsed() / iters;
    println!(
        "2 KB benign prompt ({} bytes): {:.2} µs/scan ({:.0} MB/s), findings {}",
        prompt.len(),
        per.as_secs_f64() * 1e6,
        prompt.len() as f64 / 1e6 / per.as_secs_f64().max(1e-12),
        out.len()
    );

    if verbose {
        println!("misses ({}):", missed.len());
        for m in &missed {
            println!("  {m}");
        }
        println!("false positives ({}):", fps.len());
        for f in &fps {
            println!("  {f}");
        }
        println!("benign hits ({}):", benign_hits.len());
        for h in &benign_hits {
            println!("  {h}");
        }
    }
}
