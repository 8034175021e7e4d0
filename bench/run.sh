#!/usr/bin/env bash
# End-to-end load benchmark: the mock provider directly, nginx in front of it,
# and rampart in front of it (virtual key + config routing), same load for all.
# See bench/README.md. Sends traffic to 127.0.0.1 only; everything it starts is
# stopped on exit; every wait and every load run has a time cap.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"

# ---------------------------------------------------------------- settings
DURATION="${BENCH_SECONDS:-10}"            # each measured run (saturation, fixed rate)
WARMUP="${BENCH_WARMUP_SECONDS:-3}"        # warm-up per target, not reported
CONNS="${BENCH_CONNECTIONS:-64}"
RATE="${BENCH_RATE:-2000}"                 # fixed request rate for the latency runs
LIGHT_RATE="${BENCH_LIGHT_RATE:-100}"      # >0: also a light-load run at this rate (latency when the
  # server's CPU is mostly idle between requests: a cold core, see bench/README.md); 0: none
BODY_BYTES="${BENCH_BODY_BYTES:-2048}"     # size of the request body
LOG_LEVELS="${BENCH_LOG_LEVELS:-warn info}" # one rampart run per level and policy
POLICIES="${BENCH_POLICIES:-default off noaudit limits-memory limits-redis}"  # default: built-in inspection policy;
  # off: every detector "allow"; noaudit: "off" with [audit] and [anomaly] disabled (what auditing costs);
  # limits-*: "off" plus a key under every limit (rpm, tpm, in-flight, daily budget
  # at a price) counted in memory or in Redis ($BENCH_REDIS_URL)
REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
STREAM="${BENCH_STREAM:-1}"                # 1: also the streaming runs (stream_load)
STREAM_DURATION="${BENCH_STREAM_SECONDS:-$DURATION}" # each measured streaming run
STREAM_CHUNKS="${BENCH_STREAM_CHUNKS:-20}" # content chunks per streamed answer (x-mock-chunks)
STREAM_DELAY="${BENCH_STREAM_CHUNK_DELAY_MS:-5}" # ms between them (x-mock-chunk-delay-ms)
STREAM_REPLY="${BENCH_STREAM_REPLY_BYTES:-0}" # >0: the mock answers that many bytes (x-mock-reply), 0: its 37-byte answer
STREAM_RATE="${BENCH_STREAM_RATE:-auto}" # fixed-rate streaming runs at this many responses/s; auto: 90% of
  # the mock's closed-loop rate (about 0.9 x 64 streams in flight); 0: closed loop only
PORT_BASE="${BENCH_PORT_BASE:-18190}"      # uses PORT_BASE .. PORT_BASE+2
CPU_SERVER="${BENCH_CPU_SERVER:-0}"        # rampart, nginx
CPU_CLIENT="${BENCH_CPU_CLIENT:-1}"        # mock, load generator
BUILD="${BENCH_BUILD:-1}"                  # 1: cargo build --release -p rampart (+ stream_load) first
RAMPART_BIN="${RAMPART_BIN:-$REPO/target/release/rampart}"
STREAM_BIN="${BENCH_STREAM_BIN:-$REPO/target/release/examples/stream_load}"
RESULTS="${BENCH_RESULTS:-$BENCH_DIR/results/latest.md}"
QUIET_WAIT="${BENCH_WAIT_QUIET_SECONDS:-300}" # wait up to this long for an idle machine first

int_in() { # name value min max
  [[ "$2" =~ ^[0-9]+$ ]] && (($2 >= $3 && $2 <= $4)) || { echo "bench: $1=$2 must be an integer in [$3, $4]" >&2; exit 2; }
}
int_in BENCH_SECONDS "$DURATION" 1 600
int_in BENCH_WARMUP_SECONDS "$WARMUP" 0 120
int_in BENCH_CONNECTIONS "$CONNS" 1 1024
int_in BENCH_RATE "$RATE" 1 1000000
int_in BENCH_LIGHT_RATE "$LIGHT_RATE" 0 1000000
int_in BENCH_STREAM_SECONDS "$STREAM_DURATION" 1 600
int_in BENCH_BODY_BYTES "$BODY_BYTES" 256 1048576
int_in BENCH_PORT_BASE "$PORT_BASE" 1024 65000
int_in BENCH_WAIT_QUIET_SECONDS "$QUIET_WAIT" 0 3600
int_in BENCH_STREAM_CHUNKS "$STREAM_CHUNKS" 1 10000
int_in BENCH_STREAM_CHUNK_DELAY_MS "$STREAM_DELAY" 0 1000
int_in BENCH_STREAM_REPLY_BYTES "$STREAM_REPLY" 0 65536
[[ "$STREAM_RATE" == auto ]] || int_in BENCH_STREAM_RATE "$STREAM_RATE" 0 100000
[[ "$STREAM" == 0 || "$STREAM" == 1 ]] || { echo "bench: BENCH_STREAM=$STREAM must be 0 or 1" >&2; exit 2; }
[[ -n "${LOG_LEVELS// /}" ]] || { echo "bench: BENCH_LOG_LEVELS is empty" >&2; exit 2; }
[[ -n "${POLICIES// /}" ]] || { echo "bench: BENCH_POLICIES is empty" >&2; exit 2; }
for p in $POLICIES; do
  [[ "$p" =~ ^(default|off|noaudit|limits-memory|limits-redis)$ ]] \
    || { echo "bench: BENCH_POLICIES: '$p' must be default, off, noaudit, limits-memory or limits-redis" >&2; exit 2; }
done
# The streaming runs use one log level: info when it is measured (the realistic setting), else the last one.
STREAM_LEVEL="${BENCH_STREAM_LOG_LEVEL:-}"
if [[ -z "$STREAM_LEVEL" ]]; then
  STREAM_LEVEL="${LOG_LEVELS##* }"
  [[ " $LOG_LEVELS " == *" info "* ]] && STREAM_LEVEL=info
fi
[[ "$STREAM" == 0 || " $LOG_LEVELS " == *" $STREAM_LEVEL "* ]] \
  || { echo "bench: BENCH_STREAM_LOG_LEVEL=$STREAM_LEVEL is not one of BENCH_LOG_LEVELS ($LOG_LEVELS)" >&2; exit 2; }

log() { echo "bench: $*" >&2; }
# shellcheck source=bench/config.sh
source "$BENCH_DIR/config.sh"
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- tools
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "need $* but apt-get is not available"
  if ((apt_updated == 0)); then timeout 300 apt-get update -qq >&2 || true; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "$@" >&2
}
command -v python3 >/dev/null || apt_install python3
command -v curl >/dev/null || apt_install curl
command -v taskset >/dev/null || apt_install util-linux
NGINX="$(command -v nginx || true)"
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
if [[ -z "$NGINX" ]]; then
  apt_install nginx-light || apt_install nginx
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
fi
[[ -x "$NGINX" ]] || die "nginx not found after install"
# Debian's postinst may start a system nginx on :80; it is not ours and is not used.

OHA="$(command -v oha || true)"
[[ -z "$OHA" && -x "$HOME/.cargo/bin/oha" ]] && OHA="$HOME/.cargo/bin/oha"
if [[ -z "$OHA" ]]; then
  log "installing oha (cargo install oha --locked; several minutes on 2 cores)"
  timeout 1800 cargo install oha --locked >&2 || die "cargo install oha failed (see above)"
  OHA="$HOME/.cargo/bin/oha"
fi
OHA_HELP="$("$OHA" --help)"
if grep -q -- '--output-format' <<<"$OHA_HELP"; then OHA_JSON=(--output-format json)
elif grep -q -- '--json' <<<"$OHA_HELP"; then OHA_JSON=(--json)
else die "this oha has no JSON output"; fi
OHA_WAIT=()
grep -q -- '--wait-ongoing-requests-after-deadline' <<<"$OHA_HELP" && OHA_WAIT=(--wait-ongoing-requests-after-deadline)
OHA_CORR=()
grep -q -- '--latency-correction' <<<"$OHA_HELP" && OHA_CORR=(--latency-correction)

if [[ "$BUILD" == 1 ]]; then
  log "cargo build --release -p rampart"
  (cd "$REPO" && timeout 3600 cargo build --release -p rampart >&2) \
    || die "cargo build --release -p rampart failed (BENCH_BUILD=0 uses the existing binary)"
  if [[ "$STREAM" == 1 ]]; then
    log "cargo build --release -p rampart-test --example stream_load"
    (cd "$REPO" && timeout 3600 cargo build --release -p rampart-test --example stream_load >&2) \
      || die "cargo build --release -p rampart-test --example stream_load failed (BENCH_STREAM=0 skips streaming)"
  fi
fi
[[ -x "$RAMPART_BIN" ]] || die "no rampart binary at $RAMPART_BIN"
[[ "$STREAM" == 0 || -x "$STREAM_BIN" ]] || die "no stream_load binary at $STREAM_BIN (BENCH_STREAM=0 skips streaming)"

# ---------------------------------------------------------------- processes
WORK="$(mktemp -d /tmp/rampart-bench.XXXXXX)"
declare -A PIDS=() # everything started and not yet reaped
stop_pid() { # pid: TERM, up to 5 s, then KILL
  local pid="$1" i
  [[ -n "${PIDS[$pid]:-}" ]] || return 0
  unset "PIDS[$pid]"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${!PIDS[@]}"; do stop_pid "$pid"; done
  [[ "${BENCH_KEEP_WORKDIR:-0}" == 1 ]] && log "work dir kept: $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
P_MOCK=$PORT_BASE; P_NGINX=$((PORT_BASE + 1)); P_RAMPART=$((PORT_BASE + 2))
for p in $P_MOCK $P_NGINX $P_RAMPART; do port_free "$p" || die "port 127.0.0.1:$p is in use (set BENCH_PORT_BASE)"; done

wait_http() { # url expected-code pid what: polls up to 30 s
  local i code
  for ((i = 0; i < 300; i++)); do
    kill -0 "$3" 2>/dev/null || die "$4 exited during start-up (logs in $WORK)"
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)"
    [[ "$code" == "$2" ]] && return 0
    sleep 0.1
  done
  die "$4 not ready after 30 s ($1 -> $code)"
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { # utime+stime of a process and its direct children (nginx's worker)
  local total=0 p t
  for p in "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null || true); do
    t="$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')" || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
cpu_stat() { # "busy steal total" ticks of one CPU, from /proc/stat (busy: all but idle and iowait;
  # softirq counts, as the kernel also bills it to the process it ran in, e.g. loopback networking)
  awk -v c="cpu$1" '$1 == c {print $2+$3+$4+$7+$8+$9, $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat
}
cpu_busy() { # CPU before-sample after-sample -> "busy% steal%" over the interval
  awk -v a="$2" -v b="$3" 'BEGIN {split(a, x, " "); split(b, y, " "); t = y[3] - x[3]; if (t <= 0) t = 1;
    printf "%.0f %.0f", 100 * (y[1] - x[1]) / t, 100 * (y[2] - x[2]) / t}'
}

# ---------------------------------------------------------------- request body
BODY="$WORK/body.json"
write_body "$BODY" "$BODY_BYTES"
BODY_LEN=$(wc -c <"$BODY")
MOCK_API_KEY="sk-bench-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
RAMPART_KEY_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export MOCK_API_KEY RAMPART_KEY_SECRET

check_post() { # url auth-header expected-code what
  local code
  code="$(curl -s -o "$WORK/check.out" -w '%{http_code}' --max-time 5 -X POST \
    -H 'Content-Type: application/json' -H "$2" --data-binary "@$BODY" "$1" || true)"
  [[ "$code" == "$3" ]] || { cat "$WORK/check.out" >&2 || true; die "$4: POST $1 gave $code, expected $3"; }
}

# ---------------------------------------------------------------- load
# run_oha NAME URL AUTH SECONDS [extra oha args...] -> $WORK/NAME.json
run_oha() {
  local name="$1" url="$2" auth="$3" secs="$4"; shift 4
  # In the background and waited for, so that a signal ends the script (and the trap stops oha) at once.
  timeout $((secs + 60)) taskset -c "$CPU_CLIENT" "$OHA" --no-tui "${OHA_JSON[@]}" "${OHA_WAIT[@]}" \
    -z "${secs}s" -c "$CONNS" -m POST -H 'Content-Type: application/json' -H "$auth" \
    -D "$BODY" "$@" "$url" >"$WORK/$name.json" 2>"$WORK/$name.err" &
  local pid=$! rc=0
  PIDS[$pid]=1
  wait "$pid" || rc=$?
  unset "PIDS[$pid]"
  ((rc == 0)) || { cat "$WORK/$name.err" >&2; die "oha failed for $name (exit $rc)"; }
}
# Other work on the machine (a compile) skews every figure: wait, bounded, for a quiet one.
all_busy_pct() { # busy % of all CPUs over 3 s
  local a b
  a="$(awk '$1 == "cpu" {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)"; sleep 3
  b="$(awk '$1 == "cpu" {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)"
  awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; if (t <= 0) t = 1;
    printf "%.0f", 100 * (y[1] - x[1]) / t}'
}
wait_quiet() { # CAP_SECONDS -> BUSY_NOW
  local start=$SECONDS
  BUSY_NOW="$(all_busy_pct)"
  while ((BUSY_NOW > 15 && SECONDS - start < $1)); do
    log "machine busy (${BUSY_NOW}% CPU over 3 s): waiting for it to quieten ($(($1 - SECONDS + start)) s left)"
    sleep 7
    BUSY_NOW="$(all_busy_pct)"
  done
  if ((BUSY_NOW > 15)); then log "machine still busy (${BUSY_NOW}% CPU): measuring anyway"; fi
}
own_cpu() { # CPU seconds of the reaped children of this shell (the oha runs), as of the last `times >"$WORK/times"`
  awk 'NR == 2 {s = 0; for (i = 1; i <= 2; i++) {split($i, p, "m"); s += p[1] * 60 + p[2]}; printf "%.3f", s}' "$WORK/times"
}

TSV="$WORK/targets.tsv"
: >"$TSV"
RETRIES="${BENCH_RETRIES:-2}"
int_in BENCH_RETRIES "$RETRIES" 0 5
# measure LABEL URL AUTH SERVER_PID RSS(yes|no): warm-up, saturation, fixed rate.
# SERVER_PID's CPU time (with children) is sampled around the saturation run. Over the
# saturation + fixed-rate window, the CPU time that neither the server, the mock nor oha
# used on each of the two CPUs is "foreign"; above 10% the target is measured again
# (after waiting for a quiet machine), up to BENCH_RETRIES times.
measure() {
  local label="$1" url="$2" auth="$3" pid="$4" slug rss_idle="-" rss_after="-" attempt
  local t0 t1 t2 w0 w1 m0 m1 c0 c1 s0a s0b s1a s1b n0a n0b n1a n1b noise f0 f1 f discarded=""
  slug="$(tr -c 'a-z0-9\n' '_' <<<"$label")"
  [[ "$5" == yes ]] && rss_idle="$(rss_kib "$pid")"
  for ((attempt = 1; ; attempt++)); do
    if ((WARMUP > 0)); then
      log "$label: warm-up ${WARMUP}s"
      run_oha "${slug}_warm" "$url" "$auth" "$WARMUP"
    fi
    log "$label: saturation ${DURATION}s, $CONNS connections"
    times >"$WORK/times"; c0="$(own_cpu)"; m0="$(cpu_ticks "$MOCK_PID")"
    n0a="$(cpu_stat "$CPU_SERVER")"; n1a="$(cpu_stat "$CPU_CLIENT")"
    t0="$(cpu_ticks "$pid")"; w0="$(date +%s.%N)"; s0a="$n0a"; s1a="$n1a"
    run_oha "${slug}_sat" "$url" "$auth" "$DURATION"
    t1="$(cpu_ticks "$pid")"; w1="$(date +%s.%N)"
    s0b="$(cpu_stat "$CPU_SERVER")"; s1b="$(cpu_stat "$CPU_CLIENT")"
    log "$label: fixed rate $RATE req/s ${DURATION}s"
    run_oha "${slug}_rate" "$url" "$auth" "$DURATION" -q "$RATE" "${OHA_CORR[@]}"
    t2="$(cpu_ticks "$pid")"; m1="$(cpu_ticks "$MOCK_PID")"
    n0b="$(cpu_stat "$CPU_SERVER")"; n1b="$(cpu_stat "$CPU_CLIENT")"; times >"$WORK/times"; c1="$(own_cpu)"
    # foreign % per CPU = (busy - ours) / elapsed; ours on the server CPU = the proxy
    # (nothing for the direct target), on the client CPU = mock + oha.
    noise="$(awk -v a0="$n0a" -v b0="$n0b" -v a1="$n1a" -v b1="$n1b" -v hz="$CLK_TCK" \
      -v srv=$(( pid == MOCK_PID ? 0 : t2 - t0 )) -v cli="$(awk -v m=$((m1 - m0)) -v c0="$c0" -v c1="$c1" -v hz="$CLK_TCK" \
        'BEGIN {print m + (c1 - c0) * hz}')" \
      'BEGIN {split(a0, x, " "); split(b0, y, " "); t = y[3] - x[3]; if (t <= 0) t = 1; f0 = 100 * (y[1] - x[1] - srv) / t;
              split(a1, x, " "); split(b1, y, " "); t = y[3] - x[3]; if (t <= 0) t = 1; f1 = 100 * (y[1] - x[1] - cli) / t;
              printf "%.0f %.0f", (f0 < 0 ? 0 : f0), (f1 < 0 ? 0 : f1)}')"
    read -r f0 f1 <<<"$noise"
    if ((f0 > 10 || f1 > 10)) && ((attempt <= RETRIES)); then
      log "$label: other processes took ${f0}% of CPU $CPU_SERVER and ${f1}% of CPU $CPU_CLIENT: measuring again"
      for f in warm sat rate; do # kept so that their non-2xx/errors still count
        [[ -f "$WORK/${slug}_$f.json" ]] || continue
        mv "$WORK/${slug}_$f.json" "$WORK/${slug}_try${attempt}_$f.json"
        discarded+="${discarded:+,}$WORK/${slug}_try${attempt}_$f.json"
      done
      wait_quiet "$QUIET_WAIT"
      continue
    fi
    break
  done
  local light="-" light_cpu="-" l0
  if ((LIGHT_RATE > 0)); then
    log "$label: light load $LIGHT_RATE req/s ${DURATION}s"
    l0="$(cpu_ticks "$pid")"
    run_oha "${slug}_light" "$url" "$auth" "$DURATION" -q "$LIGHT_RATE" "${OHA_CORR[@]}"
    light="$WORK/${slug}_light.json"
    light_cpu="$(awk -v t=$(($(cpu_ticks "$pid") - l0)) -v h="$CLK_TCK" 'BEGIN {print t / h}')"
  fi
  [[ "$5" == yes ]] && rss_after="$(rss_kib "$pid")"
  local warm="-"; ((WARMUP > 0)) && warm="$WORK/${slug}_warm.json"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$WORK/${slug}_sat.json" "$WORK/${slug}_rate.json" \
    "$warm" "$rss_idle" "$rss_after" "$(awk -v t=$((t1 - t0)) -v h="$CLK_TCK" 'BEGIN {print t / h}')" \
    "$(awk -v a="$w0" -v b="$w1" 'BEGIN {print b - a}')" \
    "$(cpu_busy "$CPU_SERVER" "$s0a" "$s0b")" "$(cpu_busy "$CPU_CLIENT" "$s1a" "$s1b")" "$f0 $f1" "$attempt" "${discarded:--}" "$light" "$light_cpu" >>"$TSV"
}

STSV="$WORK/stream.tsv"
: >"$STSV"
# measure_stream LABEL URL KEY SERVER_PID RATE: stream_load (closed loop when RATE is 0, else
# RATE requests/s spread evenly over the connections; CONNS connections, warm-up then
# DURATION s, pinned like oha) -> one row of $STSV. SERVER_PID's CPU time and the noise
# check ("foreign" CPU, as in measure) cover the whole run, warm-up included.
measure_stream() {
  local label="$1" url="$2" key="$3" pid="$4" srate="$5" slug out attempt rc spid how
  local t0 t1 m0 m1 c0 c1 n0a n0b n1a n1b w0 w1 noise f0 f1 discarded="" rate_args=()
  slug="stream_$(tr -c 'a-z0-9\n' '_' <<<"$label")_$srate"
  how="closed loop"
  ((srate > 0)) && { rate_args=(--rate "$srate"); how="$srate responses/s"; }
  for ((attempt = 1; ; attempt++)); do
    out="$WORK/$slug.json"
    log "$label: streaming ($how), warm-up ${WARMUP}s + ${STREAM_DURATION}s, $CONNS connections, $STREAM_CHUNKS chunks ${STREAM_DELAY} ms apart"
    times >"$WORK/times"; c0="$(own_cpu)"; m0="$(cpu_ticks "$MOCK_PID")"; t0="$(cpu_ticks "$pid")"
    n0a="$(cpu_stat "$CPU_SERVER")"; n1a="$(cpu_stat "$CPU_CLIENT")"; w0="$(date +%s.%N)"
    # In the background and waited for, like oha, so that a signal ends the script at once.
    timeout $((WARMUP + STREAM_DURATION + 90)) taskset -c "$CPU_CLIENT" "$STREAM_BIN" --url "$url" --key "$key" \
      --connections "$CONNS" --seconds "$STREAM_DURATION" --warmup "$WARMUP" --chunks "$STREAM_CHUNKS" \
      --chunk-delay-ms "$STREAM_DELAY" --body-bytes "$BODY_BYTES" --reply-bytes "$STREAM_REPLY" "${rate_args[@]}" \
      >"$out" 2>"$WORK/$slug.err" &
    spid=$!; rc=0
    PIDS[$spid]=1
    wait "$spid" || rc=$?
    unset "PIDS[$spid]"
    ((rc == 0)) || { cat "$WORK/$slug.err" >&2; die "stream_load failed for $label (exit $rc)"; }
    t1="$(cpu_ticks "$pid")"; m1="$(cpu_ticks "$MOCK_PID")"; w1="$(date +%s.%N)"
    n0b="$(cpu_stat "$CPU_SERVER")"; n1b="$(cpu_stat "$CPU_CLIENT")"; times >"$WORK/times"; c1="$(own_cpu)"
    noise="$(awk -v a0="$n0a" -v b0="$n0b" -v a1="$n1a" -v b1="$n1b" \
      -v srv=$(( pid == MOCK_PID ? 0 : t1 - t0 )) -v cli="$(awk -v m=$((m1 - m0)) -v c0="$c0" -v c1="$c1" -v hz="$CLK_TCK" \
        'BEGIN {print m + (c1 - c0) * hz}')" \
      'BEGIN {split(a0, x, " "); split(b0, y, " "); t = y[3] - x[3]; if (t <= 0) t = 1; f0 = 100 * (y[1] - x[1] - srv) / t;
              split(a1, x, " "); split(b1, y, " "); t = y[3] - x[3]; if (t <= 0) t = 1; f1 = 100 * (y[1] - x[1] - cli) / t;
              printf "%.0f %.0f", (f0 < 0 ? 0 : f0), (f1 < 0 ? 0 : f1)}')"
    read -r f0 f1 <<<"$noise"
    if ((f0 > 10 || f1 > 10)) && ((attempt <= RETRIES)); then
      log "$label (streaming): other processes took ${f0}% of CPU $CPU_SERVER and ${f1}% of CPU $CPU_CLIENT: measuring again"
      mv "$out" "$WORK/${slug}_try${attempt}.json" # kept so that its errors still count
      discarded+="${discarded:+,}$WORK/${slug}_try${attempt}.json"
      wait_quiet "$QUIET_WAIT"
      continue
    fi
    break
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$out" \
    "$(awk -v t=$((t1 - t0)) -v h="$CLK_TCK" 'BEGIN {print t / h}')" "$(awk -v a="$w0" -v b="$w1" 'BEGIN {print b - a}')" \
    "$(cpu_busy "$CPU_SERVER" "$n0a" "$n0b")" "$(cpu_busy "$CPU_CLIENT" "$n1a" "$n1b")" "$f0 $f1" "$attempt" \
    "${discarded:--}" "$srate" >>"$STSV"
}

wait_quiet "$QUIET_WAIT"
BUSY_BEFORE="$BUSY_NOW"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
CHAT=/v1/chat/completions

# 1. mock provider, directly
taskset -c "$CPU_CLIENT" "$RAMPART_BIN" mock --listen "127.0.0.1:$P_MOCK" >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!; PIDS[$MOCK_PID]=1
wait_http "http://127.0.0.1:$P_MOCK/v1/models" 200 "$MOCK_PID" mock
check_post "http://127.0.0.1:$P_MOCK$CHAT" "Authorization: Bearer $MOCK_API_KEY" 200 mock
measure "direct (mock)" "http://127.0.0.1:$P_MOCK$CHAT" "Authorization: Bearer $MOCK_API_KEY" "$MOCK_PID" no
if [[ "$STREAM" == 1 ]]; then
  measure_stream "direct (mock)" "http://127.0.0.1:$P_MOCK$CHAT" "$MOCK_API_KEY" "$MOCK_PID" 0
  if [[ "$STREAM_RATE" == auto ]]; then
    STREAM_RATE="$(python3 -c 'import json,sys; print(int(0.9 * float(json.load(open(sys.argv[1]))["rps"])))' \
      "$WORK/stream_direct__mock__0.json")"
    ((STREAM_RATE > 0)) || die "the mock's closed-loop streaming rate was 0"
  fi
  if ((STREAM_RATE > 0)); then
    measure_stream "direct (mock)" "http://127.0.0.1:$P_MOCK$CHAT" "$MOCK_API_KEY" "$MOCK_PID" "$STREAM_RATE"
  fi
fi

# 2. nginx reverse proxy
mkdir -p "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  keepalive_requests 1000000;
  client_body_buffer_size 64k;
  upstream mock {
    server 127.0.0.1:$P_MOCK;
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$P_NGINX;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
taskset -c "$CPU_SERVER" "$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" >"$WORK/nginx/stdout.log" 2>&1 &
NGINX_PID=$!; PIDS[$NGINX_PID]=1
wait_http "http://127.0.0.1:$P_NGINX/v1/models" 200 "$NGINX_PID" nginx
check_post "http://127.0.0.1:$P_NGINX$CHAT" "Authorization: Bearer $MOCK_API_KEY" 200 nginx
measure "nginx" "http://127.0.0.1:$P_NGINX$CHAT" "Authorization: Bearer $MOCK_API_KEY" "$NGINX_PID" no
stop_pid "$NGINX_PID"

# Script calls Redis has served (EVALSHA + EVAL), for the round-trips-per-request figure.
redis_script_calls() {
  command -v redis-cli >/dev/null || { echo 0; return; }
  redis-cli -u "$REDIS_URL" INFO commandstats 2>/dev/null \
    | awk -F'[=,:]' '/^cmdstat_(evalsha|eval):/ {n += $3} END {print n + 0}'
}

# 3. rampart, once per log level and policy: "default" is the built-in default policy
# (inspection on: no [policies] table), "off" sets every detector to "allow".
for level in $LOG_LEVELS; do
for policy in $POLICIES; do
  dir="$WORK/rampart-$level-$policy"; mkdir -p "$dir"
  case "$policy" in
    default) label="rampart (log $level, default policy)" ;;
    off) label="rampart (log $level, inspection off)" ;;
    noaudit) label="rampart (log $level, inspection off, audit off)" ;;
    limits-memory) label="rampart (log $level, inspection off, limits in memory)" ;;
    limits-redis) label="rampart (log $level, inspection off, limits in Redis)" ;;
    *) echo "bench: unknown policy $policy" >&2; exit 1 ;;
  esac
  write_rampart_config "$dir" "$level" "$policy" "$P_RAMPART"
  # gpt-4o-mini is routed by its [[models]] entry (same upstream name: body forwarded as is).
  limit_flags=()
  # Limits far above the load, so every request is counted (prompt tokenized, cost
  # priced, reserved and settled) and none is refused.
  if [[ "$policy" == limits-* ]]; then
    limit_flags=(--rpm 100000000 --tpm 100000000000 --max-concurrency 100000 --daily-budget-usd 1000000)
  fi
  key="$(timeout 60 "$RAMPART_BIN" keys create --config "$dir/rampart.toml" --name bench --json "${limit_flags[@]}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
  taskset -c "$CPU_SERVER" "$RAMPART_BIN" serve --config "$dir/rampart.toml" >"$dir/rampart.log" 2>&1 &
  RAMPART_PID=$!; PIDS[$RAMPART_PID]=1
  wait_http "http://127.0.0.1:$P_RAMPART/readyz" 200 "$RAMPART_PID" rampart
  check_post "http://127.0.0.1:$P_RAMPART$CHAT" "Authorization: Bearer $key" 200 "$label"
  check_post "http://127.0.0.1:$P_RAMPART$CHAT" "Authorization: Bearer rk-not-a-key" 401 "rampart without a valid key"
  sleep 1 # let it settle before the idle RSS reading
  calls_before="$(redis_script_calls)"
  measure "$label" "http://127.0.0.1:$P_RAMPART$CHAT" "Authorization: Bearer $key" "$RAMPART_PID" yes
  if [[ "$policy" == limits-redis ]]; then
    # Redis round trips per request: script calls (reserve + settle) over the 2xx
    # responses of this target's runs (warm-up, saturation, fixed rate).
    echo "$label $calls_before $(redis_script_calls)" >>"$WORK/redis-calls.txt"
  fi
  if [[ "$STREAM" == 1 && "$level" == "$STREAM_LEVEL" ]]; then
    measure_stream "$label" "http://127.0.0.1:$P_RAMPART$CHAT" "$key" "$RAMPART_PID" 0
    if ((STREAM_RATE > 0)); then
      measure_stream "$label" "http://127.0.0.1:$P_RAMPART$CHAT" "$key" "$RAMPART_PID" "$STREAM_RATE"
    fi
  fi
  stop_pid "$RAMPART_PID"
  echo "$level/$policy $(wc -l <"$dir/rampart.log")" >>"$WORK/rampart-loglines"
done
done

# ---------------------------------------------------------------- report
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
rev="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]] && rev="$rev (tracked files modified)"
mkdir -p "$(dirname "$RESULTS")"
set +e
BENCH_META_DATE="$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
BENCH_META_NPROC="$(nproc)" \
BENCH_META_CPU="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
BENCH_META_KERNEL="$(uname -sr)" \
BENCH_META_REV="$rev" \
BENCH_META_BIN="$RAMPART_BIN, built $(date -u -r "$RAMPART_BIN" '+%Y-%m-%d %H:%M:%S UTC')" \
BENCH_META_OHA="$("$OHA" --version 2>/dev/null | head -1)" \
BENCH_META_NGINX="$("$NGINX" -v 2>&1 | head -1)" \
BENCH_META_LOAD="$LOAD_START -> $LOAD_END" \
BENCH_META_BUSY_BEFORE="$BUSY_BEFORE" \
BENCH_META_LOGLINES="$(cat "$WORK/rampart-loglines" 2>/dev/null | tr '\n' ';')" \
BENCH_META_STREAM="$STREAM_CHUNKS $STREAM_DELAY $STREAM_LEVEL $STREAM_REPLY" \
BENCH_META_REDIS_CALLS="$(cat "$WORK/redis-calls.txt" 2>/dev/null | tr '\n' ';')" \
BENCH_META_LIGHT_RATE="$LIGHT_RATE" \
BENCH_META_STREAM_SECONDS="$STREAM_DURATION" \
python3 "$BENCH_DIR/report.py" "$TSV" "$DURATION" "$WARMUP" "$CONNS" "$RATE" "$BODY_LEN" \
  "$CPU_SERVER" "$CPU_CLIENT" "$STSV" >"$WORK/report.md"
status=$?
set -e
cp "$WORK/report.md" "$RESULTS"
cat "$WORK/report.md"
log "written to $RESULTS"
exit "$status"
