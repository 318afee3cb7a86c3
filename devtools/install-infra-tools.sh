#!/usr/bin/env bash
# checkov, in its own venv (it pins many libraries of its own); terraform itself is
# expected on the machine (`terraform fmt` needs no provider download).
set -euo pipefail
cd "$(dirname "$0")/.."
. devtools/tool-venv.sh
if missing .venv-infra checkov-3.3.30; then
  tool_venv .venv-infra checkov==3.3.30
  installed .venv-infra checkov-3.3.30
fi
command -v terraform >/dev/null 2>&1 || {
  echo "terraform is not installed (needed for terraform fmt -check)" >&2; exit 1; }
