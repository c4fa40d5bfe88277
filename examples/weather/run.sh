#!/usr/bin/env bash
# Reference system B on one machine: `ingot sim noaa` stands in for NOAA CDO v2 (offset pages, its 5/s limit, a daily
# quota, injected faults), and noaa.yaml — the file you would point at the real API — lands PRECIP_15 in an Iceberg v2
# table that Spark, Trino, DuckDB or PyIceberg open through the same SQL catalog. Round 1 backfills 2005–2008; round 2
# runs into its daily quota (exit 4, resumable) and the next "day" finishes; after each run the missing-value share per
# station is merged in from only the new rows. Then: verify, maintenance (compact, expire, orphans), and the two tables
# read back by an independent reader (npm icebird).
#   examples/weather/run.sh        (needs what scripts/bootstrap.sh --tests installs)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib.sh"

echo "== starting the NOAA CDO stand-in (in $work)"
apiport="$(free_port)"
ingot sim noaa --port "$apiport" --latency 20 --fail-rate 0.05 --rate-limit 50/s --api-key my-cdo-token >"$work/api.log" 2>&1 & on_exit $!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$apiport/cdo-web/api/v2/datasets" && break; sleep 0.2; done

export NOAA_BASE_URL="http://127.0.0.1:$apiport/cdo-web/api/v2" NOAA_TOKEN=my-cdo-token NOAA_RATE_LIMIT=50/s
export INGOT_HOME="$work/.ingot"
cp -r "$here/noaa.yaml" "$here/schemas" "$work/"
cd "$work"
summary() {
  jq -r 'select(.msg == "Run complete") | "   exit \(.exit_code) (\(.status)): \(.chunks_done) units landed, \(.chunks_failed) failed, \(.chunks_pending) pending, \(.records_landed) records, \(.requests) requests, \(.retries) retries"' "$1"
  jq -r 'select(.msg | startswith("precip_missing_by_station")) | "   then \(.msg)"' "$1"
}
catalog() { python3 -c "import sqlite3,sys; c=sqlite3.connect('warehouse/catalog.db'); r=c.execute('SELECT metadata_location FROM iceberg_tables WHERE table_name=?', (sys.argv[1],)).fetchone(); print(r[0] if r else '')" "$1"; }
read_table() { (cd "$root/.tools/node" && cp "$here/read-table.mjs" ./ingot-read-table.mjs && node ingot-read-table.mjs "$@"); }

echo "== round 1: ingot run noaa.yaml --to 2009-01-01 (2005-2008)"
ingot run noaa.yaml --to 2009-01-01 --log-format json >"$work/r1.jsonl" || true; summary "$work/r1.jsonl"

echo "== round 2: the rest, with a token allowed 90 requests a day (round 1 spent about 55 of them)"
NOAA_DAILY_QUOTA=90 ingot run noaa.yaml --log-format json >"$work/r2.jsonl" || true; summary "$work/r2.jsonl"
echo "== the same command with the full 10,000 a day (as the next UTC day would give): it finishes, nothing fetched twice"
ingot run noaa.yaml --log-format json >"$work/r3.jsonl" || true; summary "$work/r3.jsonl"

echo "== ingot aggregate noaa.yaml (nothing new since the last run's merge: an empty delta)"
ingot aggregate noaa.yaml
echo "== ingot verify noaa.yaml"
ingot verify noaa.yaml
echo "== ingot status noaa.yaml"
ingot status noaa.yaml

echo "== maintenance: ingot iceberg noaa.yaml maintain --dry-run, then compact (a year's monthly files into one), expire-snapshots keeping the last 2"
ingot iceberg noaa.yaml maintain --dry-run
ingot iceberg noaa.yaml compact
ingot iceberg noaa.yaml expire-snapshots --older-than 1ms --retain-last 2
echo "== after maintenance: ingot verify, and the aggregate still agrees (compaction replaced files, no rows)"
ingot verify noaa.yaml
ingot aggregate noaa.yaml

echo "== the catalog (PyIceberg's and Java's JDBC catalog tables)"
python3 -c "import sqlite3; c=sqlite3.connect('warehouse/catalog.db'); [print('  ', *r) for r in c.execute('SELECT catalog_name, table_namespace, table_name FROM iceberg_tables ORDER BY 3')]"
echo "== bronze.noaa-weather_precip_15 read by icebird (first 3 of its rows)"
read_table "$(catalog noaa-weather_precip_15)" 3
echo "== bronze.noaa-weather_precip_missing_by_station read by icebird"
read_table "$(catalog noaa-weather_precip_missing_by_station)"
