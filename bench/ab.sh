#!/usr/bin/env bash
# Paired latency comparison of two rampart configurations in front of the mock
# provider: both gateways run at once and are measured in alternation, ROUNDS rounds of
# one fixed-rate oha run each (the order swapped every round), so that the machine's
# drift hits both alike. Prints every round's p50 and p99 and the median of the
# per-round differences (B minus A). The default pair, noaudit then off, is what
# auditing and anomaly detection add (issue 7's target: ≤ 50 µs at p50).
#
#   AB_A=noaudit AB_B=off AB_ROUNDS=9 AB_SECONDS=5 bash bench/ab.sh
#   AB_MODE=stream AB_A=direct AB_B=default bash bench/ab.sh
#
# Sides: the policies of bench/config.sh (default, default-noaudit, off, noaudit,
# limits-memory, limits-redis), or direct (the mock itself). AB_BIN_A / AB_BIN_B run a side
# on another build (default RAMPART_BIN), to compare two builds under one policy:
#   cp target/release/rampart /tmp/rampart.before   # then rebuild
#   AB_A=default AB_B=default AB_BIN_A=/tmp/rampart.before bash bench/ab.sh
# AB_MODE=stream measures streamed chat
# completions with stream_load instead (time to first content p50/p99 and the mean
# arrival of the answer's bytes; BENCH_STREAM_* as in run.sh, 60 chunks of a 1200-byte
# answer 5 ms apart by default; BENCH_STREAM_RATE=R starts R requests/s spread evenly over
# the connections instead of a closed loop). Needs target/release/rampart, oha (bench/run.sh
# installs it) and, for streams, target/release/examples/stream_load.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
A="${AB_A:-noaudit}"
B="${AB_B:-off}"
ROUNDS="${AB_ROUNDS:-9}"
SECS="${AB_SECONDS:-5}"
RATE="${BENCH_RATE:-2000}"
CONNS="${BENCH_CONNECTIONS:-64}"
BODY_BYTES="${BENCH_BODY_BYTES:-2048}"
PORT_BASE="${BENCH_PORT_BASE:-18290}"
CPU_SERVER="${BENCH_CPU_SERVER:-0}"
CPU_CLIENT="${BENCH_CPU_CLIENT:-1}"
LEVEL="${BENCH_LOG_LEVEL:-info}"
MODE="${AB_MODE:-rate}"
STREAM_BIN="${BENCH_STREAM_BIN:-$REPO/target/release/examples/stream_load}"
STREAM_CHUNKS="${BENCH_STREAM_CHUNKS:-60}"
STREAM_DELAY="${BENCH_STREAM_CHUNK_DELAY_MS:-5}"
STREAM_REPLY="${BENCH_STREAM_REPLY_BYTES:-1200}"
STREAM_RATE="${BENCH_STREAM_RATE:-0}"
RAMPART_BIN="${RAMPART_BIN:-$REPO/target/release/rampart}"
declare -A BIN=([A]="${AB_BIN_A:-$RAMPART_BIN}" [B]="${AB_BIN_B:-$RAMPART_BIN}")
REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"

log() { echo "ab: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for p in "$A" "$B"; do
  [[ "$p" =~ ^(direct|default|default-noaudit|off|noaudit|limits-memory|limits-redis)$ ]] || die "side '$p' is not direct or one of bench/config.sh's policies"
done
[[ "$MODE" == rate || "$MODE" == stream ]] || die "AB_MODE=$MODE must be rate or stream"
[[ "$STREAM_RATE" =~ ^[0-9]+$ ]] || die "BENCH_STREAM_RATE=$STREAM_RATE must be a whole number (0: closed loop)"
STREAM_RATE_ARGS=(); ((STREAM_RATE > 0)) && STREAM_RATE_ARGS=(--rate "$STREAM_RATE")
[[ "$MODE" == rate || -x "$STREAM_BIN" ]] || die "no stream_load at $STREAM_BIN (cargo build --release -p rampart-test --example stream_load)"
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && ((ROUNDS >= 1 && ROUNDS <= 100)) || die "AB_ROUNDS=$ROUNDS must be 1..100"
[[ "$SECS" =~ ^[0-9]+$ ]] && ((SECS >= 1 && SECS <= 600)) || die "AB_SECONDS=$SECS must be 1..600"
for bin in "$RAMPART_BIN" "${BIN[A]}" "${BIN[B]}"; do
  [[ -x "$bin" ]] || die "no rampart binary at $bin (cargo build --release -p rampart)"
done
OHA="$(command -v oha || true)"
[[ -z "$OHA" && -x "$HOME/.cargo/bin/oha" ]] && OHA="$HOME/.cargo/bin/oha"
[[ -n "$OHA" ]] || die "oha not found (bench/run.sh installs it: cargo install oha --locked)"
# shellcheck source=bench/config.sh
source "$BENCH_DIR/config.sh"

WORK="$(mktemp -d /tmp/rampart-ab.XXXXXX)"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

P_MOCK=$PORT_BASE
export MOCK_API_KEY="sk-ab-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export RAMPART_KEY_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
write_body "$WORK/body.json" "$BODY_BYTES"

wait_ready() { # url pid what
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$2" 2>/dev/null || die "$3 exited during start-up"
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)" == 200 ]] && return 0
    sleep 0.1
  done
  die "$3 not ready after 30 s"
}

taskset -c "$CPU_CLIENT" "$RAMPART_BIN" mock --listen "127.0.0.1:$P_MOCK" >"$WORK/mock.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$P_MOCK/v1/models" "$!" mock

declare -A URL KEY
i=0
for side in A B; do
  i=$((i + 1))
  policy="${!side}"
  if [[ "$policy" == direct ]]; then
    URL[$side]="http://127.0.0.1:$P_MOCK/v1/chat/completions"; KEY[$side]="$MOCK_API_KEY"
    continue
  fi
  dir="$WORK/$side"; mkdir -p "$dir"
  write_rampart_config "$dir" "$LEVEL" "$policy" $((PORT_BASE + i))
  limit_flags=()
  [[ "$policy" == limits-* ]] && limit_flags=(--rpm 100000000 --tpm 100000000000 --max-concurrency 100000 --daily-budget-usd 1000000)
  KEY[$side]="$(timeout 60 "${BIN[$side]}" keys create --config "$dir/rampart.toml" --name ab --json "${limit_flags[@]}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
  taskset -c "$CPU_SERVER" "${BIN[$side]}" serve --config "$dir/rampart.toml" >"$dir/rampart.log" 2>&1 &
  PIDS+=($!)
  wait_ready "http://127.0.0.1:$((PORT_BASE + i))/readyz" "$!" "rampart ($policy)"
  URL[$side]="http://127.0.0.1:$((PORT_BASE + i))/v1/chat/completions"
done

run() { # side seconds out [extra oha args]
  local side="$1" secs="$2" out="$3"; shift 3
  if [[ "$MODE" == stream ]]; then
    timeout $((secs + 90)) taskset -c "$CPU_CLIENT" "$STREAM_BIN" --url "${URL[$side]}" --key "${KEY[$side]}" \
      --connections "$CONNS" --seconds "$secs" --warmup 1 --chunks "$STREAM_CHUNKS" --chunk-delay-ms "$STREAM_DELAY" \
      --body-bytes "$BODY_BYTES" --reply-bytes "$STREAM_REPLY" "${STREAM_RATE_ARGS[@]}" >"$out" 2>"$out.err" \
      || { cat "$out.err" >&2; die "stream_load failed"; }
    return
  fi
  timeout $((secs + 60)) taskset -c "$CPU_CLIENT" "$OHA" --no-tui --output-format json -z "${secs}s" -c "$CONNS" \
    -m POST -H 'Content-Type: application/json' -H "Authorization: Bearer ${KEY[$side]}" \
    -D "$WORK/body.json" "$@" "${URL[$side]}" >"$out" 2>"$out.err" || { cat "$out.err" >&2; die "oha failed"; }
}
for side in A B; do
  log "warm-up $side (${!side}): 3 s"
  run "$side" 3 "$WORK/warm-$side.json" -q "$RATE"
done
for ((r = 1; r <= ROUNDS; r++)); do
  order=(A B); ((r % 2 == 0)) && order=(B A)
  for side in "${order[@]}"; do
    if [[ "$MODE" == stream ]]; then log "round $r/$ROUNDS: $side (${!side}), ${SECS}s of streams"
    else log "round $r/$ROUNDS: $side (${!side}), ${SECS}s at $RATE req/s"; fi
    run "$side" "$SECS" "$WORK/r$r-$side.json" -q "$RATE" --latency-correction
  done
done

LABEL_A="$A"; LABEL_B="$B"
if [[ "${BIN[A]}" != "${BIN[B]}" ]]; then LABEL_A="$A on ${BIN[A]}"; LABEL_B="$B on ${BIN[B]}"; fi
python3 - "$WORK" "$ROUNDS" "$LABEL_A" "$LABEL_B" "$RATE" "$CONNS" "$SECS" "$MODE" "$STREAM_CHUNKS" "$STREAM_DELAY" "$STREAM_REPLY" "$STREAM_RATE" <<'EOF'
import json, statistics, sys
work, rounds, a, b, rate, conns, secs, mode, chunks, delay, reply, srate = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
def load(r, side):
    d = json.load(open(f"{work}/r{r}-{side}.json"))
    if mode == "stream":
        bad = int(d.get("errors", 0)) + int(d.get("warmup_errors", 0))
        return d["ttfb_ms"]["p50"], d["ttfb_ms"]["p99"], d["byte_ms"]["mean"], bad
    codes = d.get("statusCodeDistribution", {})
    bad = sum(n for c, n in codes.items() if not c.startswith("2"))
    p = d["latencyPercentiles"]
    return p["p50"] * 1000, p["p99"] * 1000, None, bad
if mode == "stream":
    print(f"Paired streaming runs: A = {a}, B = {b}; {rounds} rounds of {secs} s (stream_load, "
          f"{'closed loop' if srate == '0' else f'{srate} responses/s (fixed rate)'}, "
          f"{conns} connections, a {reply}-byte answer in {chunks} chunks {delay} ms apart; order swapped every "
          f"round). p50/p99: time to the first content event; byte: mean arrival of the answer's bytes. In ms.")
    print()
    print("| round | A p50 | B p50 | B − A p50 | A p99 | B p99 | B − A p99 | B − A byte mean |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
else:
    print(f"Paired runs: A = {a}, B = {b}; {rounds} rounds of {secs} s at {rate} req/s, {conns} connections "
          f"(order swapped every round). Latency in ms.")
    print()
    print("| round | A p50 | B p50 | B − A p50 | A p99 | B p99 | B − A p99 |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
d50, d99, dbyte, bad = [], [], [], 0
for r in range(1, rounds + 1):
    a50, a99, abyte, abad = load(r, "A")
    b50, b99, bbyte, bbad = load(r, "B")
    bad += abad + bbad
    d50.append(b50 - a50)
    d99.append(b99 - a99)
    row = f"| {r} | {a50:.3f} | {b50:.3f} | {b50 - a50:+.3f} | {a99:.3f} | {b99:.3f} | {b99 - a99:+.3f} |"
    if mode == "stream":
        dbyte.append(bbyte - abyte)
        row += f" {bbyte - abyte:+.3f} |"
    print(row)
print()
extra = f", byte mean {statistics.median(dbyte):+.3f} ms" if dbyte else ""
what = "errors" if mode == "stream" else "non-2xx responses"
print(f"Median of the per-round differences (B − A): p50 {statistics.median(d50):+.3f} ms, "
      f"p99 {statistics.median(d99):+.3f} ms{extra}; {what}: {bad}")
EOF
