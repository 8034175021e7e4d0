# Sourced by run.sh and ab.sh.

# write_body PATH BYTES: the load's chat request, a system message and a user message of
# benign English, exactly BYTES bytes of JSON.
write_body() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
path, size = sys.argv[1], int(sys.argv[2])
def doc(text):
    return json.dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": text}]}, separators=(",", ":"))
sentence = "Summarize the following customer note and list any action items. "
text = ""
while len(doc(text)) < size:
    text += sentence
text = text[: len(text) - (len(doc(text)) - size)]
open(path, "w").write(doc(text))
EOF
}

# write_rampart_config DIR LEVEL POLICY PORT writes
# DIR/rampart.toml: rampart on 127.0.0.1:PORT in front of the mock at 127.0.0.1:$P_MOCK,
# log LEVEL, and POLICY: default (the built-in inspection policy), off (every detector
# "allow"), noaudit (off, with [audit] and [anomaly] disabled), default-noaudit (the
# default policy with them disabled), limits-memory and
# limits-redis (off, with limits counted in memory or in Redis at $REDIS_URL). The keys
# come from the environment (MOCK_API_KEY, RAMPART_KEY_SECRET).
write_rampart_config() {
  local dir="$1" level="$2" policy="$3" port="$4" backend
  cat >"$dir/rampart.toml" <<EOF
[server]
listen = "127.0.0.1:$port"

[store]
url = "sqlite://$dir/rampart.db"

[auth]
key_secret = { env = "RAMPART_KEY_SECRET" }

[[providers]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:$P_MOCK/v1"
api_key = { env = "MOCK_API_KEY" }
# The streaming runs steer the mock (x-mock-chunks, x-mock-chunk-delay-ms) through rampart.
forward_headers = ["x-mock-*"]

[[models]]
name = "gpt-4o-mini"
provider = "mock"

[routing]
default_provider = "mock"

[log]
format = "json"
level = "$level"
EOF
  if [[ "$policy" == limits-* ]]; then
    backend=memory; [[ "$policy" == limits-redis ]] && backend=redis
    printf '\n[limits]\nbackend = "%s"\n' "$backend" >>"$dir/rampart.toml"
    if [[ "$backend" == redis ]]; then
      printf 'redis_url = "%s"\nredis_prefix = "rampart-bench:%s:"\n' "$REDIS_URL" "$$" >>"$dir/rampart.toml"
    fi
    printf '\n[[prices]]\nmodel = "gpt-4o-mini"\ninput_per_million = 0.15\noutput_per_million = 0.6\n' \
      >>"$dir/rampart.toml"
  fi
  if [[ "$policy" == noaudit || "$policy" == default-noaudit ]]; then
    printf '\n[audit]\nenabled = false\n\n[anomaly]\nenabled = false\n' >>"$dir/rampart.toml"
  fi
  if [[ "$policy" != default && "$policy" != default-noaudit ]]; then
    cat >>"$dir/rampart.toml" <<EOF

[policies.default]
injection = "allow"
jailbreak = "allow"
secrets = "allow"
pii = "allow"
response_secrets = "allow"
response_pii = "allow"
canary = false
prompt_leak = "allow"
links = "allow"
EOF
  fi
}
