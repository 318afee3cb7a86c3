#!/usr/bin/env bash
# System packages the test harness needs: PostgreSQL server binaries (initdb, pg_ctl,
# postgres) and a `postgres` OS user to run them as when we are root.
set -euo pipefail

have_pg() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if ! have_pg; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL server binaries are missing; install them (Debian: apt-get install postgresql)" >&2
    exit 1
  fi
  echo "installing PostgreSQL server binaries (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
