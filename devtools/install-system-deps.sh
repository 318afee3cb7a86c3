#!/usr/bin/env bash
# System packages the test harness needs: PostgreSQL server binaries (initdb, pg_ctl,
# postgres) and a `postgres` OS user to run them as when we are root; Debian's chromium
# for the console's browser tests (Playwright drives it; it downloads no browser).
set -euo pipefail

have_pg() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

# apt_install PACKAGE WHAT: install a Debian package (as root), or say what is missing
apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "$2 missing; install it (Debian: apt-get install $1)" >&2
    exit 1
  fi
  echo "installing $2 (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

have_pg || apt_install postgresql "PostgreSQL server binaries are"
command -v chromium >/dev/null 2>&1 || apt_install chromium "chromium is"

if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
