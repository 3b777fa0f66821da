#!/usr/bin/env bash
# Make the documentation's pictures from real data (run from the repository root; needs Xvfb and the
# shared data: DATA=/path/to/shared/data, default ../shared/data):
#
#   bash tools/make_doc_images.sh      ->  docs/images/viewer.png, board_charuco_7x5.png,
#                                          calib_reprojection_error.png, calib_coverage.png, calib_layout_3d.png
#
# viewer.png: Pose2Sim's Demo_Batch Trial_1 (4 real 1088x1920 videos, its Qualisys calibration) processed by
# `capture3d process` (MediaPipe full on whole views, the fast 2D path), then one frame of the result in
# the 3D viewer with the rig's cameras, rendered under Xvfb by `capture3d view --screenshot`.
# board_charuco_7x5.png: `capture3d board` on calibration/boards/charuco_7x5.toml (75 dpi: a preview).
# calib_*.png: the report figures of `capture3d calibrate rig` on Caliscope's sample session (4 webcams,
# Caliscope's lenses held), as docs/getting-started.md runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${DATA:-../shared/data}"
trial="$data/pose2sim/Demo_Batch/Trial_1"
calib="$data/pose2sim/Demo_Batch/calibration/Calib.qca.txt"
py="${PYTHON:-.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '[pipeline]\ndetector_options = { model_complexity = 1, person_detector = "none" }\n' > "$work/fast.toml"
"$py" -m capture3d process "$trial" --rig "$calib" --config "$work/fast.toml" -o "$work/out"
mkdir -p docs/images
xvfb-run -a -s "-screen 0 1280x800x24" "$py" -m capture3d view "$work/out" --frame 60 \
    --screenshot "$work/viewer_full.png"
"$py" -m capture3d board calibration/boards/charuco_7x5.toml -o "$work/board.png" --dpi 75
caliscope="$data/caliscope/charuco_calibration"
"$py" -m capture3d calibrate rig --board "$caliscope/charuco.toml" "$caliscope/calibration/extrinsic" \
    -o "$work/rig.toml" --intrinsics "$caliscope/camera_array.toml" --fix-intrinsics --uncertainty 0
# Keep the pictures small: at most 900 px wide, PNG.
small() {
  "$py" - "$1" "$2" <<'PY'
import sys, cv2
img = cv2.imread(sys.argv[1])
scale = min(1.0, 900 / img.shape[1])
img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
cv2.imwrite(sys.argv[2], img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
print(f"wrote {sys.argv[2]} {img.shape[1]}x{img.shape[0]}")
PY
}
small "$work/viewer_full.png" docs/images/viewer.png
small "$work/board.png" docs/images/board_charuco_7x5.png
for fig in reprojection_error coverage layout_3d; do
  small "$work/rig_report/$fig.png" "docs/images/calib_$fig.png"
done
