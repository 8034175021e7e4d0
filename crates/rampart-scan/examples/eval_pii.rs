//! Evaluates the PII detector against a JSONL corpus (`{"text", "spans": [{"start",
//! "end", "entity"}]}` with character offsets, end exclusive). Span overlap with the
//! same entity counts as a match. Usage: `cargo run --release --example eval_pii --
//! <file.jsonl|dir>`; files without spans (benign prompts) just count findings.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rampart_scan::pii::PiiDetector;

#[derive(Default)]
struct Counts {
    tp: usize,
    gold_tp: usize,
    fp: usize,
    fn_: usize,
}

fn files(p: &Path) -> Vec<PathBuf> {
    if p.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .expect("read dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        v.sort();
        v
    } else {
        vec![p.to_path_buf()]
    }
}

fn main() {
    let arg = std::env::args().nth(1).expect("usage: eval_pii <corpus.jsonl|dir> [--show]");
    let show = std::env::args().any(|a| a == "--show");
    let det = PiiDetector::new();
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    let mut benign_fp = 0usize;
    let mut benign_texts = 0usize;
    for f in files(Path::new(&arg)) {
        let body = std::fs::read_to_string(&f).expect("read corpus");
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            let Some(text) = v.get("text").and_then(|t| t.as_str()) else { continue };
            // char offset -> byte offset
            let mut c2b: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
            c2b.push(text.len());
            let gold: Vec<(usize, usize, String)> = v
                .get("spans")
                .and_then(|s| s.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| {
                            let st = usize::try_from(s.get("start")?.as_u64()?).ok()?;
                            let en = usize::try_from(s.get("end")?.as_u64()?).ok()?;
                            let e = s.get("entity")?.as_str()?.to_string();
                            Some((*c2b.get(st)?, *c2b.get(en)?, e))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let has_spans = v.get("spans").is_some();
            let mut out = Vec::new();
            det.scan(text, &mut out);
            if !has_spans {
                benign_texts += 1;
                benign_fp += out.len();
                if show {
                    for f in &out {
                        println!("BENIGN-FP {} {:?}", f.entity, &text[f.span.clone()]);
                    }
                }
                continue;
            }
            let mut gold_hit = vec![false; gold.len()];
            for f in &out {
                let c = counts.entry(f.entity.to_string()).or_default();
                let mut hit = false;
                for (i, (gs, ge, ent)) in gold.iter().enumerate() {
                    if ent == f.entity && *gs < f.span.end && f.span.start < *ge {
                        hit = true;
                        gold_hit[i] = true;
                    }
                }
                if hit {
                    c.tp += 1;
                } else {
                    c.fp += 1;
                    if show {
                        println!("FP {} {:?} in {:?}", f.entity, &text[f.span.clone()], text);
                    }
                }
            }
            for (i, (gs, ge, ent)) in gold.iter().enumerate() {
                if gold_hit[i] {
                    counts.entry(ent.clone()).or_default().gold_tp += 1;
                } else {
                    counts.entry(ent.clone()).or_default().fn_ += 1;
                    if show {
                        println!("FN {} {:?}", ent, &text[*gs..*ge]);
                    }
                }
            }
        }
    }
    // TP = findings overlapping a gold span of the same entity (precision side);
    // gold TP = gold spans overlapped by at least one finding (recall side).
    println!("{:<20} {:>5} {:>5} {:>7} {:>5} {:>7} {:>7}", "entity", "TP", "FP", "goldTP", "FN", "prec", "recall");
    for (e, c) in &counts {
        let p = if c.tp + c.fp == 0 { 0.0 } else { c.tp as f64 / (c.tp + c.fp) as f64 };
        let r = if c.gold_tp + c.fn_ == 0 { 0.0 } else { c.gold_tp as f64 / (c.gold_tp + c.fn_) as f64 };
        println!("{e:<20} {:>5} {:>5} {:>7} {:>5} {p:>7.3} {r:>7.3}", c.tp, c.fp, c.gold_tp, c.fn_);
    }
    if benign_texts > 0 {
        println!("benign texts: {benign_texts}, findings (false positives): {benign_fp}");
    }
}
