#!/usr/bin/env bash
# Builds Pingan and runs the demo: a living Zhejiang with one account of every
# role (see DATA/demo-accounts.txt). Usage: scripts/demo.sh [DATA_DIR] [ADDR]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-demo-data}
ADDR=${2:-127.0.0.1:8080}
if [ -f web/package.json ]; then scripts/build-web.sh; fi
cargo build --release --locked
exec target/release/pingan demo --data "$DATA" --listen "$ADDR"
