#!/usr/bin/env bash
# The quickstart: build Ingot and backfill KNMI hourly observations from the built-in simulator into ./lake.
# Published ReadyToRun (precompiled, tiered compilation as the runtime intends) into .build/ingot: the run's first
# request leaves the process sooner than from a plain build (bench/Ingot.Bench startup measures both).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet publish src/Ingot.Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o .build/ingot --nologo -v quiet
exec dotnet .build/ingot/ingot.dll run pipelines/knmi-quickstart.yaml "$@"
