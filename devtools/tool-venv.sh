# Sourced by the install scripts: uv, and a venv of its own for a tool with pins of its own.
# shellcheck shell=bash

# this machine's pip configuration warns about missing local indexes on every package
quiet() { "$@" 2>&1 | sed '/^WARNING: Location/d'; return "${PIPESTATUS[0]}"; }

# missing VENV TAG: true until `installed VENV TAG` marks it done (a new TAG installs again;
# the caller marks it after its last step, so a failed step installs again next time)
missing() { [ ! -f "$1/.installed-$2" ]; }
installed() { touch "$1/.installed-$2"; }

# Every environment is installed with uv: it fetches and unpacks wheels in parallel, where
# pip took 30 to 60 s an environment (make test builds four). uv itself comes from pip,
# hash-checked, into .venv-uv; a new devtools/requirements-uv.lock installs it again.
UV_VENV=.venv-uv
UV="$UV_VENV/bin/uv"
export UV_PYTHON_DOWNLOADS=never  # the venvs' Python is the machine's python3, never a download
ensure_uv() {
  local tag
  tag=$(sha256sum devtools/requirements-uv.lock | cut -c1-12)
  if missing "$UV_VENV" "$tag"; then
    rm -rf "$UV_VENV"
    python3 -m venv "$UV_VENV"
    quiet "$UV_VENV/bin/pip" install -q --disable-pip-version-check --require-hashes \
      -r devtools/requirements-uv.lock
    installed "$UV_VENV" "$tag"
  fi
}

# uv_install VENV ARGS...: `pip install ARGS` into VENV, by uv, not compiled to bytecode.
# Compiling every module at install was most of an install's time (25 of .venv's 35 s:
# the thousands of modules of scipy, pandas and numba, their tests among them), where a run
# imports a few hundred. Instead the Makefile unexports PYTHONDONTWRITEBYTECODE (this
# machine sets it; with it set and nothing compiled, every process compiled what it
# imported again, and make test took 160 s longer), so the first process to import a module
# writes its .pyc and the others read it; `make venv` imports the services once for a
# server started outside make.
uv_install() {
  local venv=$1
  shift
  quiet "$UV" pip install -q --python "$venv/bin/python" "$@"
}

# tool_venv VENV PACKAGE...: a fresh venv with the packages
tool_venv() {
  local venv=$1
  shift
  ensure_uv
  python3 -m venv "$venv"
  uv_install "$venv" "$@"
}
