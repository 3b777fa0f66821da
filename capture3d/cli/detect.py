"""``capture3d detect``: run a 2D keypoint detector over image folders, image files or videos (one per
camera) and write OpenPose JSON per camera (+ overlays with the skeleton drawn)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import tomllib
from pathlib import Path
from capture3d.cli.numbers import int_in

log = logging.getLogger(__name__)

_EPILOG = """\
examples:
  capture3d detect cam1.mp4 cam2.mp4 cam3.mp4 cam4.mp4 -o keypoints2d/
        every person in view: MediaPipe Pose on each person the OpenPose-style PAF network finds
  capture3d detect cam1.mp4 cam2.mp4 --option model_complexity=1 -o out/      MediaPipe full: ~2x faster, less accurate
  capture3d detect cam1.mp4 --option person_detector=none -o out/     one person per view (whole image)
  capture3d detect cam1.mp4 cam2.mp4 --detector openpose-mobilenet -o out/    the PAF network alone (COCO_18)
  capture3d detect frames/cam1/ frames/cam2/ --detector mediapipe --hands --face --overlay -o out/
  capture3d detect cam1.mp4 --detector openpose --option model=body_25 --option device=cpu -o out/
  capture3d detect cam1.mp4 cam2.mp4 --detector rtmpose --option model=rtmw-x-256 -o out/   (models/README.md)
  capture3d detect old/cam1_json/ old/cam2_json/ --detector openpose-json -o rewritten/
  capture3d detect --detector synthetic --option n_cameras=4 --frames 100 -o synth_2d/
  capture3d detect cam1.mp4 cam2.mp4 --keypoint-set HALPE_26 -o for_pose2sim/

Output: OUT_DIR/<camera>/frame_<n:012d>_keypoints.json (OpenPose format, n = frame number) per camera,
OUT_DIR/detect_config.json (what was run) and, with --overlay, OUT_DIR/<camera>_overlay/ (images) or
OUT_DIR/<camera>_overlay.mp4 (videos). Pixel (0, 0) is the centre of the top-left pixel.

Models: `capture3d models list` shows what is installed and each model's licence; `capture3d models
install` installs the default ones (tools/install.sh runs it).
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "detect", help="2D keypoints (BODY_25 [+ hands, face]) from images/videos, one input per camera",
        description="Run a 2D keypoint detector on every frame of one input per camera (image folder, image "
                    "file or video) and write OpenPose JSON files per camera.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="image folder, image file or video, one per camera (JSON folders for openpose-json)")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="OUT_DIR", help="output folder")
    p.add_argument("--detector", default="mediapipe",
                   help="detector backend: mediapipe (default), openpose, rtmpose, synthetic, openpose-json")
    p.add_argument("--hands", action="store_true", help="also detect hands (HAND_21)")
    p.add_argument("--face", action="store_true", help="also detect the face (FACE_70)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="detector option (repeatable), VALUE in TOML syntax or a bare string, e.g. mode=image")
    p.add_argument("--overlay", action="store_true", help="also write images/videos with the skeletons drawn")
    p.add_argument("--frames", type=int_in(1, 10**8), default=None, help="process at most this many frame sets")
    p.add_argument("--prefix", default="frame", help="JSON file name prefix (default: frame)")
    p.add_argument("--keypoint-set", default=None, metavar="NAME",
                   help="write the pose in this keypoint set (default: the detector's own), mapped by joint "
                        "name; joints the detector does not supply are written as missing (0, 0, 0)")
    p.set_defaults(func=run)


def _parse_options(items: list[str]) -> dict:
    from capture3d.errors import ConfigError  # noqa: PLC0415
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option expects KEY=VALUE, found {item!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value
    return out


def _output_set(name: str | None):
    """The KeypointSet named by --keypoint-set (None when not given); ConfigError lists the sets."""
    from capture3d.body.keypoint_sets import get_keypoint_set  # noqa: PLC0415
    from capture3d.errors import ConfigError  # noqa: PLC0415
    if name is None:
        return None
    try:
        return get_keypoint_set(name)
    except KeyError as exc:
        raise ConfigError(f"--keypoint-set: {exc.args[0]}") from None


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}_{k}")
    return out


def _common_length(inputs) -> int:
    """The frame sets of V inputs: the shortest input's frame count, with a warning naming it when the
    inputs' lengths differ (a frame set needs every view)."""
    from capture3d.io.media import unequal_lengths_note  # noqa: PLC0415
    counts = [m.n_frames for m in inputs]
    note = unequal_lengths_note([m.path.name for m in inputs], counts)
    if note:
        log.warning(note)
    return min(counts)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # noqa: PLC0415

    from capture3d.detect import create_detector  # noqa: PLC0415
    from capture3d.detect.json_backend import write_detections_json  # noqa: PLC0415
    from capture3d.errors import ConfigError  # noqa: PLC0415

    from capture3d.detect import detector_names  # noqa: PLC0415
    from capture3d.errors import DetectorError  # noqa: PLC0415
    if args.detector not in detector_names():
        raise DetectorError(f"unknown detector {args.detector!r}; known detectors: {', '.join(detector_names())}")
    options = _parse_options(args.option)
    if args.hands:
        options["hands"] = True
    if args.face:
        options["face"] = True
    out_dir: Path = args.out
    out_set = _output_set(args.keypoint_set)
    replay = args.detector in ("synthetic", "openpose-json")

    if args.detector == "openpose-json":
        if not args.inputs:
            raise ConfigError("openpose-json needs one JSON folder per camera as INPUT")
        detector = create_detector("openpose-json", folders=args.inputs, **options)
        names, n_frames, inputs = [Path(p).name for p in args.inputs], detector.n_frames, []
    elif args.detector == "synthetic":
        if args.frames:
            options.setdefault("n_frames", args.frames)
        detector = create_detector("synthetic", **options)
        names, n_frames, inputs = [c.name for c in detector.rig.cameras], detector.n_frames, []
    else:
        from capture3d.io.media import open_input  # noqa: PLC0415
        if not args.inputs:
            raise ConfigError("give one INPUT (image folder, image file or video) per camera")
        from capture3d.io.paths import check_distinct  # noqa: PLC0415
        check_distinct(args.inputs)
        inputs = [open_input(p) for p in args.inputs]
        n_frames = _common_length(inputs)
        from capture3d.detect.registry import set_options  # noqa: PLC0415
        asked = set_options(args.detector, out_set.name if out_set else None)
        if asked.get("hands") and not options.get("hands") or asked.get("face") and not options.get("face"):
            log.warning("--keypoint-set %s has hand and face joints: detecting the hands and the face too "
                        "(--hands --face)", out_set.name)
        options = asked | options
        detector = create_detector(args.detector, **options)
        names = [m.name for m in inputs]
    names = _unique_names(names)
    fps = [m.fps if m.kind == "video" else None for m in inputs] or None
    sizes = [None] * len(names)
    if fps and len({round(f, 3) for f in fps if f}) > 1:
        log.warning("the videos have different frame rates (%s): their frames are paired by number, so the "
                    "2D files of one frame number are not of one instant; resample them to one rate first "
                    "(ffmpeg -r)", ", ".join(f"{m.path.name} {f:g} fps" for m, f in zip(inputs, fps) if f))
    if args.frames is not None:
        n_frames = min(n_frames, args.frames)
    folders = [out_dir / n for n in names]
    for f in folders:
        f.mkdir(parents=True, exist_ok=True)
    (out_dir / "detect_config.json").write_text(json.dumps(
        {"detector": args.detector, "options": options, "inputs": [str(p) for p in args.inputs],
         "cameras": names, "keypoint_set": out_set.name if out_set else detector.keypoint_set,
         "pixel_convention": "(0, 0) = centre of the top-left pixel"}, indent=2, default=str))

    writers: dict[int, object] = {}
    totals = {}
    n_done, n_people = 0, 0
    streams = [m.frames() for m in inputs]
    try:
        with detector, tqdm(total=n_frames, unit="frame set", disable=n_frames < 2) as bar:
            for t in range(n_frames):
                images = None if replay else [next(s, None) for s in streams]
                frame_index = None if args.detector == "openpose-json" else t
                det = detector.detect(images, frame_index=frame_index)
                if out_set is not None and out_set.name != det.keypoint_set:
                    det = dataclasses.replace(det, pose=det.keypoints_in(out_set), keypoint_set=out_set.name)
                frame_no = int(detector.frame_ids[t]) if args.detector == "openpose-json" else t
                if images is not None:
                    sizes = [(im.shape[1], im.shape[0]) if im is not None and im.ndim >= 2 else s
                             for im, s in zip(images, sizes)]
                write_detections_json(folders, frame_no, det, args.prefix, fps, sizes)
                n_people += sum(len(det.people(v)) for v in range(det.n_views))
                for k, s in det.timings_s.items():
                    totals[k] = totals.get(k, 0.0) + s
                if args.overlay and images is not None:
                    _write_overlays(out_dir, names, inputs, images, det, t, writers)
                n_done += 1
                bar.update(1)
    finally:
        for w in writers.values():
            w.release()
    per = {k: 1000 * v / max(n_done, 1) for k, v in totals.items()}
    print(f"{n_done} frame sets x {len(names)} cameras -> {out_dir} ({n_people} person detections)")
    if n_done:
        stages = ", ".join(f"{k} {v:.1f} ms" for k, v in per.items() if k != "total")
        wall = f"total {per['total']:.1f} ms wall clock ({1000 / max(per['total'], 1e-9):.1f} sets/s)" \
            if "total" in per else ""
        views = f" (stages summed over the {len(names)} views, which run in parallel)" if len(names) > 1 and stages else ""
        print("mean per frame set: " + ", ".join(x for x in (stages + views, wall) if x))
    return 0


def _write_overlays(out_dir: Path, names, inputs, images, det, t: int, writers: dict) -> None:
    import cv2  # noqa: PLC0415

    from capture3d.detect.draw import draw_detections  # noqa: PLC0415
    for v, (name, media, img) in enumerate(zip(names, inputs, images)):
        if img is None or img.ndim < 2:
            continue
        canvas = draw_detections(img.copy() if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), det, v)
        if media.kind == "video":
            if v not in writers:
                h, w = canvas.shape[:2]
                writers[v] = cv2.VideoWriter(str(out_dir / f"{name}_overlay.mp4"), cv2.VideoWriter_fourcc(*"mp4v"),
                                             media.fps, (w, h))
            writers[v].write(canvas)
        else:
            folder = out_dir / f"{name}_overlay"
            folder.mkdir(exist_ok=True)
            src = media.files[t] if t < len(media.files) else Path(f"frame_{t:06d}.png")
            cv2.imwrite(str(folder / f"{src.stem}.png"), canvas)
