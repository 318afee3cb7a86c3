#!/usr/bin/env bash
# Build the zip Cloud Functions uploads for one function: run inside functions/<name>.
#   (cd functions/ingest_prices && bash ../package.sh /tmp/ingest_prices.zip)
# The zip holds main.py, requirements.txt (pinned third-party packages) and a copy of the
# shared package quantrun (shared_lib/quantrun) beside main.py.
set -euo pipefail
out="${1:?usage: package.sh OUTPUT.zip}"
here="$(pwd)"
root="$(cd "$here/../.." && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$here/main.py" "$here/requirements.txt" "$stage/"
cp -r "$root/shared_lib/quantrun" "$stage/quantrun"
find "$stage" -name "__pycache__" -prune -exec rm -rf {} +
rm -rf "$stage/quantrun/sample_data"
(cd "$stage" && python3 -m zipfile -c "$out" .)
echo "$out"
