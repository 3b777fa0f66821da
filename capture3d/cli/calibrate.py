"""``capture3d calibrate``: intrinsics of one camera, a whole rig, or a report of a calibrated rig."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from capture3d.cli.numbers import int_in
from capture3d.io.paths import check_writable

_EPILOG = """\
examples:
  capture3d calibrate intrinsics --board calibration/boards/charuco_7x5.toml --camera cam1 cam1_intr.mp4 -o cam1.toml
  capture3d calibrate rig --board calibration/boards/charuco_7x5.toml session/ -o rig.toml \\
      --intrinsics cam1.toml cam2.toml --floor 0 --openpose rig_openpose/
  capture3d calibrate report rig.toml

SESSION_DIR holds one synchronized video (cam1.mp4) or image folder (cam1/) per camera, named after
the camera: one camera gives its intrinsics, two a stereo pair (baseline, relative rotation and epipolar
error in the report), more a rig. Images pair up across cameras by the number their names end with
(left05.jpg with right05.jpg, cam_0_frame_100.jpg with cam_1_frame_100.jpg), by their order only when a
name carries no number; video frames by index, or by Caliscope's timestamps.csv (both its layouts)
beside them. The board's square_size sets the rig's scale and unit (metres: 0.025 for 25 mm); a size
that puts the cameras more than 50 m apart is warned about. See docs/calibrate.md.
"""

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="calibrate camera intrinsics or a whole rig from board views",
                              description="Calibrate one camera's intrinsics, or a synchronized multi-camera rig, "
                                          "from checkerboard or ChArUco views; write a rig TOML and a report.",
                              epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="calib_command", metavar="STEP")

    def common(q):
        q.add_argument("--board", required=True, help="board definition TOML (see calibration/boards/), or a Caliscope "
                                                      "charuco.toml, or an anipose/FreeMoCap config.toml")
        q.add_argument("--probe-frames", type=int_in(0, 100000), default=30, metavar="N",
                       help="search N frames of each camera (spread over the recording) for the board first, trying the inverted / "
                            "legacy ChArUco variants when it is not found, and stop early if none is (0: skip)")
        q.add_argument("--stride", type=_stride, default=None, metavar="N|auto",
                       help="use every N-th video frame (default auto: about 400 frames per video)")
        q.add_argument("--workers", type=int_in(1, 256), default=None, help="detection threads (default: CPU count)")
        q.add_argument("--model", choices=("standard", "rational", "fisheye"), default="standard",
                       help="lens model: standard (5 coefficients), rational (8) or fisheye (4); default standard")
        q.add_argument("--no-progress", action="store_true", help="do not draw progress bars")
        q.add_argument("--thorough", action="store_true", default=None,
                       help="checkerboards in videos: also try the slower sector-based detector where the fast one "
                            "fails (always done for image files)")

    raw = argparse.RawDescriptionHelpFormatter
    qi = sub.add_parser("intrinsics", help="intrinsics of one camera", formatter_class=raw,
                        description="Calibrate K and distortion of one camera from images, image folders or videos.",
                        epilog="example:\n  capture3d calibrate intrinsics --board B.toml --camera cam1 intr/ "
                               "-o cam1.toml")
    common(qi)
    qi.add_argument("--camera", required=True, help="camera name written to the output")
    qi.add_argument("inputs", nargs="+", help="image files, folders of images, or videos")
    qi.add_argument("-o", "--output", required=True, help="output one-camera rig TOML")
    qi.add_argument("--force", action="store_true",
                    help="replace the output even when it holds a multi-camera rig or is not a rig file")
    qi.add_argument("--max-views", type=int_in(4, 100000), default=80,
                    help="views kept for the solve (well spread; at least 4, the fewest that constrain a lens; default 80)")
    qi.add_argument("--terms", choices=("auto", "k1", "k1k2", "k1k2p1p2", "k1k2p1p2k3"), default="auto",
                    help="standard model: distortion terms solved; auto (default) chooses by held-out views and "
                         "keeps k3 at 0 below 10 views")
    qi.set_defaults(func=run_intrinsics)

    qr = sub.add_parser("rig", help="calibrate a synchronized rig (1, 2 or more cameras)", formatter_class=raw,
                        description="Calibrate every camera's pose (and intrinsics where not given) from a "
                                    "synchronized session of one or more cameras, with a robust bundle adjustment.",
                        epilog="example:\n  capture3d calibrate rig --board B.toml session/ -o rig.toml --floor 0")
    common(qr)
    qr.add_argument("session", help="folder with one video or image folder per camera")
    qr.add_argument("-o", "--output", required=True, help="output rig TOML")
    qr.add_argument("--intrinsics", nargs="+", default=[], help="rig/camera TOML or OpenPose XML files (or a "
                                                                "Caliscope camera_array.toml) with known "
                                                                "intrinsics, matched by camera name (a file "
                                                                "matching no session camera is an error)")
    qr.add_argument("--floor", nargs="?", type=int_in(0, 10**8), const=0, default=None, metavar="FRAME",
                    help="the board lies on the floor in frame FRAME (default 0): world origin at its first corner, "
                         "Z up. Without --floor camera 1 defines the world frame")
    ref = qr.add_mutually_exclusive_group()
    ref.add_argument("--refine-intrinsics", dest="refine", action="store_true", default=None,
                     help="refine given intrinsics in the bundle adjustment too")
    ref.add_argument("--fix-intrinsics", dest="refine", action="store_false",
                     help="keep all intrinsics fixed in the bundle adjustment")
    qr.add_argument("--loss", choices=("huber", "cauchy", "linear"), default="huber",
                    help="robust loss (default huber)")
    qr.add_argument("--report-dir", default=None, help="report folder (default: <output stem>_report)")
    qr.add_argument("--uncertainty", type=int_in(0, 1000), default=5, metavar="N",
                    help="per-camera uncertainty from N bootstrap resamples of the frames (bundle adjustment reruns; "
                         "default 5, 0: skip)")
    qr.add_argument("--reference", default=None, metavar="RIG",
                    help="compare with this rig (any rig file capture3d reads, or a Caliscope camera_array.toml / "
                         "config.toml): camera centre and rotation differences after similarity alignment")
    qr.add_argument("--openpose", default=None, metavar="DIR", help="also write OpenPose camera XML files into DIR")
    qr.add_argument("--anipose", default=None, metavar="FILE", help="also write an anipose calibration.toml")
    qr.add_argument("--pose2sim", default=None, metavar="FILE", help="also write a Pose2Sim calibration TOML")
    qr.set_defaults(func=run_rig)

    qp = sub.add_parser("report", help="report of a calibrated rig", formatter_class=raw,
                        description="Write report.json and figures of a rig (per-view data from the .calib.npz "
                                    "written beside it by 'calibrate rig') and print a summary.",
                        epilog="example:\n  capture3d calibrate report rig.toml -o rig_report/\n"
                               "  capture3d calibrate report rig.toml --show   the rig in 3D, cameras coloured by error")
    qp.add_argument("rig", help="rig TOML")
    qp.add_argument("-o", "--output", default=None, help="report folder (default: <rig stem>_report)")
    qp.add_argument("--show", action="store_true",
                    help="also show the rig in 3D, cameras coloured by reprojection error (needs a display)")
    qp.set_defaults(func=run_report)
    from capture3d.cli.selfcal import register_refine  # calibration from the people in view

    register_refine(sub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _stride(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', found {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', found {n}")
    return n


class _Bar:
    """tqdm progress callback(done, total) per label; silent when disabled."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bars = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(label)
        if bar is None:
            bar = self.bars[label] = tqdm(total=total, desc=f"detect {label}", unit="frame", leave=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()


def _refuse_to_replace(out: Path) -> None:
    """CalibrationError when ``out`` exists and holds more than one camera, or is not a rig file: the one-camera
    result of 'calibrate intrinsics' would silently replace it."""
    from capture3d.errors import CalibrationError, Capture3DError
    from capture3d.io.rig_files import load_rig

    if not out.exists():
        return
    try:
        rig = load_rig(out)
    except Capture3DError as exc:
        raise CalibrationError(f"{out} exists and is not a rig file ({exc}); 'calibrate intrinsics' would replace "
                               f"it: choose another -o or pass --force") from None
    if len(rig) > 1:
        raise CalibrationError(f"{out} holds a rig of {len(rig)} cameras ({', '.join(rig.names)}); 'calibrate "
                               f"intrinsics' writes ONE camera and would replace it: choose another -o (e.g. "
                               f"{out.with_name(out.stem + '_cam.toml').name}) or pass --force")


def run_intrinsics(args) -> int:
    from capture3d.geometry.camera import Rig
    from capture3d.io.rig_files import save_rig
    from capture3d.calib import calibrate_intrinsics, detect_camera, list_frames, load_board
    from capture3d.calib.detect import require_views
    from capture3d.calib.intrinsics import MIN_VIEWS
    from capture3d.calib.lens_terms import std_metadata
    from capture3d.calib.board_probe import probe_board

    if not args.force:
        _refuse_to_replace(Path(args.output))
    check_writable(args.output)
    board = load_board(args.board)
    refs = list_frames(args.inputs, args.stride)
    board = probe_board({args.camera: refs}, board, args.workers, args.probe_frames, args.thorough)
    bar = _Bar(not args.no_progress)
    det = detect_camera(refs, board, args.camera, args.workers, lambda d, t: bar(args.camera, d, t), args.thorough)
    require_views(det, board, MIN_VIEWS)
    res = calibrate_intrinsics(det.views, board, det.size_wh, args.camera, args.model, args.max_views,
                               terms=args.terms)
    meta = {"calibration_rms_px": res.rms_px, "model": args.model, "board": board.describe(),
            "views_found": len(det.views), "views_used": len(res.used), "views_rejected": len(res.rejected),
            "coverage": res.coverage, **std_metadata({args.camera: res.std}, {args.camera: res.terms})}
    save_rig(args.output, Rig((res.camera,), meta))
    K = res.camera.K
    print(f"camera {args.camera}: board found in {len(det.views)} of {det.n_frames} frames, {len(res.used)} used, "
          f"{len(res.rejected)} rejected")
    print(f"  RMS reprojection error {res.rms_px:.3f} px; fx {K[0, 0]:.2f} fy {K[1, 1]:.2f} cx {K[0, 2]:.2f} "
          f"cy {K[1, 2]:.2f}; distortion {[round(float(d), 5) for d in res.camera.dist]}")
    if res.std:
        sd = res.std
        print(f"  standard deviations: fx +-{sd['fx']:.2f} fy +-{sd['fy']:.2f} cx +-{sd['cx']:.2f} cy +-{sd['cy']:.2f} px; "
              + " ".join(f"{k} +-{v:.4f}" for k, v in sd.items() if k[0] in "kp") + f" (terms {res.terms})")
    print(f"  image coverage {100 * res.coverage:.0f}%")
    worst = sorted(res.view_rms_px.items(), key=lambda kv: -kv[1])[:5]
    print("  worst views: " + ", ".join(f"{label} {e:.2f} px" for label, e in worst))
    for label, why in res.rejected.items():
        print(f"  rejected {label}: {why}")
    for w in res.warnings:
        print(f"warning: {w}")
    print(f"wrote {args.output}")
    return 0


def _load_intrinsics(paths: list[str]) -> dict[str, list]:
    """{file: [Camera, ...]} of the --intrinsics files."""
    from capture3d.io.rig_files import load_rig as load_reference_rig

    return {p: list(load_reference_rig(p).cameras) for p in paths}


def _match_intrinsics(given: dict[str, list], names: list[str]) -> dict:
    """{camera name: Camera} of the --intrinsics cameras named like a session camera. CalibrationError, with
    both sets of names, for a file none of whose cameras is in the session (its intrinsics would be ignored,
    and --fix-intrinsics with them); a warning for the other cameras of a file that matches."""
    from capture3d.errors import CalibrationError

    cams = {}
    for path, file_cams in given.items():
        mine = [c for c in file_cams if c.name in names]
        others = [c.name for c in file_cams if c.name not in names]
        if not mine:
            raise CalibrationError(f"--intrinsics {path}: its camera(s) {[c.name for c in file_cams]} match none of "
                                   f"the session's cameras {names} (named after the session's folders or videos); "
                                   f"rename the cameras in the file or the session's folders so they agree")
        if others:
            print(f"warning: --intrinsics {path}: camera(s) {others} are not in the session {names} (ignored)")
        cams.update({c.name: c for c in mine})
    return cams


def run_rig(args) -> int:
    from capture3d.io.rig_files import save_rig, write_openpose_xml
    from capture3d.calib import (calibrate_rig, detect_session, from_detections, load_board, session_inputs, summary_text,
                                 write_report)
    from capture3d.calib.export import calibration_data_path, export_rig_toml, save_calibration_data
    from capture3d.calib.report import build_report

    check_writable(args.output)
    board = load_board(args.board)
    intr = _match_intrinsics(_load_intrinsics(args.intrinsics), list(session_inputs(args.session)))
    if args.openpose and (args.model == "fisheye" or any(c.fisheye for c in intr.values())):
        from capture3d.errors import RigError
        raise RigError("--openpose with fisheye lenses: OpenPose's camera XML has no fisheye flag (its readers "
                       "would take the 4 fisheye coefficients for pinhole k1 k2 p1 p2); leave out --openpose "
                       "and use the .toml rig, which anipose and Pose2Sim read with its fisheye flag")
    reference = None
    if args.reference:
        from capture3d.io.rig_files import load_rig as load_reference_rig
        reference = load_reference_rig(args.reference)
    dets = detect_session(args.session, board, args.stride, args.workers, _Bar(not args.no_progress),
                          args.thorough, args.probe_frames)
    board = dets[0].board or board
    names = [d.name for d in dets]
    for d in dets:
        print(f"camera {d.name}: board found in {len(d.views)} of {d.n_own_frames} frames")
    if len(dets) == 1:
        print(f"one camera ({names[0]}): its intrinsics and the board poses only (it is the world frame; no "
              f"extrinsics to solve)")
    cal = calibrate_rig(from_detections(dets), board, intrinsics=intr, refine_intrinsics=args.refine,
                        model=args.model, floor=args.floor, loss=args.loss)
    if args.uncertainty > 0:
        from capture3d.calib.uncertainty import bootstrap_uncertainty
        cal.uncertainty = bootstrap_uncertainty(cal, args.uncertainty)
    if reference is not None:
        from capture3d.calib.reference import compare_with_reference
        cal.reference = compare_with_reference(cal.rig, reference, args.reference)
    out = Path(args.output)
    save_rig(out, cal.rig)
    save_calibration_data(calibration_data_path(out), cal)
    report_dir = Path(args.report_dir) if args.report_dir else out.with_name(out.stem + "_report")
    write_report(report_dir, cal.rig, cal)
    print(summary_text(build_report(cal.rig, cal)))
    if args.openpose:
        write_openpose_xml(args.openpose, cal.rig)
        print(f"wrote OpenPose camera files into {args.openpose}")
    if args.anipose:
        export_rig_toml(args.anipose, cal.rig, "anipose")
        print(f"wrote {args.anipose}")
    if args.pose2sim:
        export_rig_toml(args.pose2sim, cal.rig, "pose2sim")
        print(f"wrote {args.pose2sim}")
    print(f"wrote {out} and the report in {report_dir}")
    return 0


def run_report(args) -> int:
    from capture3d.io.rig_files import load_rig
    from capture3d.calib import summary_text, write_report
    from capture3d.calib.export import calibration_data_path, load_calibration_data
    from capture3d.calib.report import build_report

    rig = load_rig(args.rig)
    data_path = calibration_data_path(args.rig)
    cal = load_calibration_data(data_path, rig) if data_path.is_file() else None
    if cal is None:
        print(f"note: {data_path} not found: the report has the rig only (no per-view errors or coverage)")
    out = Path(args.output) if args.output else Path(args.rig).with_name(Path(args.rig).stem + "_report")
    paths = write_report(out, rig, cal)
    print(summary_text(build_report(rig, cal)))
    print(f"wrote {', '.join(p.name for p in paths)} in {out}")
    if getattr(args, "show", False):
        from capture3d import viewer

        if not viewer.has_display():
            raise viewer.ViewerUnavailable("--show needs a display (the report was written); run without --show")
        cams = build_report(rig, cal)["cameras"]
        viewer.show_rig(rig, [c.get("rms_px", float("nan")) for c in cams])
    return 0
