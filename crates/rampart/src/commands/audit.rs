//! `rampart audit verify|tail|export`: the audit trail from the command line, read from
//! the database `[audit]` names (the same one the gateways write).
//!
//! `verify` walks the whole chain and every signed checkpoint and reports each edited,
//! deleted, inserted or reordered record (exit status 1 when anything is wrong). `tail`
//! prints the last records and, with `--follow`, new ones as they are stored. `export`
//! writes JSON lines, natively (seq, hashes and record) or as OCSF API Activity events,
//! with time and principal filters.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use rampart_audit::{AuditStore, ExportFormat, QueryFilter};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the hash chain and the signed checkpoints; exit 1 on any problem.
    Verify {
        #[command(flatten)]
        target: Target,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the most recent records (JSON lines); `--follow` keeps printing new ones.
    Tail {
        #[command(flatten)]
        target: Target,
        /// How many records.
        #[arg(long, short = 'n', default_value_t = 20)]
        lines: usize,
        /// Keep printing records as they are stored.
        #[arg(long, short)]
        follow: bool,
        #[command(flatten)]
        filter: Filter,
    },
    /// Write matching records as JSON lines.
    Export {
        #[command(flatten)]
        target: Target,
        /// `jsonl`: records with their seq and hashes; `ocsf`: OCSF API Activity events.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        filter: Filter,
    },
}

#[derive(Debug, Args)]
pub(crate) struct Target {
    /// Configuration file (TOML): its `[audit]` database and signing key.
    #[arg(long, short, env = "RAMPART_CONFIG")]
    config: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct Filter {
    /// Records at or after this time: RFC 3339 (`2026-12-01T00:00:00Z`) or an age (`24h`).
    #[arg(long)]
    since: Option<String>,
    /// Records before this time: RFC 3339 or an age.
    #[arg(long)]
    until: Option<String>,
    /// Records of this principal (key id, JWT subject, admin user or token id).
    #[arg(long)]
    principal: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Jsonl,
    Ocsf,
}

pub(crate) async fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify { target, json } => verify(&target, json).await,
        AuditCommand::Tail { target, lines, follow, filter } => tail(&target, lines, follow, &filter).await,
        AuditCommand::Export { target, format, output, filter } => export(&target, format, output, &filter).await,
    }
}

async fn open(target: &Target) -> anyhow::Result<(rampart_config::Config, AuditStore)> {
    let config = super::load_config(&target.config)?;
    let store = rampart_gateway::open_audit_store(&config).await.context("cannot open the audit trail")?;
    Ok((config, store))
}

async fn verify(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let (config, store) = open(target).await?;
    let public_key = rampart_gateway::audit_signer(&config)?.public_key();
    let report = store.verify(&public_key).await.context("verification could not run")?;
    store.close().await;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        let range = match (report.first_seq, report.last_seq) {
            (Some(first), Some(last)) => format!("seq {first}..={last}"),
            _ => "empty".to_owned(),
        };
        writeln!(
            out,
            "{} records ({range}), {} of {} checkpoints valid",
            report.records, report.valid_checkpoints, report.checkpoints
        )?;
        for problem in &report.problems {
            writeln!(out, "PROBLEM {}", serde_json::to_string(problem)?)?;
        }
        if report.problems_truncated {
            writeln!(out, "PROBLEM (more problems not listed)")?;
        }
        for warning in &report.warnings {
            writeln!(out, "warning {}", serde_json::to_string(warning)?)?;
        }
        writeln!(out, "{}", if report.ok { "OK: the trail verifies" } else { "FAILED: the trail was altered" })?;
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn query_filter(filter: &Filter) -> anyhow::Result<QueryFilter> {
    Ok(QueryFilter {
        from: filter.since.as_deref().map(parse_time).transpose().context("--since")?,
        to: filter.until.as_deref().map(parse_time).transpose().context("--until")?,
        principal: filter.principal.clone(),
        kind: None,
    })
}

/// RFC 3339 time or an age before now, as unix milliseconds.
fn parse_time(text: &str) -> anyhow::Result<i64> {
    let time = match humantime::parse_rfc3339_weak(text) {
        Ok(time) => time,
        Err(_) => {
            let age = humantime::parse_duration(text)
                .with_context(|| format!("`{text}` is neither an RFC 3339 time nor an age like `24h`"))?;
            SystemTime::now().checked_sub(age).context("age too large")?
        }
    };
    let ms = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Ok(i64::try_from(ms).unwrap_or(i64::MAX))
}

async fn tail(target: &Target, lines: usize, follow: bool, filter: &Filter) -> anyhow::Result<ExitCode> {
    let (_, store) = open(target).await?;
    let filter = query_filter(filter)?;
    // The last `lines` records: one query, whatever the trail's length.
    let last = match u32::try_from(lines).unwrap_or(u32::MAX) {
        0 => Vec::new(),
        n => store.latest(&filter, n).await?,
    };
    let mut after = last.last().map(|r| r.seq);
    if last.is_empty() {
        // Follow from the current end, not from the first record.
        after = store.latest(&QueryFilter::default(), 1).await?.first().map(|r| r.seq);
    }
    let mut out = std::io::stdout().lock();
    for record in &last {
        writeln!(out, "{}", serde_json::to_string(record)?)?;
    }
    out.flush()?;
    if follow {
        loop {
            tokio::select! {
                () = super::shutdown_signal() => break,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            loop {
                let page = store.query(&filter, after, 1000).await?;
                for record in &page.records {
                    after = Some(record.seq);
                    writeln!(out, "{}", serde_json::to_string(record)?)?;
                }
                out.flush()?;
                if page.next_after_seq.is_none() {
                    break;
                }
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn export(target: &Target, format: Format, output: Option<PathBuf>, filter: &Filter) -> anyhow::Result<ExitCode> {
    let (_, store) = open(target).await?;
    let filter = query_filter(filter)?;
    let format = match format {
        Format::Jsonl => ExportFormat::Native,
        Format::Ocsf => ExportFormat::Ocsf,
    };
    let count = match &output {
        Some(path) => {
            let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut writer = std::io::BufWriter::new(file);
            store.export_jsonl(&filter, format, &mut writer).await?
        }
        None => {
            let mut writer = std::io::BufWriter::new(std::io::stdout().lock());
            store.export_jsonl(&filter, format, &mut writer).await?
        }
    };
    store.close().await;
    eprintln!("exported {count} records");
    Ok(ExitCode::SUCCESS)
}
