#!/usr/bin/env bash
# Browser tests of the web front end: a real `pingan demo` (a few simulated
# days) on loopback, driven by playwright-core in Debian's headless Chromium
# (installed, with CJK fonts, when missing). Screenshots go to web/test-output.
# Expects the binary built with the front end (scripts/build-web.sh first).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then
  echo "web-test: installing chromium and fonts-noto-cjk" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi
if ! command -v pdftoppm >/dev/null 2>&1 || [ ! -d /usr/share/poppler/cMap ]; then
  # report.mjs renders the monthly report's first page; poppler-data has the CJK CMaps.
  echo "web-test: installing poppler-utils and poppler-data" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq poppler-utils poppler-data >/dev/null
fi
BIN=${PINGAN_BIN:-${CARGO_TARGET_DIR:-target}/debug/pingan}
[ -x "$BIN" ] || cargo build --locked -p pingan
WORK=$(mktemp -d /tmp/pingan-web.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn "$BIN" --data "$WORK/data" demo --days 5 --listen "127.0.0.1:$PORT" >"$WORK/demo.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  kill -0 $SERVER 2>/dev/null || { cat "$WORK/demo.log" >&2; exit 1; }
  sleep 0.5
done
cd web
export BASE_URL="http://127.0.0.1:$PORT" ACCOUNTS="$WORK/data/demo-accounts.txt"
# rental.mjs runs the scheduler as of a later date on the demo's data (it runs last for that reason).
export PINGAN_BIN="$(realpath "$BIN")" PINGAN_DATA="$WORK/data"
npm run --silent test:smoke
node tests/scope.mjs
node tests/portal.mjs
node tests/loop.mjs
npm run --silent test:offline
node tests/export.mjs
node tests/pages.mjs
node tests/overview.mjs
node tests/patrol.mjs
node tests/keyboard.mjs
node tests/responsive.mjs
node tests/upload.mjs
node tests/screen.mjs
node tests/safety.mjs
node tests/report.mjs
node tests/mediation.mjs
node tests/rental.mjs
