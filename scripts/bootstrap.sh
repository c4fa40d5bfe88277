#!/usr/bin/env bash
# Installs what Ingot's tests need into ./.tools (ignored by git). Idempotent; safe offline once done.
# Called by scripts/test.sh (so .ci/run); never needs a human step.
#   .tools/node/node_modules/s3rver      S3-protocol server for the S3 tests (with --tests)
#   .tools/node/node_modules/icebird     independent Iceberg reader for the Iceberg tests (with --tests)
#   PostgreSQL server binaries (apt, only where missing) for the PostgreSQL tests (with --tests)
# DuckDB (provider and native library) is not here: it comes with the DuckDB.NET.Data.Full NuGet package at restore.
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
  if [ ! -f "$tools/node/node_modules/icebird/package.json" ]; then
    echo "bootstrap: installing icebird" >&2
    mkdir -p "$tools/node"
    (cd "$tools/node" && npm install --silent --no-audit --no-fund icebird@0.3.1 >/dev/null 2>&1)
  fi
fi

# PostgreSQL server binaries for the tests that start a throwaway cluster (tests/…/PostgresFixture.cs). Debian's
# package starts nothing the tests depend on; they run their own cluster on a free port.
if [ "${1:-}" = "--tests" ]; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1 && [ -z "${INGOT_PG_BIN:-}" ]; then
    echo "bootstrap: installing PostgreSQL (apt-get install postgresql-15)" >&2
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 >/dev/null
  fi
fi
