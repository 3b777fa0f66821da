#!/usr/bin/env bash
# Create the benchmarks' own environment (.bench-venv): capture3d + the peer libraries we compare with,
# installed from PyPI. They are not dependencies of capture3d.
#   bash tools/bench/setup_env.sh && .bench-venv/bin/python tools/bench/bench_triangulate.py
#
# Pose2Sim (bench_realdata.py) is installed with --no-deps: its full dependency list pulls OpenSim, Qt,
# rtmlib/openvino (pose estimation) and more. Its triangulation and filtering modules only import the
# pure-Python / plain-wheel packages listed below (no torch, no CUDA).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x .bench-venv/bin/python ] || "${PYTHON:-python3}" -m venv .bench-venv
PIP=(.bench-venv/bin/python -m pip install -q --disable-pip-version-check)
"${PIP[@]}" -e . "aniposelib==0.8.0"
"${PIP[@]}" --no-deps "pose2sim==0.10.49"
"${PIP[@]}" "rtoml>=0.10" "anytree>=2.8" "pandas>=2" "statsmodels>=0.14" "filterpy>=1.4.5" "c3d>=0.6,<0.7" \
    "tqdm>=4.60" "matplotlib>=3.7"
installed=$(.bench-venv/bin/python -m pip list --disable-pip-version-check 2>/dev/null)
if grep -iqE '^(torch|nvidia-)' <<<"$installed"; then
    echo "error: torch or CUDA packages found in .bench-venv (they must not be pulled in)" >&2
    exit 1
fi
echo "bench env ready: .bench-venv"
