//! `rampart admin create-user|create-token`: bootstrap admin principals in the store
//! (the admin API manages them afterwards). A password is read from
//! `RAMPART_ADMIN_PASSWORD` or the first line of stdin, never from the command line
//! (it would land in shell history and `ps`). Secrets are printed once.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use rampart_config::{Config, ProcessEnv};
use rampart_identity::{password, totp, vault};
use rampart_store::{AdminRole, KeyHasher, Store, unix_now};

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Create an admin user (password + TOTP second factor) and print the TOTP
    /// secret once, for an authenticator app.
    CreateUser {
        /// Configuration file (TOML); `[store]`, `[auth]` and `[vault]` are read.
        #[arg(long, short, env = "RAMPART_CONFIG")]
        config: PathBuf,
        /// Login name.
        #[arg(long)]
        username: String,
        /// `admin`, `key_manager`, `auditor` or `viewer`.
        #[arg(long)]
        role: String,
    },
    /// Create an admin API token (`ra-...`) and print it once.
    CreateToken {
        /// Configuration file (TOML).
        #[arg(long, short, env = "RAMPART_CONFIG")]
        config: PathBuf,
        /// Human name.
        #[arg(long)]
        name: String,
        /// `admin`, `key_manager`, `auditor` or `viewer`.
        #[arg(long)]
        role: String,
        /// Lifetime, e.g. `30d` (default: no expiry).
        #[arg(long)]
        expires: Option<String>,
    },
}

fn role(text: &str) -> anyhow::Result<AdminRole> {
    AdminRole::parse(text).with_context(|| format!("unknown role `{text}`: admin, key_manager, auditor or viewer"))
}

/// The store, key hasher and vault key of `config`, and the audit trail its changes go to.
async fn open(config: &std::path::Path) -> anyhow::Result<(Store, KeyHasher, vault::Kek, super::Trail)> {
    let text = super::read(config)?;
    let (store, auth) = Config::store_and_auth(&text, &ProcessEnv)
        .map_err(|errors| anyhow::anyhow!("invalid configuration {}:\n{errors}", config.display()))?;
    let kek = match Config::vault_only(&text, &ProcessEnv)
        .map_err(|errors| anyhow::anyhow!("invalid configuration {}:\n{errors}", config.display()))?
    {
        Some(vault) => vault::Kek::parse(vault.kek.expose(), "vault.kek")?,
        None => vault::Kek::derive_from_secret(auth.key_secret.expose()),
    };
    let trail = super::Trail::open(&text, config, &store, &auth).await?;
    let store = Store::connect(store.url.expose()).await.context("cannot open the store")?;
    Ok((store, KeyHasher::new(auth.key_secret.expose()), kek, trail))
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("RAMPART_ADMIN_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub(crate) async fn run(command: AdminCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        AdminCommand::CreateUser { config, username, role: role_name } => {
            let role = role(&role_name)?;
            let password = read_password()?;
            password::validate_new_password(&password)?;
            let hash = password::hash_password(&password)?;
            let (store, _, kek, trail) = open(&config).await?;
            let user = store.create_admin_user(&username, role, &hash, None).await?;
            trail.record(&format!("admin create-user {} ({})", user.id, role.as_str()), 200).await?;
            let secret = totp::TotpSecret::generate()?;
            let sealed = vault::seal(&kek, secret.as_bytes(), format!("totp:{}", user.id).as_bytes())?;
            store.set_admin_totp_secret(&user.id, Some(&sealed.to_string())).await?;
            writeln!(out, "created {} ({}, {})", user.id, user.username, role.as_str())?;
            writeln!(out, "totp secret: {}", &*secret.to_base32())?;
            writeln!(out, "totp uri: {}", &*secret.otpauth_uri("rampart", &user.username))?;
            writeln!(out, "add it to an authenticator app now: it cannot be shown again")?;
        }
        AdminCommand::CreateToken { config, name, role: role_name, expires } => {
            let role = role(&role_name)?;
            let expires_at = match expires {
                None => None,
                Some(text) => {
                    let lifetime = humantime::parse_duration(&text)
                        .with_context(|| format!("invalid --expires `{text}` (e.g. 30d, 12h)"))?;
                    Some(unix_now().saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)))
                }
            };
            let (store, hasher, _, trail) = open(&config).await?;
            let (record, token) = store.create_admin_token(&hasher, &name, role, expires_at, Some("cli")).await?;
            trail.record(&format!("admin create-token {} ({})", record.id, role.as_str()), 200).await?;
            writeln!(out, "created {} ({}, {})", record.id, name, role.as_str())?;
            writeln!(out, "token: {}", token.key)?;
            writeln!(out, "store it now: it cannot be shown again")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
