# Shared by the examples' run.sh: build ingot, a work folder removed on exit, free ports, a throwaway PostgreSQL.
# Sourced, not run. Sets: root, work, ingot(), free_port(), start_postgres <admin-password> (sets pgport), on_exit <pid>.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
scripts/bootstrap.sh --tests
dotnet build src/Ingot.Cli -c Release --nologo -v quiet >/dev/null
ingot() { dotnet "$root/src/Ingot.Cli/bin/Release/net10.0/ingot.dll" "$@"; }

work="$(mktemp -d /tmp/ingot-example.XXXXXX)"
_pids=()
on_exit() { _pids+=("$1"); }
_pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$_pgbin/$1" "${@:2}"; else "$_pgbin/$1" "${@:2}"; fi; }
_cleanup() {
  for p in "${_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -d "$work/pg" ] && _pg pg_ctl -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap _cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }

# A PostgreSQL cluster of its own in $work on a free port: trusted over the socket, a password over TCP.
start_postgres() {
  pgport="$(free_port)"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$work"
  echo "$1" > "$work/pw"; [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$work/pw"
  _pg initdb -D "$work/pg" -U postgres --pwfile "$work/pw" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync >/dev/null
  _pg pg_ctl -D "$work/pg" -l "$work/pg.log" -w -t 30 -o "-p $pgport -k $work -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  export PGPASSWORD="$1"
}
