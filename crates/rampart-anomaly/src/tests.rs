//! Detector tests over deterministic simulated traffic: a seeded xorshift generator
//! drives steady traffic (jittered rate, tokens, output sizes, occasional blocks, three
//! client networks) that must raise nothing, and each anomaly scenario is layered on top.

use super::*;

/// xorshift64* with a fixed seed: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi].
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

const START_MS: i64 = 1_760_000_000_000;
const MINUTE: i64 = 60_000;

const NETWORKS: [[u8; 3]; 3] = [[198, 51, 100], [203, 0, 113], [192, 0, 2]];

fn base_obs(key: &str, at_ms: i64) -> Observation {
    Observation {
        key: key.to_string(),
        at_ms,
        client_ip: IpAddr::from([198, 51, 100, 1]),
        prompt_tokens: 300,
        completion_tokens: 200,
        output_bytes: 800,
        blocked: false,
        attack: false,
        output_pii: 0,
        output_secrets: 0,
    }
}

/// Steady traffic: Poisson arrivals at a rate that wanders between 1 and 3 req/s (a new
/// level every 1–5 minutes), jittered tokens and output sizes, 1% blocked (a tenth of
/// those attacks), 2% of outputs with one PII finding, clients from 12 addresses in 3
/// networks.
struct Steady {
    rng: Rng,
    key: String,
    t_ms: f64,
    rate: f64,
    next_rate_change_ms: f64,
}

impl Steady {
    fn new(seed: u64, key: &str, start_ms: i64) -> Self {
        let mut rng = Rng::new(seed);
        let rate = 1.0 + 2.0 * rng.unit();
        Steady { rng, key: key.to_string(), t_ms: start_ms as f64, rate, next_rate_change_ms: start_ms as f64 }
    }

    fn next(&mut self) -> Observation {
        if self.t_ms >= self.next_rate_change_ms {
            self.rate = 1.0 + 2.0 * self.rng.unit();
            self.next_rate_change_ms = self.t_ms + self.rng.range(60_000, 300_000) as f64;
        }
        let gap_s = -(1.0 - self.rng.unit()).ln() / self.rate;
        self.t_ms += gap_s * 1_000.0;
        let net = NETWORKS[self.rng.range(0, 2) as usize];
        let host = self.rng.range(1, 4) as u8;
        let long_answer = self.rng.chance(0.01);
        let completion = if long_answer { self.rng.range(700, 1_500) } else { self.rng.range(20, 700) };
        let blocked = self.rng.chance(0.01);
        let attack = blocked && self.rng.chance(0.1);
        Observation {
            key: self.key.clone(),
            at_ms: self.t_ms as i64,
            client_ip: IpAddr::from([net[0], net[1], net[2], host]),
            prompt_tokens: self.rng.range(50, 800),
            completion_tokens: if blocked { 0 } else { completion },
            output_bytes: if blocked { 120 } else { completion * 4 + self.rng.range(0, 400) },
            blocked,
            attack,
            output_pii: u32::from(self.rng.chance(0.02)),
            output_secrets: 0,
        }
    }

    /// Feeds steady traffic until `until_ms`; returns every anomaly raised.
    fn run_until(&mut self, d: &mut Detector, until_ms: i64) -> Vec<Anomaly> {
        let mut out = Vec::new();
        loop {
            let o = self.next();
            if o.at_ms >= until_ms {
                // Rewind so the next call starts from here.
                self.t_ms = until_ms as f64;
                return out;
            }
            out.extend(d.observe(&o));
        }
    }
}

/// A detector that has seen 20 minutes of steady traffic for `key` (no anomalies).
fn warmed(seed: u64, key: &str) -> (Detector, Steady, i64) {
    let mut d = Detector::new(Config::default());
    let mut steady = Steady::new(seed, key, START_MS);
    let now = START_MS + 20 * MINUTE;
    let raised = steady.run_until(&mut d, now);
    assert!(raised.is_empty(), "warm-up traffic raised {raised:?}");
    (d, steady, now)
}

fn kinds(anomalies: &[Anomaly]) -> Vec<AnomalyKind> {
    let mut k: Vec<AnomalyKind> = anomalies.iter().map(|a| a.kind).collect();
    k.sort();
    k.dedup();
    k
}

#[test]
fn steady_traffic_two_hours_raises_nothing() {
    let mut d = Detector::new(Config::default());
    let mut steady = Steady::new(7, "k", START_MS);
    let raised = steady.run_until(&mut d, START_MS + 120 * MINUTE);
    assert!(raised.is_empty(), "{raised:?}");
}

#[test]
fn steady_traffic_many_seeds_no_false_positives() {
    for seed in 1..=20 {
        let mut d = Detector::new(Config::default());
        let mut steady = Steady::new(seed, "k", START_MS);
        let raised = steady.run_until(&mut d, START_MS + 120 * MINUTE);
        assert!(raised.is_empty(), "seed {seed}: {raised:?}");
    }
}

#[test]
fn steady_traffic_after_long_idle_raises_nothing() {
    let mut d = Detector::new(Config::default());
    let mut steady = Steady::new(3, "k", START_MS);
    assert!(steady.run_until(&mut d, START_MS + 30 * MINUTE).is_empty());
    let resume = START_MS + 30 * MINUTE + 6 * 60 * MINUTE;
    steady.t_ms = resume as f64;
    let raised = steady.run_until(&mut d, resume + 30 * MINUTE);
    assert!(raised.is_empty(), "{raised:?}");
}

#[test]
fn sudden_20x_burst_alerts_within_first_bucket() {
    let (mut d, mut steady, now) = warmed(11, "k");
    // 20x the top of the steady range (3 req/s): 60 req/s for 30 s.
    let mut raised = Vec::new();
    for i in 0..1_800 {
        let mut o = steady.next();
        o.at_ms = now + i * 1_000 / 60;
        raised.extend(d.observe(&o));
    }
    let bursts: Vec<&Anomaly> = raised.iter().filter(|a| a.kind == AnomalyKind::RateBurst).collect();
    assert_eq!(bursts.len(), 1, "{raised:?}");
    assert!(bursts[0].at_ms - now < 10_000, "alerted {} ms into the burst", bursts[0].at_ms - now);
    assert!(bursts[0].observed > bursts[0].baseline * 5.0);
    assert_eq!(kinds(&raised), vec![AnomalyKind::RateBurst], "{raised:?}");
}

#[test]
fn new_client_network_after_warmup_alerts_once() {
    let (mut d, mut steady, now) = warmed(12, "k");
    let mut o = steady.next();
    o.at_ms = now;
    o.client_ip = IpAddr::from([100, 64, 5, 7]);
    let raised = d.observe(&o);
    assert_eq!(kinds(&raised), vec![AnomalyKind::NewNetwork], "{raised:?}");
    assert_eq!(raised[0].severity, Severity::Info);
    assert!(raised[0].detail.contains("100.64.5.0/24"), "{}", raised[0].detail);
    // Learned: a neighbour in the same /24 is not new; the steady networks are still known.
    o.at_ms = now + 1;
    o.client_ip = IpAddr::from([100, 64, 5, 200]);
    assert!(d.observe(&o).is_empty());
    assert!(steady.run_until(&mut d, now + 30 * MINUTE).is_empty());
}

#[test]
fn new_ipv6_network_uses_48_bit_prefix() {
    let (mut d, mut steady, now) = warmed(13, "k");
    let mut o = steady.next();
    o.at_ms = now;
    o.client_ip = "2001:db8:1:2::1".parse().unwrap_or(o.client_ip);
    let raised = d.observe(&o);
    assert_eq!(kinds(&raised), vec![AnomalyKind::NewNetwork], "{raised:?}");
    assert!(raised[0].detail.contains("2001:db8:1::/48"), "{}", raised[0].detail);
    o.client_ip = "2001:db8:1:ffff::9".parse().unwrap_or(o.client_ip);
    o.at_ms = now + 1;
    assert!(d.observe(&o).is_empty(), "same /48");
}

#[test]
fn run_of_injection_attempts_alerts() {
    let (mut d, mut steady, now) = warmed(14, "k");
    let mut raised = Vec::new();
    for i in 0..6 {
        let mut o = steady.next();
        o.at_ms = now + i * 1_000;
        o.blocked = true;
        o.attack = true;
        raised.extend(d.observe(&o));
    }
    assert_eq!(kinds(&raised), vec![AnomalyKind::AttackRun], "{raised:?}");
    assert_eq!(raised[0].observed, 5.0);
}

#[test]
fn outputs_full_of_card_numbers_alert() {
    let (mut d, mut steady, now) = warmed(15, "k");
    let mut o = steady.next();
    o.at_ms = now;
    o.output_pii = 12;
    let raised = d.observe(&o);
    assert_eq!(kinds(&raised), vec![AnomalyKind::Exfiltration], "{raised:?}");
    assert_eq!(raised[0].observed, 12.0);
    assert!(raised[0].baseline < 0.5);
}

#[test]
fn pii_well_above_baseline_alerts_below_absolute_threshold() {
    let (mut d, mut steady, now) = warmed(16, "k");
    let mut o = steady.next();
    o.at_ms = now;
    o.output_pii = 4;
    assert_eq!(kinds(&d.observe(&o)), vec![AnomalyKind::Exfiltration]);
}

#[test]
fn pii_and_secrets_alert_without_warmup() {
    let mut d = Detector::new(Config::default());
    let mut o = base_obs("fresh", START_MS);
    o.output_pii = 8;
    let raised = d.observe(&o);
    assert_eq!(kinds(&raised), vec![AnomalyKind::Exfiltration]);
    assert_eq!(raised[0].severity, Severity::Warning);
    // A secret escalates severity, so the cooldown does not hide it.
    o.at_ms += 1;
    o.output_secrets = 1;
    let raised = d.observe(&o);
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].severity, Severity::Critical);
    o.at_ms += 1;
    assert!(d.observe(&o).is_empty(), "cooldown");
}

#[test]
fn token_spike_alerts() {
    let (mut d, mut steady, now) = warmed(17, "k");
    let mut o = steady.next();
    o.at_ms = now;
    o.prompt_tokens = 30_000;
    let raised = d.observe(&o);
    assert_eq!(kinds(&raised), vec![AnomalyKind::TokenSpike], "{raised:?}");
    assert_eq!(raised[0].observed, o.prompt_tokens as f64 + o.completion_tokens as f64);
    assert!(raised[0].baseline > 100.0 && raised[0].baseline < 2_000.0, "{}", raised[0].baseline);
}

#[test]
fn output_size_spike_alerts() {
    let (mut d, mut steady, now) = warmed(18, "k");
    let mut o = steady.next();
    o.at_ms = now;
    o.output_bytes = 500_000;
    let raised = d.observe(&o);
    assert_eq!(kinds(&raised), vec![AnomalyKind::OutputSize], "{raised:?}");
}

#[test]
fn block_rate_rise_alerts() {
    let (mut d, mut steady, now) = warmed(19, "k");
    let mut raised = Vec::new();
    // Policy blocks (not attacks): 15 of 18 requests within one bucket.
    let bucket_start = (now / 10_000 + 1) * 10_000;
    for i in 0..18 {
        let mut o = steady.next();
        o.at_ms = bucket_start + i * 500;
        o.blocked = i % 6 != 0;
        o.attack = false;
        raised.extend(d.observe(&o));
    }
    assert_eq!(kinds(&raised), vec![AnomalyKind::BlockRate], "{raised:?}");
    assert!(raised[0].observed > 0.5);
}

#[test]
fn many_distinct_clients_alert() {
    let (mut d, mut steady, now) = warmed(20, "k");
    let mut raised = Vec::new();
    let bucket_start = (now / 10_000 + 1) * 10_000;
    // 60 requests in one bucket (below the rate alert) from 60 addresses of the known networks.
    for i in 0..60u8 {
        let mut o = steady.next();
        o.at_ms = bucket_start + i64::from(i) * 150;
        o.client_ip = IpAddr::from([203, 0, 113, 10 + i]);
        raised.extend(d.observe(&o));
    }
    assert_eq!(kinds(&raised), vec![AnomalyKind::DistinctClients], "{raised:?}");
}

#[test]
fn baseline_kinds_silent_until_enough_history() {
    // Plenty of requests, but only 2 minutes of history.
    let mut d = Detector::new(Config::default());
    let mut raised = Vec::new();
    for i in 0..2_400 {
        let mut o = base_obs("k", START_MS + i * 50);
        o.client_ip = IpAddr::from([10, (i % 200) as u8, 0, (i % 250) as u8]);
        o.prompt_tokens = if i > 1_000 { 50_000 } else { 100 };
        o.output_bytes = if i > 1_000 { 1_000_000 } else { 100 };
        o.blocked = i > 2_000;
        raised.extend(d.observe(&o));
    }
    assert!(raised.iter().all(|a| !a.kind.needs_warmup()), "{raised:?}");
}

#[test]
fn baseline_kinds_silent_until_enough_requests() {
    // Half an hour of history, but only 30 requests.
    let mut d = Detector::new(Config::default());
    let mut raised = Vec::new();
    for i in 0..30 {
        let mut o = base_obs("k", START_MS + i * MINUTE);
        o.client_ip = IpAddr::from([10, i as u8, 0, 1]);
        o.prompt_tokens = if i > 20 { 50_000 } else { 100 };
        raised.extend(d.observe(&o));
    }
    assert!(raised.is_empty(), "{raised:?}");
}

#[test]
fn attack_run_alerts_once() {
    let mut d = Detector::new(Config::default());
    let mut n = 0;
    for i in 0..6 {
        let mut o = base_obs("k", i * 5_000);
        o.blocked = true;
        o.attack = true;
        n += d.observe(&o).iter().filter(|a| a.kind == AnomalyKind::AttackRun).count();
    }
    assert_eq!(n, 1);
}

#[test]
fn spread_out_attacks_do_not_alert() {
    let mut d = Detector::new(Config::default());
    for i in 0..10 {
        let mut o = base_obs("k", i * 30_000);
        o.blocked = true;
        o.attack = true;
        assert!(d.observe(&o).is_empty());
    }
}

#[test]
fn secret_in_output_alerts() {
    let mut d = Detector::new(Config::default());
    let mut o = base_obs("k", 0);
    o.output_secrets = 1;
    let a = d.observe(&o);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].kind, AnomalyKind::Exfiltration);
    assert_eq!(a[0].severity, Severity::Critical);
    assert!(d.observe(&o).is_empty(), "cooldown");
}

#[test]
fn cooldown_holds_per_key_and_kind() {
    let mut d = Detector::new(Config::default());
    let count = |d: &mut Detector, key: &str, from: i64, to: i64| {
        let mut n = 0;
        let mut t = from;
        while t < to {
            let mut o = base_obs(key, t);
            o.blocked = true;
            o.attack = true;
            n += d.observe(&o).iter().filter(|a| a.kind == AnomalyKind::AttackRun).count();
            t += 2_000;
        }
        n
    };
    // A continuous run for 5 minutes alerts once; another key is independent.
    assert_eq!(count(&mut d, "a", 0, 5 * MINUTE), 1);
    assert_eq!(count(&mut d, "b", 0, 5 * MINUTE), 1);
    // Still within the cooldown.
    assert_eq!(count(&mut d, "a", 5 * MINUTE, 9 * MINUTE), 0);
    // After the cooldown, a continuing run alerts again.
    assert_eq!(count(&mut d, "a", 9 * MINUTE, 12 * MINUTE), 1);
}

#[test]
fn key_cap_holds() {
    let cap = 100;
    let mut d = Detector::new(Config { max_keys: cap, ..Config::default() });
    for i in 0..2_000 {
        d.observe(&base_obs(&format!("k{i}"), i));
        assert!(d.tracked_keys() <= cap);
    }
    assert!(d.tracked_keys() > cap - cap / 16 - 1, "{}", d.tracked_keys());
    // The most recent key survives eviction with its state.
    let mut o = base_obs("k1999", 2_000);
    o.output_pii = 0;
    assert!(d.observe(&o).is_empty());
    assert!(d.tracked_keys() <= cap);
}

#[test]
fn key_cap_evicts_least_recently_seen() {
    let mut d = Detector::new(Config { max_keys: 32, ..Config::default() });
    // "hot" stays fresh; cold keys come and go.
    for i in 0..1_000 {
        d.observe(&base_obs("hot", i * 2));
        d.observe(&base_obs(&format!("cold{i}"), i * 2 + 1));
    }
    assert!(d.keys.contains_key("hot"));
    assert!(d.tracked_keys() <= 32);
}

#[test]
fn network_memory_is_bounded() {
    let mut d = Detector::new(Config { max_networks: 8, warmup_requests: 1, warmup_ms: 0, ..Config::default() });
    for i in 0..500u32 {
        let mut o = base_obs("k", i64::from(i) * 60_000);
        o.client_ip = IpAddr::from([10, (i / 256) as u8, (i % 256) as u8, 1]);
        d.observe(&o);
    }
    assert!(d.keys.get("k").is_some_and(|s| s.networks.len() == 8));
}

#[test]
fn kinds_round_trip_through_labels() {
    for kind in AnomalyKind::ALL {
        assert_eq!(kind.as_str().parse::<AnomalyKind>(), Ok(kind));
        assert_eq!(kind.to_string(), kind.as_str());
    }
    assert_eq!("Rate-Burst".parse::<AnomalyKind>(), Ok(AnomalyKind::RateBurst));
    assert!("nonsense".parse::<AnomalyKind>().is_err());
    assert!(!AnomalyKind::AttackRun.needs_warmup() && !AnomalyKind::Exfiltration.needs_warmup());
    assert!(AnomalyKind::NewNetwork.needs_warmup());
}

#[test]
fn hostile_inputs_do_not_panic() {
    let mut d = Detector::new(Config { bucket_ms: 0, max_keys: 0, attack_run: 0, ..Config::default() });
    let times = [i64::MIN, i64::MAX, 0, -1, i64::MIN + 1, i64::MAX - 1, 5, 3];
    for (i, &t) in times.iter().enumerate() {
        let mut o = base_obs("k", t);
        o.prompt_tokens = u64::MAX;
        o.completion_tokens = u64::MAX;
        o.output_bytes = u64::MAX;
        o.output_pii = u32::MAX;
        o.output_secrets = u32::MAX;
        o.blocked = i % 2 == 0;
        o.attack = true;
        o.client_ip = IpAddr::from([0u16, 0, 0, 0, 0, 0xffff, 0x0a00, i as u16]);
        d.observe(&o);
    }
    assert!(d.tracked_keys() <= 1);
}

#[test]
fn idle_decay_matches_stepwise_zeros() {
    let alpha = 0.1;
    let mut closed = Ewma::default();
    let mut stepwise = Ewma::default();
    for x in [10.0, 14.0, 9.0, 12.0] {
        closed.update(x, alpha);
        stepwise.update(x, alpha);
    }
    closed.decay_zeros(17, alpha);
    for _ in 0..17 {
        stepwise.update(0.0, alpha);
    }
    assert!((closed.mean - stepwise.mean).abs() < 1e-9);
    assert!((closed.dev - stepwise.dev).abs() < 1e-9);
}

/// The acceptance scenarios end to end: simulated traffic through the detector,
/// every anomaly sent to a webhook, a test receiver recording what arrives. A steady key
/// over the same period must deliver nothing.
#[tokio::test]
async fn scenarios_alert_through_a_webhook_and_steady_traffic_does_not() {
    use crate::alert::tests::{receiver, settle};
    use crate::alert::{Alerter, AlerterConfig, WebhookConfig, WebhookFormat};

    let rx = receiver(vec![]).await;
    let alerter = Alerter::spawn(AlerterConfig {
        webhooks: vec![WebhookConfig::new(rx.url(), WebhookFormat::Json)],
        ..AlerterConfig::default()
    });
    let mut d = Detector::new(Config::default());
    let warm_until = START_MS + 20 * MINUTE;
    let end = warm_until + 5 * MINUTE;
    let scenarios = ["burst", "network", "injection", "cards", "steady"];
    let mut traffic: Vec<Steady> =
        scenarios.iter().enumerate().map(|(i, key)| Steady::new(100 + i as u64, key, START_MS)).collect();
    for steady in &mut traffic {
        for a in steady.run_until(&mut d, warm_until) {
            alerter.send(a);
        }
    }
    let mut sent = 0;
    for (steady, scenario) in traffic.iter_mut().zip(scenarios) {
        let mut extra = Vec::new();
        match scenario {
            "burst" => {
                for i in 0..600 {
                    let mut o = steady.next();
                    o.at_ms = warm_until + i * 1_000 / 60;
                    extra.push(o);
                }
            }
            "network" => {
                let mut o = steady.next();
                o.at_ms = warm_until + 1_000;
                o.client_ip = IpAddr::from([100, 64, 9, 9]);
                extra.push(o);
            }
            "injection" => {
                for i in 0..8 {
                    let mut o = steady.next();
                    o.at_ms = warm_until + i * 2_000;
                    o.blocked = true;
                    o.attack = true;
                    extra.push(o);
                }
            }
            "cards" => {
                for i in 0..3 {
                    let mut o = steady.next();
                    o.at_ms = warm_until + i * 3_000;
                    o.output_pii = 25;
                    extra.push(o);
                }
            }
            _ => {}
        }
        for o in &extra {
            for a in d.observe(o) {
                sent += 1;
                alerter.send(a);
            }
        }
        steady.t_ms = (warm_until + 10_000) as f64;
        for a in steady.run_until(&mut d, end) {
            sent += 1;
            alerter.send(a);
        }
    }
    let got = rx.wait_for(sent).await;
    let stats = settle(&alerter).await;
    assert_eq!((stats.sent, stats.failed, stats.dropped), (sent as u64, 0, 0));
    let mut seen: Vec<(String, String)> = got
        .iter()
        .map(|r| (r.body["key_id"].as_str().unwrap_or("").to_owned(), r.body["kind"].as_str().unwrap_or("").to_owned()))
        .collect();
    seen.sort();
    let expected: Vec<(String, String)> =
        [("burst", "rate_burst"), ("cards", "exfiltration"), ("injection", "attack_run"), ("network", "new_network")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(seen, expected);
}
