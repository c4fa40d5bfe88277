#!/usr/bin/env bash
# Installs what Ingot's build and tests need into ./.tools (ignored by git). Idempotent; safe offline
# once done. Called by the README commands and .ci/run; never needs a human step.
#   .tools/duckdb/libduckdb.so           DuckDB 1.5.6 native library (npm @duckdb/node-bindings-linux-x64)
#   .tools/node/node_modules/s3rver      S3-protocol server for the S3 tests (with --tests)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools"

duckdb_version="1.5.6-r.1"
if [ ! -f "$tools/duckdb/libduckdb.so" ]; then
  echo "bootstrap: fetching DuckDB native library ($duckdb_version)" >&2
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "@duckdb/node-bindings-linux-x64@$duckdb_version" >/dev/null 2>&1)
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  mkdir -p "$tools/duckdb"
  cp "$tmp/package/libduckdb.so" "$tools/duckdb/libduckdb.so.partial"
  mv "$tools/duckdb/libduckdb.so.partial" "$tools/duckdb/libduckdb.so"
  rm -rf "$tmp"
fi

if [ "${1:-}" = "--tests" ]; then
  if [ ! -f "$tools/node/node_modules/s3rver/bin/s3rver.js" ]; then
    echo "bootstrap: installing s3rver" >&2
    mkdir -p "$tools/node"
    (cd "$tools/node" && npm install --silent --no-audit --no-fund s3rver@3.7.1 >/dev/null 2>&1)
  fi
fi
