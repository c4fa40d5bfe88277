#!/usr/bin/env bash
# Reference system C on one machine: a throwaway PostgreSQL with the shop's customers and orders, `ingot sim shop` for the
# payments and shipments APIs, s3rver as the bucket — then ecom.yaml (the file you would point at RDS, the real APIs and
# S3) runs three times with a day of changes in between, including a transaction that commits while a run reads.
# Prints what each run landed per stream and load type, the checkpoints.json it exported, and the objects in the bucket.
#   examples/ecom/run.sh            (from anywhere; needs what scripts/bootstrap.sh --tests installs)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib.sh"

echo "== starting PostgreSQL, s3rver and the shop APIs (in $work)"
start_postgres postgres-admin
psqlc() { psql -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -q "$@"; }
psqlc -c "CREATE ROLE shop LOGIN PASSWORD 'shop-secret-pw'" -c "CREATE DATABASE shop OWNER shop" -c "GRANT pg_read_all_stats TO shop"
PGPASSWORD=shop-secret-pw psql -h 127.0.0.1 -p "$pgport" -U shop -d shop -v ON_ERROR_STOP=1 -q -f "$here/seed.sql"

s3port="$(free_port)"
node --openssl-legacy-provider "$root/.tools/node/node_modules/s3rver/bin/s3rver.js" -d "$work/s3" -a 127.0.0.1 -p "$s3port" \
  --configure-bucket ecom-lake --no-vhost-buckets --silent & on_exit $!
shopport="$(free_port)"
ingot sim shop --port "$shopport" --latency 5 >"$work/shop.log" 2>&1 & on_exit $!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$shopport/admin/state" >/dev/null && curl -s "http://127.0.0.1:$s3port/" >/dev/null && break; sleep 0.2; done

# What a deployment sets; nothing of it is in ecom.yaml.
export ECOM_PG_URL="postgres://shop:shop-secret-pw@127.0.0.1:$pgport/shop"
export PAYMENTS_API_URL="http://127.0.0.1:$shopport" PAYMENTS_API_KEY=sim-key
export SHIPMENTS_API_URL="http://127.0.0.1:$shopport" SHIPMENTS_API_TOKEN=sim-key
export ECOM_BUCKET=ecom-lake
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$s3port" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
export INGOT_HOME="$work/.ingot"

report() { # the Run complete event: per stream, load type, records
  jq -r 'select(.msg == "Run complete") | "   exit \(.exit_code) (\(.status)), \(.records_landed) records", (.streams[] | "   \(.stream): \(.load_type), \(.status), \(.records_landed) records")' "$1"
}

cd "$here"
echo "== run 1: first run of every stream = full load"
ingot run ecom.yaml --log-format json >"$work/run1.jsonl" || true
report "$work/run1.jsonl"

echo "== a day of changes: updates and inserts in PostgreSQL and both APIs; one order transaction still open during run 2"
psqlc -d shop -f "$here/changes.sql"
curl -sf -X POST "http://127.0.0.1:$shopport/admin/tick?minutes=1440&updates=25&inserts=10" >/dev/null
sleep 2
psqlc -d shop -c "BEGIN; INSERT INTO orders VALUES (99999, 1, now(), 'placed', 1.00, '[]', now()); SELECT pg_sleep(6); COMMIT;" >/dev/null &
late=$!
sleep 1
echo "== run 2: incremental (order 99999 is not committed yet: it must wait, not be lost)"
ingot run ecom.yaml --log-format json >"$work/run2.jsonl" || true
report "$work/run2.jsonl"
wait "$late"
echo "== run 3: incremental; the late order lands now, once"
ingot run ecom.yaml --log-format json >"$work/run3.jsonl" || true
report "$work/run3.jsonl"

echo "== checkpoints.json exported to s3://ecom-lake/logs/pipeline/ingestion/"
curl -s "http://127.0.0.1:$s3port/ecom-lake/logs/pipeline/ingestion/checkpoints.json"
echo "== objects in the bucket"
curl -s "http://127.0.0.1:$s3port/ecom-lake?list-type=2&max-keys=10000" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' \
  | sed -E 's#^data/ecom-bronze/([^/]+)/ingestion_date=[^/]+/load_type=([^/]+)/.*#data: \1 load_type=\2#; s#^data/ecom-bronze/([^/]+)/_units/.*#unit records: \1#; s#^logs/pipeline/ingestion/ecom-bronze/.*#run logs#' \
  | sort | uniq -c
echo "== verify (files re-hashed against the state)"
ingot verify ecom.yaml | tail -3
if grep -rq "shop-secret-pw" "$work/.ingot" "$work"/run*.jsonl; then echo "SECRET LEAKED"; exit 1; else echo "the database password appears in no log and no state"; fi
