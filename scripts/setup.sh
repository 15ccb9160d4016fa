#!/usr/bin/env bash
# Installs everything tracejit needs on a fresh Debian 12 machine, idempotently:
# Debian packages (LLVM 16, fmt, GoogleTest, OpenBLAS, build tools) and one virtual environment
# per supported CPython (3.11, 3.12, 3.13) under .venv/ with numpy, pytest, scikit-build-core.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs=(llvm-16-dev libasmjit-dev libfmt-dev libgtest-dev libopenblas-dev libzstd-dev zlib1g-dev
          libedit-dev libxml2-dev libcurl4-openssl-dev cmake ninja-build g++)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

# Interpreters: pyenv's if present, else python3.X on PATH.
find_python() {
  local v=$1 p
  for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v"; do
    [ -x "$p" ] && { echo "$p"; return 0; }
  done
  command -v "python$v" 2>/dev/null && return 0
  return 1
}

mkdir -p .venv
for v in ${TRACEJIT_PYTHONS:-3.11 3.12 3.13}; do
  venv=.venv/py$v
  if [ ! -x "$venv/bin/python" ]; then
    py=$(find_python "$v") || { echo "setup: python$v not found, skipping"; continue; }
    "$py" -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c "import numpy, pytest, scikit_build_core" 2>/dev/null; then
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q "numpy>=2" pytest "scikit-build-core>=0.8"
  fi
done
echo "setup: ok ($(ls -d .venv/py* | tr '\n' ' '))"
