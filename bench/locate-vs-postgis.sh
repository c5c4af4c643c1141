#!/usr/bin/env bash
# Locate benchmark against PostGIS, in one run on the same polygons and points.
#   bench/locate-vs-postgis.sh DIVISIONS_DIR [POINTS]
# DIVISIONS_DIR holds the national division files (e.g. ../shared/data/divisions);
# the synthetic set has three grids per village. Pingan's index is timed on one
# thread; PostGIS answers one query joining a table of the points to the
# polygons with ST_Contains and a GiST index, with parallel workers off (one
# core), after a warm-up run, best of three.
set -euo pipefail
cd "$(dirname "$0")/.."
DIV=${1:?usage: bench/locate-vs-postgis.sh DIVISIONS_DIR [POINTS]}
POINTS=${2:-1000000}
DIV=$(realpath "$DIV")

if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  echo "installing Debian's PostGIS" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-15-postgis-3 >/dev/null
fi
cargo build --release --locked -p pingan-geo --example locate_bench
OUT=$(mktemp -d /tmp/pingan-bench.XXXXXX)
chmod 755 "$OUT"
trap 'rm -rf "$OUT"' EXIT
target/release/examples/locate_bench national "$DIV" "$POINTS" "$OUT" | tee "$OUT/ours.txt"
chmod 644 "$OUT"/*.csv

cat > "$OUT/postgis.sql" <<SQL
\set ON_ERROR_STOP on
CREATE EXTENSION postgis;
CREATE UNLOGGED TABLE grids_raw (code text, wkt text);
\copy grids_raw FROM '$OUT/grids.csv'
CREATE TABLE grids AS SELECT code, ST_GeomFromText(wkt, 4326) AS geom FROM grids_raw;
DROP TABLE grids_raw;
CREATE INDEX grids_geom ON grids USING gist (geom);
CLUSTER grids USING grids_geom;
ANALYZE grids;
CREATE UNLOGGED TABLE pts (id int, lng float8, lat float8);
\copy pts FROM '$OUT/points.csv'
CREATE TABLE points AS SELECT id, ST_SetSRID(ST_MakePoint(lng, lat), 4326) AS geom FROM pts;
ANALYZE points;
SET max_parallel_workers_per_gather = 0;
EXPLAIN SELECT count(*) FROM points p JOIN grids g ON ST_Contains(g.geom, p.geom);
SELECT count(*) AS warm_up FROM points p JOIN grids g ON ST_Contains(g.geom, p.geom);
\timing on
SELECT count(*) AS hits FROM points p JOIN grids g ON ST_Contains(g.geom, p.geom);
SELECT count(*) AS hits FROM points p JOIN grids g ON ST_Contains(g.geom, p.geom);
SELECT count(*) AS hits FROM points p JOIN grids g ON ST_Contains(g.geom, p.geom);
SQL
PINGAN_PG_EXTRA_OPTIONS="-c shared_buffers=4GB -c work_mem=256MB -c maintenance_work_mem=2GB -c jit=off" \
  scripts/with-postgres.sh bash -c 'psql -X -q "$PINGAN_TEST_POSTGRES_URL" -f "$0"' "$OUT/postgis.sql" | tee "$OUT/postgis.txt"

ours=$(grep -o '= [0-9]* lookups/s' "$OUT/ours.txt" | grep -o '[0-9]*')
best_ms=$(grep -o 'Time: [0-9.]* ms' "$OUT/postgis.txt" | awk '{print $2}' | sort -n | head -1)
python3 - "$ours" "$best_ms" "$POINTS" <<'PY'
import sys
ours, ms, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
theirs = n / (ms / 1000)
print(f"PostGIS: {n} points in {ms/1000:.2f} s = {theirs:,.0f} lookups/s on one core")
print(f"Pingan:  {ours:,.0f} lookups/s on one core; ratio {ours/theirs:.1f}x")
PY
