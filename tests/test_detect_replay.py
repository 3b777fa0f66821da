"""Synthetic and OpenPose-JSON detectors, the JSON writer and the ``capture3d detect`` command."""
import json

import cv2
import numpy as np
import pytest

from capture3d.cli.detect import register
from capture3d.detect import create_detector
from capture3d.detect.json_backend import write_detections_json
from capture3d.errors import DetectorError
from capture3d.synth import ErrorModel, make_rig, walking_motion


def test_synthetic_exact_without_errors_matches_projection():
    rig = make_rig(3, seed=1)
    motion = walking_motion(20)
    det = create_detector("synthetic", rig=rig, motion=motion, error_model=ErrorModel(0, 0, 0, swaps=0))
    proj = rig.project(motion.xyz_world)  # (V, T, 25, 2)
    for t in (0, 7, 19):
        res = det.detect(None, frame_index=t)
        assert res.pose.shape == (3, 1, 25, 3)
        ok = res.pose[:, 0, :, 2] > 0
        assert ok.mean() > 0.9
        err = np.abs(res.pose[:, 0, :, :2] - proj[:, t])[ok]
        assert err.max() < 1e-9
    # looping past the end, and "next frame" counting
    np.testing.assert_array_equal(det.detect(None, frame_index=20).pose, det.detect(None, frame_index=0).pose)


def test_synthetic_error_statistics_and_parts():
    rig = make_rig(4, seed=2)
    motion = walking_motion(60, whole_body=True)
    model = ErrorModel(noise_px=3.0, missing=0.2, outliers=0.0, swaps=0.0)
    det = create_detector("synthetic", rig=rig, motion=motion, error_model=model, hands=True, face=True, seed=5)
    res = [det.detect() for _ in range(60)]
    pose = np.stack([r.pose for r in res], 1)[:, :, 0]  # (V, T, 25, 3)
    true = det.true_px[:, :, 0, :25]
    vis = np.isfinite(true).all(-1)
    found = pose[..., 2] > 0
    assert abs(found[vis].mean() - 0.8) < 0.03  # 20 % misses
    d = (pose[..., :2] - true)[found]
    assert abs(d.std() - 3.0) < 0.15  # 3 px noise per coordinate
    assert res[0].hand_left.shape == (4, 1, 21, 3) and res[0].face.shape == (4, 1, 70, 3)
    with pytest.raises(DetectorError, match="whole-body"):
        create_detector("synthetic", rig=rig, motion=walking_motion(5), hands=True)
    with pytest.raises(DetectorError, match="4 cameras, found 2"):
        det.detect([None, None])


def test_json_write_then_replay_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    rig = make_rig(2, seed=3)
    det = create_detector("synthetic", rig=rig, motion=walking_motion(5, whole_body=True), hands=True, face=True,
                          error_model=ErrorModel(1.0, 0.2, 0.0, swaps=0.0), seed=int(rng.integers(100)))
    folders = [tmp_path / "camA", tmp_path / "camB"]
    written = [det.detect(None, frame_index=t) for t in range(5)]
    for t, d in enumerate(written):
        write_detections_json(folders, 10 + t, d)
    (folders[1] / "frame_000000000012_keypoints.json").unlink()  # camera B lost frame 12
    (folders[0] / "frame_000000000013_keypoints.json").write_text("{not json")  # corrupt file
    replay = create_detector("openpose-json", folders=folders, hands=True, face=True)
    assert replay.frame_ids.tolist() == [10, 11, 12, 13, 14]
    for t in range(5):
        got = replay.detect()
        exp = written[t]
        for part in ("pose", "hand_left", "hand_right", "face"):
            g, e = getattr(got, part), getattr(exp, part)
            for v in range(2):
                if (t, v) in ((2, 1), (3, 0)):
                    assert (g[v, :, :, 2] == 0).all() and np.isnan(g[v, :, :, :2]).all()
                    continue
                np.testing.assert_allclose(g[v, 0], e[v, 0], atol=1e-4)  # JSON keeps 4 decimals
    with pytest.raises(DetectorError, match="not found"):
        create_detector("openpose-json", folders=[tmp_path / "nope"])


def _cli(argv):
    import argparse
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_detect_synthetic_then_openpose_json(tmp_path, capsys):
    out = tmp_path / "synth"
    assert _cli(["detect", "--detector", "synthetic", "--option", "n_cameras=3", "--frames", "4", "-o", str(out)]) == 0
    cams = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert cams == ["cam1", "cam2", "cam3"]
    files = sorted((out / "cam2").glob("*.json"))
    assert [f.name for f in files] == [f"frame_{t:012d}_keypoints.json" for t in range(4)]
    people = json.loads(files[0].read_text())["people"]
    assert len(people) == 1 and len(people[0]["pose_keypoints_2d"]) == 75
    again = tmp_path / "again"
    assert _cli(["detect", *[str(out / c) for c in cams], "--detector", "openpose-json", "-o", str(again)]) == 0
    for c in cams:
        for f in (out / c).glob("*.json"):
            assert json.loads((again / c / f.name).read_text())["people"] == json.loads(f.read_text())["people"]
    assert "4 frame sets x 3 cameras" in capsys.readouterr().out
    with pytest.raises(DetectorError, match="unknown detector 'yolo'; known detectors: mediapipe, openpose"):
        _cli(["detect", str(out / "cam1"), "--detector", "yolo", "-o", str(tmp_path / "x")])


def test_cli_detect_mediapipe_on_images_and_video_with_overlay(tmp_path):
    pytest.importorskip("mediapipe")
    skd = pytest.importorskip("skimage.data")
    img = np.ascontiguousarray(skd.astronaut()[:, :, ::-1])
    folder = tmp_path / "camA"
    folder.mkdir()
    for k in range(2):
        cv2.imwrite(str(folder / f"img{k}.png"), img)
    video = tmp_path / "camB.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (512, 512))
    for _ in range(3):
        w.write(img)
    w.release()
    out = tmp_path / "out"
    assert _cli(["detect", str(folder), str(video), "-o", str(out), "--overlay"]) == 0
    # camA has 2 frames, camB 3: detection stops at the shortest input (said), no half-empty frame sets
    assert len(list((out / "camA").glob("*.json"))) == len(list((out / "camB").glob("*.json"))) == 2
    nose = [json.loads((out / "camB" / f"frame_{t:012d}_keypoints.json").read_text())["people"][0]["pose_keypoints_2d"][:3]
            for t in range(2)]
    assert all(abs(n[0] - 224) < 8 and abs(n[1] - 127) < 8 for n in nose)
    ov = cv2.imread(str(out / "camA_overlay" / "img0.png"))
    assert ov.shape == img.shape and np.abs(ov.astype(int) - img).sum() > 1000  # something was drawn
    cap = cv2.VideoCapture(str(out / "camB_overlay.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 2
    cap.release()
