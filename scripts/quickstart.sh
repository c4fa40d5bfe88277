#!/usr/bin/env bash
# The quickstart: build Ingot and backfill KNMI hourly observations from the built-in simulator into ./lake.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/Ingot.Cli -c Release --nologo -v quiet
exec dotnet src/Ingot.Cli/bin/Release/net10.0/ingot.dll run pipelines/knmi-quickstart.yaml "$@"
