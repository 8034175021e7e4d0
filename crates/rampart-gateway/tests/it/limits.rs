//! Resource protection: rate limits with OpenAI's headers, token and spend budgets
//! that hold under 200 concurrent requests, settlement with the provider's usage
//! (streams included, and a client that leaves mid-stream), the `max_tokens` cap,
//! and priority shedding.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use http_body_util::BodyExt;
use rampart_store::{KeyLimits, KeySpec, ModelScope, Priority};
use rampart_test::{Harness, Options, TestResponse};
use serde_json::json;

/// Prices used by the budget tests: $2 per million prompt tokens, $8 per million
/// completion tokens.
const PRICES: &str = r#"
[[prices]]
model = "gpt-4o-mini"
input_per_million = 2.0
output_per_million = 8.0
"#;

async fn limited_key(h: &Harness, limits: KeyLimits) -> (String, String) {
    let spec = KeySpec { limits, ..KeySpec::new("limited", ModelScope::all()) };
    let (record, key) = h.store.create_scoped_key(&h.hasher, &spec).await.unwrap();
    (record.id, key.key)
}

fn chat(max_tokens: u64) -> String {
    json!({
        "model": "gpt-4o-mini",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": "Say hello to the team in one short sentence."}],
    })
    .to_string()
}

/// A harness with the admin listener, and an admin token for `/metrics`.
async fn with_admin(options: Options) -> (Harness, String) {
    let h = Harness::start_with(Options { admin_toml: Some(String::new()), ..options }).await;
    let token = h
        .store
        .create_admin_token(&h.hasher, "metrics", rampart_store::AdminRole::Viewer, None, None)
        .await
        .unwrap()
        .1
        .key;
    (h, token)
}

/// One sample of `/metrics` (the full series name with labels, as written).
async fn metric(h: &Harness, token: &str, series: &str) -> u64 {
    let admin = rampart_test::TestClient::new(h.admin_addr.unwrap());
    let r = admin.get("/metrics", token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let line = text.lines().find(|l| l.split(' ').next() == Some(series)).unwrap_or_else(|| panic!("{series}: {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn header(r: &TestResponse, name: &str) -> Option<String> {
    r.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn number(r: &TestResponse, name: &str) -> u64 {
    header(r, name).unwrap_or_else(|| panic!("missing {name}")).parse().unwrap()
}

/// Tokens a response reports using.
fn used(r: &TestResponse) -> u64 {
    r.json()["usage"]["total_tokens"].as_u64().unwrap()
}

#[tokio::test]
async fn requests_per_minute_are_exact_and_signalled_like_openai() {
    let (h, token) = with_admin(Options::default()).await;
    let (_, key) = limited_key(&h, KeyLimits { rpm: Some(5), ..KeyLimits::default() }).await;
    for expected_remaining in (0..5).rev() {
        let ok = h.client.post_json("/v1/chat/completions", &key, &chat(16)).await;
        assert_eq!(ok.status, 200, "{}", ok.text());
        assert_eq!(number(&ok, "x-ratelimit-limit-requests"), 5);
        assert_eq!(number(&ok, "x-ratelimit-remaining-requests"), expected_remaining);
        assert!(header(&ok, "x-ratelimit-reset-requests").is_some());
        assert!(header(&ok, "x-ratelimit-limit-tokens").is_none(), "no token limit, no token headers");
    }
    let refused = h.client.post_json("/v1/chat/completions", &key, &chat(16)).await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert_eq!(refused.error_code().as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(refused.json()["error"]["type"], "requests");
    let after: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    let after_ms: u64 = header(&refused, "retry-after-ms").unwrap().parse().unwrap();
    // One request refills in 60 s / 5 = 12 s.
    assert!((1..=12).contains(&after) && after_ms <= 12_000, "{after} s, {after_ms} ms");
    assert_eq!(number(&refused, "x-ratelimit-remaining-requests"), 0);
    assert_eq!(h.mock.request_count(), 5, "the refused request never reached the provider");
    assert_eq!(metric(&h, &token, "rampart_rate_limited_total{dimension=\"requests\"}").await, 1);
    assert_eq!(metric(&h, &token, "rampart_rate_limited_total{dimension=\"tokens\"}").await, 0);
    // Pass-through routes count too (requests and in-flight slots; not tokens).
    let (_, files_key) = limited_key(&h, KeyLimits { rpm: Some(2), ..KeyLimits::default() }).await;
    for status in [200, 200, 429] {
        assert_eq!(h.client.get("/v1/files", &files_key).await.status, status);
    }
    // The provider's own rate-limit headers never reach a client.
    let unlimited = h.any_key().await;
    let ok = h.client.post_json("/v1/chat/completions", &unlimited, &chat(16)).await;
    assert!(header(&ok, "x-ratelimit-limit-requests").is_none());
}

/// A long answer: 1559 bytes, which the mock reports as 389 completion tokens.
fn long_answer() -> String {
    vec!["lorem"; 260].join(" ")
}

/// 200 concurrent chat requests for `long_answer()` with `max_tokens` 400: each uses
/// nearly all it reserves, so an overshoot would show in the totals.
async fn two_hundred_long_answers(h: &Harness, key: &str) -> Vec<TestResponse> {
    let body = chat(400);
    let reply = long_answer();
    let headers = [("x-mock-reply", reply.as_str())];
    futures_util::future::join_all(
        (0..200).map(|_| h.client.send(h.client.json_request("/v1/chat/completions", key, &body, &headers))),
    )
    .await
}

/// 200 requests at once against a tokens-per-minute limit: what the provider reports
/// using never exceeds the limit (plus what refilled while the test ran), the rest are
/// refused with 429 and the token headers.
#[tokio::test]
async fn a_token_limit_holds_under_200_concurrent_requests() {
    let h = Harness::start().await;
    let tpm = 20_000;
    let (_, key) = limited_key(&h, KeyLimits { tpm: Some(tpm), ..KeyLimits::default() }).await;
    let started = Instant::now();
    let responses = two_hundred_long_answers(&h, &key).await;
    let elapsed = started.elapsed();
    let granted: Vec<&TestResponse> = responses.iter().filter(|r| r.status == 200).collect();
    let refused: Vec<&TestResponse> = responses.iter().filter(|r| r.status == 429).collect();
    assert_eq!(granted.len() + refused.len(), 200, "only 200s and 429s");
    for r in &granted {
        assert_eq!(r.json()["usage"]["completion_tokens"], 389);
    }
    assert!(!granted.is_empty() && !refused.is_empty(), "{} granted", granted.len());
    let total: u64 = granted.iter().map(|r| used(r)).sum();
    let refill = (tpm as f64 * elapsed.as_secs_f64() / 60.0).ceil() as u64;
    assert!(total <= tpm + refill, "used {total} of {tpm} (+{refill} refilled)");
    // Each request reserves its prompt and 400 completion tokens: at most tpm / 400
    // can be in flight, and settled requests give back what they did not use.
    for r in &refused {
        assert_eq!(r.error_code().as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(r.json()["error"]["type"], "tokens");
        assert_eq!(number(r, "x-ratelimit-limit-tokens"), tpm);
        assert!(header(r, "retry-after").is_some());
    }
    assert_eq!(h.mock.request_count(), granted.len());
}

/// The same against a daily spend budget: the cost of what was granted, at the
/// configured prices, never exceeds the budget; the rest get `insufficient_quota`,
/// which SDKs are told not to retry.
#[tokio::test]
async fn a_spend_budget_holds_under_200_concurrent_requests() {
    let h = Harness::start_with(Options { extra_toml: PRICES.into(), ..Options::default() }).await;
    let budget_micros = 50_000; // five cents: about fifteen answers
    let (_, key) =
        limited_key(&h, KeyLimits { daily_budget_micros: Some(budget_micros), ..KeyLimits::default() }).await;
    let responses = two_hundred_long_answers(&h, &key).await;
    let granted: Vec<&TestResponse> = responses.iter().filter(|r| r.status == 200).collect();
    let refused: Vec<&TestResponse> = responses.iter().filter(|r| r.status == 429).collect();
    assert_eq!(granted.len() + refused.len(), 200);
    assert!(!granted.is_empty() && !refused.is_empty(), "{} granted", granted.len());
    let spent: u64 = granted
        .iter()
        .map(|r| {
            let usage = &r.json()["usage"];
            let prompt = usage["prompt_tokens"].as_u64().unwrap();
            let completion = usage["completion_tokens"].as_u64().unwrap();
            // $2 per million is 2 µ$ per token
            prompt * 2 + completion * 8
        })
        .sum();
    assert!(spent <= budget_micros, "spent {spent} µ$ of {budget_micros}");
    for r in &refused {
        assert_eq!(r.error_code().as_deref(), Some("insufficient_quota"), "{}", r.text());
        assert_eq!(r.json()["error"]["type"], "insufficient_quota");
        assert_eq!(header(r, "x-should-retry").as_deref(), Some("false"));
    }
    // A request for a model without a price cannot be counted against a budget.
    let unpriced = h.client.post_json("/v1/chat/completions", &key, &chat(1).replace("gpt-4o-mini", "gpt-4o")).await;
    assert_eq!(unpriced.status, 403, "{}", unpriced.text());
    assert_eq!(unpriced.error_code().as_deref(), Some("model_not_priced"));
}

/// Reading `x-ratelimit-remaining-tokens` right after a request: what the next
/// reservation left, so the previous request's settlement shows in it.
async fn remaining_after(h: &Harness, key: &str, max_tokens: u64) -> (u64, u64) {
    let r = h.client.post_json("/v1/chat/completions", key, &chat(max_tokens)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    (number(&r, "x-ratelimit-remaining-tokens"), used(&r))
}

#[tokio::test]
async fn streams_settle_with_the_usage_rampart_asks_for_and_strips() {
    let h = Harness::start().await;
    let tpm = 1_000_000;
    let (_, key) = limited_key(&h, KeyLimits { tpm: Some(tpm), ..KeyLimits::default() }).await;
    let body = json!({
        "model": "gpt-4o-mini",
        "max_tokens": 50_000,
        "stream": true,
        "messages": [{"role": "user", "content": "Stream a short greeting."}],
    })
    .to_string();
    let response = h.client.send_streaming(h.client.json_request("/v1/chat/completions", &key, &body, &[])).await;
    assert_eq!(response.status(), 200);
    let text = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text.contains("data: [DONE]"), "{text}");
    assert!(!text.contains("\"usage\""), "the client did not ask for usage: {text}");
    let sent = h.mock.requests().last().unwrap().json().unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true, "rampart asked the provider for usage");
    // Settled with the real usage: far less than the 50 000 reserved is gone.
    let (remaining, used_now) = remaining_after(&h, &key, 10).await;
    assert!(remaining > tpm - 1_000, "remaining {remaining}: the stream was settled, not charged 50 000");
    assert!(used_now < 1_000);

    // A client that asked for usage still gets it.
    let body = body.replace("\"stream\":true", "\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    let response = h.client.send_streaming(h.client.json_request("/v1/chat/completions", &key, &body, &[])).await;
    let text = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text.contains("\"prompt_tokens\""), "{text}");
}

#[tokio::test]
async fn a_client_leaving_mid_stream_keeps_the_reservation_charged_and_frees_its_slot() {
    let h = Harness::start().await;
    let tpm = 100_000;
    let limits = KeyLimits { tpm: Some(tpm), max_concurrency: Some(1), ..KeyLimits::default() };
    let (_, key) = limited_key(&h, limits).await;
    let body = json!({
        "model": "gpt-4o-mini",
        "max_tokens": 30_000,
        "stream": true,
        "messages": [{"role": "user", "content": "Stream slowly."}],
    })
    .to_string();
    let slow = [("x-mock-chunks", "50"), ("x-mock-chunk-delay-ms", "50")];
    let response = h.client.send_streaming(h.client.json_request("/v1/chat/completions", &key, &body, &slow)).await;
    assert_eq!(response.status(), 200);
    let mut frames = response.into_body().into_data_stream();
    let first = frames.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    // A second request while the stream runs exceeds the concurrency limit.
    let busy = h.client.post_json("/v1/chat/completions", &key, &chat(10)).await;
    assert_eq!(busy.status, 429, "{}", busy.text());
    assert_eq!(busy.json()["error"]["type"], "concurrency");
    drop(frames);
    // The slot comes back once the gateway sees the client gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (remaining, _) = loop {
        let r = h.client.post_json("/v1/chat/completions", &key, &chat(10)).await;
        if r.status == 200 {
            break (number(&r, "x-ratelimit-remaining-tokens"), used(&r));
        }
        assert!(Instant::now() < deadline, "the slot was never freed: {}", r.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Unknown usage: the 30 000 reserved stay charged (rampart never undercounts).
    assert!(remaining < tpm - 29_000, "remaining {remaining}");
}

#[tokio::test]
async fn the_max_tokens_cap_refuses_more_and_fills_in_a_missing_one() {
    let h = Harness::start().await;
    let (_, key) = limited_key(&h, KeyLimits { max_tokens: Some(256), ..KeyLimits::default() }).await;
    let over = h.client.post_json("/v1/chat/completions", &key, &chat(1024)).await;
    assert_eq!(over.status, 400, "{}", over.text());
    assert_eq!(over.json()["error"]["param"], "max_tokens");
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let ok = h.client.post_json("/v1/chat/completions", &key, &body).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let sent = h.mock.requests().last().unwrap().json().unwrap();
    assert_eq!(sent["max_completion_tokens"], 256);
    assert_eq!(sent["messages"][0]["content"], "hi", "the rest of the body is as sent");
    let responses = json!({"model": "gpt-4o-mini", "input": "hi"}).to_string();
    assert_eq!(h.client.post_json("/v1/responses", &key, &responses).await.status, 200);
    assert_eq!(h.mock.requests().last().unwrap().json().unwrap()["max_output_tokens"], 256);
    assert_eq!(h.mock.request_count(), 2, "the refused request never reached the provider");
}

/// With a capacity of 4 and batch shed from half of it: batch is refused first while
/// critical traffic is still served.
#[tokio::test]
async fn under_saturation_batch_is_shed_first_and_critical_served() {
    let options = Options {
        extra_toml: "[limits]\ncapacity = 4\nshed_batch_at = 0.5\nshed_standard_at = 0.75\n".into(),
        ..Options::default()
    };
    let h = Harness::start_with(options).await;
    let key_of = |priority| KeyLimits { priority: Some(priority), ..KeyLimits::default() };
    let (_, batch) = limited_key(&h, key_of(Priority::Batch)).await;
    let (_, standard) = limited_key(&h, key_of(Priority::Standard)).await;
    let (_, critical) = limited_key(&h, key_of(Priority::Critical)).await;
    // Two slow standard requests hold half the capacity.
    let slow = [("x-mock-delay-ms", "1500")];
    let hold = |key: String| {
        let request = h.client.json_request("/v1/chat/completions", &key, &chat(8), &slow);
        let client = h.client.clone();
        tokio::spawn(async move { client.send(request).await.status })
    };
    let held = [hold(standard.clone()), hold(standard.clone())];
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.mock.pending_responses() < 2 {
        assert!(Instant::now() < deadline, "the slow requests never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let shed = h.client.post_json("/v1/chat/completions", &batch, &chat(8)).await;
    assert_eq!(shed.status, 503, "{}", shed.text());
    assert!(header(&shed, "retry-after").is_some());
    assert_eq!(h.client.post_json("/v1/chat/completions", &critical, &chat(8)).await.status, 200);
    assert_eq!(h.client.post_json("/v1/chat/completions", &standard, &chat(8)).await.status, 200);
    for task in held {
        assert_eq!(task.await.unwrap(), 200);
    }
    // Capacity back: batch is served again.
    assert_eq!(h.client.post_json("/v1/chat/completions", &batch, &chat(8)).await.status, 200);
}

// === shared limits in Redis ===

fn redis_url() -> Option<String> {
    let url = std::env::var("RAMPART_TEST_REDIS_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("RAMPART_TEST_REDIS_URL unset: skipping");
    }
    url
}

/// `[limits]` on Redis at `url` under a prefix of its own (tests share one Redis).
fn redis_toml(url: &str, prefix: &str, policy: &str) -> String {
    format!(
        "[limits]\nbackend = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\"\non_redis_failure = \"{policy}\"\n"
    )
}

fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("rampart-test:{test}:{nanos}:")
}

/// Two gateways on one key store and one Redis: 40 requests spread over both (38 of
/// them at once) against a limit of 10 per minute are granted exactly 10 times in all.
#[tokio::test]
async fn two_instances_sharing_redis_enforce_one_limit_exactly() {
    let Some(url) = redis_url() else { return };
    let toml = redis_toml(&url, &unique_prefix("two"), "fail_closed");
    let a = Harness::start_with(Options { extra_toml: toml.clone(), ..Options::default() }).await;
    let b =
        Harness::start_with(Options { extra_toml: toml, store_url: Some(a.store_url.clone()), ..Options::default() })
            .await;
    let (_, key) = limited_key(&a, KeyLimits { rpm: Some(10), ..KeyLimits::default() }).await;
    let body = chat(8);
    let started = Instant::now();
    // One request through each instance first: both serve, and both count. (Which
    // instance wins the burst's grants is a race, so the burst alone cannot show that.)
    assert_eq!(a.client.post_json("/v1/chat/completions", &key, &body).await.status, 200);
    assert_eq!(b.client.post_json("/v1/chat/completions", &key, &body).await.status, 200);
    let responses = futures_util::future::join_all((0..38).map(|i| {
        let client = if i % 2 == 0 { &a.client } else { &b.client };
        client.post_json("/v1/chat/completions", &key, &body)
    }))
    .await;
    // One request refills every 6 s.
    let refilled = (started.elapsed().as_secs_f64() / 6.0).floor() as usize;
    let granted = 2 + responses.iter().filter(|r| r.status == 200).count();
    assert!((10..=10 + refilled).contains(&granted), "granted {granted}");
    assert!(responses.iter().all(|r| r.status == 200 || r.status == 429));
    assert!(a.mock.request_count() > 0 && b.mock.request_count() > 0, "both instances served");
    assert_eq!(a.mock.request_count() + b.mock.request_count(), granted);
    // Both instances see the same remaining figure.
    let last = b.client.post_json("/v1/chat/completions", &key, &body).await;
    assert_eq!(last.status, 429);
    assert_eq!(number(&last, "x-ratelimit-remaining-requests"), 0);
}

/// A TCP relay in front of Redis that can be cut (open connections reset, new ones
/// closed at once) and restored.
struct Cuttable {
    addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Cuttable {
    async fn to(target: &str) -> Self {
        use std::sync::atomic::Ordering;
        let target = target.trim_start_matches("redis://").trim_end_matches('/').to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (flag, signal) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let target = target.clone();
                let mut cut = signal.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    fn set(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

/// Waits (bounded) until `request` answers `status`.
async fn until_status(h: &Harness, key: &str, status: u16) -> TestResponse {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = h.client.post_json("/v1/chat/completions", key, &chat(8)).await;
        if r.status == status {
            return r;
        }
        assert!(Instant::now() < deadline, "never {status}: last {} {}", r.status, r.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn redis_down_fails_closed_with_503_and_recovers() {
    let Some(url) = redis_url() else { return };
    let relay = Cuttable::to(&url).await;
    let toml = redis_toml(&relay.url(), &unique_prefix("closed"), "fail_closed");
    let h = Harness::start_with(Options { extra_toml: toml, ..Options::default() }).await;
    let (_, key) = limited_key(&h, KeyLimits { rpm: Some(1000), ..KeyLimits::default() }).await;
    until_status(&h, &key, 200).await;
    relay.set(false);
    let refused = until_status(&h, &key, 503).await;
    assert_eq!(refused.error_code().as_deref(), Some("service_unavailable"));
    assert!(header(&refused, "retry-after").is_some());
    let served_while_down = h.mock.request_count();
    // Every request while Redis is away is refused: none reaches the provider.
    for _ in 0..3 {
        assert_eq!(h.client.post_json("/v1/chat/completions", &key, &chat(8)).await.status, 503);
    }
    assert_eq!(h.mock.request_count(), served_while_down);
    relay.set(true);
    let ok = until_status(&h, &key, 200).await;
    assert!(number(&ok, "x-ratelimit-remaining-requests") < 1000);
}

#[tokio::test]
async fn redis_down_fails_open_to_local_limits_and_shared_counting_resumes() {
    let Some(url) = redis_url() else { return };
    let relay = Cuttable::to(&url).await;
    let prefix = unique_prefix("open");
    let toml = redis_toml(&relay.url(), &prefix, "fail_open");
    let (h, token) = with_admin(Options { extra_toml: toml.clone(), ..Options::default() }).await;
    let (_, key) = limited_key(&h, KeyLimits { rpm: Some(4), ..KeyLimits::default() }).await;
    // Two requests counted in Redis.
    for remaining in [3, 2] {
        let r = h.client.post_json("/v1/chat/completions", &key, &chat(8)).await;
        assert_eq!(number(&r, "x-ratelimit-remaining-requests"), remaining);
    }
    relay.set(false);
    // Redis away: served on this instance's own counters, which still enforce the
    // limit (4 per minute, counted afresh here).
    let mut local = Vec::new();
    for _ in 0..5 {
        local.push(h.client.post_json("/v1/chat/completions", &key, &chat(8)).await.status);
    }
    assert_eq!(local.iter().filter(|s| **s == 200).count(), 4, "{local:?}");
    assert_eq!(*local.last().unwrap(), 429);
    // The fallback shows in the metrics (and in a rate-limited warning in the log).
    assert!(metric(&h, &token, "rampart_limits_fallback_reservations_total").await >= 4);
    assert!(metric(&h, &token, "rampart_limits_redis_errors_total").await >= 1);
    relay.set(true);
    // Back on Redis: its count (2 used of 4) continues.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = h.client.post_json("/v1/chat/completions", &key, &chat(8)).await;
        if r.status == 200 && number(&r, "x-ratelimit-remaining-requests") == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "shared counting never resumed: {} {:?}", r.status, r.headers);
    }
    // A second instance on the same Redis sees the shared count.
    let other =
        Harness::start_with(Options { extra_toml: toml, store_url: Some(h.store_url.clone()), ..Options::default() })
            .await;
    let r = other.client.post_json("/v1/chat/completions", &key, &chat(8)).await;
    assert_eq!((r.status.as_u16(), number(&r, "x-ratelimit-remaining-requests")), (200, 0));
}

/// Team, model and global limits from the configuration apply to every key they
/// cover, together.
#[tokio::test]
async fn team_model_and_global_limits_count_every_key_together() {
    let extra = "[limits.global]\nrpm = 100\n[limits.teams.ml]\nrpm = 3\n[limits.models.\"gpt-4o\"]\nrpm = 2\n";
    let h = Harness::start_with(Options { extra_toml: extra.into(), ..Options::default() }).await;
    h.store.create_team("ml", None, None).await.unwrap();
    let member = |name: &str| KeySpec { team: Some("ml".into()), ..KeySpec::new(name, ModelScope::all()) };
    let first = h.store.create_scoped_key(&h.hasher, &member("a")).await.unwrap().1.key;
    let second = h.store.create_scoped_key(&h.hasher, &member("b")).await.unwrap().1.key;
    let body = chat(8);
    let statuses: Vec<u16> = futures_util::future::join_all(
        [&first, &second, &first, &second, &first].map(|key| h.client.post_json("/v1/chat/completions", key, &body)),
    )
    .await
    .iter()
    .map(|r| r.status.as_u16())
    .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "{statuses:?}");
    let refused = h.client.post_json("/v1/chat/completions", &second, &chat(8)).await;
    assert_eq!(refused.status, 429);
    assert!(refused.json()["error"]["message"].as_str().unwrap().contains("team"), "{}", refused.text());

    // The model's limit holds across keys outside the team too.
    let outsider = h.any_key().await;
    let gpt4o = chat(8).replace("gpt-4o-mini", "gpt-4o");
    assert_eq!(h.client.post_json("/v1/chat/completions", &outsider, &gpt4o).await.status, 200);
    let other = h.any_key().await;
    let r = h.client.post_json("/v1/chat/completions", &other, &gpt4o).await;
    assert_eq!((r.status.as_u16(), number(&r, "x-ratelimit-remaining-requests")), (200, 0));
    let r = h.client.post_json("/v1/chat/completions", &outsider, &gpt4o).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("model"), "{}", r.text());
    // Everything else is under the global limit only, shown in the headers.
    let r = h.client.post_json("/v1/chat/completions", &outsider, &chat(8)).await;
    assert_eq!(r.status, 200);
    assert_eq!(number(&r, "x-ratelimit-limit-requests"), 100);
}

/// What is reserved bounds what the provider may do: a missing cap is written in, the
/// largest of several cap members counts, `best_of` multiplies, provider-stored
/// context is reserved, and routes that cannot be counted are closed to keys under a
/// token limit or budget.
#[tokio::test]
async fn the_reservation_bounds_what_the_provider_may_generate() {
    let h = Harness::start_with(Options { extra_toml: PRICES.into(), ..Options::default() }).await;
    let (_, key) = limited_key(&h, KeyLimits { tpm: Some(20_000), ..KeyLimits::default() }).await;
    // No cap: the reserved default (4096) is written in.
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    assert_eq!(h.client.post_json("/v1/chat/completions", &key, &body).await.status, 200);
    assert_eq!(h.mock.requests().last().unwrap().json().unwrap()["max_completion_tokens"], 4096);
    // The largest cap member counts, whichever the endpoint defines.
    let sneaky = json!({"model": "gpt-4o-mini", "prompt": "hi", "max_completion_tokens": 1, "max_tokens": 50_000});
    let r = h.client.post_json("/v1/completions", &key, &sneaky.to_string()).await;
    assert_eq!(r.status, 429, "50 000 completion tokens exceed the limit: {}", r.text());
    assert_eq!(header(&r, "x-should-retry").as_deref(), Some("false"), "it never fits");
    // best_of: 40 completions of 1000 tokens each.
    let best_of = json!({"model": "gpt-4o-mini", "prompt": "hi", "max_tokens": 1000, "best_of": 40});
    assert_eq!(h.client.post_json("/v1/completions", &key, &best_of.to_string()).await.status, 429);
    // A conversation stored at the provider reserves stored_context_tokens (32 768).
    let stored = json!({"model": "gpt-4o-mini", "input": "and then?", "previous_response_id": "resp_1", "max_output_tokens": 10});
    let r = h.client.post_json("/v1/responses", &key, &stored.to_string()).await;
    assert_eq!(r.status, 429, "{}", r.text());
    let fresh = json!({"model": "gpt-4o-mini", "input": "hello", "max_output_tokens": 10});
    assert_eq!(h.client.post_json("/v1/responses", &key, &fresh.to_string()).await.status, 200);
    // Files, batches, images and audio cannot be counted: refused under a token limit.
    let r = h.client.get("/v1/files", &key).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.error_code().as_deref(), Some("endpoint_not_metered"));
    // Moderations are free: a budget without a price for them does not refuse them.
    let (_, budgeted) =
        limited_key(&h, KeyLimits { daily_budget_micros: Some(1_000_000), ..KeyLimits::default() }).await;
    let moderation = json!({"model": "omni-moderation-latest", "input": "hello"}).to_string();
    assert_eq!(h.client.post_json("/v1/moderations", &budgeted, &moderation).await.status, 200);
    assert_eq!(h.mock.request_count(), 3);
}

#[tokio::test]
async fn unmetered_routes_open_by_configuration() {
    let options = Options { extra_toml: "[limits]\nallow_unmetered = true\n".into(), ..Options::default() };
    let h = Harness::start_with(options).await;
    let (_, key) = limited_key(&h, KeyLimits { tpm: Some(20_000), ..KeyLimits::default() }).await;
    assert_eq!(h.client.get("/v1/files", &key).await.status, 200);
}
