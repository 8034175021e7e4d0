//! `rampart keys create|list|rotate|revoke|suspend|resume`: manage virtual keys in the configured store.
//! A created key is printed once and never again: only its keyed hash is stored.
//! Every change is an admin record in the audit trail (`[audit]`), like the same change
//! through the admin API.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use rampart_config::{Config, ProcessEnv};
use rampart_store::limits::parse_usd;
use rampart_store::{
    ClientNetworks, EndpointScope, KeyHasher, KeyLimits, KeyRecord, KeySpec, ModelScope, Priority, Store, unix_now,
};

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key and print it once.
    Create {
        /// Configuration file (TOML); only `[store]` and `[auth]` are read.
        #[arg(long, short, env = "RAMPART_CONFIG")]
        config: PathBuf,
        /// Human-readable name.
        #[arg(long)]
        name: String,
        /// Models the key may use, as comma-separated globs (default: all).
        #[arg(long, value_delimiter = ',', default_value = "*")]
        models: Vec<String>,
        /// Lifetime, e.g. `30d`, `12h` (default: no expiry).
        #[arg(long)]
        expires: Option<String>,
        /// Inspection policy profile, a `[policies.NAME]` of the config (default:
        /// `default`).
        #[arg(long)]
        policy: Option<String>,
        /// Request paths the key may call, as comma-separated globs (default: all,
        /// e.g. `/v1/chat/completions,/v1/embeddings`).
        #[arg(long, value_delimiter = ',', default_value = "*")]
        endpoints: Vec<String>,
        /// Client networks the key may be used from, comma-separated CIDRs (default:
        /// any), e.g. `10.0.0.0/8,2001:db8::/32`.
        #[arg(long, value_delimiter = ',')]
        cidrs: Vec<String>,
        /// Who the key is for.
        #[arg(long)]
        owner: Option<String>,
        /// Team the key belongs to.
        #[arg(long)]
        team: Option<String>,
        /// Role label.
        #[arg(long)]
        role: Option<String>,
        /// Free-form JSON object stored with the key.
        #[arg(long)]
        metadata: Option<String>,
        #[command(flatten)]
        limits: Box<LimitArgs>,
        /// Print `{"id": ..., "key": ...}`.
        #[arg(long)]
        json: bool,
    },
    /// Rotate a key: issue its successor (same scope) and keep the old key valid for
    /// the grace period, then refuse it.
    Rotate {
        /// Configuration file (TOML).
        #[arg(long, short, env = "RAMPART_CONFIG")]
        config: PathBuf,
        /// How long the old key keeps working, e.g. `24h` (`0s`: refused at once).
        #[arg(long)]
        grace: String,
        /// Key id (`key_...`).
        id: String,
        /// Print `{"id": ..., "key": ..., "replaces": ..., "grace_until": ...}`.
        #[arg(long)]
        json: bool,
    },
    /// List keys (never the keys themselves).
    List {
        /// Configuration file (TOML).
        #[arg(long, short, env = "RAMPART_CONFIG")]
        config: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: it is refused from the next request on.
    Revoke {
        /// Configuration file (TOML).
        #[arg(long, short, env = "RAMPART_CONFIG")]
        config: PathBuf,
        /// Key id (`key_...`).
        id: String,
    },
    /// Suspend a key: refused from the next request on, until `resume`.
    Suspend {
        /// Configuration file (TOML).
        #[arg(long, short, env = "RAMPART_CONFIG")]
        config: PathBuf,
        /// Key id (`key_...`).
        id: String,
        /// Why (shown in listings and the audit trail).
        #[arg(long)]
        reason: String,
    },
    /// Resume a suspended key (a revoked key stays revoked).
    Resume {
        /// Configuration file (TOML).
        #[arg(long, short, env = "RAMPART_CONFIG")]
        config: PathBuf,
        /// Key id (`key_...`).
        id: String,
    },
}

/// A key's resource limits on the command line (default: none beyond the
/// configuration's team, model and global limits).
#[derive(Debug, clap::Args)]
pub(crate) struct LimitArgs {
    /// Requests per minute.
    #[arg(long)]
    rpm: Option<u64>,
    /// Tokens (prompt + completion) per minute.
    #[arg(long)]
    tpm: Option<u64>,
    /// Requests in flight at once.
    #[arg(long)]
    max_concurrency: Option<u32>,
    /// Spend per UTC day, in dollars (e.g. `5`, `0.25`), at the configured prices.
    #[arg(long)]
    daily_budget_usd: Option<String>,
    /// Spend per UTC month, in dollars.
    #[arg(long)]
    monthly_budget_usd: Option<String>,
    /// The most completion tokens a request may ask for (a missing `max_tokens` is set
    /// to it).
    #[arg(long)]
    max_tokens: Option<u64>,
    /// Priority class under load: `critical`, `standard` (default) or `batch`.
    #[arg(long)]
    priority: Option<String>,
}

impl LimitArgs {
    fn compile(self) -> anyhow::Result<KeyLimits> {
        let dollars = |flag: &str, text: Option<String>| -> anyhow::Result<Option<u64>> {
            text.map(|text| parse_usd(&text).map_err(|error| anyhow::anyhow!("invalid --{flag}: {error}"))).transpose()
        };
        let priority = match self.priority.as_deref() {
            None => None,
            Some(text) => Some(
                Priority::parse(text)
                    .ok_or_else(|| anyhow::anyhow!("invalid --priority `{text}`: critical, standard or batch"))?,
            ),
        };
        let limits = KeyLimits {
            rpm: self.rpm,
            tpm: self.tpm,
            max_concurrency: self.max_concurrency,
            daily_budget_micros: dollars("daily-budget-usd", self.daily_budget_usd)?,
            monthly_budget_micros: dollars("monthly-budget-usd", self.monthly_budget_usd)?,
            max_tokens: self.max_tokens,
            priority,
        };
        limits.validate()?;
        Ok(limits)
    }
}

/// What a keys command works with: the store, the key hasher, `auth.max_key_age`, and
/// (for a command that changes keys) the audit trail, from one read of `config`.
struct Opened {
    store: Store,
    hasher: KeyHasher,
    max_age: Option<std::time::Duration>,
    trail: super::Trail,
}

/// Opens `config`'s store; with `changes`, its audit trail too (before any change).
async fn open(config: &Path, changes: bool) -> anyhow::Result<Opened> {
    let text = super::read(config)?;
    let (store, auth) = Config::store_and_auth(&text, &ProcessEnv)
        .map_err(|errors| anyhow::anyhow!("invalid configuration {}:\n{errors}", config.display()))?;
    let trail =
        if changes { super::Trail::open(&text, config, &store, &auth).await? } else { super::Trail::disabled() };
    let hasher = KeyHasher::new(auth.key_secret.expose());
    let store = Store::connect(store.url.expose()).await.context("cannot open the key store")?;
    Ok(Opened { store, hasher, max_age: auth.max_key_age, trail })
}

/// Records a change to key `id` (`done`: it applied; else `missing` says why not, and
/// the record has status 404) and reports it.
async fn report_change(
    out: &mut impl Write,
    trail: &super::Trail,
    (verb, past): (&str, &str),
    id: &str,
    done: bool,
    missing: String,
) -> anyhow::Result<ExitCode> {
    trail.record(&format!("keys {verb} {id}"), if done { 200 } else { 404 }).await?;
    if done {
        writeln!(out, "{past} {id}")?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(std::io::stderr(), "{missing}")?;
        Ok(ExitCode::FAILURE)
    }
}

pub(crate) async fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        KeysCommand::Create {
            config,
            name,
            models,
            expires,
            policy,
            endpoints,
            cidrs,
            owner,
            team,
            role,
            metadata,
            limits,
            json,
        } => {
            let limits = limits.compile()?;
            let models: Vec<String> =
                models.into_iter().map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect();
            anyhow::ensure!(!models.is_empty(), "--models needs at least one pattern");
            anyhow::ensure!(!name.trim().is_empty(), "--name must not be empty");
            let expires_at = match expires {
                None => None,
                Some(text) => {
                    let lifetime = humantime::parse_duration(&text)
                        .with_context(|| format!("invalid --expires `{text}` (e.g. 30d, 12h)"))?;
                    anyhow::ensure!(!lifetime.is_zero(), "--expires must be greater than zero");
                    Some(unix_now().saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)))
                }
            };
            if let Some(policy) = &policy {
                let policies = Config::policies_only(&super::read(&config)?, &ProcessEnv)
                    .map_err(|errors| anyhow::anyhow!("invalid configuration {}:\n{errors}", config.display()))?;
                anyhow::ensure!(
                    policies.get(policy).is_some(),
                    "unknown policy `{policy}`: {} defines {}",
                    config.display(),
                    policies.names().collect::<Vec<_>>().join(", ")
                );
            }
            let endpoints: Vec<String> =
                endpoints.into_iter().map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect();
            anyhow::ensure!(!endpoints.is_empty(), "--endpoints needs at least one pattern");
            let cidrs: Vec<String> = cidrs.into_iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
            let cidrs = ClientNetworks::parse(&cidrs).map_err(|error| anyhow::anyhow!("invalid --cidrs: {error}"))?;
            let metadata = match metadata {
                None => None,
                Some(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(serde_json::Value::Object(map)) => Some(map),
                    _ => anyhow::bail!("--metadata must be a JSON object"),
                },
            };
            let Opened { store, hasher, max_age, trail } = open(&config, true).await?;
            // auth.max_key_age caps every key's life (the gateway refuses older keys).
            let expires_at = match max_age {
                None => expires_at,
                Some(age) => {
                    let cap = unix_now().saturating_add(i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
                    Some(expires_at.map_or(cap, |at| at.min(cap)))
                }
            };
            if let Some(team) = &team {
                anyhow::ensure!(store.get_team(team).await?.is_some(), "unknown team `{team}`");
            }
            let spec = KeySpec {
                name: name.trim().to_owned(),
                models: ModelScope::new(models),
                endpoints: EndpointScope::new(endpoints),
                cidrs,
                expires_at,
                policy,
                owner,
                team,
                role,
                metadata,
                limits,
            };
            let (record, key) = store.create_scoped_key(&hasher, &spec).await?;
            trail.record(&format!("keys create {}", record.id), 200).await?;
            if json {
                writeln!(out, "{}", serde_json::json!({"id": record.id, "key": key.key}))?;
            } else {
                writeln!(out, "created {} ({})", record.id, record.name)?;
                writeln!(out, "key: {}", key.key)?;
                writeln!(out, "store it now: it cannot be shown again")?;
            }
        }
        KeysCommand::List { config, json } => {
            let store = open(&config, false).await?.store;
            let keys = store.list_keys().await?;
            let now = unix_now();
            if json {
                let rows: Vec<_> = keys.iter().map(|k| key_json(k, now)).collect();
                writeln!(out, "{}", serde_json::Value::Array(rows))?;
            } else {
                writeln!(
                    out,
                    "{:<22} {:<8} {:<9} {:<20} {:<12} name",
                    "id", "prefix", "status", "models", "expires_at"
                )?;
                for k in &keys {
                    writeln!(
                        out,
                        "{:<22} {:<8} {:<9} {:<20} {:<12} {}",
                        k.id,
                        k.prefix,
                        k.status(now).as_str(),
                        k.models.patterns().join(","),
                        k.expires_at.map_or_else(|| "-".to_owned(), |t| t.to_string()),
                        k.name
                    )?;
                }
            }
        }
        KeysCommand::Rotate { config, grace, id, json } => {
            let grace =
                humantime::parse_duration(&grace).with_context(|| format!("invalid --grace `{grace}` (e.g. 24h)"))?;
            let Opened { store, hasher, trail, .. } = open(&config, true).await?;
            let now = unix_now();
            let Some((record, key)) = store.rotate_key(&hasher, &id, grace, now).await? else {
                trail.record(&format!("keys rotate {id}"), 404).await?;
                writeln!(std::io::stderr(), "no key with id {id}")?;
                return Ok(ExitCode::FAILURE);
            };
            trail.record(&format!("keys rotate {id} -> {}", record.id), 200).await?;
            let grace_until = now.saturating_add(i64::try_from(grace.as_secs()).unwrap_or(i64::MAX));
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"id": record.id, "key": key.key, "replaces": id, "grace_until": grace_until})
                )?;
            } else {
                writeln!(out, "created {} replacing {id}; {id} works until {grace_until} (unix)", record.id)?;
                writeln!(out, "key: {}", key.key)?;
                writeln!(out, "store it now: it cannot be shown again")?;
            }
        }
        KeysCommand::Revoke { config, id } => {
            let Opened { store, trail, .. } = open(&config, true).await?;
            let done = store.revoke_key(&id).await?;
            let missing = format!("no key with id {id}");
            return report_change(&mut out, &trail, ("revoke", "revoked"), &id, done, missing).await;
        }
        KeysCommand::Suspend { config, id, reason } => {
            anyhow::ensure!(!reason.trim().is_empty(), "--reason must not be empty");
            let Opened { store, trail, .. } = open(&config, true).await?;
            let done = store.suspend_key(&id, &format!("cli: {}", reason.trim())).await?;
            let missing = format!("no active or expired key with id {id} (unknown or revoked)");
            return report_change(&mut out, &trail, ("suspend", "suspended"), &id, done, missing).await;
        }
        KeysCommand::Resume { config, id } => {
            let Opened { store, trail, .. } = open(&config, true).await?;
            let done = store.resume_key(&id).await?;
            let missing = format!("no resumable key with id {id} (unknown or revoked)");
            return report_change(&mut out, &trail, ("resume", "resumed"), &id, done, missing).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn key_json(k: &KeyRecord, now: i64) -> serde_json::Value {
    serde_json::json!({
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "status": k.status(now).as_str(),
        "models": k.models.patterns(),
        "endpoints": k.endpoints.patterns(),
        "cidrs": k.cidrs.to_strings(),
        "owner": k.owner,
        "team": k.team,
        "role": k.role,
        "metadata": k.metadata,
        "rotated_from": k.rotated_from,
        "superseded_by": k.superseded_by,
        "grace_until": k.grace_until,
        "policy": k.policy.as_deref().unwrap_or(rampart_config::DEFAULT_POLICY),
        "created_at": k.created_at,
        "expires_at": k.expires_at,
        "revoked_at": k.revoked_at,
        "suspended_at": k.suspended_at,
        "suspended_reason": k.suspended_reason,
        "limits": k.limits.view(),
    })
}
