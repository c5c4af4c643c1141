#!/usr/bin/env bash
# Runs a command with PINGAN_TEST_POSTGRES_URL pointing at a PostgreSQL server.
# Uses the server already named by PINGAN_TEST_POSTGRES_URL if set; otherwise
# installs Debian's postgresql when missing and starts a throw-away instance
# on loopback, removed again when the command ends. PINGAN_PG_EXTRA_OPTIONS
# adds server options (e.g. "-c shared_buffers=4GB") to that instance.
set -euo pipefail

if [ -n "${PINGAN_TEST_POSTGRES_URL:-}" ]; then
  exec "$@"
fi

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(pg_bin)" ]; then
  echo "with-postgres: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq postgresql >/dev/null
fi
PG_BIN=$(pg_bin)

DIR=$(mktemp -d /tmp/pingan-pg.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# PostgreSQL refuses to run as root: run it as the postgres system user then.
AS=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$DIR"
  AS=(runuser -u postgres --)
fi
"${AS[@]}" "$PG_BIN/initdb" -D "$DIR/data" -U pingan --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
cleanup() { "${AS[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=200 ${PINGAN_PG_EXTRA_OPTIONS:-}" start >/dev/null
export PINGAN_TEST_POSTGRES_URL="postgres://pingan@127.0.0.1:$PORT/postgres"
echo "with-postgres: throw-away PostgreSQL at 127.0.0.1:$PORT" >&2
"$@"
