//! `rampart eval CORPUS`: measures the detection engine on a labelled corpus (see
//! [`super::corpus`]) and prints:
//! - prompts: ROC AUC, TPR at 1% and 0.1% FPR, precision/recall/F1 at the default
//!   threshold, tables per source (file) and per `kind`, and false positives on the
//!   hard-negative sources; `kind: harmful` rows are left out of the attack metrics
//!   (content policy, not injection) and reported on their own;
//! - PII: precision and recall per entity type (a finding and a gold span match when
//!   they overlap and have the same entity type);
//! - secrets: recall on positives, false-positive rate on negatives, and findings on
//!   benign prompts;
//! - with `--obfuscation`, the share of detected attacks still detected under each
//!   evasion transform;
//! - latency of the full pipeline per text, p50 and p99.
//!
//! Scores are in-sample for the shipped weights when the corpus is the one they were
//! trained on; `rampart train` reports the source-held-out figures.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use rampart_scan::obfuscate::Transform;
use rampart_scan::prompt::DEFAULT_THRESHOLD;
use rampart_scan::{Family, char_findings};

use super::corpus::Corpus;
use super::metrics::{prf_at, quantile, roc_auc, tpr_at_fpr};

/// Sources whose benign rows are built to look like attacks.
const HARD_NEGATIVES: &[&str] = &["injecguard-notinject", "xstest", "gpteacher-roleplay"];

/// Options of `rampart eval`.
#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// Corpus directory or JSONL file.
    corpus: PathBuf,
    /// Prompt-classifier weights to use instead of the built-in ones.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Also re-test every attack detected in plain form under each evasion transform
    /// (zero-width, homoglyphs, Unicode tags, base64, leetspeak, random case, whitespace).
    #[arg(long)]
    obfuscation: bool,
}

fn pct(n: usize, d: usize) -> String {
    if d == 0 { "-".into() } else { format!("{:.1}%", 100.0 * n as f64 / d as f64) }
}

pub(crate) fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let corpus = Corpus::load(&args.corpus)?;
    let scanner = super::scan::scanner(args.model.as_ref())?;
    let mut out = std::io::stdout().lock();
    let mut latencies_us: Vec<f64> = Vec::new();
    let mut bytes = 0usize;

    if !corpus.prompts.is_empty() {
        let mut scores = Vec::with_capacity(corpus.prompts.len());
        let mut secret_hits_on_benign = 0usize;
        let mut pii_hits_on_benign = 0usize;
        for row in &corpus.prompts {
            let t = Instant::now();
            let report = scanner.scan(&row.text);
            latencies_us.push(t.elapsed().as_secs_f64() * 1e6);
            bytes += row.text.len();
            scores.push(report.attack);
            if !row.attack {
                secret_hits_on_benign += usize::from(report.findings.iter().any(|f| f.family == Family::Secrets));
                pii_hits_on_benign += usize::from(report.findings.iter().any(|f| f.family == Family::Pii));
            }
        }
        let rows = &corpus.prompts;
        let scored: Vec<(f32, bool)> =
            rows.iter().zip(&scores).filter(|(r, _)| r.in_scope()).map(|(r, &s)| (s, r.attack)).collect();
        let positives = scored.iter().filter(|s| s.1).count();
        writeln!(
            out,
            "## Prompts ({} rows: {} attacks, {} benign; harmful left out)",
            rows.len(),
            positives,
            scored.len() - positives
        )?;
        let auc = roc_auc(&scored).unwrap_or(f64::NAN);
        let (tpr1, t1) = tpr_at_fpr(&scored, 0.01).unwrap_or((f64::NAN, f32::NAN));
        let (tpr01, t01) = tpr_at_fpr(&scored, 0.001).unwrap_or((f64::NAN, f32::NAN));
        let (p, r, f1) = prf_at(&scored, DEFAULT_THRESHOLD);
        let fp_default = scored.iter().filter(|s| !s.1 && s.0 >= DEFAULT_THRESHOLD).count();
        writeln!(out, "ROC AUC            {auc:.4}")?;
        writeln!(out, "TPR @ 1% FPR       {:.1}%  (threshold {t1:.4})", tpr1 * 100.0)?;
        writeln!(out, "TPR @ 0.1% FPR     {:.1}%  (threshold {t01:.4})", tpr01 * 100.0)?;
        writeln!(
            out,
            "at default {DEFAULT_THRESHOLD}: precision {:.3}  recall {:.3}  F1 {f1:.3}  FPR {}",
            p,
            r,
            pct(fp_default, scored.len() - positives)
        )?;
        writeln!(out, "\nper source (at the default threshold {DEFAULT_THRESHOLD}):")?;
        writeln!(out, "  {:<38} {:>16} {:>18}", "source", "attacks detected", "benign flagged")?;
        let mut by: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
        let mut by_kind: BTreeMap<&str, [usize; 2]> = BTreeMap::new();
        for (row, &s) in rows.iter().zip(&scores) {
            let hit = usize::from(s >= DEFAULT_THRESHOLD);
            let k = by_kind.entry(row.kind.as_str()).or_default();
            k[0] += 1;
            k[1] += hit;
            if !row.in_scope() {
                continue;
            }
            let e = by.entry(row.group.as_str()).or_default();
            if row.attack {
                e[0] += 1;
                e[1] += hit;
            } else {
                e[2] += 1;
                e[3] += hit;
            }
        }
        for (g, [pos, tp, neg, fp]) in &by {
            let a = if *pos > 0 { format!("{tp}/{pos} {}", pct(*tp, *pos)) } else { "-".into() };
            let b = if *neg > 0 { format!("{fp}/{neg} {}", pct(*fp, *neg)) } else { "-".into() };
            writeln!(out, "  {g:<38} {a:>16} {b:>18}")?;
        }
        writeln!(out, "\nper kind (flagged at the default threshold):")?;
        for (k, [n, hit]) in &by_kind {
            let note = if *k == "harmful" { "  (content policy: not in the attack metrics)" } else { "" };
            writeln!(out, "  {k:<20} {hit:>5}/{n:<5} {:>7}{note}", pct(*hit, *n))?;
        }
        writeln!(out, "\nhard negatives (benign rows flagged at the default threshold):")?;
        for g in HARD_NEGATIVES {
            if let Some([_, _, neg, fp]) = by.get(g) {
                writeln!(out, "  {g:<38} {fp}/{neg} {}", pct(*fp, *neg))?;
            }
        }
        if args.obfuscation {
            let detected: Vec<(usize, &str)> = rows
                .iter()
                .zip(&scores)
                .enumerate()
                .filter(|(_, (r, s))| r.attack && r.in_scope() && **s >= DEFAULT_THRESHOLD)
                .map(|(i, (r, _))| (i, r.text.as_str()))
                .collect();
            writeln!(
                out,
                "\nobfuscation: attacks detected in plain form ({}) still detected after each transform:",
                detected.len()
            )?;
            for t in Transform::ALL {
                let kept = detected
                    .iter()
                    .filter(|(i, text)| scanner.scan(&t.apply(text, *i as u64)).attack >= DEFAULT_THRESHOLD)
                    .count();
                writeln!(out, "  {:<18} {kept:>5}/{:<5} {}", t.name(), detected.len(), pct(kept, detected.len()))?;
            }
        }
        let benign = rows.iter().filter(|r| !r.attack).count();
        writeln!(out, "\nbenign prompts with a secrets finding: {secret_hits_on_benign}/{benign}")?;
        writeln!(out, "benign prompts with a PII finding:     {pii_hits_on_benign}/{benign}")?;
    }

    if !corpus.pii.is_empty() {
        // entity -> [predicted matched, predicted unmatched, gold matched, gold missed]
        let mut counts: BTreeMap<String, [usize; 4]> = BTreeMap::new();
        for row in &corpus.pii {
            let t = Instant::now();
            let report = scanner.scan(&row.text);
            latencies_us.push(t.elapsed().as_secs_f64() * 1e6);
            bytes += row.text.len();
            let found: Vec<_> =
                char_findings(&row.text, &report.findings).into_iter().filter(|f| f.detector == Family::Pii).collect();
            let overlaps = |a: (usize, usize), b: (usize, usize)| a.0 < b.1 && b.0 < a.1;
            for f in &found {
                let hit = row.spans.iter().any(|(s, e, ent)| ent == f.entity && overlaps((*s, *e), (f.start, f.end)));
                counts.entry(f.entity.to_string()).or_default()[usize::from(!hit)] += 1;
            }
            for (s, e, ent) in &row.spans {
                let hit = found.iter().any(|f| f.entity == ent && overlaps((*s, *e), (f.start, f.end)));
                counts.entry(ent.clone()).or_default()[2 + usize::from(!hit)] += 1;
            }
        }
        writeln!(out, "\n## PII ({} texts; span overlap with the same entity type)", corpus.pii.len())?;
        writeln!(out, "  {:<20} {:>9} {:>7} {:>9} {:>7}", "entity", "precision", "(found)", "recall", "(gold)")?;
        for (entity, [tp, fp, gtp, fn_]) in &counts {
            let precision = if tp + fp > 0 { format!("{:.3}", *tp as f64 / (tp + fp) as f64) } else { "-".into() };
            let recall = if gtp + fn_ > 0 { format!("{:.3}", *gtp as f64 / (gtp + fn_) as f64) } else { "-".into() };
            writeln!(out, "  {entity:<20} {precision:>9} {:>7} {recall:>9} {:>7}", tp + fp, gtp + fn_)?;
        }
    }

    if !corpus.secrets.is_empty() {
        let (mut pos, mut tp, mut neg, mut fp, mut fp_credential) = (0usize, 0usize, 0usize, 0usize, 0usize);
        let mut infra_tp = 0usize;
        // A rule's negative example is often a real credential in a sibling format (a
        // Slack bot token is negative for the user-token rule): such a finding is
        // counted, and also shown apart when the flagged value is itself a positive
        // example of another rule in the corpus.
        let positives: Vec<&str> = corpus.secrets.iter().filter(|r| r.positive).map(|r| r.text.as_str()).collect();
        for row in &corpus.secrets {
            let t = Instant::now();
            let report = scanner.scan(&row.text);
            latencies_us.push(t.elapsed().as_secs_f64() * 1e6);
            bytes += row.text.len();
            let secrets: Vec<&rampart_scan::Finding> =
                report.findings.iter().filter(|f| f.family == Family::Secrets).collect();
            let hit = !secrets.is_empty();
            if row.positive {
                pos += 1;
                tp += usize::from(hit);
                infra_tp += usize::from(secrets.iter().any(|f| f.category == "infrastructure"));
            } else {
                neg += 1;
                fp += usize::from(hit);
                let known = secrets.iter().all(|f| {
                    let value = row.text.get(f.span.clone()).unwrap_or_default();
                    !value.is_empty() && positives.iter().any(|p| p.contains(value))
                });
                fp_credential += usize::from(hit && known);
            }
        }
        writeln!(out, "\n## Secrets")?;
        writeln!(out, "  recall on positives          {tp}/{pos} {}", pct(tp, pos))?;
        writeln!(out, "    of which infrastructure identifiers (hosts, buckets, ARNs; score 0.4): {infra_tp}")?;
        writeln!(out, "  false positives on negatives {fp}/{neg} {}", pct(fp, neg))?;
        writeln!(
            out,
            "    of which every flagged value is a positive example of another rule: {fp_credential}; \
             the rest: {}/{neg} {}",
            fp - fp_credential,
            pct(fp - fp_credential, neg)
        )?;
    }

    if !latencies_us.is_empty() {
        let n = latencies_us.len();
        let total: f64 = latencies_us.iter().sum();
        let p50 = quantile(&mut latencies_us, 0.5);
        let p99 = quantile(&mut latencies_us, 0.99);
        writeln!(out, "\n## Latency (full pipeline, one thread, {n} texts, mean {} bytes)", bytes / n)?;
        writeln!(out, "  p50 {p50:.1} µs   p99 {p99:.1} µs   throughput {:.1} MB/s", bytes as f64 / total)?;
    }
    Ok(ExitCode::SUCCESS)
}
