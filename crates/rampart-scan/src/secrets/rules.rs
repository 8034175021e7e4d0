//! The table of format rules: one entry per credential format, compiled once by
//! [`super::SecretsDetector::new`]. The secret value is capture group `s` when the
//! pattern has one (context rules), otherwise the whole match.

/// Extra validation run on a candidate after its regex matched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Check {
    /// The regex is specific enough.
    None,
    /// Header segment must decode to JSON with an `alg` field.
    Jwt,
    /// Base64 text must decode to a PEM private-key header.
    Base64Pem,
    /// Value must not be a placeholder and must reach the given Shannon entropy.
    Entropy(f32),
    /// Password part of a URL or connection string: must not be a placeholder.
    Password,
    /// Value after a SaaS vendor name ([`VENDORS`]): token shaped, see
    /// `super::vendor_value_ok`.
    Vendor,
}

/// One format rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub(crate) id: &'static str,
    pub(crate) category: &'static str,
    pub(crate) entity: &'static str,
    pub(crate) score: f32,
    pub(crate) pattern: &'static str,
    pub(crate) check: Check,
    /// Cheap regex that every match of `pattern` contains (a literal prefix, a
    /// provider name), written in lower case: the prefilter set runs it over the
    /// ASCII-lowercased text, so it must match the lowercased form of every match.
    /// Empty: derived from the pattern's leading literal by [`super::anchor_of`].
    pub(crate) anchor: &'static str,
}

impl Rule {
    /// Sets the prefilter anchor explicitly (see [`Rule::anchor`]).
    const fn with_anchor(self, anchor: &'static str) -> Rule {
        Rule { anchor, ..self }
    }
}

const fn r(
    id: &'static str,
    category: &'static str,
    entity: &'static str,
    score: f32,
    pattern: &'static str,
    check: Check,
) -> Rule {
    Rule { id, category, entity, score, pattern, check, anchor: "" }
}

/// Builds a "provider name near an assignment" pattern: `names` (case-insensitive)
/// followed by up to 30 identifier chars, an assignment or JSON/YAML colon, and the
/// value `value` (case-sensitive) captured as `s`.
pub(crate) fn ctx(names: &str, value: &str) -> String {
    format!(
        r#"(?i)(?:{names})[a-z0-9_.\-]{{0,30}}\\?["']?\s*(?:=|:|=>|:=)\s*\\?["'`]?(?-i:(?P<s>{value}))(?:[^A-Za-z0-9_\-+/=]|$)"#
    )
}

use Check::{Base64Pem, Entropy, Jwt, None as N, Password};

/// Rules with a fixed pattern. Order matters: on overlapping matches the earlier
/// (more specific) rule wins.
pub(crate) const FIXED: &[Rule] = &[
    // ---- private keys ----
    r(
        "secrets.private_key.pem",
        "private_key",
        "PRIVATE_KEY",
        0.99,
        r"-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----[\s\S]{16,}?-----END[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----",
        N,
    ),
    r(
        "secrets.private_key.pem_truncated",
        "private_key",
        "PRIVATE_KEY",
        0.9,
        r"-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----(?:\\[rn]|\s)+(?:[A-Za-z0-9+/=:\-,]|\\[rn]|\s){40,}",
        N,
    ),
    r(
        "secrets.private_key.putty",
        "private_key",
        "PRIVATE_KEY",
        0.95,
        r"PuTTY-User-Key-File-\d: [a-z0-9\-]+(?:\\[rn]|\s)+Encryption: [^\n]{1,40}(?:\\[rn]|\s)+Comment: [^\n]*?(?:\\[rn]|\s)+Public-Lines: \d+(?:\\[rn]|\s)+[A-Za-z0-9+/=\s\\]{40,}",
        N,
    ),
    r(
        "secrets.private_key.base64_pem",
        "private_key",
        "PRIVATE_KEY",
        0.9,
        r"\bLS0tLS1CRUdJTi[A-Za-z0-9+/]{20,}={0,2}",
        Base64Pem,
    ),
    r(
        "secrets.age.secret_key",
        "private_key",
        "PRIVATE_KEY",
        0.97,
        r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b",
        N,
    ),
    r(
        "secrets.wireguard.private_key",
        "private_key",
        "PRIVATE_KEY",
        0.9,
        r"(?i)(?:PrivateKey|PresharedKey)\s*=\s*(?P<s>[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)",
        N,
    )
    .with_anchor(r"(?:privatekey|presharedkey)"),
    // ---- cloud ----
    r(
        "secrets.aws.access_key_id",
        "cloud",
        "AWS_ACCESS_KEY_ID",
        0.95,
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|A3T[A-Z0-9])[A-Z0-9]{16}\b",
        N,
    )
    .with_anchor(r"\b(?:akia|asia|abia|acca|agpa|aida|aroa|aipa|anpa|anva|apka|a3t[a-z0-9])"),
    r(
        "secrets.aws.mws_token",
        "cloud",
        "AWS_MWS_TOKEN",
        0.95,
        r"\bamzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        N,
    ),
    r("secrets.aws.appsync_key", "cloud", "AWS_APPSYNC_KEY", 0.9, r"\bda2-[a-z0-9]{26}\b", N),
    r("secrets.gcp.api_key", "cloud", "GCP_API_KEY", 0.95, r"\b(?P<s>AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)", N)
    .with_anchor(r"aiza"),
    r(
        "secrets.gcp.private_key_id",
        "cloud",
        "GCP_PRIVATE_KEY_ID",
        0.9,
        r#""private_key_id"\s*:\s*"(?P<s>[0-9a-f]{40})""#,
        N,
    )
    .with_anchor(r"\x22private_key_id\x22"),
    r(
        "secrets.google.oauth_client_secret",
        "cloud",
        "GOOGLE_OAUTH_CLIENT_SECRET",
        0.95,
        r"\bGOCSPX-[A-Za-z0-9_\-]{28}\b",
        N,
    ),
    r("secrets.google.oauth_access_token", "cloud", "GOOGLE_OAUTH_TOKEN", 0.9, r"\bya29\.[0-9A-Za-z_\-]{30,}", N),
    r("secrets.google.refresh_token", "cloud", "GOOGLE_OAUTH_TOKEN", 0.85, r"\b1//0[0-9A-Za-z_\-]{40,}", N),
    r(
        "secrets.azure.storage_connection_string",
        "cloud",
        "CONNECTION_STRING",
        0.97,
        r"(?i)AccountName=[a-z0-9]{3,24};\s*AccountKey=(?P<s>(?-i:[A-Za-z0-9+/]{86}==))",
        N,
    )
    .with_anchor(r"accountkey="),
    r(
        "secrets.azure.shared_access_key",
        "cloud",
        "AZURE_KEY",
        0.9,
        r"(?i)(?:AccountKey|SharedAccessKey|AccessKey|Secret)\s*=\s*(?P<s>(?-i:[A-Za-z0-9+/]{42,43}=|[A-Za-z0-9+/]{86}==))",
        N,
    )
    .with_anchor(r"(?:accountkey|sharedaccesskey|accesskey|secret)\s*="),
    r(
        "secrets.azure.ad_client_secret",
        "cloud",
        "AZURE_CLIENT_SECRET",
        0.85,
        r"(?:^|[^A-Za-z0-9_~.\-])(?P<s>[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?:[^A-Za-z0-9_~.\-]|$)",
        N,
    )
    .with_anchor(r"[0-9]q~"),
    r(
        "secrets.azure.apim_key_new",
        "cloud",
        "AZURE_KEY",
        0.85,
        r"\b[A-Za-z0-9]{52}JQQJ9(?:9|D|H)[A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za-z0-9]{7}(?:[A-Za-z0-9]{2}==)?",
        N,
    )
    .with_anchor(r"jqqj9"),
    r("secrets.digitalocean.token", "cloud", "DIGITALOCEAN_TOKEN", 0.97, r"\bdo[opr]_v1_[a-f0-9]{64}\b", N)
    .with_anchor(r"\bdo[opr]_v1_"),
    r("secrets.alibaba.access_key_id", "cloud", "ALIBABA_ACCESS_KEY_ID", 0.9, r"\bLTAI[A-Za-z0-9]{12,20}\b", N),
    r("secrets.tencent.secret_id", "cloud", "TENCENT_SECRET_ID", 0.85, r"\bAKID[A-Za-z0-9]{32}\b", N),
    r(
        "secrets.ibm.cloud_key",
        "cloud",
        "IBM_CLOUD_KEY",
        0.6,
        r"\bibm[_\-]?(?:cloud)?[_\-]?api[_\-]?key[\s\S]{0,20}?(?P<s>[A-Za-z0-9_\-]{44})\b",
        N,
    ),
    r("secrets.scaleway.access_key", "cloud", "SCALEWAY_KEY", 0.7, r"\bSCW[A-Z0-9]{17}\b", N),
    r("secrets.cloudflare.origin_ca_key", "cloud", "CLOUDFLARE_KEY", 0.95, r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}\b", N),
    r("secrets.heroku.api_key_v2", "cloud", "HEROKU_API_KEY", 0.95, r"\bHRKU-AA[0-9A-Za-z_\-]{58}\b", N),
    r("secrets.vault.token", "cloud", "VAULT_TOKEN", 0.9, r"\bhv[sbr]\.[A-Za-z0-9_\-]{90,}", N)
    .with_anchor(r"\bhv[sbr]\."),
    r(
        "secrets.terraform.token",
        "cloud",
        "TERRAFORM_TOKEN",
        0.95,
        r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70}\b",
        N,
    )
    .with_anchor(r"\.atlasv1\."),
    r("secrets.pulumi.token", "cloud", "PULUMI_TOKEN", 0.95, r"\bpul-[a-f0-9]{40}\b", N),
    r(
        "secrets.doppler.token",
        "cloud",
        "DOPPLER_TOKEN",
        0.95,
        r"\bdp\.(?:ct|pt|sa|scim|audit|st(?:\.[a-z0-9_\-]{2,35})?)\.[A-Za-z0-9]{40,44}\b",
        N,
    ),
    r("secrets.netlify.token", "cloud", "NETLIFY_TOKEN", 0.9, r"\bnf[pc]_[A-Za-z0-9]{36,40}\b", N)
    .with_anchor(r"\bnf[pc]_"),
    r("secrets.databricks.token", "cloud", "DATABRICKS_TOKEN", 0.9, r"\bdapi[a-f0-9]{32}(?:-\d)?\b", N),
    r("secrets.tailscale.key", "cloud", "TAILSCALE_KEY", 0.95, r"\btskey-[a-z]+-[A-Za-z0-9]{6,}-[A-Za-z0-9]{4,}\b", N),
    r("secrets.flyio.token", "cloud", "FLYIO_TOKEN", 0.9, r"\bfo1_[A-Za-z0-9_\-]{43}\b", N),
    r("secrets.vultr.api_key", "cloud", "VULTR_API_KEY", 0.6, r"(?i)vultr[\s\S]{0,30}?(?P<s>(?-i:[A-Z0-9]{36}))\b", N)
    .with_anchor(r"vultr"),
    r(
        "secrets.planetscale.token",
        "database",
        "PLANETSCALE_TOKEN",
        0.95,
        r"\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-.]{32,64}\b",
        N,
    ),
    r(
        "secrets.supabase.token",
        "database",
        "SUPABASE_TOKEN",
        0.9,
        r"\b(?:sbp_[a-z0-9]{40}|sb_secret_[A-Za-z0-9_\-]{31,})\b",
        N,
    )
    .with_anchor(r"\bsb(?:p|_secret)_"),
    r(
        "secrets.mongodb.atlas_service_account",
        "database",
        "MONGODB_TOKEN",
        0.9,
        r"\bmdb_sa_sk_[A-Za-z0-9_\-]{40,}\b",
        N,
    ),
    r("secrets.jfrog.token", "cloud", "JFROG_TOKEN", 0.9, r"\b(?:AKCp[A-Za-z0-9]{69}|cmVmdGtu[A-Za-z0-9]{56})\b", N)
    .with_anchor(r"\b(?:akcp|cmvmdgtu)"),
    // ---- vcs / ci / registries ----
    r("secrets.github.token", "vcs", "GITHUB_TOKEN", 0.97, r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b", N)
    .with_anchor(r"\bgh[pousr]_"),
    r(
        "secrets.github.fine_grained_pat",
        "vcs",
        "GITHUB_TOKEN",
        0.98,
        r"\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b",
        N,
    ),
    r(
        "secrets.gitlab.token",
        "vcs",
        "GITLAB_TOKEN",
        0.95,
        r"\b(?:glpat|glptt|glrt|gldt|glcbt|glft|glsoat|glimt|glagent|gloas)-[A-Za-z0-9_\-]{20,}",
        N,
    )
    .with_anchor(r"\b(?:glpat|glptt|glrt|gldt|glcbt|glft|glsoat|glimt|glagent|gloas)-"),
    r("secrets.gitlab.runner_registration", "vcs", "GITLAB_TOKEN", 0.95, r"\bGR1348941[A-Za-z0-9_\-]{20}\b", N),
    r("secrets.bitbucket.app_password", "vcs", "BITBUCKET_TOKEN", 0.9, r"\bATBB[A-Za-z0-9_=.\-]{32,}\b", N),
    r("secrets.atlassian.api_token", "saas", "ATLASSIAN_TOKEN", 0.95, r"\bATATT3[A-Za-z0-9_\-=]{150,}", N),
    r("secrets.atlassian.connect_token", "saas", "ATLASSIAN_TOKEN", 0.9, r"\bATCTT3[A-Za-z0-9_\-=]{150,}", N),
    r("secrets.npm.token", "vcs", "NPM_TOKEN", 0.95, r"\bnpm_[A-Za-z0-9]{36}\b", N),
    r(
        "secrets.npm.npmrc_auth",
        "vcs",
        "NPM_TOKEN",
        0.8,
        r"_auth(?:Token)?\s*=\s*(?P<s>[A-Za-z0-9+/=_\-]{20,})",
        Entropy(3.0),
    ),
    r(
        "secrets.pypi.token",
        "vcs",
        "PYPI_TOKEN",
        0.97,
        r"\bpypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,}",
        N,
    ),
    r("secrets.rubygems.token", "vcs", "RUBYGEMS_TOKEN", 0.95, r"\brubygems_[a-f0-9]{48}\b", N),
    r("secrets.nuget.api_key", "vcs", "NUGET_API_KEY", 0.85, r"\boy2[a-z0-9]{43}\b", N),
    r("secrets.docker.pat", "vcs", "DOCKER_TOKEN", 0.95, r"\bdckr_(?:pat|oat)_[A-Za-z0-9_\-]{27,}", N),
    r(
        "secrets.circleci.token",
        "vcs",
        "CIRCLECI_TOKEN",
        0.95,
        r"\bCCI(?:PAT|PRJ)_[A-Za-z0-9]{22,26}_[a-z0-9]{40}\b",
        N,
    ),
    r(
        "secrets.sourcegraph.token",
        "vcs",
        "SOURCEGRAPH_TOKEN",
        0.95,
        r"\b(?:sgp_[A-Za-z0-9_]{40,80}|sgs_[a-f0-9]{64}|slk_[a-f0-9]{64})\b",
        N,
    )
    .with_anchor(r"\bs(?:gp|gs|lk)_"),
    r("secrets.sonarqube.token", "vcs", "SONARQUBE_TOKEN", 0.9, r"\bsq[pau]_[a-f0-9]{40}\b", N)
    .with_anchor(r"\bsq[pau]_"),
    r("secrets.buildkite.token", "vcs", "BUILDKITE_TOKEN", 0.9, r"\bbkua_[A-Za-z0-9]{40}\b", N),
    r(
        "secrets.codecov.token",
        "vcs",
        "CODECOV_TOKEN",
        0.6,
        r"(?i)codecov[_\-]?token[\s\S]{0,10}?(?P<s>(?-i:[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}))",
        N,
    )
    .with_anchor(r"codecov"),
    r("secrets.huggingface.token", "ai", "HUGGINGFACE_TOKEN", 0.95, r"\b(?:hf_|api_org_)[A-Za-z0-9]{34}\b", N)
    .with_anchor(r"\b(?:hf_|api_org_)"),
    // ---- AI providers ----
    r(
        "secrets.anthropic.api_key",
        "ai",
        "ANTHROPIC_API_KEY",
        0.98,
        r"\bsk-ant-(?:api|admin|sid)?\d{0,2}-?[A-Za-z0-9_\-]{32,}",
        N,
    ),
    r("secrets.openrouter.api_key", "ai", "OPENROUTER_API_KEY", 0.97, r"\bsk-or-v1-[a-f0-9]{64}\b", N),
    r(
        "secrets.openai.project_key",
        "ai",
        "OPENAI_API_KEY",
        0.97,
        r"\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,}",
        N,
    ),
    r(
        "secrets.openai.api_key",
        "ai",
        "OPENAI_API_KEY",
        0.97,
        r"\bsk-[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}",
        N,
    ),
    r("secrets.openai.legacy_key", "ai", "OPENAI_API_KEY", 0.85, r"\bsk-[A-Za-z0-9]{48}\b", N),
    r("secrets.groq.api_key", "ai", "GROQ_API_KEY", 0.97, r"\bgsk_[A-Za-z0-9]{52}\b", N),
    r("secrets.replicate.api_token", "ai", "REPLICATE_API_TOKEN", 0.95, r"\br8_[A-Za-z0-9]{37}\b", N),
    r("secrets.xai.api_key", "ai", "XAI_API_KEY", 0.95, r"\bxai-[A-Za-z0-9_]{70,100}\b", N),
    r("secrets.perplexity.api_key", "ai", "PERPLEXITY_API_KEY", 0.95, r"\bpplx-[A-Za-z0-9]{48}\b", N),
    r("secrets.tavily.api_key", "ai", "TAVILY_API_KEY", 0.95, r"\btvly-(?:dev-|prod-)?[A-Za-z0-9]{32}\b", N),
    r("secrets.firecrawl.api_key", "ai", "FIRECRAWL_API_KEY", 0.85, r"\bfc-[a-f0-9]{32}\b", N),
    r("secrets.jina.api_key", "ai", "JINA_API_KEY", 0.9, r"\bjina_[a-f0-9]{32}[A-Za-z0-9_\-]{30}\b", N),
    r("secrets.langsmith.api_key", "ai", "LANGSMITH_API_KEY", 0.95, r"\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}\b", N),
    r("secrets.elevenlabs.api_key", "ai", "ELEVENLABS_API_KEY", 0.85, r"\bsk_[a-f0-9]{48}\b", N),
    r(
        "secrets.kagi.api_key",
        "ai",
        "KAGI_API_KEY",
        0.5,
        r"(?i)kagi[\s\S]{0,40}?(?P<s>(?-i:[A-Za-z0-9_\-]{11}\.[A-Za-z0-9_\-]{43}))",
        N,
    )
    .with_anchor(r"kagi"),
    // ---- chat / messaging ----
    r("secrets.slack.token", "chat", "SLACK_TOKEN", 0.95, r"\bxox[abposre]-[A-Za-z0-9]{6,}-[A-Za-z0-9\-]{8,}", N),
    r("secrets.slack.config_token", "chat", "SLACK_TOKEN", 0.95, r"\bxoxe(?:\.xox[bp])?-\d-[A-Za-z0-9]{140,}", N),
    r("secrets.slack.app_token", "chat", "SLACK_TOKEN", 0.95, r"\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+\b", N),
    r(
        "secrets.slack.webhook",
        "chat",
        "SLACK_WEBHOOK",
        0.95,
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+\-]{30,}",
        N,
    ),
    r(
        "secrets.discord.webhook",
        "chat",
        "DISCORD_WEBHOOK",
        0.95,
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[A-Za-z0-9_\-]{60,68}",
        N,
    ),
    r(
        "secrets.discord.bot_token",
        "chat",
        "DISCORD_BOT_TOKEN",
        0.85,
        r"\b[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}\b",
        N,
    )
    .with_anchor(r"\.[a-z0-9_\-]{6}\.[a-z0-9_\-]{4}"),
    r(
        "secrets.telegram.bot_token",
        "chat",
        "TELEGRAM_BOT_TOKEN",
        0.95,
        r"\b(?P<s>\d{8,10}:AA[A-Za-z0-9_\-]{30,33})(?:[^A-Za-z0-9_\-]|$)",
        N,
    )
    .with_anchor(r"[0-9]:aa"),
    r(
        "secrets.msteams.webhook",
        "chat",
        "TEAMS_WEBHOOK",
        0.95,
        r"https://[a-z0-9\-]+\.webhook\.office\.com/webhookb2/[A-Za-z0-9\-]{36}@[A-Za-z0-9\-]{36}/IncomingWebhook/[A-Za-z0-9]{32}/[A-Za-z0-9\-]{36}|https://outlook\.office(?:365)?\.com/webhook/[a-f0-9\-]{36}@[a-f0-9\-]{36}/IncomingWebhook/[a-f0-9]{32}/[a-f0-9\-]{36}",
        N,
    ),
    r(
        "secrets.zapier.webhook",
        "saas",
        "ZAPIER_WEBHOOK",
        0.9,
        r"https://hooks\.zapier\.com/hooks/catch/[A-Za-z0-9]+(?:/[A-Za-z0-9]+)?",
        N,
    ),
    r(
        "secrets.tines.webhook",
        "saas",
        "TINES_WEBHOOK",
        0.85,
        r"https://[a-z0-9\-]+\.tines\.com/webhook/[a-f0-9]{32}/[a-f0-9]{32}",
        N,
    ),
    r("secrets.twilio.api_key", "chat", "TWILIO_API_KEY", 0.85, r"\bSK[0-9a-f]{32}\b", N)
    .with_anchor(r"\bsk[0-9a-f]{8}"),
    r(
        "secrets.twilio.account_sid",
        "chat",
        "TWILIO_ACCOUNT_SID",
        0.6,
        r"(?i)(?:twilio|account_?sid|\bsid)[\s\S]{0,40}?\b(?P<s>(?-i:AC[a-f0-9]{32}))\b",
        N,
    )
    .with_anchor(r"\bac[a-f0-9]{8}"),
    r(
        "secrets.sendgrid.api_key",
        "chat",
        "SENDGRID_API_KEY",
        0.97,
        r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b",
        N,
    ),
    r(
        "secrets.sendinblue.api_key",
        "chat",
        "SENDINBLUE_API_KEY",
        0.95,
        r"\bx(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}\b",
        N,
    )
    .with_anchor(r"\bx(?:keysib|smtpsib)-"),
    r(
        "secrets.mailgun.api_key",
        "chat",
        "MAILGUN_API_KEY",
        0.9,
        r"\bkey-[0-9a-f]{32}\b|\b[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}\b",
        N,
    ),
    r("secrets.mailgun.pubkey", "chat", "MAILGUN_API_KEY", 0.7, r"\bpubkey-[0-9a-f]{32}\b", N),
    r("secrets.mailchimp.api_key", "chat", "MAILCHIMP_API_KEY", 0.9, r"\b[0-9a-f]{32}-us\d{1,2}\b", N)
    .with_anchor(r"-us[0-9]"),
    r("secrets.telnyx.api_key", "chat", "TELNYX_API_KEY", 0.9, r"\bKEY[0-9A-Za-z]{20,}[_\-][A-Za-z0-9_\-]{20,}\b", N),
    r(
        "secrets.postmark.token",
        "chat",
        "POSTMARK_TOKEN",
        0.6,
        r"(?i)postmark[\s\S]{0,40}?\b(?P<s>(?-i:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))\b",
        N,
    )
    .with_anchor(r"postmark"),
    r("secrets.twitter.bearer_token", "saas", "TWITTER_TOKEN", 0.9, r"\bAAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,}", N),
    r(
        "secrets.line.token",
        "chat",
        "LINE_TOKEN",
        0.6,
        r"(?i)\bline[_\-. ]?(?:(?:channel|notify|bot|messaging)[_\-. ]?)?(?:access[_\-. ]?)?(?:token|secret)[\s\S]{0,20}?(?P<s>(?-i:[A-Za-z0-9+/]{160,}={0,2}))",
        N,
    )
    .with_anchor(r"\bline[_\-. ]?(?:(?:channel|notify|bot|messaging)[_\-. ]?)?(?:access[_\-. ]?)?(?:token|secret)"),
    // ---- payment ----
    r("secrets.paystack.secret_key", "payment", "PAYSTACK_KEY", 0.9, r"\b(?:sk|pk)_(?:live|test)_[a-f0-9]{40}\b", N)
    .with_anchor(r"\b[sp]k_(?:live|test)_"),
    r(
        "secrets.stripe.secret_key",
        "payment",
        "STRIPE_SECRET_KEY",
        0.97,
        r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{12,247}\b",
        N,
    )
    .with_anchor(r"\b[sr]k_(?:live|test)_"),
    r(
        "secrets.stripe.publishable_key",
        "payment",
        "STRIPE_PUBLISHABLE_KEY",
        0.6,
        r"\bpk_(?:live|test)_[A-Za-z0-9]{20,247}\b",
        N,
    ),
    r("secrets.stripe.webhook_secret", "payment", "STRIPE_WEBHOOK_SECRET", 0.95, r"\bwhsec_[A-Za-z0-9+/=]{32,}", N),
    r(
        "secrets.square.access_token",
        "payment",
        "SQUARE_TOKEN",
        0.9,
        r"\b(?:EAAA[A-Za-z0-9_\-]{60,}|sq0(?:atp|idp)-[A-Za-z0-9_\-]{22})\b",
        N,
    )
    .with_anchor(r"\b(?:eaaa|sq0atp-|sq0idp-)"),
    r("secrets.square.oauth_secret", "payment", "SQUARE_SECRET", 0.95, r"\bsq0csp-[A-Za-z0-9_\-]{43}\b", N),
    r(
        "secrets.braintree.access_token",
        "payment",
        "BRAINTREE_TOKEN",
        0.97,
        r"\baccess_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}\b",
        N,
    ),
    r("secrets.razorpay.key", "payment", "RAZORPAY_KEY", 0.85, r"\brzp_(?:live|test)_[A-Za-z0-9]{14}\b", N),
    r(
        "secrets.flutterwave.key",
        "payment",
        "FLUTTERWAVE_KEY",
        0.95,
        r"\bFLW(?:SECK|PUBK)(?:_TEST)?-[a-f0-9]{32}-X\b",
        N,
    ),
    r("secrets.easypost.key", "payment", "EASYPOST_KEY", 0.9, r"\bEZ[AT]K[a-zA-Z0-9]{54}\b", N)
    .with_anchor(r"\bez[at]k"),
    r("secrets.shippo.token", "payment", "SHIPPO_TOKEN", 0.95, r"\bshippo_(?:live|test)_[a-fA-F0-9]{40}\b", N),
    r("secrets.duffel.token", "payment", "DUFFEL_TOKEN", 0.95, r"\bduffel_(?:test|live)_[A-Za-z0-9_\-=]{43}\b", N),
    r("secrets.paymongo.key", "payment", "PAYMONGO_KEY", 0.85, r"\b(?:sk|pk)_(?:live|test)_[A-Za-z0-9]{24}\b", N)
    .with_anchor(r"\b[sp]k_(?:live|test)_"),
    r(
        "secrets.coinbase.key",
        "payment",
        "COINBASE_KEY",
        0.6,
        r"(?i)coinbase[\s\S]{0,40}?(?P<s>(?-i:organizations/[a-f0-9\-]{36}/apiKeys/[a-f0-9\-]{36}))",
        N,
    )
    .with_anchor(r"coinbase"),
    // ---- SaaS ----
    r(
        "secrets.facebook.access_token",
        "saas",
        "FACEBOOK_TOKEN",
        0.85,
        r"\b(?:EAACEdEose0cBA[A-Za-z0-9]{20,}|EAA[B-Z][A-Za-z0-9]{90,})",
        N,
    )
    .with_anchor(r"\beaa[a-z]"),
    r(
        "secrets.google.client_id",
        "cloud",
        "GOOGLE_CLIENT_ID",
        0.5,
        r"\b\d{6,14}-[a-z0-9]{32}\.apps\.googleusercontent\.com\b",
        N,
    )
    .with_anchor(r"\.apps\.googleusercontent\.com"),
    r(
        "secrets.pubnub.key",
        "saas",
        "PUBNUB_KEY",
        0.7,
        r"\b(?:pub|sub)-c-[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}\b",
        N,
    )
    .with_anchor(r"\b(?:pub|sub)-c-"),
    r("secrets.nvidia.api_key", "ai", "NVIDIA_API_KEY", 0.95, r"\bnvapi-[A-Za-z0-9_\-]{60,70}\b", N),
    r("secrets.pagarme.key", "payment", "PAGARME_KEY", 0.85, r"\bak_(?:live|test)_[A-Za-z0-9]{30}\b", N),
    r("secrets.nightfall.key", "saas", "NIGHTFALL_KEY", 0.8, r"\bNF-[A-Za-z0-9]{32}\b", N),
    r("secrets.ionic.token", "saas", "IONIC_TOKEN", 0.85, r"\bion_[A-Za-z0-9]{42}\b", N),
    r("secrets.teamwork.token", "saas", "TEAMWORK_TOKEN", 0.9, r"\btkn\.v1_[A-Za-z0-9+/=_\-]{60,}", N),
    r("secrets.stackhawk.key", "saas", "STACKHAWK_KEY", 0.9, r"\bhawk\.[A-Za-z0-9_\-]{20}\.[A-Za-z0-9_\-]{20}\b", N),
    r("secrets.voiceflow.key", "ai", "VOICEFLOW_KEY", 0.9, r"\bVF\.(?:DM|WS)\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{16}\b", N),
    r("secrets.ubidots.token", "saas", "UBIDOTS_TOKEN", 0.85, r"\bBBFF-[A-Za-z0-9]{30}\b", N),
    r("secrets.scrapfly.key", "saas", "SCRAPFLY_KEY", 0.9, r"\bscp-(?:live|test)-[a-f0-9]{32}\b", N),
    r("secrets.flexport.key", "saas", "FLEXPORT_KEY", 0.85, r"\bshltm_[A-Za-z0-9_\-]{40}\b", N),
    r("secrets.fleetbase.key", "saas", "FLEETBASE_KEY", 0.85, r"\bflb_(?:live|test)_[A-Za-z0-9]{20}\b", N),
    r("secrets.maxmind.license_key", "saas", "MAXMIND_KEY", 0.85, r"\b[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk\b", N)
    .with_anchor(r"_mmk\b"),
    r("secrets.dependency_track.key", "saas", "DEPENDENCY_TRACK_KEY", 0.85, r"\bodt_[A-Za-z0-9]{32,40}\b", N),
    r(
        "secrets.telegram.bot_token_context",
        "chat",
        "TELEGRAM_BOT_TOKEN",
        0.8,
        r"(?i)telegram[\s\S]{0,40}?\b(?P<s>(?-i:\d{8,10}:[A-Za-z0-9_\-]{35}))(?:[^A-Za-z0-9_\-]|$)",
        N,
    )
    .with_anchor(r"telegram"),
    r("secrets.shopify.token", "saas", "SHOPIFY_TOKEN", 0.95, r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", N),
    r(
        "secrets.newrelic.key",
        "saas",
        "NEWRELIC_KEY",
        0.9,
        r"\b(?:NRAK-[A-Z0-9]{27}|NRJS-[a-f0-9]{19}|NRI[IQ]-[A-Za-z0-9_\-]{32}|NRRA-[a-f0-9]{42}|[A-Za-z0-9]{36}NRAL)\b",
        N,
    )
    .with_anchor(r"nr(?:ak|js|ii|iq|ra|al)"),
    r(
        "secrets.newrelic.pixie",
        "saas",
        "NEWRELIC_KEY",
        0.85,
        r"\bpx-(?:api|dep)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\b",
        N,
    ),
    r(
        "secrets.sentry.token",
        "saas",
        "SENTRY_TOKEN",
        0.95,
        r"\b(?:sntrys_eyJ[A-Za-z0-9+/=_]{50,}|sntryu_[a-f0-9]{64})",
        N,
    )
    .with_anchor(r"\bsntry[su]_"),
    r(
        "secrets.grafana.token",
        "saas",
        "GRAFANA_TOKEN",
        0.95,
        r"\b(?:glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|glc_[A-Za-z0-9+/=_]{32,}|eyJrIjoi[A-Za-z0-9+/=_]{50,})",
        N,
    )
    .with_anchor(r"\b(?:glsa_|glc_|eyjrijoi)"),
    r("secrets.linear.api_key", "saas", "LINEAR_API_KEY", 0.95, r"\blin_(?:api|oauth)_[A-Za-z0-9]{40}\b", N),
    r(
        "secrets.notion.token",
        "saas",
        "NOTION_TOKEN",
        0.9,
        r"\b(?:secret_[A-Za-z0-9]{43}|ntn_\d{11}[A-Za-z0-9]{35})\b",
        N,
    )
    .with_anchor(r"\b(?:secret_|ntn_)"),
    r("secrets.figma.token", "saas", "FIGMA_TOKEN", 0.95, r"\bfig[dou]_[A-Za-z0-9_\-]{40}", N),
    r("secrets.airtable.pat", "saas", "AIRTABLE_TOKEN", 0.95, r"\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b", N),
    r("secrets.asana.pat", "saas", "ASANA_TOKEN", 0.9, r"\b[12]/\d{10,20}(?:/\d{10,20})?:[a-f0-9]{32}\b", N)
    .with_anchor(r"\b[12]/[0-9]{10}"),
    r("secrets.clickup.token", "saas", "CLICKUP_TOKEN", 0.9, r"\bpk_\d{6,10}_[A-Z0-9]{32}\b", N),
    r("secrets.postman.api_key", "saas", "POSTMAN_API_KEY", 0.95, r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b", N),
    r("secrets.mapbox.token", "saas", "MAPBOX_TOKEN", 0.9, r"\b[spt]k\.eyJ[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{20,}", N)
    .with_anchor(r"\b[spt]k\.eyj"),
    r(
        "secrets.hubspot.token",
        "saas",
        "HUBSPOT_TOKEN",
        0.9,
        r"\bpat-(?:na|eu)\d-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\b",
        N,
    ),
    r("secrets.dynatrace.token", "saas", "DYNATRACE_TOKEN", 0.95, r"\bdt0[a-z]\d{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64}\b", N),
    r("secrets.posthog.key", "saas", "POSTHOG_KEY", 0.8, r"\bph[cx]_[A-Za-z0-9_]{43}\b", N)
    .with_anchor(r"\bph[cx]_"),
    r("secrets.prefect.key", "saas", "PREFECT_KEY", 0.9, r"\bpnu_[A-Za-z0-9]{36}\b", N),
    r("secrets.contentful.pat", "saas", "CONTENTFUL_TOKEN", 0.95, r"\bCFPAT-[A-Za-z0-9_\-]{43,64}", N),
    r("secrets.frameio.token", "saas", "FRAMEIO_TOKEN", 0.9, r"fio-u-[A-Za-z0-9_\-=]{64,}", N),
    r("secrets.typeform.token", "saas", "TYPEFORM_TOKEN", 0.9, r"\btfp_[A-Za-z0-9_\-.=]{40,64}", N),
    r("secrets.lob.key", "saas", "LOB_KEY", 0.7, r"\b(?:live|test)_(?:pub_)?[a-f0-9]{35}\b", N)
    .with_anchor(r"\b(?:live|test)_"),
    r("secrets.dropbox.token", "saas", "DROPBOX_TOKEN", 0.9, r"\bsl\.(?:u\.)?[A-Za-z0-9_\-]{130,}", N),
    r("secrets.salesforce.token", "saas", "SALESFORCE_TOKEN", 0.9, r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9_.]{80,}", N),
    r(
        "secrets.yandex.key",
        "saas",
        "YANDEX_KEY",
        0.85,
        r"\b(?:AQVN[A-Za-z0-9_\-]{35,38}|y[0-3]_[A-Za-z0-9_\-]{55}|t1\.[A-Za-z0-9_\-]+=*\.[A-Za-z0-9_\-]{86}=*)",
        N,
    )
    .with_anchor(r"\b(?:aqvn|y[0-3]_|t1\.)"),
    r("secrets.adafruit.key", "saas", "ADAFRUIT_KEY", 0.9, r"\baio_[A-Za-z0-9]{28}\b", N),
    r("secrets.age.recipient", "generic", "AGE_RECIPIENT", 0.4, r"\bage1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}\b", N),
    r(
        "secrets.ngrok.token",
        "saas",
        "NGROK_TOKEN",
        0.7,
        r"(?i)ngrok[\s\S]{0,40}?\b(?P<s>(?-i:[1-9][A-Za-z0-9]{26}_[A-Za-z0-9]{21}))\b",
        N,
    )
    .with_anchor(r"ngrok"),
    r(
        "secrets.okta.token",
        "saas",
        "OKTA_TOKEN",
        0.8,
        r"(?i)okta[\s\S]{0,40}?\b(?P<s>(?-i:00[A-Za-z0-9_\-]{40}))(?:[^A-Za-z0-9_\-]|$)",
        Entropy(3.5),
    )
    .with_anchor(r"okta"),
    r("secrets.octopus.key", "saas", "OCTOPUS_KEY", 0.9, r"\bAPI-[A-Z0-9]{26}\b", N),
    r(
        "secrets.launchdarkly.key",
        "saas",
        "LAUNCHDARKLY_KEY",
        0.9,
        r"\b(?:api|sdk|mob)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\b",
        N,
    )
    .with_anchor(r"\b(?:api|sdk|mob)-[a-f0-9]{8}-"),
    r("secrets.readme.key", "saas", "README_KEY", 0.9, r"\brdme_[a-z0-9]{70}\b", N),
    r("secrets.intra42.secret", "saas", "INTRA42_SECRET", 0.9, r"\bs-s4t2(?:ud|af)-[a-f0-9]{64}\b", N),
    r(
        "secrets.trufflehog.gitter",
        "saas",
        "GITTER_TOKEN",
        0.5,
        r"(?i)gitter[\s\S]{0,30}?\b(?P<s>(?-i:[a-f0-9]{40}))\b",
        N,
    )
    .with_anchor(r"gitter"),
    r("secrets.twitch.stream_key", "saas", "TWITCH_STREAM_KEY", 0.8, r"\blive_\d{6,12}_[A-Za-z0-9]{30}\b", N),
    r(
        "secrets.jenkins.crumb",
        "saas",
        "JENKINS_TOKEN",
        0.5,
        r"(?i)jenkins[\s\S]{0,40}?(?:token|crumb|password)[\s\S]{0,10}?\b(?P<s>(?-i:[a-f0-9]{32,34}))\b",
        N,
    )
    .with_anchor(r"jenkins"),
    r(
        "secrets.kubernetes.bootstrap_token",
        "cloud",
        "KUBERNETES_TOKEN",
        0.7,
        r"(?i)(?:--token|bootstrap[\s\S]{0,20}?token)[\s=:\x22']{1,4}(?P<s>(?-i:[a-z0-9]{6}\.[a-z0-9]{16}))\b",
        Entropy(3.0),
    )
    .with_anchor(r"(?:--token|bootstrap)"),
    // ---- password hashes ----
    r("secrets.password_hash.bcrypt", "generic", "PASSWORD_HASH", 0.8, r"\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}", N)
    .with_anchor(r"\$2[abxy]?\$[0-9]{2}\$"),
    r(
        "secrets.password_hash.sha512crypt",
        "generic",
        "PASSWORD_HASH",
        0.8,
        r"\$6\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}",
        N,
    ),
    r(
        "secrets.password_hash.sha256crypt",
        "generic",
        "PASSWORD_HASH",
        0.8,
        r"\$5\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43}",
        N,
    ),
    r(
        "secrets.password_hash.md5crypt",
        "generic",
        "PASSWORD_HASH",
        0.8,
        r"\$(?:1|apr1)\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}",
        N,
    )
    .with_anchor(r"\$(?:1|apr1)\$"),
    r(
        "secrets.password_hash.cisco_pbkdf2",
        "generic",
        "PASSWORD_HASH",
        0.8,
        r"\$(?:8|9)\$[./A-Za-z0-9]{14}\$[./A-Za-z0-9]{43}",
        N,
    )
    .with_anchor(r"\$[89]\$"),
    r(
        "secrets.password_hash.krb5_asrep",
        "generic",
        "PASSWORD_HASH",
        0.8,
        r"\$krb5asrep\$23\$[^:\s]{1,100}:[a-f0-9]{32}\$[a-f0-9]{64,}",
        N,
    ),
    r("secrets.django.insecure_key", "generic", "DJANGO_SECRET_KEY", 0.9, r"\bdjango-insecure-[^\s'\x22]{30,}", N),
    r(
        "secrets.vault.unseal_key",
        "cloud",
        "VAULT_UNSEAL_KEY",
        0.9,
        r"(?i)(?:unseal key(?: \d+)?:|operator unseal)\s*(?P<s>(?-i:[A-Za-z0-9+/]{43,44}={0,2}))",
        N,
    )
    .with_anchor(r"unseal"),
    r(
        "secrets.dotnet.network_credential",
        "generic",
        "GENERIC_SECRET",
        0.8,
        r#"(?i)(?:NetworkCredential|DirectoryEntry)\(\s*(?:"[^"\n]*"\s*,\s*)?"[^"\n]*"\s*,\s*"(?P<s>[^"\n]{3,128})""#,
        Password,
    )
    .with_anchor(r"(?:networkcredential|directoryentry)\("),
    r(
        "secrets.powershell.password_param",
        "generic",
        "GENERIC_SECRET",
        0.7,
        r#"(?i)(?:Connect-VIServer|New-PSDrive|Invoke-Command|net use|Get-Credential|runas)\b[^\n]{0,200}?\s-Pass(?:word)?\s+["']?(?P<s>[^\s"'$][^\s"']{2,127})"#,
        Password,
    )
    .with_anchor(r"-pass"),
    r(
        "secrets.generic.password_prose",
        "generic",
        "PASSWORD",
        0.6,
        r#"(?i)\bpass(?:word|wd|phrase|code)?\b[^\n.:=]{0,40}?\bis\s*:?\s*["'](?P<s>[^"'\s]{4,64})["']"#,
        Password,
    )
    .with_anchor(r"\bpass(?:word|wd|phrase|code)?\b"),
    // ---- tokens ----
    r(
        "secrets.jwt.token",
        "token",
        "JWT",
        0.85,
        r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{2,}(?:\.[A-Za-z0-9_\-]*)?",
        Jwt,
    ),
    // ---- connection strings / URLs with credentials ----
    r(
        "secrets.database.connection_uri",
        "database",
        "CONNECTION_STRING",
        0.9,
        r"(?i)\b(?:jdbc:)?(?:postgres(?:ql)?|postgis|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|cockroachdb|clickhouse|couchdb|neo4j(?:\+s)?|bolt|cassandra|oracle|db2|memcached|nats|kafka)://[^\s:@/'\x22]{1,64}:(?P<s>[^\s@/'\x22]{1,128})@[^\s'\x22]{2,}",
        Password,
    )
    .with_anchor(r"://[^ \t\r\n/@]*:[^ \t\r\n/@]*@"),
    r(
        "secrets.database.dotnet_connection_string",
        "database",
        "CONNECTION_STRING",
        0.85,
        r"(?i)(?:server|data source|host|address|addr)\s*=[^;\n\x22']{1,100};[^\n\x22']{0,200}?(?:password|pwd)\s*=\s*(?P<s>[^;\s\x22']{3,128})",
        Password,
    )
    .with_anchor(r"(?:password|pwd)\s*="),
    r(
        "secrets.url.credentials",
        "generic",
        "URL_CREDENTIALS",
        0.8,
        r"(?i)\b(?:https?|ftps?|sftp|smtps?|imaps?|pop3|ldaps?|ssh|git|svn|rtmp|socks5?|wss?)://[^\s:@/'\x22<>]{1,64}:(?P<s>[^\s@/'\x22<>]{1,128})@[A-Za-z0-9][^\s'\x22]{2,}",
        Password,
    )
    .with_anchor(r"://[^ \t\r\n/@]*:[^ \t\r\n/@]*@"),
    r(
        "secrets.netrc.credentials",
        "generic",
        "NETRC_PASSWORD",
        0.85,
        r"\bmachine\s+\S+\s+login\s+\S+\s+password\s+(?P<s>\S+)",
        Password,
    ),
    r(
        "secrets.http.basic_auth",
        "token",
        "BASIC_AUTH",
        0.8,
        r"(?i)authorization\x22?\s*[:=]\s*\x22?basic\s+(?P<s>(?-i:[A-Za-z0-9+/]{8,}={0,2}))",
        Entropy(2.5),
    )
    .with_anchor(r"basic\s+[a-z0-9+/]{8}"),
    r(
        "secrets.http.bearer_token",
        "token",
        "BEARER_TOKEN",
        0.7,
        r"(?i)\bbearer\s+(?P<s>(?-i:[A-Za-z0-9_\-.~+/]{20,}=*))",
        Entropy(3.2),
    )
    .with_anchor(r"bearer\s+[a-z0-9_\-.~+/]{20}"),
    r(
        "secrets.powershell.securestring",
        "generic",
        "GENERIC_SECRET",
        0.7,
        r#"(?i)ConvertTo-SecureString\s+(?:-String\s+)?["'](?P<s>[^"'\s$]{4,})["']\s+-AsPlainText"#,
        Password,
    )
    .with_anchor(r"convertto-securestring"),
    r(
        "secrets.psexec.credentials",
        "generic",
        "GENERIC_SECRET",
        0.7,
        r"(?i)psexec(?:64)?(?:\.exe)?\s[^\n]*?-p\s+(?P<s>[^\s\x22'-][^\s\x22']{2,})",
        Password,
    )
    .with_anchor(r"psexec"),
];

/// Context rules: provider name near an assignment, value format of that provider.
pub(crate) const CONTEXT: &[(&str, &str, &str, &str, f32, &str)] = &[
    // (id, category, entity, names, score, value)
    ("secrets.aws.secret_access_key", "cloud", "AWS_SECRET_ACCESS_KEY", "aws|amazon", 0.9, r"[A-Za-z0-9/+]{40}"),
    (
        "secrets.aws.session_token",
        "cloud",
        "AWS_SESSION_TOKEN",
        "aws_?session_?token|x-amz-security-token",
        0.9,
        r"[A-Za-z0-9/+=]{100,}",
    ),
    (
        "secrets.heroku.api_key",
        "cloud",
        "HEROKU_API_KEY",
        "heroku",
        0.85,
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ),
    ("secrets.vault.legacy_token", "cloud", "VAULT_TOKEN", "vault", 0.8, r"[sbr]\.[A-Za-z0-9]{24}"),
    (
        "secrets.alibaba.access_key_secret",
        "cloud",
        "ALIBABA_SECRET",
        "alibaba|aliyun|alicloud",
        0.85,
        r"[A-Za-z0-9]{30}",
    ),
    ("secrets.azure.openai_key", "ai", "AZURE_OPENAI_KEY", "azure_?openai|aoai", 0.85, r"[a-f0-9]{32}"),
    ("secrets.cohere.api_key", "ai", "COHERE_API_KEY", "cohere|co_api", 0.85, r"[A-Za-z0-9]{40}"),
    ("secrets.mistral.api_key", "ai", "MISTRAL_API_KEY", "mistral", 0.85, r"[A-Za-z0-9]{32}"),
    ("secrets.wandb.api_key", "ai", "WANDB_API_KEY", "wandb", 0.85, r"[a-f0-9]{40}"),
    ("secrets.deepseek.api_key", "ai", "DEEPSEEK_API_KEY", "deepseek", 0.85, r"sk-[a-f0-9]{32}"),
    ("secrets.twilio.auth_token", "chat", "TWILIO_AUTH_TOKEN", "twilio", 0.85, r"[a-f0-9]{32}"),
    (
        "secrets.datadog.api_key",
        "saas",
        "DATADOG_API_KEY",
        "datadog|dd_api|dd_app|ddapi|ddapp",
        0.85,
        r"[a-f0-9]{32}|[a-f0-9]{40}",
    ),
    ("secrets.algolia.api_key", "saas", "ALGOLIA_API_KEY", "algolia", 0.8, r"[a-f0-9]{32}"),
    ("secrets.paypal.secret", "payment", "PAYPAL_SECRET", "paypal|braintree", 0.8, r"[A-Za-z0-9_\-]{32,80}"),
    ("secrets.mailjet.key", "chat", "MAILJET_KEY", "mailjet|mj_apikey", 0.8, r"[a-f0-9]{32}"),
    ("secrets.pagerduty.key", "saas", "PAGERDUTY_KEY", "pagerduty|pd_token", 0.8, r"[A-Za-z0-9_+\-]{20}"),
    ("secrets.jira.token", "saas", "ATLASSIAN_TOKEN", "jira|confluence|atlassian", 0.8, r"[A-Za-z0-9]{24}"),
    (
        "secrets.snyk.token",
        "vcs",
        "SNYK_TOKEN",
        "snyk",
        0.8,
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ),
    ("secrets.fastly.token", "saas", "FASTLY_TOKEN", "fastly", 0.8, r"[A-Za-z0-9_\-]{32}"),
    ("secrets.facebook.app_secret", "saas", "FACEBOOK_SECRET", "facebook|fb_secret|fb_app", 0.8, r"[a-f0-9]{32}"),
    ("secrets.twitter.secret", "saas", "TWITTER_SECRET", "twitter", 0.8, r"[A-Za-z0-9]{35,50}"),
    ("secrets.spotify.secret", "saas", "SPOTIFY_SECRET", "spotify", 0.8, r"[a-f0-9]{32}"),
    ("secrets.confluent.secret", "saas", "CONFLUENT_SECRET", "confluent|ccloud", 0.8, r"[A-Za-z0-9+/]{64}"),
    ("secrets.travis.token", "vcs", "TRAVIS_TOKEN", "travis", 0.8, r"[A-Za-z0-9_\-]{22}"),
    ("secrets.bitbucket.secret", "vcs", "BITBUCKET_TOKEN", "bitbucket", 0.8, r"[A-Za-z0-9_\-=]{32,64}"),
    ("secrets.github.client_secret", "vcs", "GITHUB_CLIENT_SECRET", "github", 0.8, r"[a-f0-9]{40}"),
    ("secrets.django.secret_key", "generic", "DJANGO_SECRET_KEY", "django", 0.8, r"[A-Za-z0-9!@#$%^&*()_+=\-]{50}"),
    ("secrets.segment.key", "saas", "SEGMENT_KEY", "segment", 0.7, r"[A-Za-z0-9]{32}"),
    ("secrets.mailchimp.context", "chat", "MAILCHIMP_API_KEY", "mailchimp|mandrill", 0.8, r"[A-Za-z0-9_\-]{22}"),
    ("secrets.gitalk.secret", "vcs", "GITHUB_CLIENT_SECRET", "clientsecret|client_secret", 0.8, r"[a-f0-9]{40}"),
];

/// SaaS vendors whose API keys are opaque strings without a distinctive prefix: a
/// vendor name followed (optionally via `key`/`token`/`secret`… words and an
/// assignment) by a token-shaped value is reported. Vendors with a documented prefix
/// or a dedicated context rule (AWS, GitHub, Slack, Stripe, …) are deliberately absent:
/// their own format rule decides. Lower case; matched case-insensitively.
pub(crate) const VENDORS: &[&str] = &[
    "adafruit", "adobe", "airbrake", "aiven", "alchemy", "anypoint", "apifonica", "apify", "apilayer", "apimetrics",
    "apitemplate", "apollo", "appfollow", "appointedd", "appoptics", "appsynergy", "asana", "assemblyai", "atera",
    "audd", "auth0", "autoklose", "autopilot", "avaza", "aviationstack", "axonaut", "ayrshare", "bannerbear",
    "baremetrics", "beamer", "beebole", "besnappy", "besttime", "betterstack", "bitbar", "bitcoinaverage", "bitly",
    "blazemeter", "blitapp", "blocknative", "blogger", "bombbomb", "boostnote", "borgbase", "brandfetch", "browshot",
    "bscscan", "buddyns", "budibase", "bugherd", "bugsnag", "bulbul", "buttercms", "caflou", "calendarific",
    "calendly", "calorieninja", "campayn", "canny", "capsulecrm", "carboninterface", "centralstationcrm",
    "chartmogul", "chatfuel", "checio", "checkly", "cicero", "clarifai", "clearbit", "cliengo", "clockify",
    "closecrm", "cloudconvert", "cloudimage", "cloudmersive", "cloudplan", "cloudsight", "cloudsmith", "cloverly",
    "clustdoc", "codacy", "codeclimate", "codemagic", "codequiry", "coinapi", "coinlayer", "coinlib", "commercejs",
    "conversiontools", "convertapi", "convertkit", "countrylayer", "courier", "coveralls", "craftmypdf", "crowdin",
    "cryptocompare", "currencyfreaks", "currencylayer", "currencyscoop", "currentsapi", "d7network", "dailyco",
    "dandelion", "dareboost", "databox", "debounce", "deepai", "deepgram", "delighted", "detectify",
    "detectlanguage", "dfuse", "diffbot", "diggernaut", "disqus", "docparser", "documo", "dronahq", "droneci",
    "dynalist", "dyspatch", "eagleeye", "ecostruxure", "edenai", "elasticemail", "enigma", "eraser", "etherscan",
    "ethplorer", "eventbrite", "everhour", "exchangerate", "extractorapi", "fastforex", "feedier", "fetchrss",
    "finage", "financialmodelingprep", "findl", "finicity", "finnhub", "fixer", "flatio", "flickr", "flightapi",
    "flightlabs", "formbucket", "formcraft", "formio", "foursquare", "fulcrum", "fxmarket", "geckoboard",
    "geoapify", "geocodify", "geoipify", "getemail", "getgeoapi", "getgist", "getresponse", "glassnode",
    "gocardless", "goodday", "graphhopper", "groovehq", "gtmetrix", "gumroad", "gyazo", "happyscribe", "hellosign",
    "helpcrunch", "helpscout", "hereapi", "hiveage", "holidayapi", "holistic", "honeycomb", "html2pdf", "hunter",
    "hybiscus", "iconfinder", "iexapis", "iexcloud", "imagekit", "imagga", "infura", "insightly", "instabot",
    "intercom", "interseller", "intrinio", "ip2location", "ipapi", "ipgeolocation", "ipinfo", "ipqualityscore",
    "ipstack", "jotform", "jumpcloud", "jupiterone", "juro", "karma", "kickbox", "klaviyo", "klipfolio",
    "knapsackpro", "kontent", "kylas", "languagelayer", "leadfeeder", "lemlist", "lemonsqueezy", "lendflow",
    "lessannoyingcrm", "lexigram", "linkpreview", "livestorm", "loadmill", "loginradius", "logzio", "lokalise",
    "loyverse", "lunchmoney", "madkudu", "mailboxlayer", "mailerlite", "mailjet", "mailmodo", "mailsac",
    "mapquest", "marketstack", "mavenlink", "mediastack", "meistertask", "mesibo", "messagebird", "metrilo",
    "mindmeister", "miro", "mixmax", "mockaroo", "monkeylearn", "moonclerk", "moosend", "moralis", "myintervals",
    "nasdaqdatalink", "newsapi", "newscatcher", "nftport", "nicereply", "noticeable", "nozbe", "numverify",
    "nylas", "oanda", "omnisend", "onesignal", "onfleet", "oopspam", "opencage", "openuv", "openweather",
    "opsgenie", "optimizely", "overloop", "owlbot", "packagecloud", "pandadoc", "pandascore", "paperform",
    "paralleldots", "parseur", "partnerstack", "pastebin", "paydirt", "paymo", "pdflayer", "pdfshift",
    "peopledatalabs", "pepipost", "pipedream", "pipedrive", "pixabay", "planyo", "podio", "pollsapi", "polygon",
    "positionstack", "postageapp", "powrbot", "prodpad", "prospectcrm", "protocolsio", "proxycrawl", "pushbullet",
    "qase", "qualaroo", "qubole", "rapidapi", "rawg", "reachmail", "rebrandly", "refiner", "rentman", "replyio",
    "requestfinance", "restpack", "ritekit", "rocketreach", "rockset", "route4me", "runscope", "salesblink",
    "salescookie", "salesflare", "scrapeowl", "scraperapi", "scraperbox", "scrapestack", "scrapingant",
    "scrapingbee", "screenshotapi", "screenshotlayer", "securitytrails", "selectpdf", "semaphore", "sendbird",
    "serphouse", "serpstack", "sherpadesk", "shipday", "shodan", "shortcut", "shotstack", "shutterstock",
    "signaturit", "signupgenius", "sigopt", "simfin", "simplesat", "simplynoted", "simvoly", "skrapp",
    "smartsheet", "snipcart", "sparkpost", "speechtext", "splunk", "spoonacular", "sportsmonk", "squarespace",
    "sslmate", "statuscake", "statuspage", "statuspal", "stitchdata", "stockdata", "storecove", "stormboard",
    "stormglass", "storyblok", "storychief", "streak", "stripo", "supernotes", "surveybot", "surveysparrow",
    "survicate", "swiftype", "tallyfy", "tatum", "taxjar", "teamwork", "tefter", "teletype", "theoddsapi",
    "the-odds-api", "thingsboard", "ticketmaster", "tickettailor", "tiingo", "timecamp", "timezoneapi", "tmetric",
    "todoist", "toggl", "tomtom", "tradier", "transferwise", "travelpayouts", "trello", "twelvedata", "tyntec",
    "uclassify", "unplugg", "unsplash", "upcdatabase", "uplead", "uptimerobot", "upwave", "urlscan", "userflow",
    "userstack", "vagrantcloud", "vatlayer", "vbout", "vercel", "verimail", "veriphone", "versioneye", "viewneo",
    "virustotal", "visualcrossing", "voicegain", "voodoosms", "vpnapi", "vyte", "walkscore", "wandb", "weatherbit",
    "weatherstack", "web3storage", "webflow", "webscraper", "webscraping", "whoxy", "wistia", "worksnaps",
    "workstack", "worldcoinindex", "worldweather", "wrike", "yelp", "youneedabudget", "yousign", "youtube",
    "zenkit", "zenrows", "zenscrape", "zeplin", "zerobounce", "zerotier", "zipcodeapi", "zipcodebase", "zoho",
    "zonka", "cohere", "mistral", "pinecone", "weaviate", "qdrant", "anyscale", "fireworks",
    "openweathermap", "owm", "pyowm", "netcore", "smartsheets", "privacy", "segment", "mixpanel",
    "amplitude", "hotjar", "algolia", "sanity", "prismic",
    "rollbar", "loggly", "papertrail", "sumologic", "pagerduty", "victorops",
    "travis", "snyk", "sonar", "codecov", "browserstack", "saucelabs", "lambdatest", "bitrise",
    "artifactory", "octopus", "spacelift", "env0",
];
