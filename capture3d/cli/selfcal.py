"""``capture3d calibrate refine`` and ``capture3d sync``: calibration and synchronization from the people in
view (their 2D keypoints), for rigs bumped since the board calibration and cameras without a trigger cable."""
from __future__ import annotations

import argparse
import re
from pathlib import Path
from capture3d.cli.numbers import int_in, positive

_REFINE_EPILOG = """\
examples:
  capture3d detect Trial_1/videos/cam*.mp4 -o kp2d/
  capture3d calibrate refine --rig calibration/Calib.qca.txt kp2d/ -o rig_refined.toml
  capture3d calibrate refine --rig calibration/Calib.qca.txt Trial_1/videos/ -o rig_refined.toml   (detects first)
  capture3d calibrate refine --rig rig.toml --keypoints2d kp2d/cam01 kp2d/cam02 kp2d/cam03 -o rig2.toml \\
      --refine-focal --reference board_rig.toml

The subject's 2D keypoints (OpenPose JSON, one folder per camera: --keypoints2d in rig order, or a
SESSION folder holding one sub-folder per camera, named after the cameras) are triangulated with the
rig, and a robust bundle adjustment moves the cameras (and, with --refine-focal, their focal lengths)
so the views agree. The rig given is the prior: it keeps the world frame and the scale (people fix
neither). Printed: each camera's change, the median reprojection and held-out-view errors before and
after (a held-out view is predicted from the others: the fair test of a rig), and a warning for every
camera that moved more than --warn-deg / --warn-cm. One walking person in 100 frames decides the relative
poses to a fraction of a degree only when the detections are good; measured numbers: docs/selfcal.md.
"""

_SYNC_EPILOG = """\
examples:
  capture3d sync --rig rig.toml kp2d/ -o offsets.toml
  capture3d sync --rig rig.toml cam1.mp4 cam2.mp4 cam3.mp4 -o offsets.toml     (detects into offsets_kp2d/)
  capture3d sync --keypoints2d kp2d/cam01 kp2d/cam02 kp2d/cam03 kp2d/cam04 -o offsets.toml   (no rig)
  capture3d triangulate --rig rig.toml --keypoints2d kp2d/cam* --offsets offsets.toml -o pose3d.csv

Writes [offsets] (camera name = frames, relative to the first camera: what the first camera shows at its
frame t, that camera shows at frame t + offset; fractional) and [confidence] (0..1 per camera). With a
rig the offsets maximize the cross-view (epipolar) consistency of the subject's joints over all camera
pairs, to a tenth of a frame; without one, each view's keypoint speed is cross-correlated with the first
camera's (whole frames are often right, sub-frame is not). Confidence below 0.3 means the motion did not
single out one offset (someone standing still, a too-regular motion): the command says so, and such an
offset should not be used (the exit status is then 3). The subject must move for a while in view of all
cameras.
"""


def register_refine(calib_sub) -> None:
    """Add ``refine`` to ``capture3d calibrate``'s sub-commands."""
    q = calib_sub.add_parser("refine", help="refine a rig's camera poses from the people in view",
                             formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_REFINE_EPILOG,
                             description="Bundle-adjust the camera poses of a calibrated rig over the triangulated "
                                         "joints of the subject (robust loss, joint confidences as weights, the "
                                         "rig as the prior) and write the refined rig.")
    q.add_argument("--rig", required=True, help="the prior rig: TOML, Qualisys .qca.txt or OpenPose XML")
    _keypoint_inputs(q)
    q.add_argument("-o", "--output", required=True, help="refined rig TOML")
    q.add_argument("--refine-focal", action="store_true", help="also refine each camera's focal length")
    q.add_argument("--loss", choices=("soft_l1", "huber", "cauchy", "linear"), default="soft_l1",
                   help="robust loss of the reprojection errors (default soft_l1, turning robust at 3 px)")
    q.add_argument("--warn-deg", type=positive(180.0, "deg"), default=0.5, help="warn about cameras turned more (default 0.5 deg)")
    q.add_argument("--warn-cm", type=positive(10000.0, "cm"), default=2.0, help="warn about cameras moved more (default 2 cm)")
    q.add_argument("--reference", default=None, metavar="RIG",
                   help="also compare the rigs with this reference calibration after similarity alignment")
    q.set_defaults(func=run_refine)


def register(sub) -> None:
    p = sub.add_parser("sync", help="time offsets of unsynchronized cameras from the people in view",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_SYNC_EPILOG,
                       description="Estimate each camera's time offset (sub-frame) from the subject's 2D keypoints "
                                   "and write an offsets TOML that triangulate --offsets applies.")
    _keypoint_inputs(p)
    p.add_argument("--rig", default=None, help="rig (recommended): cross-view consistency instead of speed alone")
    p.add_argument("-o", "--output", required=True, help="offsets TOML")
    p.add_argument("--max-offset", type=int_in(1, 100000), default=30, help="largest |offset| tried, frames (default 30)")
    p.set_defaults(func=run_sync)


def _keypoint_inputs(p) -> None:
    p.add_argument("session", nargs="*", default=None, metavar="SESSION|VIDEOS",
                   help="folder with one OpenPose JSON sub-folder per camera (as 'capture3d detect -o' writes), "
                        "or one video per camera (or a folder of them): detected first (MediaPipe) into "
                        "<output stem>_kp2d/ beside the output")
    p.add_argument("--keypoints2d", nargs="+", default=None, metavar="DIR",
                   help="one OpenPose JSON folder per camera, in rig order (instead of SESSION)")
    p.add_argument("--keypoint-set", default=None, metavar="NAME",
                   help="keypoint set of the JSON files (default: recorded in them, else guessed; see capture3d sets)")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def keypoint_folders(args, names: list[str] | None) -> list[Path]:
    """The per-camera folders: --keypoints2d as given, or SESSION's sub-folders matched to ``names``."""
    from capture3d.errors import KeypointFileError

    if bool(args.session) == (args.keypoints2d is not None):
        raise KeypointFileError("give either SESSION (a folder of per-camera JSON folders), the videos, or "
                                "--keypoints2d DIR...")
    if args.keypoints2d is not None:
        return [Path(p) for p in args.keypoints2d]
    if not _videos(args.session) and len(args.session) > 1:
        raise KeypointFileError(f"expected one SESSION folder or only videos, found {', '.join(args.session)}")
    root = _detect_videos(args) if _videos(args.session) else Path(args.session[0])
    subs = sorted((d for d in root.iterdir() if d.is_dir()), key=lambda d: [int(t) if t.isdigit() else t for t in
                                                                           re.split(r"(\d+)", d.name)]) \
        if root.is_dir() else []
    if not subs:
        raise KeypointFileError(f"{root}: expected a folder with one OpenPose JSON sub-folder per camera")
    if names is None:
        return subs
    by = {_norm(d.name): d for d in subs}
    missing = [n for n in names if _norm(n) not in by]
    if missing:
        raise KeypointFileError(f"{root}: no keypoint folder for camera(s) {missing} (found "
                                f"{', '.join(d.name for d in subs)})")
    return [by[_norm(n)] for n in names]


def _videos(inputs: list[str]) -> list[Path]:
    from capture3d.io.media import is_video

    paths = [Path(p) for p in inputs]
    if len(paths) == 1 and paths[0].is_dir():
        inner = paths[0] / "videos" if (paths[0] / "videos").is_dir() else paths[0]
        paths = sorted(p for p in inner.iterdir() if p.is_file())
    vids = [p for p in paths if is_video(p)]
    return vids if vids and len(vids) == len(paths) else []


def _detect_videos(args) -> Path:
    """Detect 2D keypoints in the videos (capture3d detect) into <output stem>_kp2d/ and return it."""
    from capture3d.cli import main
    from capture3d.errors import KeypointFileError

    out = Path(args.output)
    kp_dir = out.with_name(out.stem + "_kp2d")
    cmd = ["detect", *map(str, _videos(args.session)), "-o", str(kp_dir)]
    if args.keypoint_set:
        cmd += ["--keypoint-set", args.keypoint_set]
    print(f"detecting 2D keypoints: capture3d {' '.join(cmd)}")
    if main(cmd) != 0:
        raise KeypointFileError(f"2D detection of {', '.join(args.session)} failed (see above)")
    return kp_dir


def run_refine(args) -> int:
    from tqdm import tqdm

    from capture3d.calib.refine import RefineSettings, refine_rig, subject_keypoints
    from capture3d.calib.rig_compare import compare_rigs
    from capture3d.errors import ConfigError
    from capture3d.io.paths import check_writable
    from capture3d.io.rig_files import load_rig, save_rig
    from capture3d.reconstruct.folders import load_views

    check_writable(args.output)
    if not (args.warn_deg > 0 and args.warn_cm > 0):
        raise ConfigError(f"--warn-deg and --warn-cm must be > 0, found {args.warn_deg} and {args.warn_cm}")
    rig = load_rig(args.rig)
    folders = keypoint_folders(args, rig.names)
    kp, _, kps = load_views(folders, len(rig), args.keypoint_set)
    sub = subject_keypoints(rig, kp, kps)
    settings = RefineSettings(loss=args.loss, refine_focal=args.refine_focal, warn_rotation_deg=args.warn_deg,
                              warn_center_m=args.warn_cm / 100)
    bar = tqdm(total=len(settings.thresholds_px), unit="round", desc="refine")
    try:
        res = refine_rig(rig, sub, settings, progress=lambda d, t: bar.update(d - bar.n))
    except ValueError as exc:
        raise ConfigError(f"calibrate refine: {exc}") from None
    finally:
        bar.close()
    save_rig(args.output, res.rig)
    print(f"refined {len(rig)} cameras from {res.n_points} joints ({res.n_observations} 2D observations)")
    for c in res.changes:
        focal = f", focal x{c.focal_ratio:.4f}" if args.refine_focal else ""
        print(f"  {c.name}: turned {c.rotation_deg:.2f} deg, moved {100 * c.center_m:.1f} cm{focal}")
    held = (f"held-out view {res.held_out_before_px:.2f} -> {res.held_out_after_px:.2f} px" if len(rig) >= 3 else
            "held-out view: not measured (a view is predicted from at least 2 others: needs 3 cameras)")
    print(f"  reprojection (median) {res.reproj_before_px:.2f} -> {res.reproj_after_px:.2f} px; {held}")
    if args.reference:
        ref = load_rig(args.reference)
        for label, r in (("given", rig), ("refined", res.rig)):
            d = compare_rigs(r, ref)
            print(f"  vs {args.reference} ({label}, after similarity alignment): rotation max "
                  f"{d.rotation_deg.max():.3f} deg, centre max {100 * d.center_m.max():.2f} cm")
    for w in res.warnings:
        print(f"warning: {w}")
    print(f"wrote {args.output}")
    return 0


def run_sync(args) -> int:
    import numpy as np

    from capture3d.calib.timesync import offsets_from_geometry, offsets_from_speed
    from capture3d.errors import ConfigError
    from capture3d.io.atomic import atomic_write_text
    from capture3d.io.paths import check_writable
    from capture3d.io.rig_files import load_rig

    check_writable(args.output)
    from capture3d.reconstruct.folders import load_views
    from capture3d.reconstruct.offsets import offsets_toml
    from capture3d.reconstruct.reconstructor import select_by_score
    from capture3d.reconstruct.track import gather_people

    rig = load_rig(args.rig) if args.rig else None
    folders = keypoint_folders(args, rig.names if rig else None)
    names = rig.names if rig else [f.name for f in folders]
    kp, _, _ = load_views(folders, len(folders), args.keypoint_set, unsynced=True)
    chosen = select_by_score(kp)  # (V, T): the most confident person per view (the views are not in sync yet)
    sub = np.stack([gather_people(kp[:, t], chosen[:, t]) for t in range(kp.shape[1])], axis=1)
    try:
        res = offsets_from_geometry(rig, sub, args.max_offset) if rig else offsets_from_speed(sub, args.max_offset, names=names)
    except ValueError as exc:
        raise ConfigError(f"sync: {exc}") from None
    info = {"method": res.method, "max_offset": args.max_offset, "frames": int(kp.shape[1]),
            "reliable": bool(res.reliable.all())}
    atomic_write_text(args.output, offsets_toml(names, res.offsets, res.confidence, info))
    print(f"capture3d sync ({res.method}), {kp.shape[1]} frames:")
    for n, o, c, ok in zip(names, res.offsets, res.confidence, res.reliable):
        print(f"  {n}: {o:+.2f} frames, confidence {c:.2f}{'' if ok else '  (unreliable)'}")
    for note in res.notes:
        print(f"warning: {note}")
    print(f"wrote {args.output}")
    return 0 if res.reliable.all() else 3
