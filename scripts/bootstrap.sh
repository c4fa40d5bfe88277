#!/usr/bin/env bash
# Installs what Ingot's tests need into ./.tools (ignored by git). Idempotent; safe offline once done.
# Called by scripts/test.sh (so .ci/run); never needs a human step.
#   .tools/node/node_modules/s3rver      S3-protocol server for the S3 tests (with --tests)
# DuckDB's native library is not here: it comes with the DuckDB.NET.Bindings.Full NuGet package at restore.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools"

if [ "${1:-}" = "--tests" ]; then
  if [ ! -f "$tools/node/node_modules/s3rver/bin/s3rver.js" ]; then
    echo "bootstrap: installing s3rver" >&2
    mkdir -p "$tools/node"
    (cd "$tools/node" && npm install --silent --no-audit --no-fund s3rver@3.7.1 >/dev/null 2>&1)
  fi
fi
