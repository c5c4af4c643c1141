#!/usr/bin/env bash
# Intake throughput over HTTP: grid-worker reports (each located to its grid,
# written with its first chained log entry and its registration deadline) sent
# by wrk on the same machine to `pingan serve` over the demo data.
#   bench/intake.sh [sqlite|postgres] [SECONDS] [CONNECTIONS]
# With PROFILE=1 the server runs under `perf record` and the top of the
# profile (by the server's own functions, children included) is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${1:-sqlite}
SECS=${2:-20}
CONNS=${3:-32}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked
BIN=$PWD/target/release/pingan
WORK=$(mktemp -d /tmp/pingan-intake.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT

run() { # extra args for pingan
  "$BIN" --data "$WORK/data" "$@" demo --no-serve >/dev/null 2>&1
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  RUST_LOG=${SERVER_LOG:-warn} "$BIN" --data "$WORK/data" "$@" serve --listen "127.0.0.1:$port" 2>"$WORK/serve.log" &
  local server=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done
  local password token
  password=$(awk -F'\t' '$1=="gridworker"{print $2}' "$WORK/data/demo-accounts.txt")
  token=$(curl -sf -X POST -H 'Content-Type: application/json' \
    -d "{\"username\":\"gridworker\",\"password\":\"$password\"}" "http://127.0.0.1:$port/api/v1/auth/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  cat > "$WORK/report.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tag", threads .. "-" .. os.time())
end
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"description":"道路有碎玻璃 %d","category_code":"0403","lng":120.1655,"lat":30.2575,"crs":"gcj02","idempotency_key":"bench-%s-%d"}', n, tag, n)
  return wrk.format(nil, nil, nil, body)
end
LUA
  local perf=
  if [ "${PROFILE:-0}" = 1 ]; then
    perf record -F 499 -g -p "$server" -o "$WORK/perf.data" 2>/dev/null &
    perf=$!
  fi
  local ticks_before ticks_after
  ticks_before=$(awk '{print $14+$15}' "/proc/$server/stat")
  /usr/bin/time -f "wrk CPU: %P" wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/report.lua" "http://127.0.0.1:$port/api/v1/matters"
  ticks_after=$(awk '{print $14+$15}' "/proc/$server/stat")
  echo "server CPU: $(( (ticks_after - ticks_before) * 100 / $(getconf CLK_TCK) / SECS ))% of one core (2 cores here)"
  if [ -n "$perf" ]; then
    kill -INT "$perf"; wait "$perf" || true
    perf report -i "$WORK/perf.data" ${PERF_REPORT:---no-children} --sort dso,symbol --stdio 2>/dev/null |
      grep -E '^ +[0-9]' | head -40
  fi
  kill -TERM "$server"; wait "$server" || true
  # With SERVER_LOG=warn,pingan_api::intake=debug: the group commits' sizes and times.
  # (grep finds nothing without that log level: not a failure, the summary is just empty.)
  sed 's/\x1b\[[0-9;]*m//g' "$WORK/serve.log" | { grep -o 'reports=[0-9]* micros=[0-9]*' || true; } | tr '=' ' ' |
    sort -k4 -n | awk '{n++; r+=$2; t+=$4; ms[n]=$4/1000} END {if (n) printf "intake batches: %d, mean %.1f reports, mean %.2f ms (median %.2f, p99 %.2f, max %.2f), %.1f us per report\n", n, r/n, t/n/1000, ms[int(n/2)+1], ms[int(n*0.99)+1], ms[n], t/r}'
  "$BIN" --data "$WORK/data" "$@" audit verify
}

if [ "$BACKEND" = postgres ]; then
  export -f run; export BIN WORK CONNS SECS
  scripts/with-postgres.sh bash -c 'run --database-url "$PINGAN_TEST_POSTGRES_URL"'
else
  run
fi
