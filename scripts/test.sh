#!/usr/bin/env bash
# Runs every check and test of Pingan on a fresh machine: installs what is
# missing (cargo-nextest, PostgreSQL, npm packages, Chromium), builds the web
# front end so the binary embeds it, checks formatting, lints and the domain
# crate's dependencies, runs the whole test suite with the storage and API
# tests on both SQLite and a throw-away PostgreSQL, then the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "test: installing cargo-nextest" >&2
  cargo install cargo-nextest --locked
fi

if [ -f web/package.json ]; then
  echo "== web front end (npm ci, vite build)"
  scripts/build-web.sh
fi
echo "== rustfmt"
cargo fmt --all -- --check
echo "== domain crate stays pure"
scripts/check-domain-deps.sh
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
if ! command -v pdftoppm >/dev/null 2>&1 || [ ! -d /usr/share/poppler/cMap ]; then
  # The PDF tests render pages with pdftoppm; poppler-data has the CJK CMaps.
  echo "test: installing poppler-utils and poppler-data" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq poppler-utils poppler-data >/dev/null
fi
echo "== tests (SQLite and PostgreSQL)"
scripts/with-postgres.sh cargo nextest run --workspace --locked --no-fail-fast
if [ -f web/package.json ]; then
  echo "== browser tests (headless Chromium against pingan demo)"
  scripts/web-test.sh
fi
