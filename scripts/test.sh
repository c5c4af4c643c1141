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
echo "== tests (SQLite and PostgreSQL)"
scripts/with-postgres.sh cargo nextest run --workspace --locked --no-fail-fast
if [ -f web/package.json ]; then
  echo "== browser tests (headless Chromium against pingan demo)"
  scripts/web-test.sh
fi
