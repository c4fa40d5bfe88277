#!/usr/bin/env bash
# Runs a macro benchmark as users run Ingot: the bench (with the ingot it starts) published ReadyToRun, tiered and GC
# settings from the projects. The plain build output JITs every method it runs (~0.1–0.8 s more per run, depending on
# the bench). Usage: scripts/bench.sh parquet [--rows N] [--scales 1,10] [--repeats N] | postgres-source … | startup … (see bench/Ingot.Bench).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet publish src/Ingot.Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o .build/ingot --nologo -v quiet
dotnet publish bench/Ingot.Bench -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o .build/bench --nologo -v quiet
exec dotnet .build/bench/Ingot.Bench.dll "$@"
