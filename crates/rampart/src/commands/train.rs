//! `rampart train CORPUS`: trains the prompt-attack classifier and writes its weight
//! file. Reproducible: files are read in sorted order, the seed is fixed, and training
//! is single-threaded and deterministic, so the same corpus and options give the same
//! bytes.
//!
//! Before the final model (trained on every row), it measures generalization to unseen
//! sources: each source (JSONL file) is held out in turn, a model is trained on the
//! others and scores the held-out rows; the pooled out-of-source scores give the
//! held-out TPR at 1% FPR and ROC AUC that `rampart eval` cannot (it scores in-sample).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use rampart_scan::normalize::{Limits, normalize};
use rampart_scan::prompt::PromptDetector;
use rampart_scan::prompt::model::{INJECTION, JAILBREAK, Model, sigmoid};
use rampart_scan::prompt::train::{Example, TrainOptions, train};

use super::corpus::{Corpus, PromptRow};
use super::metrics::{roc_auc, tpr_at_fpr};

/// Options of `rampart train`.
#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// Corpus directory (with `prompts/`) or JSONL file of labelled prompts.
    corpus: PathBuf,
    /// Where to write the weights.
    #[arg(long, default_value = "crates/rampart-scan/models/prompt.rpm")]
    out: PathBuf,
    /// Hash bits (2^bits buckets per head).
    #[arg(long, default_value_t = 16)]
    bits: u32,
    /// Passes over the data.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Shuffle seed.
    #[arg(long, default_value_t = 20_261_122)]
    seed: u64,
    /// Skip the source-held-out validation.
    #[arg(long)]
    no_validation: bool,
    /// Also write each row's held-out score (JSONL: source, kind, label, score, rules,
    /// text) to this file, for error analysis. The file holds corpus text: keep it local.
    #[arg(long, value_name = "FILE")]
    held_out_scores: Option<PathBuf>,
}

fn labels(row: &PromptRow) -> (Option<bool>, Option<bool>) {
    match row.kind.as_str() {
        "injection" | "indirect_injection" => (Some(true), None),
        "jailbreak" => (None, Some(true)),
        // harmful requests are neither technique: they teach the heads that a harmful
        // topic alone is not an attack
        _ => (Some(false), Some(false)),
    }
}

/// Per-row weight: every source contributes in proportion to the square root of its
/// size, so the largest files do not drown the rest.
fn weights(rows: &[PromptRow]) -> Vec<f32> {
    let mut counts = std::collections::BTreeMap::<(&str, bool), usize>::new();
    for r in rows {
        *counts.entry((r.group.as_str(), r.attack)).or_default() += 1;
    }
    rows.iter().map(|r| 1.0 / (counts.get(&(r.group.as_str(), r.attack)).copied().unwrap_or(1) as f32).sqrt()).collect()
}

pub(crate) fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let corpus = Corpus::load(&args.corpus)?;
    let rows = corpus.prompts;
    anyhow::ensure!(!rows.is_empty(), "no labelled prompts in {}", args.corpus.display());
    let opts = TrainOptions { bits: args.bits, epochs: args.epochs, seed: args.seed, ..TrainOptions::default() };
    let det = PromptDetector::untrained(args.bits);
    let limits = Limits::default();
    let w = weights(&rows);
    let examples: Vec<Example> = rows
        .iter()
        .zip(&w)
        .map(|(row, &weight)| {
            let (injection, jailbreak) = labels(row);
            Example { features: det.features(&normalize(&row.text, &limits)), injection, jailbreak, weight }
        })
        .collect();
    let rule_count = det.rules().all().len();
    let mut out = std::io::stdout().lock();
    writeln!(out, "rows: {} ({} sources), rules: {rule_count}, bits: {}", rows.len(), groups(&rows).len(), args.bits)?;

    // Where the held-out false-positive rate is 1%: the final model is shifted so that
    // this point becomes the default threshold.
    let mut calibration: Option<f32> = None;
    if !args.no_validation {
        let mut scored: Vec<(f32, usize)> = Vec::with_capacity(rows.len());
        for g in groups(&rows) {
            let train_set: Vec<Example> =
                examples.iter().zip(&rows).filter(|(_, r)| r.group != g).map(|(e, _)| e.clone()).collect();
            let model = train(&train_set, rule_count, det.fingerprint(), &opts);
            for (i, (e, r)) in examples.iter().zip(&rows).enumerate().filter(|(_, (_, r))| r.group == g) {
                let floor = det.floors(&e.features.rules, &r.text).attack();
                scored.push((attack_score(&model, e).max(floor), i));
            }
        }
        scored.sort_by_key(|s| s.1);
        writeln!(
            out,
            "\nsource-held-out validation (each source scored by a model trained without it; rule floors applied):"
        )?;
        let oof: Vec<f32> = scored.iter().map(|s| s.0).collect();
        calibration = report(&mut out, &rows, &oof)?;
        if let Some(path) = &args.held_out_scores {
            write_scores(path, &det, &rows, &examples, &oof)?;
        }
    }

    let mut model = train(&examples, rule_count, det.fingerprint(), &opts);
    if let Some(t) = calibration.filter(|t| *t > 0.0 && *t < 1.0) {
        // logit(t) maps to 0, i.e. score t maps to 0.5 (the default threshold)
        let shift = -(t / (1.0 - t)).ln();
        for head in &mut model.heads {
            head.bias += shift;
        }
        writeln!(
            out,
            "\ncalibrated: held-out 1% FPR threshold {t:.4} is the default threshold 0.5 (bias shift {shift:+.3})"
        )?;
    } else {
        writeln!(out, "\nnot calibrated (no validation): the default threshold is the model's 0.5")?;
    }
    let in_sample: Vec<f32> = examples.iter().map(|e| attack_score(&model, e)).collect();
    writeln!(out, "\nin-sample (final model, classifier alone, without rule floors):")?;
    report(&mut out, &rows, &in_sample)?;
    let bytes = model.to_bytes();
    std::fs::write(&args.out, &bytes).with_context(|| format!("cannot write {}", args.out.display()))?;
    writeln!(out, "\nwrote {} ({} bytes)", args.out.display(), bytes.len())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes one JSON line per row: its source, kind, label, held-out score, the rules
/// that fired and the text.
fn write_scores(
    path: &std::path::Path,
    det: &PromptDetector,
    rows: &[PromptRow],
    examples: &[Example],
    scores: &[f32],
) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    for ((row, e), score) in rows.iter().zip(examples).zip(scores) {
        let fired: Vec<&str> =
            e.features.rules.iter().filter_map(|&r| det.rules().all().get(r)).map(|r| r.id).collect();
        let line = serde_json::json!({
            "source": row.group, "kind": row.kind, "attack": row.attack, "score": score,
            "rules": fired, "text": row.text,
        });
        writeln!(w, "{line}")?;
    }
    w.flush()?;
    Ok(())
}

fn attack_score(model: &Model, e: &Example) -> f32 {
    sigmoid(model.heads[INJECTION].logit(&e.features).max(model.heads[JAILBREAK].logit(&e.features)))
}

fn groups(rows: &[PromptRow]) -> Vec<String> {
    let mut g: Vec<String> = rows.iter().map(|r| r.group.clone()).collect();
    g.sort();
    g.dedup();
    g
}

/// Prints the metrics of `scores`; returns the 1%-FPR threshold.
fn report(out: &mut impl Write, rows: &[PromptRow], scores: &[f32]) -> anyhow::Result<Option<f32>> {
    let scored: Vec<(f32, bool)> =
        rows.iter().zip(scores).filter(|(r, _)| r.in_scope()).map(|(r, &s)| (s, r.attack)).collect();
    let auc = roc_auc(&scored).unwrap_or(f64::NAN);
    let (tpr1, t1) = tpr_at_fpr(&scored, 0.01).unwrap_or((f64::NAN, f32::NAN));
    let (tpr01, _) = tpr_at_fpr(&scored, 0.001).unwrap_or((f64::NAN, f32::NAN));
    writeln!(
        out,
        "  ROC AUC {auc:.4}  TPR@1%FPR {:.1}% (threshold {t1:.3})  TPR@0.1%FPR {:.1}%",
        tpr1 * 100.0,
        tpr01 * 100.0
    )?;
    for g in groups(rows) {
        let (mut pos, mut tp, mut neg, mut fp) = (0, 0, 0, 0);
        for (r, &s) in rows.iter().zip(scores).filter(|(r, _)| r.group == g && r.in_scope()) {
            if r.attack {
                pos += 1;
                tp += usize::from(s >= t1);
            } else {
                neg += 1;
                fp += usize::from(s >= t1);
            }
        }
        writeln!(out, "  {g:<40} attacks {tp:>4}/{pos:<4} benign flagged {fp:>4}/{neg:<4} (at the 1% FPR threshold)")?;
    }
    Ok(t1.is_finite().then_some(t1))
}
