//! `rampart scan`: runs the full detection pipeline on text and prints JSON.
//!
//! - `rampart scan [TEXT]` (stdin when no TEXT): one object with the verdict, the
//!   category scores and the findings;
//! - `rampart scan --jsonl FILE` (`-` for stdin): reads objects with a `text` field and
//!   prints one line per input line, in order. A line that is not such an object gets
//!   `{"error": ...}` so the output stays aligned with the input.
//!
//! Finding offsets are character (Unicode scalar) offsets into the text, end exclusive.
//! The matched text itself is never printed.

use std::io::{BufRead, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use rampart_scan::prompt::PromptDetector;
use rampart_scan::{Scanner, char_findings};
use serde_json::{Value, json};

/// Largest input `rampart scan` reads from stdin or one JSONL line (bytes).
const MAX_INPUT: u64 = 64 << 20;

/// Options of `rampart scan`.
#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Text to scan (stdin when absent).
    text: Option<String>,
    /// Read JSONL objects with a `text` field from FILE (`-` for stdin), one result line each.
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    jsonl: Option<PathBuf>,
    /// Prompt-classifier weights to use instead of the built-in ones.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
}

/// The scanner with the built-in weights or those of `model`.
pub(crate) fn scanner(model: Option<&PathBuf>) -> anyhow::Result<Scanner> {
    Ok(match model {
        None => Scanner::new(),
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let det = PromptDetector::from_model_bytes(&bytes).with_context(|| format!("{}", path.display()))?;
            Scanner::with_prompt_detector(det)
        }
    })
}

/// The JSON result for one text.
pub(crate) fn result(scanner: &Scanner, text: &str, with_verdict: bool) -> Value {
    let report = scanner.scan(text);
    let findings = char_findings(text, &report.findings);
    let mut v = json!({
        "injection": round(report.injection),
        "jailbreak": round(report.jailbreak),
        "attack": round(report.attack),
        "findings": findings.iter().map(|f| json!({
            "detector": f.detector,
            "rule": f.rule,
            "category": f.category,
            "entity": f.entity,
            "start": f.start,
            "end": f.end,
            "score": round(f.score),
        })).collect::<Vec<_>>(),
    });
    if with_verdict {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("verdict".into(), json!(report.verdict));
        }
    }
    v
}

fn round(x: f32) -> f64 {
    (f64::from(x) * 10_000.0).round() / 10_000.0
}

pub(crate) fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let scanner = scanner(args.model.as_ref())?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if let Some(path) = &args.jsonl {
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
            ))
        };
        let mut failed = false;
        for (n, line) in reader.split(b'\n').enumerate() {
            let line = line.with_context(|| format!("reading line {}", n + 1))?;
            let line = String::from_utf8_lossy(&line);
            if line.trim().is_empty() {
                continue;
            }
            let value = match serde_json::from_str::<Value>(&line) {
                Ok(row) => match row.get("text").and_then(Value::as_str) {
                    Some(text) => result(&scanner, text, false),
                    None => {
                        failed = true;
                        json!({"error": format!("line {}: no string field `text`", n + 1)})
                    }
                },
                Err(e) => {
                    failed = true;
                    json!({"error": format!("line {}: invalid JSON: {e}", n + 1)})
                }
            };
            serde_json::to_writer(&mut out, &value)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        return Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS });
    }
    let text = match args.text {
        Some(text) => text,
        None => {
            let mut buf = Vec::new();
            std::io::stdin().lock().take(MAX_INPUT + 1).read_to_end(&mut buf).context("reading stdin")?;
            anyhow::ensure!(buf.len() as u64 <= MAX_INPUT, "input larger than {MAX_INPUT} bytes");
            String::from_utf8(buf).context("stdin is not UTF-8")?
        }
    };
    serde_json::to_writer_pretty(&mut out, &result(&scanner, &text, true))?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
