#!/usr/bin/env bash
# Sets up (scripts/setup.sh), installs tracejit into the Python 3.11 environment, and runs the
# demo: a fused elementwise function, its stats, the guards, and the benchmark table.
set -euo pipefail
cd "$(dirname "$0")/.."
TRACEJIT_PYTHONS=${TRACEJIT_PYTHONS:-3.11} bash scripts/setup.sh
py="$PWD/.venv/py3.11/bin/python"
"$py" -m pip install -q --no-build-isolation .
"$py" benchmarks/demo.py
