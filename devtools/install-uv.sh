#!/usr/bin/env bash
# uv into .venv-uv (devtools/tool-venv.sh): what `make` installs every environment with.
set -euo pipefail
cd "$(dirname "$0")/.."
. devtools/tool-venv.sh
ensure_uv
