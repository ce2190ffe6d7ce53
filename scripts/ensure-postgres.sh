#!/usr/bin/env bash
# Prints the bin directory of a PostgreSQL server (initdb, postgres) for the store's integration tests,
# installing Debian's `postgresql` package first when there is none. Idempotent and quiet: with a server
# installed it only prints. PORTCULLIS_PG_BINDIR overrides the search.
#
# The package would create and start a cluster of its own; the tests start private servers instead, so
# createcluster.conf is told not to (only when the file does not say otherwise already).
set -euo pipefail

find_bindir() {
  if [ -n "${PORTCULLIS_PG_BINDIR:-}" ]; then
    [ -x "$PORTCULLIS_PG_BINDIR/initdb" ] && [ -x "$PORTCULLIS_PG_BINDIR/postgres" ] && echo "$PORTCULLIS_PG_BINDIR"
    return
  fi
  local dir
  # Debian keeps each major version apart; prefer the newest.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then echo "$dir"; return; fi
  done
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir)
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then echo "$dir"; return; fi
  fi
  return 0
}

bindir=$(find_bindir)
if [ -z "$bindir" ]; then
  if [ -n "${PORTCULLIS_PG_BINDIR:-}" ]; then
    echo "ensure-postgres: PORTCULLIS_PG_BINDIR=$PORTCULLIS_PG_BINDIR has no initdb and postgres" >&2
    exit 1
  fi
  command -v apt-get >/dev/null 2>&1 || {
    echo "ensure-postgres: no PostgreSQL server found and no apt-get to install one" >&2
    exit 1
  }
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "ensure-postgres: installing PostgreSQL needs root or sudo" >&2; exit 1; }
    sudo="sudo -n"
  fi
  echo "ensure-postgres: installing PostgreSQL (apt-get install postgresql)" >&2
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $sudo mkdir -p /etc/postgresql-common
    echo 'create_main_cluster = false' | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends postgresql; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "ensure-postgres: apt-get failed" >&2
    exit 1
  fi
  bindir=$(find_bindir)
  [ -n "$bindir" ] || { echo "ensure-postgres: installed postgresql but found no initdb" >&2; exit 1; }
fi
echo "$bindir"
