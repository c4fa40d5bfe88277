#!/usr/bin/env bash
# Reference system D on one machine: a throwaway PostgreSQL, `ingot sim shop` standing in for a time-tracking API, and
# the exports in ./drop — each source run on its own (`ingot run files.yaml`, `ingot run timetracking.yaml`, as the seed
# runs `python main.py source_1`), then the bronze rows shown with psql: the record as JSONB, its status, provenance and
# the monthly partitions. A second round changes one file and drops a broken one: the changed file lands as a new
# version, the broken one fails alone (exit 1), nothing lands twice.
#   examples/personal/run.sh        (needs what scripts/bootstrap.sh --tests installs)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib.sh"

echo "== starting PostgreSQL and the time-tracking API stand-in (in $work)"
start_postgres postgres-admin
psql -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -q -c "CREATE ROLE me LOGIN PASSWORD 'my-db-pw'" -c "CREATE DATABASE personal OWNER me"
apiport="$(free_port)"
ingot sim shop --port "$apiport" --latency 5 >"$work/api.log" 2>&1 & on_exit $!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$apiport/admin/state" >/dev/null && break; sleep 0.2; done

export PERSONAL_PG_URL="postgres://me:my-db-pw@127.0.0.1:$pgport/personal"
export TIMETRACKING_API_URL="http://127.0.0.1:$apiport" TIMETRACKING_TOKEN=sim-key
export INGOT_HOME="$work/.ingot"
cp -r "$here/drop" "$here/schemas" "$here/files.yaml" "$here/timetracking.yaml" "$work/"
q() { PGPASSWORD=my-db-pw psql -h 127.0.0.1 -p "$pgport" -U me -d personal -v ON_ERROR_STOP=1 -P pager=off "$@"; }
summary() { jq -r 'select(.msg == "Run complete") | "   exit \(.exit_code) (\(.status)): \(.chunks_done) units landed, \(.chunks_failed) failed, \(.chunks_skipped) skipped, \(.records_landed) records"' "$1"; }

cd "$work"
echo "== ingot run files.yaml"
ingot run files.yaml --log-format json >"$work/f1.jsonl" || true; summary "$work/f1.jsonl"
echo "== ingot run timetracking.yaml"
ingot run timetracking.yaml --log-format json >"$work/t1.jsonl" || true; summary "$work/t1.jsonl"

echo "== round 2: weight.ndjson corrected, a broken export dropped, a day passes at the API; both sources again"
printf '{"date": "2026-11-01", "kg": 78.4}\n{"date": "2026-11-15", "kg": 77.9}\n{"date": "2026-12-01", "kg": 77.5}\n' > drop/weight.ndjson
printf '[{"date": "2026-12-02", "hours": 7}, {"date": ' > drop/broken.json
curl -sf -X POST "http://127.0.0.1:$apiport/admin/tick?minutes=1440&updates=5&inserts=3" >/dev/null
ingot run files.yaml --log-format json >"$work/f2.jsonl" || true; summary "$work/f2.jsonl"
jq -r 'select(.msg == "Chunk failed") | "   failed: \(.error)"' "$work/f2.jsonl"
ingot run timetracking.yaml --log-format json >"$work/t2.jsonl" || true; summary "$work/t2.jsonl"

echo "== the bronze tables (a changed file is a new version: weight.ndjson has its old and its new rows, told apart by _chunk_key and metadata->>'file_hash')"
q -c "SELECT source, validation_status, count(*) FROM bronze_drops GROUP BY 1, 2 UNION ALL SELECT source, validation_status, count(*) FROM bronze_timetracking GROUP BY 1, 2 ORDER BY 1, 2"
q -c "SELECT metadata->>'file_path' AS file, metadata->>'line' AS line, validation_status AS status, error_message, raw_data FROM bronze_drops ORDER BY 1, (metadata->>'line')::int, id"
q -c "SELECT raw_id, source_timestamp, raw_data->>'status' AS status, metadata->>'endpoint' AS endpoint FROM bronze_timetracking ORDER BY id DESC LIMIT 5"
echo "== monthly partitions"
q -c "SELECT inhparent::regclass AS table, inhrelid::regclass AS partition, pg_get_expr(c.relpartbound, c.oid) AS bounds FROM pg_inherits JOIN pg_class c ON c.oid = inhrelid WHERE c.relkind = 'r' ORDER BY 1, 2"
echo "== each API record once (primary key + version)"
q -c "SELECT count(*) AS rows, count(DISTINCT (raw_id, raw_data->>'updated_at')) AS distinct_versions FROM bronze_timetracking"
