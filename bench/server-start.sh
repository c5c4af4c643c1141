#!/usr/bin/env bash
# Server start with a national-scale synthetic grid set (three grids per real
# village, ~1.86 million), on SQLite and on a throw-away PostgreSQL:
# time from launch to the first 200 from /healthz, and resident memory then.
#   bench/server-start.sh DIVISIONS_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
DIV=$(realpath "${1:?usage: bench/server-start.sh DIVISIONS_DIR}")
cargo build --release --locked
PINGAN_BIN=$PWD/target/release/pingan
WORK=$(mktemp -d /tmp/pingan-start.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

start_once() { # DATA [--database-url URL]
  local data=$1; shift
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local t0 t1
  t0=$(date +%s.%N)
  "$PINGAN_BIN" --data "$data" "$@" serve --listen "127.0.0.1:$port" 2>/dev/null &
  local pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { echo "  server exited before it was ready" >&2; return 1; }
    sleep 0.01
  done
  t1=$(date +%s.%N)
  printf '  ready in %.2f s, %s\n' "$(echo "$t1 - $t0" | bc)" "$(grep VmRSS /proc/$pid/status | tr -s ' \t' ' ')"
  kill -TERM "$pid"; wait "$pid"
}

run() { # LABEL DATA [--database-url URL]
  local label=$1 data=$2; shift 2
  echo "$label: loading divisions and synthetic grids"
  "$PINGAN_BIN" --data "$data" "$@" synthetic-grids "$DIV"
  echo "$label: first start"
  start_once "$data" "$@"
  echo "$label: later starts"
  for _ in 1 2 3; do start_once "$data" "$@"; done
}

run sqlite "$WORK/sqlite"
export -f start_once run; export PINGAN_BIN DIV WORK
scripts/with-postgres.sh bash -c 'run postgres "$WORK/pg" --database-url "$PINGAN_TEST_POSTGRES_URL"'
