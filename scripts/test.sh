#!/usr/bin/env bash
# Sets up (scripts/setup.sh), then runs the whole test suite:
#   1. the C++ GoogleTest suites (ir, frontend, backends) through ctest;
#   2. for each CPython under .venv/: `pip install .` and pytest tests/python.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

jobs=${TRACEJIT_JOBS:-$(nproc)}
status=0

echo "== C++ tests (GoogleTest via ctest)"
cmake -S . -B build/ctest -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$PWD/.venv/py3.11/bin/python" -DTRACEJIT_BUILD_PYTHON=OFF >/dev/null
cmake --build build/ctest -j "$jobs"
(cd build/ctest && ctest --output-on-failure -j "$jobs") || status=1

for venv in .venv/py*; do
  py="$PWD/$venv/bin/python"
  echo "== Python $("$py" -c 'import sys; print(sys.version.split()[0])'): pip install . && pytest"
  "$py" -m pip install -q --no-build-isolation . || { status=1; continue; }
  # From the repo root: tests import the installed package, not the sources under python/.
  TRACEJIT_FRONTEND_TESTMOD_DIR= "$py" -m pytest tests/python -q -p no:cacheprovider || status=1
done
exit $status
