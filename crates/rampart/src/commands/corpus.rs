//! Reading a labelled corpus for `rampart train` and `rampart eval`: JSONL files of
//! prompts (`text`, `label`, `kind`, `source`), PII texts (`spans` with character
//! offsets) and secret strings (`label` positive/negative). A corpus is a directory
//! with `prompts/`, `pii/` and `secrets/` subdirectories, a directory of JSONL files,
//! or one JSONL file; each row's kind of data is recognised by its fields.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

/// A prompt row.
#[derive(Debug, Clone)]
pub(crate) struct PromptRow {
    pub(crate) text: String,
    /// `attack` rows with a kind other than `harmful` are attacks; `benign` rows are not.
    pub(crate) attack: bool,
    /// `injection`, `indirect_injection`, `jailbreak`, `harmful`, `benign`, `document`.
    pub(crate) kind: String,
    /// The file the row came from (its stem): the unit of source-held-out validation.
    pub(crate) group: String,
}

impl PromptRow {
    /// In scope for the attack metrics (`harmful` is content policy, not injection).
    pub(crate) fn in_scope(&self) -> bool {
        self.kind != "harmful"
    }
}

/// A PII row: text and gold spans (character offsets, end exclusive).
#[derive(Debug, Clone)]
pub(crate) struct PiiRow {
    pub(crate) text: String,
    pub(crate) spans: Vec<(usize, usize, String)>,
}

/// A secrets row.
#[derive(Debug, Clone)]
pub(crate) struct SecretRow {
    pub(crate) text: String,
    pub(crate) positive: bool,
}

/// Everything read from a corpus path.
#[derive(Debug, Default)]
pub(crate) struct Corpus {
    pub(crate) prompts: Vec<PromptRow>,
    pub(crate) pii: Vec<PiiRow>,
    pub(crate) secrets: Vec<SecretRow>,
}

fn jsonl_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            jsonl_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    Ok(())
}

impl Corpus {
    /// Reads a corpus directory or file. Rows that are not valid JSON objects with a
    /// `text` field are counted and reported, not silently dropped.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let mut files = Vec::new();
        if path.is_dir() {
            jsonl_files(path, &mut files)?;
        } else {
            files.push(path.to_path_buf());
        }
        anyhow::ensure!(!files.is_empty(), "no .jsonl files under {}", path.display());
        let mut corpus = Self::default();
        let mut skipped = 0usize;
        for file in &files {
            let group = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let content = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
            for line in content.lines().filter(|l| !l.trim().is_empty()) {
                let Ok(row) = serde_json::from_str::<Value>(line) else {
                    skipped += 1;
                    continue;
                };
                let Some(text) = row.get("text").and_then(Value::as_str) else {
                    skipped += 1;
                    continue;
                };
                let label = row.get("label").and_then(Value::as_str).unwrap_or_default();
                let kind = row.get("kind").and_then(Value::as_str).unwrap_or_default();
                if let Some(spans) = row.get("spans").and_then(Value::as_array) {
                    let spans = spans
                        .iter()
                        .filter_map(|s| {
                            Some((
                                s.get("start")?.as_u64()? as usize,
                                s.get("end")?.as_u64()? as usize,
                                s.get("entity")?.as_str()?.to_string(),
                            ))
                        })
                        .collect();
                    corpus.pii.push(PiiRow { text: text.to_string(), spans });
                } else if kind == "secret" || row.get("rule").is_some() {
                    corpus.secrets.push(SecretRow { text: text.to_string(), positive: label == "positive" });
                } else if label == "attack" || label == "benign" {
                    let kind =
                        if kind.is_empty() { if label == "attack" { "injection" } else { "benign" } } else { kind };
                    corpus.prompts.push(PromptRow {
                        text: text.to_string(),
                        attack: label == "attack",
                        kind: kind.to_string(),
                        group: group.clone(),
                    });
                } else {
                    skipped += 1;
                }
            }
        }
        if skipped > 0 {
            eprintln!("rampart: skipped {skipped} row(s) without a usable text/label");
        }
        Ok(corpus)
    }
}
