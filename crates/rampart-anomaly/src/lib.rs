//! Online anomaly detection per virtual key: owns the observation/anomaly types, the
//! detector settings, the per-key state (bounded by a key cap, least recently seen keys
//! evicted in batches) and the detectors themselves. Pure and synchronous: time is passed
//! in as unix milliseconds, nothing here sleeps, spawns or does I/O.
//!
//! Detectors, per key:
//! - baselines, silent until the key is warmed up (enough requests *and* enough history):
//!   request rate per bucket ([`AnomalyKind::RateBurst`]), tokens per request
//!   ([`AnomalyKind::TokenSpike`]), output bytes per request ([`AnomalyKind::OutputSize`]),
//!   blocked fraction per bucket ([`AnomalyKind::BlockRate`]), distinct client addresses per
//!   bucket ([`AnomalyKind::DistinctClients`]) and client networks never seen before
//!   ([`AnomalyKind::NewNetwork`]);
//! - no warm-up: runs of blocked attacks ([`AnomalyKind::AttackRun`]) and outputs carrying
//!   secrets or unusual amounts of PII ([`AnomalyKind::Exfiltration`]).
//!
//! Baselines are EWMAs of a mean and of the absolute deviation from it; a value is
//! anomalous only when it clears an absolute floor, a multiple of the mean *and* the mean
//! plus a multiple of the deviation, so small numbers and ordinary jitter never alert.
//! Every alert is rate limited per (key, kind) by a cooldown, unless it escalates severity.
//!
//! The webhook side (delivery, retries, counters) lives in [`alert`].

pub mod alert;

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One finished request.
#[derive(Debug, Clone)]
pub struct Observation {
    pub key: String,
    pub at_ms: i64,
    pub client_ip: IpAddr,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub output_bytes: u64,
    pub blocked: bool,
    pub attack: bool,
    pub output_pii: u32,
    pub output_secrets: u32,
}

/// What kind of anomaly was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnomalyKind {
    /// Requests in the current bucket far above the key's rate baseline.
    RateBurst,
    /// Tokens (prompt + completion) of one request far above the key's baseline.
    TokenSpike,
    /// Output bytes of one response far above the key's baseline.
    OutputSize,
    /// Blocked fraction of the current bucket far above the key's baseline.
    BlockRate,
    /// Distinct client addresses in the current bucket far above the key's baseline.
    DistinctClients,
    /// A client network (/24 IPv4, /48 IPv6) the key has never been used from.
    NewNetwork,
    /// A run of blocked attacks within a short window.
    AttackRun,
    /// Secrets, or an unusual amount of PII, in an output.
    Exfiltration,
}

impl AnomalyKind {
    /// Every kind, in declaration order.
    pub const ALL: [AnomalyKind; 8] = [
        AnomalyKind::RateBurst,
        AnomalyKind::TokenSpike,
        AnomalyKind::OutputSize,
        AnomalyKind::BlockRate,
        AnomalyKind::DistinctClients,
        AnomalyKind::NewNetwork,
        AnomalyKind::AttackRun,
        AnomalyKind::Exfiltration,
    ];

    /// Stable snake_case label for metrics, audit records, alerts and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::RateBurst => "rate_burst",
            AnomalyKind::TokenSpike => "token_spike",
            AnomalyKind::OutputSize => "output_size",
            AnomalyKind::BlockRate => "block_rate",
            AnomalyKind::DistinctClients => "distinct_clients",
            AnomalyKind::NewNetwork => "new_network",
            AnomalyKind::AttackRun => "attack_run",
            AnomalyKind::Exfiltration => "exfiltration",
        }
    }

    /// Whether this kind stays silent until the key is warmed up.
    pub fn needs_warmup(self) -> bool {
        !matches!(self, AnomalyKind::AttackRun | AnomalyKind::Exfiltration)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`AnomalyKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAnomalyKind(pub String);

impl fmt::Display for UnknownAnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
        write!(f, "unknown anomaly kind {:?} (known: {})", self.0, known.join(", "))
    }
}

impl std::error::Error for UnknownAnomalyKind {}

impl FromStr for AnomalyKind {
    type Err = UnknownAnomalyKind;

    /// Parses the [`AnomalyKind::as_str`] label (ASCII case-insensitive, `-` accepted for `_`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        AnomalyKind::ALL.into_iter().find(|k| k.as_str() == wanted).ok_or_else(|| UnknownAnomalyKind(s.to_owned()))
    }
}

/// Alert severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// Stable lowercase label.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert. `observed` and `baseline` are in the unit the detail names (requests per
/// bucket, tokens, bytes, fraction, addresses, counts); `detail` carries counts and labels
/// only, never request or response content.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    pub key: String,
    pub kind: AnomalyKind,
    pub at_ms: i64,
    pub observed: f64,
    pub baseline: f64,
    pub severity: Severity,
    pub detail: String,
}

/// Detector settings. `Config::default()` documents every default.
#[derive(Debug, Clone)]
pub struct Config {
    /// Maximum tracked keys (default 10 000). When full, the least recently seen sixteenth
    /// is evicted at once, so eviction costs O(1) amortized per new key.
    pub max_keys: usize,
    /// Same kind, same key alerts at most once per cooldown (default 10 min), unless the
    /// new alert has a higher severity than the last one.
    pub cooldown_ms: i64,
    /// Blocked attacks within `attack_window_ms` that make a run (default 5).
    pub attack_run: usize,
    /// Window for attack runs (default 60 s).
    pub attack_window_ms: i64,

    /// Observations a key needs before baseline detectors may alert (default 50).
    pub warmup_requests: u64,
    /// History (since the key's first observation) a key needs before baseline detectors
    /// may alert (default 10 min).
    pub warmup_ms: i64,
    /// Width of the fixed buckets that rate, block rate and distinct clients are counted in
    /// (default 10 s).
    pub bucket_ms: i64,
    /// EWMA weight of one closed bucket (default 0.1).
    pub bucket_alpha: f64,
    /// EWMA weight of one request for per-request baselines (default 0.05).
    pub value_alpha: f64,
    /// Idle buckets decayed into the bucket baselines at most (default 360 = 1 h at 10 s);
    /// the decay is computed in closed form, so a long gap costs O(1).
    pub max_idle_buckets: u32,

    /// Requests in the current bucket never alert below this (default 20).
    pub rate_floor: f64,
    /// Requests in the current bucket must exceed this multiple of the baseline (default 5).
    pub rate_factor: f64,
    /// ... and the baseline plus this many mean absolute deviations (default 6).
    pub rate_dev_k: f64,

    /// Tokens per request never alert below this (default 1 000).
    pub tokens_floor: f64,
    /// Output bytes per response never alert below this (default 16 KiB).
    pub output_bytes_floor: f64,
    /// Per-request values must exceed this multiple of the baseline (default 4).
    pub value_factor: f64,
    /// ... and the baseline plus this many mean absolute deviations (default 6).
    pub value_dev_k: f64,

    /// Blocked requests in the current bucket needed before block rate may alert (default 10).
    pub block_min_count: u32,
    /// Blocked fraction of the current bucket never alerts below this (default 0.5).
    pub block_fraction_floor: f64,
    /// Blocked fraction must exceed this multiple of the baseline fraction (default 3).
    pub block_factor: f64,

    /// Distinct client addresses counted per bucket at most (default 256).
    pub distinct_cap: usize,
    /// Distinct addresses in the current bucket never alert below this (default 20).
    pub distinct_floor: f64,
    /// Distinct addresses must exceed this multiple of the baseline (default 3).
    pub distinct_factor: f64,
    /// ... and the baseline plus this many mean absolute deviations (default 6).
    pub distinct_dev_k: f64,

    /// Client networks remembered per key, least recently seen forgotten (default 64).
    pub max_networks: usize,

    /// PII findings in one output that always alert, warm-up or not (default 5; 0 disables).
    pub pii_absolute: u32,
    /// After warm-up, PII findings in one output at or above this alert when far above the
    /// key's baseline (`value_factor`, `value_dev_k`) (default 3; 0 disables).
    pub pii_relative_floor: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_keys: 10_000,
            cooldown_ms: 600_000,
            attack_run: 5,
            attack_window_ms: 60_000,
            warmup_requests: 50,
            warmup_ms: 600_000,
            bucket_ms: 10_000,
            bucket_alpha: 0.1,
            value_alpha: 0.05,
            max_idle_buckets: 360,
            rate_floor: 20.0,
            rate_factor: 5.0,
            rate_dev_k: 6.0,
            tokens_floor: 1_000.0,
            output_bytes_floor: 16_384.0,
            value_factor: 4.0,
            value_dev_k: 6.0,
            block_min_count: 10,
            block_fraction_floor: 0.5,
            block_factor: 3.0,
            distinct_cap: 256,
            distinct_floor: 20.0,
            distinct_factor: 3.0,
            distinct_dev_k: 6.0,
            max_networks: 64,
            pii_absolute: 5,
            pii_relative_floor: 3,
        }
    }
}

/// Most attack timestamps kept per key (the run only needs `attack_run` of them).
const MAX_ATTACKS_KEPT: usize = 1_024;

/// EWMA of a mean and of the mean absolute deviation from it.
#[derive(Debug, Clone, Copy, Default)]
struct Ewma {
    mean: f64,
    dev: f64,
    samples: u64,
}

impl Ewma {
    fn update(&mut self, x: f64, alpha: f64) {
        if self.samples == 0 {
            self.mean = x;
            self.dev = 0.0;
        } else {
            self.dev += alpha * ((x - self.mean).abs() - self.dev);
            self.mean += alpha * (x - self.mean);
        }
        self.samples = self.samples.saturating_add(1);
    }

    /// Feeds `n` zeros in closed form: with `b = 1 - alpha`, the mean becomes `b^n * m`
    /// and the deviation `b^n * d + n * alpha * b^(n-1) * m`.
    fn decay_zeros(&mut self, n: u32, alpha: f64) {
        if n == 0 || self.samples == 0 {
            return;
        }
        let keep = 1.0 - alpha;
        let n_i = i32::try_from(n).unwrap_or(i32::MAX);
        let keep_n = keep.powi(n_i);
        let keep_n1 = keep.powi(n_i - 1);
        self.dev = keep_n * self.dev + f64::from(n) * alpha * keep_n1 * self.mean;
        self.mean *= keep_n;
        self.samples = self.samples.saturating_add(u64::from(n));
    }

    /// The level a value must exceed to be anomalous.
    fn threshold(&self, floor: f64, factor: f64, dev_k: f64) -> f64 {
        floor.max(self.mean * factor).max(self.mean + dev_k * self.dev)
    }
}

/// A client network: IPv4 /24 or IPv6 /48, IPv4-mapped IPv6 treated as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Network {
    V4(u32),
    V6(u128),
}

impl Network {
    fn of(ip: IpAddr) -> Network {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Network::V4(u32::from(v4) & 0xFFFF_FF00),
            IpAddr::V6(v6) => Network::V6(u128::from(v6) & !((1u128 << 80) - 1)),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Network::V4(bits) => write!(f, "{}/24", std::net::Ipv4Addr::from(bits)),
            Network::V6(bits) => write!(f, "{}/48", std::net::Ipv6Addr::from(bits)),
        }
    }
}

/// Counters of the bucket being filled.
#[derive(Debug, Default)]
struct Bucket {
    index: Option<i64>,
    requests: u64,
    blocked: u64,
    clients: HashSet<IpAddr>,
}

#[derive(Debug, Default)]
struct KeyState {
    first_seen: i64,
    last_seen: i64,
    requests: u64,
    bucket: Bucket,
    /// Requests per bucket, idle buckets included.
    rate: Ewma,
    /// Requests per non-empty bucket: keeps a key that was idle from looking "new".
    active_rate: Ewma,
    /// Blocked fraction per non-empty bucket.
    block_fraction: Ewma,
    /// Distinct client addresses per bucket, idle buckets included.
    clients: Ewma,
    /// Distinct client addresses per non-empty bucket.
    active_clients: Ewma,
    tokens: Ewma,
    output_bytes: Ewma,
    pii: Ewma,
    /// Known networks with when each was last seen; bounded by `max_networks`.
    networks: Vec<(Network, i64)>,
    attacks: VecDeque<i64>,
    last_alert: [Option<(i64, Severity)>; AnomalyKind::ALL.len()],
}

impl KeyState {
    fn new(at_ms: i64) -> Self {
        KeyState { first_seen: at_ms, last_seen: at_ms, ..KeyState::default() }
    }

    fn warmed_up(&self, cfg: &Config, at_ms: i64) -> bool {
        self.requests >= cfg.warmup_requests && at_ms.saturating_sub(self.first_seen) >= cfg.warmup_ms
    }

    /// Closes the current bucket (and any idle ones) when `at_ms` falls in a later bucket.
    /// Observations arriving out of order count in the current bucket.
    fn roll_bucket(&mut self, cfg: &Config, at_ms: i64) {
        let index = at_ms.div_euclid(cfg.bucket_ms.max(1));
        let Some(current) = self.bucket.index else {
            self.bucket.index = Some(index);
            return;
        };
        if index <= current {
            return;
        }
        let alpha = cfg.bucket_alpha;
        let requests = self.bucket.requests as f64;
        let distinct = self.bucket.clients.len() as f64;
        self.rate.update(requests, alpha);
        self.clients.update(distinct, alpha);
        if self.bucket.requests > 0 {
            self.active_rate.update(requests, alpha);
            self.active_clients.update(distinct, alpha);
            self.block_fraction.update(self.bucket.blocked as f64 / requests, alpha);
        }
        let idle = index.saturating_sub(current).saturating_sub(1);
        let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(cfg.max_idle_buckets);
        self.rate.decay_zeros(idle, alpha);
        self.clients.decay_zeros(idle, alpha);
        self.bucket.index = Some(index);
        self.bucket.requests = 0;
        self.bucket.blocked = 0;
        self.bucket.clients.clear();
        if self.bucket.clients.capacity() > 64 {
            self.bucket.clients.shrink_to(16);
        }
    }

    /// Marks `network` as seen; returns whether it was known before.
    fn learn_network(&mut self, cfg: &Config, network: Network, at_ms: i64) -> bool {
        if let Some(entry) = self.networks.iter_mut().find(|(n, _)| *n == network) {
            entry.1 = entry.1.max(at_ms);
            return true;
        }
        let cap = cfg.max_networks.max(1);
        if self.networks.len() >= cap {
            if let Some(oldest) = self.networks.iter().enumerate().min_by_key(|(_, (_, seen))| *seen).map(|(i, _)| i) {
                self.networks.swap_remove(oldest);
            }
        }
        self.networks.push((network, at_ms));
        false
    }
}

/// Per-key detector state. Wrap in a Mutex or shard by key hash.
#[derive(Debug)]
pub struct Detector {
    config: Config,
    keys: HashMap<String, KeyState>,
}

impl Detector {
    pub fn new(config: Config) -> Self {
        Detector { config, keys: HashMap::new() }
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of keys currently tracked.
    pub fn tracked_keys(&self) -> usize {
        self.keys.len()
    }

    /// Forgets a key (for example when it is deleted or suspended).
    pub fn forget(&mut self, key: &str) {
        self.keys.remove(key);
    }

    /// Feed one observation; returns the anomalies it triggers.
    pub fn observe(&mut self, obs: &Observation) -> Vec<Anomaly> {
        if !self.keys.contains_key(&obs.key) {
            self.make_room();
            self.keys.insert(obs.key.clone(), KeyState::new(obs.at_ms));
        }
        let cfg = &self.config;
        let Some(st) = self.keys.get_mut(&obs.key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let at = obs.at_ms;
        st.last_seen = st.last_seen.max(at);
        st.roll_bucket(cfg, at);
        st.requests = st.requests.saturating_add(1);
        st.bucket.requests = st.bucket.requests.saturating_add(1);
        if obs.blocked {
            st.bucket.blocked = st.bucket.blocked.saturating_add(1);
        }
        if st.bucket.clients.len() < cfg.distinct_cap.max(1) {
            st.bucket.clients.insert(obs.client_ip);
        }
        let warmed = st.warmed_up(cfg, at);
        let mut alerts = Alerts { out: &mut out, cfg, obs };

        if warmed {
            check_rate(&mut alerts, st);
            check_distinct_clients(&mut alerts, st);
            check_block_rate(&mut alerts, st);
        }
        let tokens = obs.prompt_tokens.saturating_add(obs.completion_tokens) as f64;
        check_value(&mut alerts, st, ValueKind::Tokens, tokens, warmed);
        check_value(&mut alerts, st, ValueKind::OutputBytes, obs.output_bytes as f64, warmed);
        let network = Network::of(obs.client_ip);
        let known_networks = st.networks.len();
        if !st.learn_network(cfg, network, at) && warmed {
            let detail = move || format!("client network {network} not seen before; known networks: {known_networks}");
            alerts.push(st, AnomalyKind::NewNetwork, Severity::Info, 1.0, known_networks as f64, detail);
        }
        check_attack_run(&mut alerts, st);
        check_exfiltration(&mut alerts, st, warmed);
        out
    }

    /// Makes room for one more key: when at the cap, evicts the least recently seen
    /// sixteenth of the keys (at least one), found by a linear selection.
    fn make_room(&mut self) {
        let cap = self.config.max_keys.max(1);
        if self.keys.len() < cap {
            return;
        }
        let excess = self.keys.len() + 1 - cap;
        let evict = excess.max(cap / 16).clamp(1, self.keys.len());
        let mut by_age: Vec<(i64, &String)> = self.keys.iter().map(|(k, s)| (s.last_seen, k)).collect();
        if evict < by_age.len() {
            by_age.select_nth_unstable_by_key(evict - 1, |(seen, _)| *seen);
        }
        let victims: Vec<String> = by_age.into_iter().take(evict).map(|(_, k)| k.clone()).collect();
        for key in victims {
            self.keys.remove(&key);
        }
    }
}

/// Collects the anomalies of one observation, applying the per-(key, kind) cooldown.
struct Alerts<'a> {
    out: &'a mut Vec<Anomaly>,
    cfg: &'a Config,
    obs: &'a Observation,
}

impl Alerts<'_> {
    fn push(
        &mut self,
        st: &mut KeyState,
        kind: AnomalyKind,
        severity: Severity,
        observed: f64,
        baseline: f64,
        detail: impl FnOnce() -> String,
    ) {
        let at = self.obs.at_ms;
        let slot = &mut st.last_alert[kind.index()];
        if let Some((last_at, last_severity)) = *slot {
            let cooling = at.saturating_sub(last_at) < self.cfg.cooldown_ms;
            if cooling && severity <= last_severity {
                return;
            }
        }
        *slot = Some((at, severity));
        let detail = detail();
        self.out.push(Anomaly { key: self.obs.key.clone(), kind, at_ms: at, observed, baseline, severity, detail });
    }
}

fn check_rate(alerts: &mut Alerts<'_>, st: &mut KeyState) {
    let cfg = alerts.cfg;
    let baseline = st.rate.mean.max(st.active_rate.mean);
    let dev = st.rate.dev.max(st.active_rate.dev);
    let base = Ewma { mean: baseline, dev, samples: 1 };
    let threshold = base.threshold(cfg.rate_floor, cfg.rate_factor, cfg.rate_dev_k);
    let observed = st.bucket.requests as f64;
    if observed > threshold {
        let detail = move || {
            format!(
                "requests in current {} ms bucket: {observed}; baseline {baseline:.1} per bucket; threshold {threshold:.1}",
                cfg.bucket_ms
            )
        };
        alerts.push(st, AnomalyKind::RateBurst, Severity::Warning, observed, baseline, detail);
    }
}

fn check_distinct_clients(alerts: &mut Alerts<'_>, st: &mut KeyState) {
    let cfg = alerts.cfg;
    let baseline = st.clients.mean.max(st.active_clients.mean);
    let dev = st.clients.dev.max(st.active_clients.dev);
    let base = Ewma { mean: baseline, dev, samples: 1 };
    let threshold = base.threshold(cfg.distinct_floor, cfg.distinct_factor, cfg.distinct_dev_k);
    let observed = st.bucket.clients.len() as f64;
    if observed > threshold {
        let detail = move || {
            format!(
                "distinct client addresses in current {} ms bucket: {observed}; baseline {baseline:.1}; threshold {threshold:.1}",
                cfg.bucket_ms
            )
        };
        alerts.push(st, AnomalyKind::DistinctClients, Severity::Warning, observed, baseline, detail);
    }
}

fn check_block_rate(alerts: &mut Alerts<'_>, st: &mut KeyState) {
    let cfg = alerts.cfg;
    let blocked = st.bucket.blocked;
    if blocked < u64::from(cfg.block_min_count.max(1)) || st.bucket.requests == 0 {
        return;
    }
    let requests = st.bucket.requests;
    let fraction = blocked as f64 / requests as f64;
    let baseline = st.block_fraction.mean;
    let threshold = cfg.block_fraction_floor.max(baseline * cfg.block_factor);
    if fraction > threshold {
        let detail = move || {
            format!(
                "blocked {blocked} of {requests} requests in current {} ms bucket; baseline fraction {baseline:.3}",
                cfg.bucket_ms
            )
        };
        alerts.push(st, AnomalyKind::BlockRate, Severity::Warning, fraction, baseline, detail);
    }
}

#[derive(Clone, Copy)]
enum ValueKind {
    Tokens,
    OutputBytes,
}

/// Per-request spikes. The baseline is updated after the check; once warmed up, the
/// update is clipped to the threshold so one spike does not drag the baseline up.
fn check_value(alerts: &mut Alerts<'_>, st: &mut KeyState, which: ValueKind, x: f64, warmed: bool) {
    let cfg = alerts.cfg;
    let (ewma, floor, kind, unit) = match which {
        ValueKind::Tokens => (&st.tokens, cfg.tokens_floor, AnomalyKind::TokenSpike, "tokens in request"),
        ValueKind::OutputBytes => (&st.output_bytes, cfg.output_bytes_floor, AnomalyKind::OutputSize, "output bytes"),
    };
    let baseline = ewma.mean;
    let threshold = ewma.threshold(floor, cfg.value_factor, cfg.value_dev_k);
    let learned = if warmed { x.min(threshold) } else { x };
    match which {
        ValueKind::Tokens => st.tokens.update(learned, cfg.value_alpha),
        ValueKind::OutputBytes => st.output_bytes.update(learned, cfg.value_alpha),
    }
    if warmed && x > threshold {
        let detail = move || format!("{unit}: {x}; baseline {baseline:.1}; threshold {threshold:.1}");
        alerts.push(st, kind, Severity::Warning, x, baseline, detail);
    }
}

fn check_attack_run(alerts: &mut Alerts<'_>, st: &mut KeyState) {
    let cfg = alerts.cfg;
    let at = alerts.obs.at_ms;
    if alerts.obs.blocked && alerts.obs.attack {
        st.attacks.push_back(at);
        while st.attacks.len() > MAX_ATTACKS_KEPT.max(cfg.attack_run) {
            st.attacks.pop_front();
        }
    }
    while st.attacks.front().is_some_and(|&t| at.saturating_sub(t) > cfg.attack_window_ms) {
        st.attacks.pop_front();
    }
    if cfg.attack_run > 0 && st.attacks.len() >= cfg.attack_run {
        let n = st.attacks.len() as f64;
        let detail = move || format!("blocked attacks in the last {} ms: {n}", cfg.attack_window_ms);
        alerts.push(st, AnomalyKind::AttackRun, Severity::Warning, n, 0.0, detail);
    }
}

fn check_exfiltration(alerts: &mut Alerts<'_>, st: &mut KeyState, warmed: bool) {
    let cfg = alerts.cfg;
    let secrets = alerts.obs.output_secrets;
    let pii = alerts.obs.output_pii;
    let pii_f = f64::from(pii);
    let baseline = st.pii.mean;
    let threshold = st.pii.threshold(f64::from(cfg.pii_relative_floor), cfg.value_factor, cfg.value_dev_k);
    let learned = if warmed { pii_f.min(threshold) } else { pii_f };
    st.pii.update(learned, cfg.value_alpha);
    if secrets > 0 {
        let detail = move || format!("secrets in output: {secrets}; PII findings: {pii}");
        alerts.push(st, AnomalyKind::Exfiltration, Severity::Critical, f64::from(secrets), 0.0, detail);
        return;
    }
    let absolute = cfg.pii_absolute > 0 && pii >= cfg.pii_absolute;
    let relative = warmed && cfg.pii_relative_floor > 0 && pii >= cfg.pii_relative_floor && pii_f > threshold;
    if absolute || relative {
        let detail = move || format!("PII findings in output: {pii}; baseline {baseline:.2} per response");
        alerts.push(st, AnomalyKind::Exfiltration, Severity::Warning, pii_f, baseline, detail);
    }
}

#[cfg(test)]
mod tests;
