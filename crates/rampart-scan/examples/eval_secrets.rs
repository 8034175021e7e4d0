//! Evaluates the secrets detector against a labelled corpus directory:
//! `cargo run --release --example eval_secrets -- /path/to/corpus`
//! where the directory holds `secrets/*.jsonl` (`text`, `label`, `rule`) and
//! `prompts/*.jsonl` (`text` or `prompt`, `label`).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

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

fn main() {
    let dir = std::env::args().nth(1).expect("usage: eval_secrets <corpus dir>");
    let dir = Path::new(&dir);
    let det = SecretsDetector::new();
    println!("format rules: {}", det.rule_count());
    let (mut pos, mut tp, mut neg, mut fp) = (0usize, 0usize, 0usize, 0usize);
    let (mut pos_s, mut tp_s) = (0usize, 0usize);
    let mut missed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut fps: Vec<String> = Vec::new();
    let mut bytes = 0usize;
    let mut elapsed = std::time::Duration::ZERO;
    let verbose = std::env::var("VERBOSE").is_ok();
    for file in jsonl_files(&dir.join("secrets")) {
        for row in rows(&file) {
            let text = row["text"].as_str().unwrap_or_default();
            let mut out = Vec::new();
            let t = Instant::now();
            det.scan(text, &mut out);
            let dt = t.elapsed();
            elapsed += dt;
            if verbose && dt.as_millis() > 5 {
                println!("  slow {:?} {} bytes {}", dt, text.len(), row["rule"]);
            }
            bytes += text.len();
            let rule = row["rule"].as_str().unwrap_or("?").to_string();
            // positives that are identifiers rather than credentials (hosts, account ids,
            // user names, bucket names): reported separately
            let name = row["rule_name"].as_str().unwrap_or("").to_ascii_lowercase();
            let non_secret = [
                "domain",
                "url",
                "host",
                " id",
                "username",
                "user",
                "account",
                "bucket",
                "resource name",
                "email",
                "name",
                "org",
                "recipient",
                "weak password",
            ]
            .iter()
            .any(|w| name.contains(w))
                && !name.contains("password")
                || name.contains("weak password");
            if row["label"] == "positive" {
                pos += 1;
                if !non_secret {
                    pos_s += 1;
                    if !out.is_empty() {
                        tp_s += 1;
                    }
                }
                if out.is_empty() {
                    missed.entry(rule).or_default().push(text.chars().take(120).collect());
                } else {
                    tp += 1;
                }
            } else {
                neg += 1;
                if !out.is_empty() {
                    fp += 1;
                    let f = &out[0];
                    fps.push(format!("{rule} [{}] {:?}", f.rule, &text[f.span.clone()]));
                }
            }
        }
    }
    println!(
        "secrets corpus: recall {tp}/{pos} = {:.2}%, FPR {fp}/{neg} = {:.2}%",
        100.0 * tp as f64 / pos.max(1) as f64,
        100.0 * fp as f64 / neg.max(1) as f64
    );
    println!(
        "recall excluding identifier-only rules (domains, URLs, ids, user names, buckets, weak-password lists): {tp_s}/{pos_s} = {:.2}%",
        100.0 * tp_s as f64 / pos_s.max(1) as f64
    );
    println!("throughput on corpus: {:.1} MB/s", bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9));
    println!("undetected positives by rule ({} rules):", missed.len());
    for (rule, texts) in &missed {
        if verbose {
            println!("  {rule} x{}: {:?}", texts.len(), texts[0]);
        } else {
            println!("  {rule} x{}", texts.len());
        }
    }
    println!("false positives:");
    for f in &fps {
        println!("  {f}");
    }
    let (mut benign, mut hits) = (0usize, 0usize);
    let mut per_file: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for file in jsonl_files(&dir.join("prompts")) {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for row in rows(&file) {
            if row["label"] != "benign" {
                continue;
            }
            let text = row["text"].as_str().or_else(|| row["prompt"].as_str()).unwrap_or_default();
            let mut out = Vec::new();
            det.scan(text, &mut out);
            benign += 1;
            let e = per_file.entry(name.clone()).or_default();
            e.0 += 1;
            if !out.is_empty() {
                hits += 1;
                e.1 += 1;
                if verbose {
                    let f = &out[0];
                    println!("  benign hit {name} [{}] {:?}", f.rule, &text[f.span.clone()]);
                }
            }
        }
    }
    println!("benign prompts with any secrets finding: {hits}/{benign}");
    for (name, (n, h)) in per_file {
        println!("  {name}: {h}/{n}");
    }
}
