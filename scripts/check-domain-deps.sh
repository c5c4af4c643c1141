#!/usr/bin/env bash
# The domain crate holds pure rules: it must not depend, even indirectly, on
# database, HTTP or async-runtime crates.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(cargo tree -p pingan-domain -e normal --prefix none --locked | awk '{print $1}' | grep -E '^(sqlx|sqlx-.*|axum|axum-.*|tokio|tokio-.*|hyper|tower)$' | sort -u || true)
if [ -n "$bad" ]; then
  echo "pingan-domain must not depend on: $bad" >&2
  exit 1
fi
echo "pingan-domain depends on none of sqlx, axum, tokio, hyper, tower"
