"""The bad-input battery's workspace and cases (used by test_bad_input.py).

``make_workspace(root)`` writes valid inputs of every kind the commands read (rig TOML and XML, OpenPose
JSON folders, 3D files of every format, a board, a recorded session, videos, a config) and corrupt
variants of each (empty, truncated, garbage, wrong structure). ``CASES`` lists (id, argv, needle): the
command must exit non-zero without a traceback, and its message must contain ``needle`` (the path or
the option at fault). ``{I}`` in an argument is the inputs folder, ``{O}`` a fresh output folder of the
case, ``{RO}`` a read-only folder. ``numeric_cases(parser)`` adds, from the argparse definitions, every
numeric flag of every command with NaN, infinity, a negative number, text and an absurd size.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from capture3d.body.keypoint_sets import BODY_25
from capture3d.io.openpose_json import write_openpose_folder
from capture3d.io.rig_files import save_rig, write_openpose_xml
from capture3d.geometry.camera import Rig
from capture3d.synth import ErrorModel, make_rig, observe, walking_motion

N_FRAMES = 30
BOARD = Path(__file__).resolve().parents[1] / "calibration" / "boards" / "charuco_7x5.toml"


def _truncate(src: Path, dst: Path, fraction: float = 0.5) -> None:
    data = src.read_bytes()
    dst.write_bytes(data[: max(1, int(len(data) * fraction))])


def _videos(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        w = cv2.VideoWriter(str(folder / f"cam{i}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (160, 120))
        for _ in range(10):
            w.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
        w.release()


def _session(folder: Path) -> None:
    from capture3d.config import RecordingConfig
    from capture3d.io.recording import SessionWriter
    from capture3d.runtime.pipeline import Pipeline
    from capture3d.sources.synthetic import SyntheticSource
    src = SyntheticSource(4, 30.0, (160, 120), n_frames=20, seed=5, live=False, max_frames=12)
    writer = SessionWriter(folder, [s.info.name for s in src.streams], src.fps, RecordingConfig(codec="mjpg"),
                           rig=src.rig, source_kind="synthetic")
    Pipeline(src, None, None, mode="offline", recorder=writer, queue_size=4).run(duration_s=60)


def make_workspace(root: Path) -> Path:
    """Write the battery's inputs under root/inputs; returns that folder."""
    from capture3d.reconstruct.folders import triangulate_folders
    from capture3d.export import write_keypoints3d

    I = root / "inputs"
    I.mkdir(parents=True)
    rig = make_rig(4, size_wh=(640, 480), radius_m=3.0, seed=1)
    save_rig(I / "rig.toml", rig)
    write_openpose_xml(I / "rig_xml", rig)
    # the same rig calibrated at 3x the resolution: the keypoints' pixels mean something else
    scale = np.diag([3.0, 3.0, 1.0])
    save_rig(I / "rig_wrong_size.toml", Rig(tuple(dataclasses.replace(c, size_wh=(3 * c.size_wh[0], 3 * c.size_wh[1]),
                                                                     K=scale @ c.K) for c in rig.cameras)))
    m = walking_motion(N_FRAMES, 30.0).xyz_world
    obs = observe(rig, m, ErrorModel(noise_px=1.0, missing=0.0, outliers=0.0, swaps=0.0), 0, BODY_25)
    for v, cam in enumerate(rig.cameras):
        write_openpose_folder(I / "kp" / cam.name, obs.keypoints_px[v], keypoint_set="BODY_25")
    kp3d = triangulate_folders(rig, [I / "kp" / c.name for c in rig.cameras], 30.0)
    for fmt in ("csv", "json", "trc", "c3d", "bvh"):
        write_keypoints3d(I / f"pose.{fmt}", kp3d)
    shutil.copy(BOARD, I / "board.toml")
    _videos(I / "videos", 4)
    _session(I / "session")
    (I / "config.toml").write_text("[pipeline]\ndetector = \"synthetic\"\n")
    (I / "synthetic_live.toml").write_text("[source]\nkind = \"synthetic\"\n[pipeline]\ndetector = \"synthetic\"\n")
    (I / "low_fps.toml").write_text("[filter]\nbutterworth_cutoff_hz = 20.0\n")
    np.savez(I / "rig.calib.npz", a=np.arange(1000.0), b=np.ones((50, 50)))

    # corrupt variants
    C = I / "bad"
    C.mkdir()
    (C / "empty.toml").write_text("")
    (C / "empty.csv").write_text("")
    (C / "garbage.toml").write_bytes(bytes(range(256)) * 4)
    (C / "not_a_board.toml").write_text("[board]\ntype = \"hexagon\"\n")
    (C / "bad_config.toml").write_text("[pipeline]\nno_such_key = 3\n")
    (C / "bad_crop.toml").write_text("[source]\nkind = \"synthetic\"\n[pipeline]\ncrop = \"sometimes\"\n")
    (C / "bad_crop_size.toml").write_text("[source]\nkind = \"synthetic\"\n[pipeline]\ncrop_size = 10\n")
    for name, value in (("zero", "0"), ("negative", "-4"), ("text", "\"often\"")):
        (C / f"bad_detect_every_{name}.toml").write_text(f"[source]\nkind = \"synthetic\"\n[pipeline]\n"
                                                          f"detect_every = {value}\n")
    (C / "bad_preload.toml").write_text("[source]\nkind = \"synthetic\"\npreload = true\n")
    (C / "dir.toml").mkdir()
    (C / "empty_dir").mkdir()
    _truncate(I / "rig.toml", C / "rig_trunc.toml", 0.4)
    xml = sorted((I / "rig_xml").glob("*.xml"))[0].read_text()
    (C / "xml_trunc").mkdir()
    (C / "xml_trunc" / "cam1.xml").write_text(xml[: len(xml) // 2])
    (C / "xml_noroot").mkdir()
    (C / "xml_noroot" / "cam1.xml").write_text(xml.replace("opencv_storage", "storage"))
    (C / "xml_rows").mkdir()
    (C / "xml_rows" / "cam1.xml").write_text(xml.replace("<rows>3</rows>", "<rows>5</rows>", 1))
    for fmt in ("csv", "json", "trc", "c3d", "bvh"):
        _truncate(I / f"pose.{fmt}", C / f"pose_trunc.{fmt}", 0.6)
    lines = (I / "pose.csv").read_text().splitlines()
    (C / "pose_renamed.csv").write_text("\n".join([lines[0].replace("Neck_x", "Nek_x")] + lines[1:]) + "\n")
    _truncate(I / "rig.calib.npz", C / "rig.calib.npz", 0.5)
    for cam, name in zip(rig.cameras[:2], ("view_a", "view_b")):  # names that match no camera: paired in order
        shutil.copytree(I / "kp" / cam.name, I / "unnamed" / name)
    # named after its camera (cam1), so the one camera-matching rule pairs it and the content is what fails
    shutil.copytree(I / "kp" / rig.cameras[0].name, C / "kp_text" / rig.cameras[0].name)
    f = sorted((C / "kp_text" / rig.cameras[0].name).glob("*.json"))[3]
    doc = json.loads(f.read_text())
    doc["people"][0]["pose_keypoints_2d"][4] = "x"
    f.write_text(json.dumps(doc))
    _truncate(I / "videos" / "cam1.mp4", C / "video_trunc.mp4", 0.3)
    (C / "video_garbage.mp4").write_bytes(bytes(range(256)) * 64)
    (C / "images").mkdir()
    (C / "images" / "a.png").write_bytes(b"not a png")
    return I


# (id, argv, needle)
CASES: list[tuple[str, list[str], str]] = [
    # ---- triangulate
    ("tri-rig-missing", ["triangulate", "--rig", "{I}/nope.toml", "--keypoints2d", "{I}/kp/cam1", "-o", "{O}/p.csv"], "nope.toml"),
    ("tri-rig-empty", ["triangulate", "--rig", "{I}/bad/empty.toml", "--keypoints2d", "{I}/kp/cam1", "-o", "{O}/p.csv"], "empty.toml"),
    ("tri-rig-garbage", ["triangulate", "--rig", "{I}/bad/garbage.toml", "--keypoints2d", "{I}/kp/cam1", "-o", "{O}/p.csv"], "garbage.toml"),
    ("tri-rig-trunc", ["triangulate", "--rig", "{I}/bad/rig_trunc.toml", "--keypoints2d", "{I}/kp/cam1", "-o", "{O}/p.csv"], "rig_trunc.toml"),
    ("tri-rig-dir", ["triangulate", "--rig", "{I}/bad/empty_dir", "--keypoints2d", "{I}/kp/cam1", "-o", "{O}/p.csv"], "empty_dir"),
    ("tri-rig-xml-trunc", ["triangulate", "--rig", "{I}/bad/xml_trunc", "--keypoints2d", "{I}/kp/cam1", "-o", "{O}/p.csv"], "cam1.xml"),
    ("tri-rig-xml-noroot", ["triangulate", "--rig", "{I}/bad/xml_noroot", "--keypoints2d", "{I}/kp/cam1", "-o", "{O}/p.csv"], "cam1.xml"),
    ("tri-rig-xml-rows", ["triangulate", "--rig", "{I}/bad/xml_rows", "--keypoints2d", "{I}/kp/cam1", "-o", "{O}/p.csv"], "cam1.xml"),
    ("tri-kp-missing", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/nokp", "-o", "{O}/p.csv"], "nokp"),
    ("tri-kp-empty-dir", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/bad/empty_dir", "-o", "{O}/p.csv"], "empty_dir"),
    ("tri-kp-file", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/pose.csv", "-o", "{O}/p.csv"], "pose.csv"),
    ("tri-kp-text", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/bad/kp_text/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "-o", "{O}/p.csv"], "'x'"),
    ("tri-kp-count", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/unnamed/view_a", "{I}/unnamed/view_b", "-o", "{O}/p.csv"], "4 cameras"),
    ("tri-kp-duplicate", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam1", "{I}/kp/cam1", "{I}/kp/cam1", "-o", "{O}/p.csv"], "cam1"),
    ("tri-min-views", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "--min-views", "9", "-o", "{O}/p.csv"], "--min-views"),
    ("tri-wrong-size-rig", ["triangulate", "--rig", "{I}/rig_wrong_size.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "-o", "{O}/p.csv"], "image size"),
    ("tri-out-ro", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "-o", "{RO}/p.csv"], "{RO}/p.csv"),
    ("tri-out-dir", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "-o", "{I}/bad/empty_dir"], "empty_dir"),
    ("tri-out-format", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "-o", "{O}/p.xyz"], ".xyz"),
    ("tri-set-unknown", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "--keypoint-set", "BODY_99", "-o", "{O}/p.csv"], "BODY_99"),
    ("tri-set-wrong-count", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "--keypoint-set", "COCO_17", "-o", "{O}/p.csv"], "COCO_17"),
    ("tri-config-missing", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "--config", "{I}/nope.toml", "-o", "{O}/p.csv"], "nope.toml"),
    ("tri-config-bad", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "--config", "{I}/bad/bad_config.toml", "-o", "{O}/p.csv"], "no_such_key"),
    ("tri-config-garbage", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "--config", "{I}/bad/garbage.toml", "-o", "{O}/p.csv"], "garbage.toml"),
    # ---- export
    ("exp-missing", ["export", "{I}/nope.csv", "-o", "{O}/p.trc"], "nope.csv"),
    ("exp-empty", ["export", "{I}/bad/empty.csv", "-o", "{O}/p.trc"], "empty.csv"),
    ("exp-dir", ["export", "{I}/bad/empty_dir", "-o", "{O}/p.trc"], "empty_dir"),
    ("exp-trunc-csv", ["export", "{I}/bad/pose_trunc.csv", "-o", "{O}/p.trc"], "pose_trunc.csv"),
    ("exp-trunc-json", ["export", "{I}/bad/pose_trunc.json", "-o", "{O}/p.trc"], "pose_trunc.json"),
    ("exp-trunc-trc", ["export", "{I}/bad/pose_trunc.trc", "-o", "{O}/p.csv"], "pose_trunc.trc"),
    ("exp-trunc-c3d", ["export", "{I}/bad/pose_trunc.c3d", "-o", "{O}/p.csv"], "pose_trunc.c3d"),
    ("exp-trunc-bvh", ["export", "{I}/bad/pose_trunc.bvh", "-o", "{O}/p.csv"], "pose_trunc.bvh"),
    ("exp-renamed-column", ["export", "{I}/bad/pose_renamed.csv", "-o", "{O}/p.trc"], "Nek_x"),
    ("exp-garbage", ["export", "{I}/bad/garbage.toml", "--from", "csv", "-o", "{O}/p.trc"], "garbage.toml"),
    ("exp-out-ro", ["export", "{I}/pose.csv", "-o", "{RO}/p.trc"], "{RO}/p.trc"),
    ("exp-out-same", ["export", "{I}/pose.csv", "-o", "{I}/pose.csv"], "pose.csv"),
    ("exp-to-unknown", ["export", "{I}/pose.csv", "--to", "fbx", "-o", "{O}/p.fbx"], "fbx"),
    ("exp-units", ["export", "{I}/pose.csv", "--units", "inch", "-o", "{O}/p.bvh"], "inch"),
    ("exp-repair-csv", ["export", "--repair", "{I}/pose.csv"], "pose.csv"),
    # ---- rig
    ("rig-show-missing", ["rig", "show", "{I}/nope.toml"], "nope.toml"),
    ("rig-show-trunc", ["rig", "show", "{I}/bad/rig_trunc.toml"], "rig_trunc.toml"),
    ("rig-show-garbage", ["rig", "show", "{I}/bad/garbage.toml"], "garbage.toml"),
    ("rig-show-xml-rows", ["rig", "show", "{I}/bad/xml_rows"], "cam1.xml"),
    ("rig-convert-exists", ["rig", "convert", "{I}/rig.toml", "-o", "{I}/rig_wrong_size.toml"], "--force"),
    ("rig-convert-same", ["rig", "convert", "{I}/rig.toml", "-o", "{I}/rig.toml", "--force"], "rig.toml"),
    ("rig-convert-ro", ["rig", "convert", "{I}/rig.toml", "-o", "{RO}/r.toml"], "{RO}/r.toml"),
    ("rig-convert-empty", ["rig", "convert", "{I}/bad/empty.toml", "-o", "{O}/r.toml"], "empty.toml"),
    # ---- board
    ("board-missing", ["board", "{I}/nope.toml", "-o", "{O}/b.png"], "nope.toml"),
    ("board-garbage", ["board", "{I}/bad/garbage.toml", "-o", "{O}/b.png"], "garbage.toml"),
    ("board-unknown-type", ["board", "{I}/bad/not_a_board.toml", "-o", "{O}/b.png"], "hexagon"),
    ("board-out-ro", ["board", "{I}/board.toml", "-o", "{RO}/b.png"], "{RO}/b.png"),
    ("board-huge", ["board", "{I}/board.toml", "--dpi", "4800", "-o", "{O}/b.png"], "px"),
    # ---- calibrate
    ("cal-intr-board-missing", ["calibrate", "intrinsics", "--board", "{I}/nope.toml", "--camera", "c", "{I}/videos/cam1.mp4", "-o", "{O}/c.toml"], "nope.toml"),
    ("cal-intr-input-missing", ["calibrate", "intrinsics", "--board", "{I}/board.toml", "--camera", "c", "{I}/nope.mp4", "-o", "{O}/c.toml"], "nope.mp4"),
    ("cal-intr-video-garbage", ["calibrate", "intrinsics", "--board", "{I}/board.toml", "--camera", "c", "{I}/bad/video_garbage.mp4", "-o", "{O}/c.toml", "--no-progress"], "video_garbage.mp4"),
    ("cal-intr-images-bad", ["calibrate", "intrinsics", "--board", "{I}/board.toml", "--camera", "c", "{I}/bad/images", "-o", "{O}/c.toml", "--no-progress"], "a.png"),
    ("cal-intr-replaces-rig", ["calibrate", "intrinsics", "--board", "{I}/board.toml", "--camera", "c", "{I}/videos/cam1.mp4", "-o", "{I}/rig.toml", "--no-progress"], "--force"),
    ("cal-intr-out-ro", ["calibrate", "intrinsics", "--board", "{I}/board.toml", "--camera", "c", "{I}/videos/cam1.mp4", "-o", "{RO}/c.toml", "--no-progress"], "{RO}"),
    ("cal-rig-session-missing", ["calibrate", "rig", "--board", "{I}/board.toml", "{I}/nope", "-o", "{O}/r.toml"], "nope"),
    ("cal-rig-intr-xml-trunc", ["calibrate", "rig", "--board", "{I}/board.toml", "{I}/session", "--intrinsics", "{I}/bad/xml_trunc", "-o", "{O}/r.toml", "--no-progress"], "cam1.xml"),
    ("cal-rig-intr-xml-rows", ["calibrate", "rig", "--board", "{I}/board.toml", "{I}/session", "--intrinsics", "{I}/bad/xml_rows", "-o", "{O}/r.toml", "--no-progress"], "cam1.xml"),
    ("cal-report-npz-trunc", ["calibrate", "report", "{I}/bad/rig.calib.npz", "-o", "{O}/rep"], "rig.calib.npz"),
    ("cal-report-missing", ["calibrate", "report", "{I}/nope.toml", "-o", "{O}/rep"], "nope.toml"),
    # ---- detect
    ("det-input-missing", ["detect", "{I}/nope.mp4", "-o", "{O}/d"], "nope.mp4"),
    ("det-input-garbage", ["detect", "{I}/bad/video_garbage.mp4", "-o", "{O}/d"], "video_garbage.mp4"),
    ("det-input-empty-dir", ["detect", "{I}/bad/empty_dir", "-o", "{O}/d"], "empty_dir"),
    ("det-duplicate", ["detect", "{I}/videos/cam1.mp4", "{I}/videos/cam1.mp4", "-o", "{O}/d"], "cam1.mp4"),
    ("det-unknown", ["detect", "{I}/videos/cam1.mp4", "--detector", "yolo99", "-o", "{O}/d"], "yolo99"),
    ("det-option-syntax", ["detect", "--detector", "synthetic", "--option", "n_cameras", "-o", "{O}/d"], "n_cameras"),
    ("det-option-zero", ["detect", "--detector", "synthetic", "--option", "n_cameras=0", "-o", "{O}/d"], "n_cameras"),
    ("det-option-unknown", ["detect", "--detector", "synthetic", "--option", "colour=red", "-o", "{O}/d"], "colour"),
    ("det-out-ro", ["detect", "--detector", "synthetic", "--frames", "2", "-o", "{RO}/d"], "{RO}"),
    ("det-set-unknown", ["detect", "--detector", "synthetic", "--keypoint-set", "BODY_99", "-o", "{O}/d"], "BODY_99"),
    ("det-json-missing", ["detect", "--detector", "openpose-json", "{I}/nope", "-o", "{O}/d"], "nope"),
    # ---- batch
    ("batch-root-missing", ["batch", "{I}/nope", "-o", "{O}/b"], "nope"),
    ("batch-no-sessions", ["batch", "{I}/bad/empty_dir", "-o", "{O}/b"], "no session found"),
    ("batch-into-input", ["batch", "{I}/session", "-o", "{I}/session/out"], "session"),
    ("batch-out-ro", ["batch", "{I}/session", "-o", "{RO}/b"], "{RO}"),
    ("batch-config-bad", ["batch", "{I}/session", "--config", "{I}/bad/bad_config.toml", "-o", "{O}/b"], "no_such_key"),
    # ---- process
    ("proc-missing", ["process", "{I}/nope", "-o", "{O}/p"], "nope"),
    ("proc-empty-dir", ["process", "{I}/bad/empty_dir", "-o", "{O}/p"], "empty_dir"),
    ("proc-rig-missing", ["process", "{I}/videos", "--rig", "{I}/nope.toml", "-o", "{O}/p"], "nope.toml"),
    ("proc-rig-garbage", ["process", "{I}/videos", "--rig", "{I}/bad/garbage.toml", "-o", "{O}/p"], "garbage.toml"),
    ("proc-videos-no-rig", ["process", "{I}/videos", "-o", "{O}/p"], "--rig"),
    ("proc-into-session", ["process", "{I}/session", "-o", "{I}/session"], "session"),
    ("proc-out-ro", ["process", "{I}/session", "-o", "{RO}/p"], "{RO}"),
    ("proc-config-bad", ["process", "{I}/session", "--config", "{I}/bad/bad_config.toml", "-o", "{O}/p"], "no_such_key"),
    ("proc-duplicate-videos", ["process", "{I}/videos/cam1.mp4", "{I}/videos/cam1.mp4", "{I}/videos/cam2.mp4", "{I}/videos/cam3.mp4", "--rig", "{I}/rig.toml", "-o", "{O}/p"], "cam1.mp4"),
    ("proc-low-fps", ["process", "{I}/session", "--config", "{I}/low_fps.toml", "-o", "{O}/p"], "butterworth_cutoff_hz"),
    # ---- record / live / demo / view / sets / cameras
    ("rec-config-missing", ["record", "--config", "{I}/nope.toml", "-o", "{O}/s"], "nope.toml"),
    ("rec-config-garbage", ["record", "--config", "{I}/bad/garbage.toml", "-o", "{O}/s"], "garbage.toml"),
    ("rec-out-ro", ["record", "--config", "{I}/synthetic_live.toml", "-o", "{RO}/s", "--duration", "1"], "{RO}"),
    ("live-config-missing", ["live", "--config", "{I}/nope.toml", "--no-viewer"], "nope.toml"),
    ("live-crop-bad", ["live", "--config", "{I}/bad/bad_crop.toml", "--no-viewer", "--duration", "1"], "pipeline.crop"),
    ("live-crop-size-bad", ["live", "--config", "{I}/bad/bad_crop_size.toml", "--no-viewer", "--duration", "1"], "crop_size"),
    ("live-detect-every-zero", ["live", "--config", "{I}/bad/bad_detect_every_zero.toml", "--no-viewer", "--duration", "1"], "found 0"),
    ("live-detect-every-negative", ["live", "--config", "{I}/bad/bad_detect_every_negative.toml", "--no-viewer", "--duration", "1"], "found -4"),
    ("live-detect-every-text", ["live", "--config", "{I}/bad/bad_detect_every_text.toml", "--no-viewer", "--duration", "1"], "found 'often'"),
    ("live-preload-not-video", ["live", "--config", "{I}/bad/bad_preload.toml", "--no-viewer", "--duration", "1"], "source.preload"),
    ("live-record-ro", ["live", "--config", "{I}/synthetic_live.toml", "--no-viewer", "--duration", "1", "--record", "{RO}/s"], "{RO}"),
    ("live-stream-scheme", ["live", "--config", "{I}/synthetic_live.toml", "--no-viewer", "--duration", "1", "--stream", "udp://127.0.0.1:9000"], "udp"),
    ("live-stream-port", ["live", "--config", "{I}/synthetic_live.toml", "--no-viewer", "--duration", "1", "--stream", "vmc://127.0.0.1:99999"], "99999"),
    ("live-stream-no-name", ["live", "--config", "{I}/synthetic_live.toml", "--no-viewer", "--duration", "1", "--stream", "lsl://"], "lsl://"),
    ("live-stream-host", ["live", "--config", "{I}/synthetic_live.toml", "--no-viewer", "--duration", "1", "--stream", "osc://no.such.host.invalid"], "no.such.host.invalid"),
    ("live-stream-bind", ["live", "--config", "{I}/synthetic_live.toml", "--no-viewer", "--duration", "1", "--stream", "ws://192.0.2.1:8765"], "192.0.2.1"),
    ("demo-out-ro", ["demo", "--no-viewer", "--frames", "5", "--out", "{RO}/d"], "{RO}"),
    ("demo-config-bad", ["demo", "--no-viewer", "--config", "{I}/bad/bad_config.toml", "--out", "{O}/d"], "no_such_key"),
    ("view-missing", ["view", "{I}/nope.csv", "--screenshot", "{O}/v.png"], "nope.csv"),
    ("view-trunc", ["view", "{I}/bad/pose_trunc.csv", "--screenshot", "{O}/v.png"], "pose_trunc.csv"),
    ("sets-unknown", ["sets", "BODY_99"], "BODY_99"),
    ("refine-rig-missing", ["calibrate", "refine", "--rig", "{I}/nope.toml", "--keypoints2d", "{I}/kp/cam1", "-o", "{O}/r.toml"], "nope.toml"),
    ("refine-kp-duplicate", ["calibrate", "refine", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam1", "{I}/kp/cam3", "{I}/kp/cam4", "-o", "{O}/r.toml"], "cam1"),
    ("refine-out-ro", ["calibrate", "refine", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "-o", "{RO}/r.toml"], "{RO}"),
    ("sync-kp-missing", ["sync", "--keypoints2d", "{I}/kp/cam1", "{I}/nope", "-o", "{O}/o.toml"], "nope"),
    ("sync-rig-garbage", ["sync", "--rig", "{I}/bad/garbage.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "-o", "{O}/o.toml"], "garbage.toml"),
    ("sync-out-ro", ["sync", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "-o", "{RO}/o.toml"], "{RO}"),
    ("tri-offsets-missing", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "--offsets", "{I}/nope.toml", "-o", "{O}/p.csv"], "nope.toml"),
    ("tri-offsets-garbage", ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "--offsets", "{I}/bad/garbage.toml", "-o", "{O}/p.csv"], "garbage.toml"),
]

#: values every numeric flag is tried with (each must be refused)
BAD_NUMBERS = ("nan", "inf", "-1", "ten", "1e12")
#: a valid command line per command, to which one numeric flag is added
BASE_ARGV = {
    "demo": ["demo", "--no-viewer", "--out", "{O}/d"],
    "triangulate": ["triangulate", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2",
                    "{I}/kp/cam3", "{I}/kp/cam4", "-o", "{O}/p.csv"],
    "detect": ["detect", "--detector", "synthetic", "-o", "{O}/d"],
    "cameras": ["cameras", "--no-spinnaker"],
    "record": ["record", "--config", "{I}/synthetic_live.toml", "-o", "{O}/s"],
    "live": ["live", "--config", "{I}/synthetic_live.toml", "--no-viewer"],
    "calibrate intrinsics": ["calibrate", "intrinsics", "--board", "{I}/board.toml", "--camera", "c",
                             "{I}/videos/cam1.mp4", "-o", "{O}/c.toml", "--no-progress"],
    "calibrate rig": ["calibrate", "rig", "--board", "{I}/board.toml", "{I}/session", "-o", "{O}/r.toml",
                      "--no-progress"],
    "board": ["board", "{I}/board.toml", "-o", "{O}/b.png"],
    "calibrate refine": ["calibrate", "refine", "--rig", "{I}/rig.toml", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2",
                         "{I}/kp/cam3", "{I}/kp/cam4", "-o", "{O}/r.toml"],
    "sync": ["sync", "--keypoints2d", "{I}/kp/cam1", "{I}/kp/cam2", "{I}/kp/cam3", "{I}/kp/cam4", "-o", "{O}/o.toml"],
    "view": ["view", "{I}/pose.csv", "--screenshot", "{O}/v.png"],
    "export": ["export", "{I}/pose.csv", "-o", "{O}/p.bvh"],
    "batch": ["batch", "{I}/session", "-o", "{O}/b", "--no-progress"],
}


def numeric_actions(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    """(command path, action) of every option whose type is numeric, over every (sub)command."""
    from capture3d.cli.numbers import NumberType

    out = []

    def walk(path: str, p: argparse.ArgumentParser) -> None:
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    walk(f"{path} {name}".strip(), sp)
            elif a.option_strings and (isinstance(a.type, NumberType) or a.type in (int, float)):
                out.append((path, a))
    walk("", parser)
    return out


def numeric_cases(parser: argparse.ArgumentParser) -> list[tuple[str, list[str], str]]:
    cases = []
    for path, action in numeric_actions(parser):
        flag = action.option_strings[-1]
        for value in BAD_NUMBERS:
            cases.append((f"num{path.replace(' ', '-')}{flag}={value}", BASE_ARGV[path] + [flag, value], flag))
    return cases
