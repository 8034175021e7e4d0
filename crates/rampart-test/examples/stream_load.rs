//! Load generator for **streamed** chat completions, used by `bench/run.sh`.
//!
//! `C` HTTP/1.1 keep-alive connections (one hyper `client::conn::http1` each), each
//! repeatedly POSTing `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user",
//! "content":"<benign English text>"}]}` (about `--body-bytes` bytes in all) with
//! `x-mock-chunks` / `x-mock-chunk-delay-ms`, so that the mock provider streams that many
//! content chunks that far apart; `--reply-bytes N` also sends `x-mock-reply` with N bytes
//! of benign English, so that the answer is that text rather than the mock's 37-byte canned
//! one (and the concatenated content is checked against it). Closed loop by default (each connection sends its next
//! request when the previous response has ended); `--rate R` spreads R requests per
//! second over the connections instead (a connection that is behind starts at once; starts
//! more than 2 ms behind schedule are counted as `late`: the rate needs more connections).
//!
//! Per response, from just before the request is written: time to the response headers,
//! time to the first *content* event (the first SSE `data:` event whose
//! `choices[0].delta.content` is a non-empty string, timed when the body frame that ends it
//! arrives), every gap between consecutive content events, and the total time to the end
//! of the body. A response counts when it is 200, carries at least one content event and
//! ends with `data: [DONE]` (and, with `--reply-bytes`, whose content concatenates to the
//! reply); anything else is an error (the first few are sampled with
//! their body in the output). Requests started during the warm-up are not reported.
//!
//! Prints one JSON object: `count`, `errors`, `warmup_errors`, `error_kinds`,
//! `error_samples`, `rps`, and `{p50,p90,p99,max,mean}` in ms (3 decimals) of `ttfb_ms`
//! (first content), `headers_ms`, `gap_ms` (inter-chunk) and `total_ms`, and `byte_ms`:
//! the arrival times of the content *bytes* (each frame's time weighted by the content
//! bytes it carried), so that `mean` is the mean time a byte of the answer took to
//! reach the client: a gateway that holds text back and merges chunks shows it there
//! as a delay per byte, where `gap_ms` only shows fewer, larger events.
//!
//! ```text
//! cargo run --release -p rampart-test --example stream_load -- \
//!   --url http://127.0.0.1:8080/v1/chat/completions --key rk-... \
//!   [--connections 64] [--seconds 10] [--warmup 3] [--chunks 20] [--chunk-delay-ms 5] \
//!   [--body-bytes 2048] [--reply-bytes 0] [--rate R] [--timeout 30] [--threads 1]
//! ```
//!
//! Pins nothing: run it under `taskset` for that. `--threads 1` (the default when one CPU
//! is available) runs everything on one current-thread tokio runtime.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

const USAGE: &str = "usage: stream_load --url URL --key KEY [--connections 64] [--seconds 10] [--warmup 3] \
[--chunks 20] [--chunk-delay-ms 5] [--body-bytes 2048] [--reply-bytes 0] [--rate REQ_PER_S] [--timeout 30] \
[--threads N]";

/// Error samples kept (distinct messages).
const MAX_SAMPLES: usize = 5;
/// Bytes of an error body kept in a sample.
const SAMPLE_BODY: usize = 600;

#[derive(Debug, Clone)]
struct Args {
    url: Uri,
    key: String,
    connections: usize,
    seconds: f64,
    warmup: f64,
    chunks: u32,
    chunk_delay_ms: u64,
    body_bytes: usize,
    reply_bytes: usize,
    rate: Option<f64>,
    timeout: f64,
    threads: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut url = None;
    let mut key = None;
    let mut args = Args {
        url: Uri::from_static("http://127.0.0.1/"),
        key: String::new(),
        connections: 64,
        seconds: 10.0,
        warmup: 3.0,
        chunks: 20,
        chunk_delay_ms: 5,
        body_bytes: 2048,
        reply_bytes: 0,
        rate: None,
        timeout: 30.0,
        threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Err(USAGE.to_owned());
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{name}: `{v}` is not a valid number"))
        }
        match name.as_str() {
            "--url" => url = Some(value()?),
            "--key" => key = Some(value()?),
            "--connections" => args.connections = num(&name, value()?)?,
            "--seconds" => args.seconds = num(&name, value()?)?,
            "--warmup" => args.warmup = num(&name, value()?)?,
            "--chunks" => args.chunks = num(&name, value()?)?,
            "--chunk-delay-ms" => args.chunk_delay_ms = num(&name, value()?)?,
            "--body-bytes" => args.body_bytes = num(&name, value()?)?,
            "--reply-bytes" => args.reply_bytes = num(&name, value()?)?,
            "--rate" => args.rate = Some(num(&name, value()?)?),
            "--timeout" => args.timeout = num(&name, value()?)?,
            "--threads" => args.threads = num(&name, value()?)?,
            _ => return Err(format!("unknown argument `{arg}`\n{USAGE}")),
        }
    }
    let url = url.ok_or_else(|| format!("--url is required\n{USAGE}"))?;
    args.url = url.parse().map_err(|e| format!("--url `{url}`: {e}"))?;
    if args.url.scheme_str() != Some("http") || args.url.authority().is_none() {
        return Err(format!("--url `{url}`: only http://host:port/path URLs are supported"));
    }
    args.key = key.ok_or_else(|| format!("--key is required\n{USAGE}"))?;
    if args.connections == 0 || args.connections > 10_000 {
        return Err("--connections must be in [1, 10000]".to_owned());
    }
    let secs_ok = |v: f64| v.is_finite() && (0.0..=3600.0).contains(&v);
    if !secs_ok(args.seconds) || args.seconds == 0.0 || !secs_ok(args.warmup) || !secs_ok(args.timeout) {
        return Err("--seconds, --warmup and --timeout must be in [0, 3600] (--seconds > 0)".to_owned());
    }
    if args.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err("--rate must be > 0".to_owned());
    }
    if args.reply_bytes > 64 * 1024 {
        return Err("--reply-bytes must be at most 65536 (the mock's x-mock-reply limit)".to_owned());
    }
    args.threads = args.threads.max(1);
    Ok(args)
}

/// Plain ASCII English that no detector should care about (no names, numbers,
/// addresses, links, credentials or instructions to the model about its rules).
const SENTENCES: &[&str] = &[
    "The weekly planning meeting covered the garden project and the new bike racks. ",
    "Please summarize the main points of this note in a few short bullet items. ",
    "Most of the team agreed that the spring schedule should start a little later. ",
    "The library will extend its opening hours during the exam period this year. ",
    "Several readers asked for more recipes that use seasonal vegetables and grains. ",
    "A short walk after lunch helps many people stay focused in the afternoon. ",
    "The committee thanked the volunteers who painted the fence near the playground. ",
    "Next month the group plans to visit the museum and the old railway station. ",
];

/// `len` bytes of [`SENTENCES`], starting with sentence `first`.
fn benign_text(len: usize, first: usize) -> String {
    let mut text = String::with_capacity(len + 100);
    for sentence in SENTENCES.iter().cycle().skip(first) {
        if text.len() >= len {
            break;
        }
        text.push_str(sentence);
    }
    text.truncate(len);
    text
}

/// The request body: `body_bytes` long (at least the empty document).
fn request_body(body_bytes: usize) -> Bytes {
    let doc = |text: &str| {
        json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": text}]}).to_string()
    };
    let overhead = doc("").len();
    let want = body_bytes.saturating_sub(overhead).max(1);
    Bytes::from(doc(&benign_text(want, 0)))
}

/// What one response measured.
#[derive(Default)]
struct Sample {
    headers: Duration,
    ttfb: Duration,
    total: Duration,
    gaps: Vec<Duration>,
    /// Content bytes by arrival: (time since the request was written, bytes).
    arrivals: Vec<(Duration, usize)>,
}

/// A failed request: a short kind (counted), and a message (sampled).
struct Failure {
    kind: &'static str,
    message: String,
    /// Whether the connection can still be used.
    reusable: bool,
}

impl Failure {
    fn broken(kind: &'static str, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), reusable: false }
    }
}

/// Per-connection results, merged at the end.
#[derive(Default)]
struct Stats {
    headers: Vec<f64>,
    ttfb: Vec<f64>,
    total: Vec<f64>,
    gaps: Vec<f64>,
    /// (ms since the request was written, content bytes that arrived then).
    arrivals: Vec<(f64, usize)>,
    count: u64,
    content_events: u64,
    errors: u64,
    warmup_errors: u64,
    warmup_count: u64,
    late: u64,
    reconnects: u64,
    error_kinds: BTreeMap<String, u64>,
    samples: Vec<String>,
}

impl Stats {
    fn record(&mut self, sample: Sample) {
        self.count += 1;
        self.content_events += sample.gaps.len() as u64 + 1;
        self.headers.push(ms(sample.headers));
        self.ttfb.push(ms(sample.ttfb));
        self.total.push(ms(sample.total));
        self.gaps.extend(sample.gaps.into_iter().map(ms));
        self.arrivals.extend(sample.arrivals.into_iter().map(|(t, n)| (ms(t), n)));
    }

    fn fail(&mut self, measured: bool, failure: &Failure) {
        if measured {
            self.errors += 1;
        } else {
            self.warmup_errors += 1;
        }
        *self.error_kinds.entry(failure.kind.to_owned()).or_default() += 1;
        let message = format!("{}: {}", failure.kind, failure.message);
        if self.samples.len() < MAX_SAMPLES && !self.samples.contains(&message) {
            self.samples.push(message);
        }
    }

    fn merge(&mut self, other: Stats) {
        self.headers.extend(other.headers);
        self.ttfb.extend(other.ttfb);
        self.total.extend(other.total);
        self.gaps.extend(other.gaps);
        self.arrivals.extend(other.arrivals);
        self.count += other.count;
        self.content_events += other.content_events;
        self.errors += other.errors;
        self.warmup_errors += other.warmup_errors;
        self.warmup_count += other.warmup_count;
        self.late += other.late;
        self.reconnects += other.reconnects;
        for (kind, n) in other.error_kinds {
            *self.error_kinds.entry(kind).or_default() += n;
        }
        for s in other.samples {
            if self.samples.len() < MAX_SAMPLES && !self.samples.contains(&s) {
                self.samples.push(s);
            }
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// p50/p90/p99/max/mean (nearest rank), in ms rounded to 3 decimals; nulls when empty.
fn summary(values: &mut [f64]) -> Value {
    if values.is_empty() {
        return json!({"p50": null, "p90": null, "p99": null, "max": null, "mean": null, "n": 0});
    }
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    let at = |p: f64| {
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        values[rank.clamp(1, n) - 1]
    };
    let mean = values.iter().sum::<f64>() / n as f64;
    json!({
        "p50": round3(at(50.0)),
        "p90": round3(at(90.0)),
        "p99": round3(at(99.0)),
        "max": round3(values[n - 1]),
        "mean": round3(mean),
        "n": n,
    })
}

/// [`summary`] of the arrival times of content *bytes*: each time weighted by the
/// bytes that arrived then. Percentile `p` is the time by which p% of all content
/// bytes had arrived; the mean is the mean arrival time of a byte.
fn byte_summary(arrivals: &mut [(f64, usize)]) -> Value {
    let total: usize = arrivals.iter().map(|&(_, n)| n).sum();
    if total == 0 {
        return json!({"p50": null, "p90": null, "p99": null, "max": null, "mean": null, "n": 0});
    }
    arrivals.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let at = |p: f64| {
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as usize;
        let mut seen = 0;
        for &(t, n) in arrivals.iter() {
            seen += n;
            if seen >= rank {
                return t;
            }
        }
        arrivals.last().map_or(0.0, |a| a.0)
    };
    let mean = arrivals.iter().map(|&(t, n)| t * n as f64).sum::<f64>() / total as f64;
    json!({
        "p50": round3(at(50.0)),
        "p90": round3(at(90.0)),
        "p99": round3(at(99.0)),
        "max": round3(arrivals.last().map_or(0.0, |a| a.0)),
        "mean": round3(mean),
        "n": total,
    })
}

/// Shared, read-only settings of a run.
struct Plan {
    args: Args,
    authority: String,
    path: String,
    body: Bytes,
    /// `x-mock-reply`: the answer the mock streams, if not its canned one.
    reply: Option<String>,
    auth: String,
    /// Start of the run (warm-up included).
    start: Instant,
    /// End of the warm-up: requests started from here on are measured.
    measure_from: Instant,
    /// No request starts at or after this.
    end: Instant,
}

async fn connect(plan: &Plan) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(&plan.authority).await.map_err(|e| format!("connect {}: {e}", plan.authority))?;
    stream.set_nodelay(true).map_err(|e| format!("set_nodelay: {e}"))?;
    let (sender, conn) =
        http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        // Ends when the connection closes; errors show up on the request side.
        let _ = conn.await;
    });
    Ok(sender)
}

/// One connection's loop until the end of the run.
async fn connection(plan: Arc<Plan>, index: usize) -> Stats {
    let mut stats = Stats::default();
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    let timeout = Duration::from_secs_f64(plan.args.timeout);
    // Fixed rate: this connection's k-th request is due at start + (k + index/C) * C/R.
    let interval = plan.args.rate.map(|r| Duration::from_secs_f64(plan.args.connections as f64 / r));
    let mut due = interval.map(|iv| plan.start + iv.mul_f64(index as f64 / plan.args.connections as f64));
    loop {
        if let Some(at) = due {
            if at >= plan.end {
                break;
            }
            tokio::time::sleep_until(at.into()).await;
        }
        if Instant::now() >= plan.end {
            break;
        }
        let mut ready = match sender.take() {
            Some(mut s) => match s.ready().await {
                Ok(()) => Some(s),
                Err(_) => {
                    stats.reconnects += 1;
                    None
                }
            },
            None => None,
        };
        if ready.is_none() {
            match connect(&plan).await {
                Ok(mut s) => match s.ready().await {
                    Ok(()) => ready = Some(s),
                    Err(e) => {
                        let measured = Instant::now() >= plan.measure_from;
                        stats.fail(measured, &Failure::broken("connect", format!("not ready: {e}")));
                    }
                },
                Err(e) => {
                    let measured = Instant::now() >= plan.measure_from;
                    stats.fail(measured, &Failure::broken("connect", e));
                }
            }
        }
        let Some(mut s) = ready else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let started = Instant::now();
        if let Some(at) = due.as_mut() {
            if started.duration_since(*at) > Duration::from_millis(2) && started >= plan.measure_from {
                stats.late += 1;
            }
            if let Some(iv) = interval {
                *at += iv;
            }
        }
        let measured = started >= plan.measure_from;
        let outcome = match tokio::time::timeout(timeout, one_request(&plan, &mut s, started)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Failure::broken("timeout", format!("no complete response within {:?}", timeout))),
        };
        match outcome {
            Ok(sample) if measured => {
                stats.record(sample);
                sender = Some(s);
            }
            Ok(_) => {
                stats.warmup_count += 1;
                sender = Some(s);
            }
            Err(failure) => {
                stats.fail(measured, &failure);
                if failure.reusable {
                    sender = Some(s);
                }
            }
        }
    }
    stats
}

/// Sends one request and reads the whole streamed response.
async fn one_request(plan: &Plan, sender: &mut SendRequest<Full<Bytes>>, started: Instant) -> Result<Sample, Failure> {
    let request = Request::post(plan.path.as_str())
        .header("host", plan.authority.as_str())
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .header("authorization", plan.auth.as_str())
        .header("x-mock-chunks", plan.args.chunks.to_string())
        .header("x-mock-chunk-delay-ms", plan.args.chunk_delay_ms.to_string());
    let request = match &plan.reply {
        Some(reply) => request.header("x-mock-reply", reply.as_str()),
        None => request,
    };
    let request = request.body(Full::new(plan.body.clone())).map_err(|e| Failure::broken("request", e.to_string()))?;
    let response = sender.send_request(request).await.map_err(|e| Failure::broken("transport", e.to_string()))?;
    let headers = started.elapsed();
    let status = response.status();
    let mut body = response.into_body();
    if status != StatusCode::OK {
        let mut kept = BytesMut::new();
        let mut reusable = true;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Some(data) = frame.data_ref() {
                        let room = SAMPLE_BODY.saturating_sub(kept.len());
                        kept.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
                Err(_) => {
                    reusable = false;
                    break;
                }
            }
        }
        return Err(Failure {
            kind: status_kind(status),
            message: format!("{status}: {}", String::from_utf8_lossy(&kept)),
            reusable,
        });
    }
    let mut sse = SseScan::default();
    let mut sample = Sample { headers, ..Sample::default() };
    let mut first: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::broken("body", e.to_string()))?;
        let Some(data) = frame.data_ref() else { continue };
        let now = Instant::now();
        let before = sse.content.len();
        let content_events = sse.feed(data).map_err(|m| Failure::broken("bad stream", m))?;
        if sse.content.len() > before {
            sample.arrivals.push((now.duration_since(started), sse.content.len() - before));
        }
        for _ in 0..content_events {
            match last {
                None => first = Some(now),
                Some(prev) => sample.gaps.push(now.duration_since(prev)),
            }
            last = Some(now);
        }
    }
    sample.total = started.elapsed();
    let Some(first) = first else {
        let tail = String::from_utf8_lossy(&sse.seen_tail).into_owned();
        return Err(Failure {
            kind: "no content",
            message: format!("200 without a content event: {tail}"),
            reusable: true,
        });
    };
    if !sse.done {
        let tail = String::from_utf8_lossy(&sse.seen_tail).into_owned();
        return Err(Failure {
            kind: "no [DONE]",
            message: format!("stream ended without data: [DONE]: {tail}"),
            reusable: true,
        });
    }
    if let Some(reply) = &plan.reply
        && sse.content != *reply
    {
        let at = sse.content.bytes().zip(reply.bytes()).take_while(|(a, b)| a == b).count();
        let got = sse.content.get(at..).unwrap_or("").chars().take(80).collect::<String>();
        return Err(Failure {
            kind: "content mismatch",
            message: format!(
                "content ({} bytes) differs from x-mock-reply ({} bytes) at byte {at}: {got:?}",
                sse.content.len(),
                reply.len()
            ),
            reusable: true,
        });
    }
    sample.ttfb = first.duration_since(started);
    Ok(sample)
}

fn status_kind(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400..=499 => "status 4xx",
        500..=599 => "status 5xx",
        _ => "status other",
    }
}

/// Incremental SSE event splitter that counts content events.
#[derive(Default)]
struct SseScan {
    buf: BytesMut,
    /// Where the search for the next blank line resumes.
    scanned: usize,
    done: bool,
    /// The concatenated `choices[0].delta.content` strings.
    content: String,
    /// The last bytes seen, for error messages.
    seen_tail: Vec<u8>,
}

impl SseScan {
    /// Adds a body frame; returns how many content events it completed.
    fn feed(&mut self, data: &[u8]) -> Result<usize, String> {
        self.seen_tail.extend_from_slice(data);
        if self.seen_tail.len() > SAMPLE_BODY {
            let cut = self.seen_tail.len() - SAMPLE_BODY;
            self.seen_tail.drain(..cut);
        }
        self.buf.extend_from_slice(data);
        let mut content = 0;
        while let Some((end, sep)) = self.event_end() {
            let event = self.buf.split_to(end + sep);
            self.scanned = 0;
            let text = std::str::from_utf8(&event[..end]).map_err(|_| "event is not UTF-8".to_owned())?;
            let mut payload = String::new();
            let mut any = false;
            for line in text.split('\n') {
                let line = line.strip_suffix('\r').unwrap_or(line);
                if let Some(rest) = line.strip_prefix("data:") {
                    if any {
                        payload.push('\n');
                    }
                    payload.push_str(rest.strip_prefix(' ').unwrap_or(rest));
                    any = true;
                }
            }
            if !any {
                continue;
            }
            if payload == "[DONE]" {
                self.done = true;
                continue;
            }
            let value: Value =
                serde_json::from_str(&payload).map_err(|e| format!("data is not JSON ({e}): {payload:.200}"))?;
            let text = value
                .get("choices")
                .and_then(|c| c.get(0))
                .and_then(|c| c.get("delta"))
                .and_then(|d| d.get("content"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            if let Some(text) = text {
                self.content.push_str(text);
                content += 1;
            }
        }
        Ok(content)
    }

    /// The end of the first complete event in `buf` and the length of its blank-line
    /// separator (`\n\n`, or `\n\r\n` as in `\r\n\r\n`).
    fn event_end(&mut self) -> Option<(usize, usize)> {
        let b = &self.buf[..];
        let mut i = self.scanned;
        while i < b.len() {
            if b[i] == b'\n' {
                match (b.get(i + 1), b.get(i + 2)) {
                    (Some(b'\n'), _) => return Some((i, 2)),
                    (Some(b'\r'), Some(b'\n')) => return Some((i, 3)),
                    (None, _) | (Some(b'\r'), None) => break,
                    _ => {}
                }
            }
            i += 1;
        }
        self.scanned = i;
        None
    }
}

async fn run(args: Args) -> Value {
    let authority = args.url.authority().map_or_else(String::new, |a| {
        if a.port().is_some() { a.as_str().to_owned() } else { format!("{}:80", a.host()) }
    });
    let path = args.url.path_and_query().map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let body = request_body(args.body_bytes);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.seconds);
    let plan = Arc::new(Plan {
        auth: format!("Bearer {}", args.key),
        args: args.clone(),
        authority,
        path,
        body: body.clone(),
        reply: (args.reply_bytes > 0).then(|| benign_text(args.reply_bytes, 2)),
        start,
        measure_from,
        end,
    });
    let tasks: Vec<_> = (0..args.connections).map(|i| tokio::spawn(connection(Arc::clone(&plan), i))).collect();
    let mut stats = Stats::default();
    let mut panicked = 0u64;
    for task in tasks {
        match task.await {
            Ok(s) => stats.merge(s),
            Err(_) => panicked += 1,
        }
    }
    let finished = start.elapsed().as_secs_f64() - args.warmup;
    let mut headers = std::mem::take(&mut stats.headers);
    let mut ttfb = std::mem::take(&mut stats.ttfb);
    let mut total = std::mem::take(&mut stats.total);
    let mut gaps = std::mem::take(&mut stats.gaps);
    let mut arrivals = std::mem::take(&mut stats.arrivals);
    json!({
        "url": args.url.to_string(),
        "mode": if args.rate.is_some() { "fixed-rate" } else { "closed-loop" },
        "rate": args.rate,
        "connections": args.connections,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "chunks": args.chunks,
        "chunk_delay_ms": args.chunk_delay_ms,
        "body_bytes": body.len(),
        "reply_bytes": args.reply_bytes,
        "count": stats.count,
        "errors": stats.errors + panicked,
        "warmup_count": stats.warmup_count,
        "warmup_errors": stats.warmup_errors,
        "error_kinds": stats.error_kinds,
        "error_samples": stats.samples,
        "late": stats.late,
        "reconnects": stats.reconnects,
        "rps": round3(stats.count as f64 / args.seconds),
        "elapsed_after_warmup_s": round3(finished),
        "content_events_per_response": if stats.count > 0 { round3(stats.content_events as f64 / stats.count as f64) } else { 0.0 },
        "ttfb_ms": summary(&mut ttfb),
        "headers_ms": summary(&mut headers),
        "gap_ms": summary(&mut gaps),
        "byte_ms": byte_summary(&mut arrivals),
        "total_ms": summary(&mut total),
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stream_load: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.block_on(run(args));
    println!("{report:#}");
    ExitCode::SUCCESS
}
