#!/usr/bin/env bash
# Runs every test of Ingot on a fresh machine: installs what the tests need (s3rver; DuckDB's native
# library comes from NuGet with the build), builds the solution, runs the whole suite (unit, integration
# against real servers, and end-to-end runs of the built executable). The test fixtures start and stop the
# servers themselves.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v node >/dev/null || { echo "test.sh: node is required (apt-get install -y nodejs npm)" >&2; exit 2; }
scripts/bootstrap.sh --tests
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Ingot.slnx -c Release -warnaserror --nologo -v quiet
dotnet test tests/Ingot.Tests -c Release --no-build --nologo "$@"
