#!/usr/bin/env bash
# Make the documentation's pictures from real data (run from the repository root; needs Xvfb, Chromium and
# the shared data: DATA=/path/to/shared/data, default ../shared/data; PYTHON, default .venv/bin/python):
#
#   bash tools/make_doc_images.sh [viewer] [calib] [stream]     (no argument: all three)
#
# viewer -> docs/images/viewer.png: Pose2Sim's Demo_Batch Trial_1 (4 real 1088x1920 videos, its Qualisys
#   calibration) processed by `capture3d process` (MediaPipe full on whole views, the fast 2D path), then
#   frame 60 of the result in the 3D viewer with the rig's cameras, under Xvfb (`capture3d view --screenshot`).
# calib -> docs/images/board_charuco_7x5.png (`capture3d board`, 75 dpi preview) and calib_reprojection_error,
#   calib_coverage, calib_layout_3d.png: the report figures of `capture3d calibrate rig` on Caliscope's
#   sample session (4 webcams, Caliscope's lenses held), as docs/getting-started.md runs it.
# stream -> docs/images/stream_page.png: the WebSocket stream's page (`--stream ws://...`) of a synthetic
#   live run, in headless Chromium.
# Every picture is at most 900 px wide; open each one before committing it.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${DATA:-../shared/data}"
py="${PYTHON:-.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p docs/images

small() {  # small SRC DST: at most 900 px wide, PNG
  "$py" - "$1" "$2" <<'PY'
import sys, cv2
img = cv2.imread(sys.argv[1])
scale = min(1.0, 900 / img.shape[1])
img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
cv2.imwrite(sys.argv[2], img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
print(f"wrote {sys.argv[2]} {img.shape[1]}x{img.shape[0]}")
PY
}

viewer() {
  printf '[pipeline]\ndetector_options = { model_complexity = 1, person_detector = "none" }\n' > "$work/fast.toml"
  "$py" -m capture3d process "$data/pose2sim/Demo_Batch/Trial_1" \
      --rig "$data/pose2sim/Demo_Batch/calibration/Calib.qca.txt" --config "$work/fast.toml" -o "$work/out"
  xvfb-run -a -s "-screen 0 1280x800x24" "$py" -m capture3d view "$work/out" --frame 60 \
      --screenshot "$work/viewer_full.png"
  small "$work/viewer_full.png" docs/images/viewer.png
}

calib() {
  "$py" -m capture3d board calibration/boards/charuco_7x5.toml -o "$work/board.png" --dpi 75
  small "$work/board.png" docs/images/board_charuco_7x5.png
  local caliscope="$data/caliscope/charuco_calibration"
  "$py" -m capture3d calibrate rig --board "$caliscope/charuco.toml" "$caliscope/calibration/extrinsic" \
      -o "$work/rig.toml" --intrinsics "$caliscope/camera_array.toml" --fix-intrinsics --uncertainty 0
  for fig in reprojection_error coverage layout_3d; do
    small "$work/rig_report/$fig.png" "docs/images/calib_$fig.png"
  done
}

stream() {
  local port=8765
  "$py" -m capture3d live --config configs/demo-live.toml --no-viewer --duration 30 \
      --stream "ws://127.0.0.1:$port" > "$work/live.log" 2>&1 &
  local live=$!
  for _ in $(seq 100); do  # until the page is served (the run starts in a few seconds)
    "$py" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.2
  done
  sleep 3  # a few seconds of frames so the page shows the walker mid-stride
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=900,560 \
      --virtual-time-budget=4000 --screenshot="$work/stream.png" "http://127.0.0.1:$port/" 2>/dev/null
  kill "$live" 2>/dev/null || true
  wait "$live" 2>/dev/null || true
  small "$work/stream.png" docs/images/stream_page.png
}

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(viewer calib stream)
for step in "${steps[@]}"; do
  case "$step" in
    viewer|calib|stream) "$step" ;;
    *) echo "make_doc_images.sh: unknown picture '$step' (expected viewer, calib or stream)" >&2; exit 2 ;;
  esac
done
