# Sourced by the install scripts: a tool with pins of its own gets a venv of its own.
# shellcheck shell=bash

# this machine's pip configuration warns about missing local indexes on every package
quiet() { "$@" 2>&1 | sed '/^WARNING: Location/d'; return "${PIPESTATUS[0]}"; }

# missing VENV TAG: true until `installed VENV TAG` marks it done (a new TAG installs again;
# the caller marks it after its last step, so a failed step installs again next time)
missing() { [ ! -f "$1/.installed-$2" ]; }
installed() { touch "$1/.installed-$2"; }

# tool_venv VENV PACKAGE...: a fresh venv with the packages
tool_venv() {
  local venv=$1
  shift
  python3 -m venv "$venv"
  quiet "$venv/bin/pip" install -q --disable-pip-version-check "$@"
}
