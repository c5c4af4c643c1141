#!/usr/bin/env bash
# Builds the web front end (web/dist), which the next cargo build embeds in
# the binary. Installs its npm packages from package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/../web"
if ! command -v npm >/dev/null; then
  echo "build-web: installing Node.js and npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error
npm run build
