#!/usr/bin/env bash
# checkov, in its own venv (it pins many libraries of its own); terraform itself is
# expected on the machine (`terraform fmt` needs no provider download).
set -euo pipefail
# this machine's pip configuration warns about missing local indexes on every package
quiet() { "$@" 2>&1 | sed '/^WARNING: Location/d'; return "${PIPESTATUS[0]}"; }
cd "$(dirname "$0")/.."
VENV=.venv-infra
STAMP="$VENV/.installed-checkov-3.3.30"
if [ ! -f "$STAMP" ]; then
  python3 -m venv "$VENV"
  quiet "$VENV/bin/pip" install -q --disable-pip-version-check checkov==3.3.30
  touch "$STAMP"
fi
command -v terraform >/dev/null 2>&1 || {
  echo "terraform is not installed (needed for terraform fmt -check)" >&2; exit 1; }
