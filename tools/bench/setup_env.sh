#!/usr/bin/env bash
# Create the benchmarks' own environment (.bench-venv): capture3d + the peer libraries we compare with,
# installed from PyPI. They are not dependencies of capture3d.
#   bash tools/bench/setup_env.sh && .bench-venv/bin/python tools/bench/bench_triangulate.py
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x .bench-venv/bin/python ] || "${PYTHON:-python3}" -m venv .bench-venv
.bench-venv/bin/python -m pip install -q --disable-pip-version-check -e . "aniposelib==0.8.0"
echo "bench env ready: .bench-venv"
