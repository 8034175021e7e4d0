//! Render output checked with a strict text-format (0.0.4) parser, and values checked
//! as calls are made.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rampart_metrics::{AuditGauges, CounterVec, GatewayMetrics, Histogram, HistogramVec, OTHER};

// ---------------------------------------------------------------------------------
// A strict parser for what we emit: every family has `# HELP` then `# TYPE` before its
// samples, no other comments, no blank lines, no timestamps, valid names, only the
// three escapes, no duplicate series, histogram buckets cumulative and consistent.
// ---------------------------------------------------------------------------------

#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

#[derive(Debug)]
struct Fam {
    name: String,
    help: String,
    kind: String,
    samples: Vec<Sample>,
}

fn metric_name_ok(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

fn label_name_ok(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn parse_value(s: &str) -> f64 {
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => {
            assert!(!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit() || b".eE+-".contains(&c)), "bad float {s:?}");
            s.parse().unwrap_or_else(|e| panic!("bad float {s:?}: {e}"))
        }
    }
}

/// Parses `name{labels} value` strictly.
fn parse_sample(line: &str) -> Sample {
    let end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value: {line:?}"));
    let name = &line[..end];
    assert!(metric_name_ok(name), "bad metric name {name:?}");
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        let mut consumed = None;
        if r.starts_with('}') {
            consumed = Some(1);
        }
        while consumed.is_none() {
            let start = chars.peek().map(|(i, _)| *i).unwrap();
            let eq = r[start..].find('=').map(|i| start + i).unwrap_or_else(|| panic!("no '=' in {line:?}"));
            let lname = &r[start..eq];
            assert!(label_name_ok(lname), "bad label name {lname:?} in {line:?}");
            while chars.peek().is_some_and(|(i, _)| *i <= eq) {
                chars.next();
            }
            assert_eq!(chars.next().map(|c| c.1), Some('"'), "label value not quoted in {line:?}");
            let mut v = String::new();
            loop {
                match chars.next().unwrap_or_else(|| panic!("unterminated value in {line:?}")).1 {
                    '\\' => match chars.next().unwrap().1 {
                        '\\' => v.push('\\'),
                        '"' => v.push('"'),
                        'n' => v.push('\n'),
                        c => panic!("bad escape \\{c} in {line:?}"),
                    },
                    '"' => break,
                    '\n' => panic!("raw newline in value"),
                    c => v.push(c),
                }
            }
            assert!(!labels.iter().any(|(n, _): &(String, String)| n == lname), "duplicate label {lname}");
            labels.push((lname.to_owned(), v));
            match chars.next() {
                Some((_, ',')) => {
                    assert!(chars.peek().is_some_and(|c| c.1 != '}'), "trailing comma in {line:?}");
                }
                Some((i, '}')) => consumed = Some(i + 1),
                other => panic!("expected ',' or '}}', got {other:?} in {line:?}"),
            }
        }
        rest = &r[consumed.unwrap()..];
    }
    let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("no space before value in {line:?}"));
    assert!(!value.contains(' '), "timestamps or junk after value in {line:?}");
    Sample { name: name.to_owned(), labels, value: parse_value(value) }
}

fn parse(text: &str) -> Vec<Fam> {
    assert!(text.is_empty() || text.ends_with('\n'), "body must end with a newline");
    let mut fams: Vec<Fam> = Vec::new();
    let mut names = HashSet::new();
    let mut pending_help: Option<(String, String)> = None;
    for line in text.lines() {
        assert!(!line.is_empty(), "blank line");
        if let Some(r) = line.strip_prefix("# HELP ") {
            assert!(pending_help.is_none(), "HELP without TYPE");
            let (name, help) = r.split_once(' ').unwrap_or((r, ""));
            assert!(metric_name_ok(name), "bad name {name:?}");
            assert!(names.insert(name.to_owned()), "family {name} twice");
            let mut it = help.chars();
            while let Some(c) = it.next() {
                if c == '\\' {
                    assert!(matches!(it.next(), Some('\\' | 'n')), "bad HELP escape");
                }
            }
            pending_help = Some((name.to_owned(), help.to_owned()));
        } else if let Some(r) = line.strip_prefix("# TYPE ") {
            let (name, kind) = r.split_once(' ').expect("TYPE kind");
            let (hname, help) = pending_help.take().expect("TYPE must follow HELP");
            assert_eq!(hname, name);
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "kind {kind}");
            fams.push(Fam { name: name.to_owned(), help, kind: kind.to_owned(), samples: Vec::new() });
        } else {
            assert!(!line.starts_with('#'), "unexpected comment {line:?}");
            assert!(pending_help.is_none(), "sample between HELP and TYPE");
            let s = parse_sample(line);
            let fam = fams.last_mut().expect("sample before any TYPE");
            let ok = match fam.kind.as_str() {
                "histogram" => {
                    [format!("{}_bucket", fam.name), format!("{}_sum", fam.name), format!("{}_count", fam.name)]
                        .contains(&s.name)
                }
                _ => s.name == fam.name,
            };
            assert!(ok, "sample {} in family {}", s.name, fam.name);
            if fam.kind == "counter" {
                assert!(s.value >= 0.0, "negative counter {line:?}");
            }
            fam.samples.push(s);
        }
    }
    assert!(pending_help.is_none(), "dangling HELP");
    for f in &fams {
        let mut seen = HashSet::new();
        for s in &f.samples {
            let mut l = s.labels.clone();
            l.sort();
            assert!(seen.insert((s.name.clone(), l)), "duplicate series {} {:?}", s.name, s.labels);
        }
        if f.kind == "histogram" {
            check_histogram(f);
        }
    }
    fams
}

fn check_histogram(f: &Fam) {
    type Key = Vec<(String, String)>;
    let mut buckets: BTreeMap<Key, Vec<(f64, f64)>> = BTreeMap::new();
    let mut sums: BTreeMap<Key, f64> = BTreeMap::new();
    let mut counts: BTreeMap<Key, f64> = BTreeMap::new();
    for s in &f.samples {
        let mut key: Key = s.labels.iter().filter(|(n, _)| n != "le").cloned().collect();
        key.sort();
        if s.name.ends_with("_bucket") {
            let le = s.labels.iter().find(|(n, _)| n == "le").expect("bucket without le");
            buckets.entry(key).or_default().push((parse_value(&le.1), s.value));
        } else if s.name.ends_with("_sum") {
            sums.insert(key, s.value);
        } else {
            assert!(!s.labels.iter().any(|(n, _)| n == "le"));
            counts.insert(key, s.value);
        }
    }
    assert_eq!(buckets.len(), counts.len(), "{}: bucket groups vs counts", f.name);
    assert_eq!(sums.len(), counts.len(), "{}: sums vs counts", f.name);
    for (key, b) in &buckets {
        for w in b.windows(2) {
            assert!(w[0].0 < w[1].0, "{}: le not increasing", f.name);
            assert!(w[0].1 <= w[1].1, "{}: buckets not cumulative", f.name);
        }
        let last = b.last().unwrap();
        assert_eq!(last.0, f64::INFINITY, "{}: last bucket must be +Inf", f.name);
        assert_eq!(Some(&last.1), counts.get(key), "{}: +Inf bucket != _count", f.name);
        assert!(sums[key] >= 0.0);
    }
}

fn fam<'a>(fams: &'a [Fam], name: &str) -> &'a Fam {
    fams.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no family {name}"))
}

/// The value of the sample `name` with exactly these labels.
fn value(fams: &[Fam], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut want: Vec<(String, String)> = labels.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    want.sort();
    fams.iter().flat_map(|f| &f.samples).find_map(|s| {
        let mut l = s.labels.clone();
        l.sort();
        (s.name == name && l == want).then_some(s.value)
    })
}

fn rendered(m: &GatewayMetrics) -> (String, Vec<Fam>) {
    let mut body = String::new();
    m.render(&mut body);
    let fams = parse(&body);
    (body, fams)
}

const FAMILIES: [(&str, &str); 16] = [
    ("rampart_requests_total", "counter"),
    ("rampart_request_duration_seconds", "histogram"),
    ("rampart_overhead_seconds", "histogram"),
    ("rampart_auth_failures_total", "counter"),
    ("rampart_detections_total", "counter"),
    ("rampart_tokens_total", "counter"),
    ("rampart_cost_usd_total", "counter"),
    ("rampart_upstream_errors_total", "counter"),
    ("rampart_anomalies_total", "counter"),
    ("rampart_audit_queue_depth", "gauge"),
    ("rampart_audit_lag_bytes", "gauge"),
    ("rampart_audit_spilled_total", "counter"),
    ("rampart_audit_dropped_total", "counter"),
    ("rampart_audit_store_errors_total", "counter"),
    ("rampart_audit_records_total", "counter"),
    ("rampart_metrics_series_overflow_total", "counter"),
];

const EP: &str = "/v1/chat/completions";

// ---------------------------------------------------------------------------------

#[test]
fn empty_registry_renders_every_family_in_order() {
    let m = GatewayMetrics::new();
    let (_, fams) = rendered(&m);
    let got: Vec<(&str, &str)> = fams.iter().map(|f| (f.name.as_str(), f.kind.as_str())).collect();
    assert_eq!(got, FAMILIES);
    for f in &fams {
        assert!(!f.help.is_empty());
        if f.name.starts_with("rampart_audit_") || f.name == "rampart_metrics_series_overflow_total" {
            assert_eq!(f.samples.len(), 1);
            assert_eq!(f.samples[0].value, 0.0);
        } else {
            assert!(f.samples.is_empty(), "{} has samples", f.name);
        }
    }
}

#[test]
fn values_move_as_calls_are_made() {
    let m = GatewayMetrics::new();
    let req = [("endpoint", EP), ("model", "gpt-4o"), ("provider", "openai"), ("status", "200")];
    m.request(EP, "gpt-4o", "openai", 200, Duration::from_millis(3), Duration::from_micros(70));
    let (_, f) = rendered(&m);
    assert_eq!(value(&f, "rampart_requests_total", &req), Some(1.0));
    let b = |f: &[Fam], name: &str, le: &str| value(f, name, &[("endpoint", EP), ("le", le)]);
    let d = "rampart_request_duration_seconds_bucket";
    assert_eq!(b(&f, d, "0.0025"), Some(0.0));
    assert_eq!(b(&f, d, "0.005"), Some(1.0));
    assert_eq!(b(&f, d, "120"), Some(1.0));
    assert_eq!(b(&f, d, "+Inf"), Some(1.0));
    assert_eq!(value(&f, "rampart_request_duration_seconds_count", &[("endpoint", EP)]), Some(1.0));
    assert_eq!(value(&f, "rampart_request_duration_seconds_sum", &[("endpoint", EP)]), Some(0.003));
    let o = "rampart_overhead_seconds_bucket";
    assert_eq!(b(&f, o, "0.00005"), Some(0.0));
    assert_eq!(b(&f, o, "0.0001"), Some(1.0));
    assert_eq!(value(&f, "rampart_overhead_seconds_sum", &[("endpoint", EP)]), Some(0.00007));

    // A slow one (beyond the last bound), a 500, and the other families.
    m.request(EP, "gpt-4o", "openai", 200, Duration::from_secs(200), Duration::from_millis(1));
    m.request(EP, "gpt-4o", "openai", 502, Duration::from_millis(10), Duration::from_millis(1));
    m.auth_failure("invalid_key");
    m.auth_failure("invalid_key");
    m.detection("pii_email", "redact", "request");
    m.detection("pii_email", "redact", "response");
    m.tokens("gpt-4o", "openai", 120, 30);
    m.tokens("gpt-4o", "openai", 5, 0);
    m.upstream_error("openai", "timeout");
    m.anomaly("burst");
    let (_, f) = rendered(&m);
    assert_eq!(value(&f, "rampart_requests_total", &req), Some(2.0));
    let req502 = [("endpoint", EP), ("model", "gpt-4o"), ("provider", "openai"), ("status", "502")];
    assert_eq!(value(&f, "rampart_requests_total", &req502), Some(1.0));
    assert_eq!(b(&f, d, "0.005"), Some(1.0));
    assert_eq!(b(&f, d, "0.01"), Some(2.0));
    assert_eq!(b(&f, d, "120"), Some(2.0));
    assert_eq!(b(&f, d, "+Inf"), Some(3.0));
    assert_eq!(value(&f, "rampart_request_duration_seconds_count", &[("endpoint", EP)]), Some(3.0));
    assert_eq!(value(&f, "rampart_request_duration_seconds_sum", &[("endpoint", EP)]), Some(200.013));
    assert_eq!(value(&f, "rampart_auth_failures_total", &[("reason", "invalid_key")]), Some(2.0));
    let det = |phase| [("detector", "pii_email"), ("action", "redact"), ("phase", phase)];
    assert_eq!(value(&f, "rampart_detections_total", &det("request")), Some(1.0));
    assert_eq!(value(&f, "rampart_detections_total", &det("response")), Some(1.0));
    let tok = |kind| [("model", "gpt-4o"), ("provider", "openai"), ("kind", kind)];
    assert_eq!(value(&f, "rampart_tokens_total", &tok("prompt")), Some(125.0));
    assert_eq!(value(&f, "rampart_tokens_total", &tok("completion")), Some(30.0));
    assert_eq!(value(&f, "rampart_upstream_errors_total", &[("provider", "openai"), ("kind", "timeout")]), Some(1.0));
    assert_eq!(value(&f, "rampart_anomalies_total", &[("kind", "burst")]), Some(1.0));
}

#[test]
fn cost_renders_micro_usd_as_dollars() {
    let m = GatewayMetrics::new();
    m.cost_micros("gpt-4o", "openai", 1_500_000);
    let (body, f) = rendered(&m);
    assert!(body.contains("rampart_cost_usd_total{model=\"gpt-4o\",provider=\"openai\"} 1.5\n"), "{body}");
    assert_eq!(value(&f, "rampart_cost_usd_total", &[("model", "gpt-4o"), ("provider", "openai")]), Some(1.5));
    m.cost_micros("gpt-4o", "openai", 250);
    m.cost_micros("tiny", "openai", 1);
    let (body, _) = rendered(&m);
    assert!(body.contains("provider=\"openai\"} 1.50025\n"), "{body}");
    assert!(body.contains("rampart_cost_usd_total{model=\"tiny\",provider=\"openai\"} 0.000001\n"), "{body}");
}

#[test]
fn audit_snapshot_renders_as_given() {
    let m = GatewayMetrics::new();
    let g = AuditGauges { queue_depth: 7, lag_bytes: 4096, spilled: 3, dropped: 2, store_errors: 1, records: 123_456 };
    m.set_audit(g);
    assert_eq!(m.audit(), g);
    let (body, f) = rendered(&m);
    assert!(body.contains("\nrampart_audit_queue_depth 7\n"));
    assert_eq!(value(&f, "rampart_audit_lag_bytes", &[]), Some(4096.0));
    assert_eq!(value(&f, "rampart_audit_spilled_total", &[]), Some(3.0));
    assert_eq!(value(&f, "rampart_audit_dropped_total", &[]), Some(2.0));
    assert_eq!(value(&f, "rampart_audit_store_errors_total", &[]), Some(1.0));
    assert_eq!(value(&f, "rampart_audit_records_total", &[]), Some(123_456.0));
    // A later snapshot replaces it (values are absolute, not added).
    m.set_audit(AuditGauges { queue_depth: 0, records: 10, ..g });
    let (_, f) = rendered(&m);
    assert_eq!(value(&f, "rampart_audit_queue_depth", &[]), Some(0.0));
    assert_eq!(value(&f, "rampart_audit_records_total", &[]), Some(10.0));
}

#[test]
fn label_values_are_escaped_and_round_trip() {
    let m = GatewayMetrics::new();
    let nasty = "bad \"key\" \\ here\nnext line } , =";
    m.auth_failure(nasty);
    let (body, f) = rendered(&m);
    assert!(body.contains(r#"reason="bad \"key\" \\ here\nnext line } , ="} 1"#), "{body}");
    assert_eq!(value(&f, "rampart_auth_failures_total", &[("reason", nasty)]), Some(1.0));
}

#[test]
fn long_label_values_are_truncated_at_a_char_boundary() {
    let m = GatewayMetrics::new();
    let long = format!("x{}", "é".repeat(200));
    m.anomaly(&long);
    m.anomaly(&format!("{long}-different-tail")); // same first 128 bytes: same series
    let (_, f) = rendered(&m);
    let s = &fam(&f, "rampart_anomalies_total").samples;
    assert_eq!(s.len(), 1);
    let v = &s[0].labels[0].1;
    assert_eq!(v.len(), 127);
    assert!(long.starts_with(v.as_str()));
    assert_eq!(s[0].value, 2.0);
}

#[test]
fn cardinality_cap_collapses_into_other_and_counts_overflow() {
    let m = GatewayMetrics::with_max_series(3);
    for r in ["a", "b", "c", "d", "e", "a", "e"] {
        m.auth_failure(r);
    }
    let (_, f) = rendered(&m);
    let s = &fam(&f, "rampart_auth_failures_total").samples;
    let got: Vec<(&str, f64)> = s.iter().map(|s| (s.labels[0].1.as_str(), s.value)).collect();
    assert_eq!(got, [("a", 2.0), ("b", 1.0), ("c", 1.0), ("other", 3.0)]);
    assert_eq!(value(&f, "rampart_metrics_series_overflow_total", &[]), Some(3.0));
    assert_eq!(m.series_overflow_total(), 3);

    // A multi-label family: the overflow series has every label "other"; histograms too.
    for i in 0..5u16 {
        m.request(&format!("/ep{i}"), "m", "p", 200 + i, Duration::from_millis(1), Duration::from_micros(10));
    }
    let (_, f) = rendered(&m);
    let other4 = [("endpoint", OTHER), ("model", OTHER), ("provider", OTHER), ("status", OTHER)];
    assert_eq!(value(&f, "rampart_requests_total", &other4), Some(2.0));
    assert_eq!(fam(&f, "rampart_requests_total").samples.len(), 4);
    assert_eq!(value(&f, "rampart_request_duration_seconds_count", &[("endpoint", OTHER)]), Some(2.0));
    assert_eq!(value(&f, "rampart_overhead_seconds_count", &[("endpoint", OTHER)]), Some(2.0));
    assert_eq!(value(&f, "rampart_metrics_series_overflow_total", &[]), Some(3.0 + 2.0 * 3.0));

    // Recording "other" explicitly uses the overflow series without counting overflow.
    m.auth_failure("other");
    let (_, f) = rendered(&m);
    assert_eq!(value(&f, "rampart_auth_failures_total", &[("reason", "other")]), Some(4.0));
    assert_eq!(value(&f, "rampart_metrics_series_overflow_total", &[]), Some(9.0));
}

#[test]
fn default_cap_is_1000_series() {
    let v = CounterVec::new("t_total", "t", ["k"]);
    for i in 0..1500 {
        v.inc([&i.to_string()]);
    }
    assert_eq!(v.series_count(), 1000);
    assert_eq!(v.overflowed(), 500);
    assert_eq!(v.get([OTHER]), Some(500));
    let mut body = String::new();
    v.render(&mut body);
    let f = parse(&body);
    assert_eq!(f[0].samples.len(), 1001);
}

#[test]
fn concurrent_increments_are_exact() {
    let m = Arc::new(GatewayMetrics::new());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                let ep = format!("/ep{}", t % 2);
                for i in 0..10_000u64 {
                    m.request(EP, "gpt-4o", "openai", 200, Duration::from_micros(i % 100), Duration::from_micros(5));
                    m.request(&ep, "gpt-4o", "openai", 429, Duration::from_millis(1), Duration::from_micros(5));
                    m.tokens("gpt-4o", "openai", 1, 2);
                    m.cost_micros("gpt-4o", "openai", 3);
                    if i % 1000 == 0 {
                        let mut s = String::new();
                        m.render(&mut s); // scrape while recording
                        parse(&s);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (_, f) = rendered(&m);
    let req = |ep, st| [("endpoint", ep), ("model", "gpt-4o"), ("provider", "openai"), ("status", st)];
    assert_eq!(value(&f, "rampart_requests_total", &req(EP, "200")), Some(80_000.0));
    assert_eq!(value(&f, "rampart_requests_total", &req("/ep0", "429")), Some(40_000.0));
    assert_eq!(value(&f, "rampart_requests_total", &req("/ep1", "429")), Some(40_000.0));
    assert_eq!(value(&f, "rampart_request_duration_seconds_count", &[("endpoint", EP)]), Some(80_000.0));
    // Sum of i % 100 µs over 10_000 i is 495_000 µs per thread.
    assert_eq!(value(&f, "rampart_request_duration_seconds_sum", &[("endpoint", EP)]), Some(8.0 * 0.495));
    assert_eq!(value(&f, "rampart_overhead_seconds_count", &[("endpoint", "/ep1")]), Some(40_000.0));
    let tok = |kind| [("model", "gpt-4o"), ("provider", "openai"), ("kind", kind)];
    assert_eq!(value(&f, "rampart_tokens_total", &tok("prompt")), Some(80_000.0));
    assert_eq!(value(&f, "rampart_tokens_total", &tok("completion")), Some(160_000.0));
    assert_eq!(value(&f, "rampart_cost_usd_total", &[("model", "gpt-4o"), ("provider", "openai")]), Some(0.24));
}

#[test]
fn concurrent_series_creation_respects_the_cap() {
    let v = Arc::new(CounterVec::new("c_total", "c", ["k"]).with_max_series(50));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let v = v.clone();
            std::thread::spawn(move || {
                for i in 0..10_000u32 {
                    v.inc([&format!("{}", (i * 8 + t) % 200)]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(v.series_count(), 50);
    let mut body = String::new();
    v.render(&mut body);
    let f = parse(&body);
    let total: f64 = f[0].samples.iter().map(|s| s.value).sum();
    assert_eq!(total, 80_000.0);
    assert_eq!(v.get([OTHER]), Some(v.overflowed()));
}

#[test]
fn output_is_stable_and_sorted_and_appendable() {
    let m = GatewayMetrics::new();
    for r in ["zeta", "alpha", "mu"] {
        m.auth_failure(r);
    }
    let mut a = String::from("# HELP rampart_ratelimit_x x\n# TYPE rampart_ratelimit_x gauge\nrampart_ratelimit_x 1\n");
    let prefix = a.clone();
    m.render(&mut a);
    assert!(a.starts_with(&prefix));
    parse(&a);
    let (b1, f) = rendered(&m);
    let (b2, _) = rendered(&m);
    assert_eq!(b1, b2);
    let got: Vec<&str> =
        fam(&f, "rampart_auth_failures_total").samples.iter().map(|s| s.labels[0].1.as_str()).collect();
    assert_eq!(got, ["alpha", "mu", "zeta"]);
}

#[test]
fn histogram_bounds_are_inclusive_and_handles_work() {
    let h = Histogram::new(&[1.0, 0.5, f64::NAN, 2.0, 0.5]);
    assert_eq!(h.bounds(), [0.5, 1.0, 2.0]);
    for v in [0.5, 0.5000001, 1.0, 3.0, -1.0] {
        h.observe(v);
    }
    assert_eq!(h.cumulative(), [2, 4, 4, 5]); // -1 counts as 0, into le=0.5
    assert_eq!(h.count(), 5);
    assert!((h.sum() - 5.0000001).abs() < 1e-9);

    let v = HistogramVec::new("lat_seconds", "l", ["route"], &[0.1, 1.0]);
    let handle = v.handle(["/a"]);
    handle.observe_duration(Duration::from_millis(100));
    v.observe(["/a"], 0.5);
    let mut body = String::new();
    v.render(&mut body);
    let f = parse(&body);
    assert_eq!(value(&f, "lat_seconds_bucket", &[("route", "/a"), ("le", "0.1")]), Some(1.0));
    assert_eq!(value(&f, "lat_seconds_bucket", &[("route", "/a"), ("le", "1")]), Some(2.0));
    assert_eq!(value(&f, "lat_seconds_sum", &[("route", "/a")]), Some(0.6));

    let c = CounterVec::new("h_total", "h", ["a", "b"]);
    let ch = c.handle(["x", "y"]);
    ch.inc_by(41);
    c.inc(["x", "y"]);
    assert_eq!(c.get(["x", "y"]), Some(42));
    assert_eq!(c.get(["x", "z"]), None);
}
