"""Real workflows give right answers or say why not (issue 31): one camera-matching rule, frame rates
carried with the 2D files, replays that stay paired, one size rule, lenses kept, 3D refused with 1 camera.

Each test reproduces the shape of a real recording (the shared Pose2Sim trial, or synthetic data of the
same shape) in its temporary folder and fails on the code before the fix."""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture3d.body.keypoint_sets import BODY_25
from capture3d.cli import main
from capture3d.errors import CameraError, KeypointFileError, RigError
from capture3d.geometry.camera import Rig
from capture3d.io.camera_match import match_cameras, name_key
from capture3d.io.openpose_json import write_openpose_folder
from capture3d.io.rig_files import load_rig, save_rig, write_openpose_xml
from capture3d.reconstruct.folders import triangulate_folders
from capture3d.synth import ErrorModel, make_rig, observe, walking_motion

CLEAN = ErrorModel(noise_px=0.5, missing=0.0, outliers=0.0, swaps=0.0)


def _rig(n: int = 4, size_wh=(640, 480), names=None) -> Rig:
    rig = make_rig(n, size_wh=size_wh, radius_m=3.0, seed=3)
    names = names or [f"cam_{i + 1:02d}" for i in range(n)]
    return Rig(tuple(dataclasses.replace(c, name=nm) for c, nm in zip(rig.cameras, names)), rig.metadata)


def _folders(root: Path, rig: Rig, names, n_frames: int = 20, fps: float | None = None,
             scale: float = 1.0) -> list[Path]:
    """Synthetic 2D of a walk, one OpenPose JSON folder per camera, named ``names`` (rig order); scale:
    the keypoints as detected on images resized by it (their size recorded when not 1)."""
    obs = observe(rig, walking_motion(n_frames, 30.0).xyz_world, CLEAN, 4, BODY_25)
    out = []
    for v, name in enumerate(names):
        kp = obs.keypoints_px[v].copy()
        kp[..., :2] *= scale
        size = None if scale == 1.0 else tuple(round(s * scale) for s in rig.cameras[v].size_wh)
        write_openpose_folder(root / name, kp, keypoint_set="BODY_25", fps=fps, image_size_wh=size)
        out.append(root / name)
    return out


def _video(path: Path, n: int, size_wh=(160, 120), fps: float = 30.0) -> Path:
    """A video whose frame k is a flat grey of level 20 * k (so a reader can tell which frame it got)."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, tuple(size_wh))
    for k in range(n):
        w.write(np.full((size_wh[1], size_wh[0], 3), 20 * k + 10, np.uint8))
    w.release()
    return path


# ---- the one camera-matching rule -----------------------------------------------------------------------

def test_names_match_ignoring_case_punctuation_leading_zeros_and_json_suffix():
    assert {name_key(n) for n in ("cam01", "CAM_1", "cam-01", "cam01_json", "Cam1")} == {"cam1"}
    assert name_key("17012332") == "17012332" and name_key("cam10") == "cam10" and name_key("cam0") == "cam0"


def test_match_by_name_any_order_and_subset_says_what_is_left_out():
    m = match_cameras(["cam03", "cam01", "cam_02"], ["cam_01", "cam_02", "cam_03", "cam_04"], "video")
    assert m.by_name and m.pairs == ((1, 0), (2, 1), (0, 2)) and m.left_out == ("cam_04",)
    assert "cam03 -> cam_03" in m.note and "cam_04 left out" in m.note


def test_match_by_order_only_when_no_name_matches():
    m = match_cameras(["a", "b"], ["cam1", "cam2"], "keypoint folder")
    assert not m.by_name and m.pairs == ((0, 0), (1, 1)) and "paired in order: a -> cam1, b -> cam2" in m.note
    with pytest.raises(RigError, match=r"x match no rig camera by name while cam1 do"):
        match_cameras(["cam1", "x"], ["cam1", "cam2"], "video")
    with pytest.raises(RigError, match=r"several videos match rig camera cam1"):
        match_cameras(["cam1", "CAM_01"], ["cam1", "cam2"], "video")
    with pytest.raises(RigError, match=r"3 keypoint folders \(a, b, c\) but the rig has 2 cameras"):
        match_cameras(["a", "b", "c"], ["cam1", "cam2"], "keypoint folder")


def test_triangulate_folders_given_out_of_order_give_the_plain_answer(tmp_path):
    """Item 1: folders named after the rig's cameras, given in another order (was 43 / 136 mm off)."""
    rig = _rig()
    f = _folders(tmp_path, rig, ["cam01", "cam02", "cam03", "cam04"])
    plain = triangulate_folders(rig, f, 30.0)
    swapped = triangulate_folders(rig, [f[1], f[0], f[3], f[2]], 30.0)
    assert plain.valid.mean() > 0.9
    np.testing.assert_array_equal(swapped.valid, plain.valid)
    assert np.nanmax(np.abs(swapped.xyz_world - plain.xyz_world)) < 1e-9
    assert "cam02 -> cam_02" in swapped.metadata["cameras"]


def test_triangulate_a_named_subset_uses_those_cameras(tmp_path):
    rig = _rig()
    f = _folders(tmp_path, rig, ["cam01", "cam02", "cam03", "cam04"])
    three = triangulate_folders(rig, [f[2], f[0], f[1]], 30.0)
    assert three.valid.mean() > 0.9 and "cam_04 left out" in three.metadata["cameras"]
    with pytest.raises(RigError, match=r"keypoint folders cam02: 1 camera \(cam_02\), but 3D needs at least 2"):
        triangulate_folders(rig, [f[1]], 30.0)


# ---- frame rates travel with the 2D files ------------------------------------------------------------------

def test_triangulate_uses_the_frame_rate_the_files_record(tmp_path):
    """Item 2: `detect` then `triangulate` on a 60 fps take (was 30 Hz, doubled time stamps)."""
    rig = _rig()
    f = _folders(tmp_path, rig, ["cam01", "cam02", "cam03", "cam04"], n_frames=12, fps=60.0)
    kp = triangulate_folders(rig, f)
    assert kp.fps == 60.0 and kp.times_s[-1] == pytest.approx(11 / 60.0)


def test_triangulate_refuses_folders_of_different_frame_rates(tmp_path):
    rig = _rig(2)
    a = _folders(tmp_path / "a", rig, ["cam01", "cam02"], fps=60.0)
    b = _folders(tmp_path / "b", rig, ["cam01", "cam02"], fps=30.0)
    with pytest.raises(KeypointFileError, match=r"different frame rates \(cam01 60 Hz, cam02 30 Hz\)"):
        triangulate_folders(rig, [a[0], b[1]])


def test_triangulate_cli_says_the_rate_it_assumes(tmp_path, capsys, caplog):
    rig = _rig(2)
    save_rig(tmp_path / "rig.toml", rig)
    f = _folders(tmp_path / "kp", rig, ["cam01", "cam02"], n_frames=10)
    assert main(["triangulate", "--rig", str(tmp_path / "rig.toml"), "--keypoints2d", *map(str, f),
                 "-o", str(tmp_path / "p.csv")]) == 0
    out = capsys.readouterr().out
    assert "at 30 fps" in out and "record no frame rate: assuming 30 fps" in caplog.text
    assert "keypoint folders matched to the rig's cameras by name: cam01 -> cam_01, cam02 -> cam_02" in out


def test_detect_records_each_video_frame_rate_and_stops_at_the_shortest(tmp_path, caplog, capsys):
    """Items 2 and 10: `detect` writes the fps into the files, and videos of 8 and 5 frames give 5 sets."""
    from capture3d.io.openpose_json import read_openpose_folder
    a, b = _video(tmp_path / "cam01.avi", 8, fps=60.0), _video(tmp_path / "cam02.avi", 5, fps=60.0)
    assert main(["detect", str(a), str(b), "-o", str(tmp_path / "kp")]) == 0
    assert "cam02.avi ended after 5 frames (cam01.avi: 8)" in caplog.text
    out = capsys.readouterr().out  # item 18: the stage times are summed over the views, the total is wall clock
    assert "(stages summed over the 2 views, which run in parallel), total" in out and "ms wall clock" in out
    for cam in ("cam01", "cam02"):
        folder = read_openpose_folder(tmp_path / "kp" / cam)
        assert len(folder.files) == 5 and folder.fps == 60.0


def test_triangulate_refuses_keypoints_detected_on_resized_images(tmp_path):
    """Item 4 for 2D files: keypoints detected on a half-size re-encode are refused by the size rule."""
    rig = _rig(2, names=["cam01", "cam02"])
    half = _folders(tmp_path, rig, ["cam01", "cam02"], scale=0.5)
    with pytest.raises(RigError, match=r"cam01 \(the images its keypoints were detected on\) is 320x240 px but "
                                       r"camera cam01 was calibrated at 640x480 px"):
        triangulate_folders(rig, half, 30.0)


# ---- no one detected ------------------------------------------------------------------------------------

def test_triangulate_says_nobody_was_detected(tmp_path):
    """Item 15 (was "keypoint folders disagree on the number of joints: []")."""
    rig = _rig(2)
    empty = np.full((6, 1, 25, 3), np.nan)
    for name in ("cam01", "cam02"):
        write_openpose_folder(tmp_path / name, empty)
    with pytest.raises(KeypointFileError, match=r"nobody was detected in any frame .* \(6 frames\)"):
        triangulate_folders(rig, [tmp_path / "cam01", tmp_path / "cam02"], 30.0)


# ---- 3D needs 2 cameras -----------------------------------------------------------------------------------

def test_process_with_a_one_camera_rig_is_refused_before_any_work(tmp_path, capsys):
    """Item 7 (was: every frame detected, then empty files, exit 0)."""
    rig = _rig(2, size_wh=(160, 120))
    save_rig(tmp_path / "rig1.toml", Rig(rig.cameras[:1], rig.metadata))
    _video(tmp_path / "cam_01.avi", 6)
    rc = main(["process", str(tmp_path / "cam_01.avi"), "--rig", str(tmp_path / "rig1.toml"),
               "--detector", "synthetic", "-o", str(tmp_path / "out")])
    assert rc == 1 and "3D needs at least 2 calibrated cameras" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_live_with_a_one_camera_rig_is_refused(tmp_path):
    from capture3d.config import load_config
    from capture3d.runtime.app import build_live
    rig = _rig(2, size_wh=(160, 120))
    save_rig(tmp_path / "rig1.toml", Rig(rig.cameras[:1], rig.metadata))
    _video(tmp_path / "cam_01.avi", 6)
    (tmp_path / "live.toml").write_text(f"[source]\nkind = \"opencv\"\ncameras = [\"{tmp_path / 'cam_01.avi'}\"]\n"
                                        f"[pipeline]\nrig = \"{tmp_path / 'rig1.toml'}\"\ndetector = \"synthetic\"\n")
    with pytest.raises(RigError, match="3D needs at least 2"):
        build_live(load_config(tmp_path / "live.toml"))


# ---- process: a named subset of the rig's cameras ------------------------------------------------------------

def test_process_videos_of_three_of_four_cameras_use_those_cameras():
    """Item 11 (was "3 videos but the rig has 4 cameras")."""
    from capture3d.runtime.videos import match_videos
    rig = _rig(4, size_wh=(160, 120))
    vs = match_videos([Path("cam03.mp4"), Path("cam01.mp4"), Path("cam02.mp4")], rig, [(160, 120)] * 3)
    assert vs.rig.names == ("cam_01", "cam_02", "cam_03") or list(vs.rig.names) == ["cam_01", "cam_02", "cam_03"]
    assert [p.name for p in vs.videos] == ["cam01.mp4", "cam02.mp4", "cam03.mp4"]
    assert "cam_04 left out" in vs.notes[0]


# ---- live replays: views stay paired; one size rule -------------------------------------------------------------

def _levels(stream, n: int) -> list[int]:
    out = []
    for _ in range(n):
        fr = stream.grab(5.0)
        out.append(int(round((float(fr.image.mean()) - 10) / 20)))
    return out


def test_looping_replay_of_unequal_videos_rewinds_every_view_together(tmp_path):
    """Item 3: videos of 5 and 3 frames, looping (was: each rewinds at its own end, pairing frame 3 with 0)."""
    from capture3d.sources.opencv import OpenCVSource
    src = OpenCVSource([str(_video(tmp_path / "cam01.avi", 5)), str(_video(tmp_path / "cam02.avi", 3))], loop=True)
    try:
        assert _levels(src.streams[0], 7) == [0, 1, 2, 0, 1, 2, 0]
        assert _levels(src.streams[1], 7) == [0, 1, 2, 0, 1, 2, 0]
    finally:
        src.stop()


@pytest.mark.parametrize("size_wh, ok", [((160, 120), True), ((152, 112), True), ((80, 60), False)])
def test_live_uses_the_size_rule_of_process(tmp_path, size_wh, ok, caplog):
    """Item 4: a video at half size, or 8 px smaller, than its calibration (was: live ran with no note)."""
    from capture3d.config import AppConfig
    from capture3d.runtime.app import resolve_rig
    from capture3d.sources.opencv import OpenCVSource
    rig = _rig(2, size_wh=(160, 120), names=["cam01", "cam02"])
    save_rig(tmp_path / "rig.toml", rig)
    src = OpenCVSource([str(_video(tmp_path / "cam01.avi", 3)), str(_video(tmp_path / "cam02.avi", 3, size_wh))])
    try:
        if not ok:
            with pytest.raises(RigError, match=r"camera cam02 is 80x60 px but camera cam02 was calibrated at 160x120"):
                resolve_rig(AppConfig(), src, tmp_path / "rig.toml")
            return
        used = resolve_rig(AppConfig(), src, tmp_path / "rig.toml")
        assert used.cameras[1].size_wh == size_wh
        assert ("calibration is used as cropped" in caplog.text) == (size_wh != (160, 120))
    finally:
        src.stop()


def test_live_pairs_named_videos_with_the_rig_by_name(tmp_path):
    """Item 1 for live / record: videos cam02, cam01 and a rig of cam_01, cam_02 (was: paired in order)."""
    from capture3d.config import AppConfig
    from capture3d.runtime.app import resolve_rig
    from capture3d.sources.opencv import OpenCVSource
    rig = _rig(2, size_wh=(160, 120))
    save_rig(tmp_path / "rig.toml", rig)
    src = OpenCVSource([str(_video(tmp_path / "cam02.avi", 3)), str(_video(tmp_path / "cam01.avi", 3))])
    try:
        used = resolve_rig(AppConfig(), src, tmp_path / "rig.toml")
    finally:
        src.stop()
    assert used.names == ("cam_02", "cam_01") or list(used.names) == ["cam_02", "cam_01"]


# ---- lenses kept ------------------------------------------------------------------------------------------------

def test_fisheye_rig_is_not_written_as_pinhole_openpose_xml(tmp_path, capsys):
    """Item 5 (was: 4 fisheye coefficients written as pinhole k1 k2 p1 p2, 300-1000 px off)."""
    rig = _rig(2)
    fish = Rig(tuple(dataclasses.replace(c, dist=np.array([0.05, -0.01, 0.002, -0.001]), fisheye=True)
                     for c in rig.cameras), rig.metadata)
    save_rig(tmp_path / "fish.toml", fish)
    with pytest.raises(RigError, match="fisheye lens model, which OpenPose camera XML cannot hold"):
        write_openpose_xml(tmp_path / "xml", fish)
    assert not (tmp_path / "xml").exists()
    rc = main(["rig", "convert", str(tmp_path / "fish.toml"), "-o", str(tmp_path / "xml2"), "--format", "openpose"])
    assert rc != 0 and "fisheye" in capsys.readouterr().err
    assert load_rig(tmp_path / "fish.toml").cameras[0].fisheye


# ---- real data --------------------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_real_trial_folders_out_of_order_give_the_plain_answer(shared_data, trial1_mediapipe, tmp_path):
    """Item 1 and 2 on Pose2Sim's Trial_1 (MediaPipe 2D): cam02 cam01 cam03 cam04 gives the plain result
    (was 43 / 136 mm median / p95 off), at the 60 fps the files record (was 30)."""
    rig = load_rig(shared_data / "pose2sim" / "Demo_Batch" / "calibration" / "Calib.qca.txt")
    f = [trial1_mediapipe / f"cam0{i}" for i in range(1, 5)]
    plain = triangulate_folders(rig, f)
    mixed = triangulate_folders(rig, [f[1], f[0], f[2], f[3]])
    assert plain.fps == 60.0 and plain.valid.mean() > 0.8
    np.testing.assert_array_equal(mixed.valid, plain.valid)
    assert np.nanmax(np.abs(mixed.xyz_world - plain.xyz_world)) < 1e-9


# ---- a world without a floor; a trial's calibration; capture only -------------------------------------------------

def _world_is_first_camera(rig: Rig) -> Rig:
    """The same rig expressed in its first camera's frame (a calibration without --floor)."""
    R1, t1 = rig.cameras[0].R, rig.cameras[0].tvec
    cams = []
    for c in rig.cameras:
        R = c.R @ R1.T
        rvec = cv2.Rodrigues(R)[0].ravel()
        cams.append(dataclasses.replace(c, rvec=rvec, tvec=c.tvec - R @ t1))
    return Rig(tuple(cams), rig.metadata)


def test_process_warns_when_the_bvh_has_no_floor_frame(tmp_path):
    """Item 13 (was: a BVH with the subject on its side, 3.58 m from the origin, silently)."""
    from capture3d.config import load_config
    from capture3d.runtime.app import build_process
    rig = _world_is_first_camera(_rig(2, size_wh=(160, 120)))
    assert rig.world_camera() == "cam_01" and _rig(2).world_camera() is None
    save_rig(tmp_path / "rig.toml", rig)
    videos = [_video(tmp_path / f"cam0{i}.avi", 6) for i in (1, 2)]
    for formats, warned in (('["csv", "bvh"]', True), ('["csv"]', False)):
        (tmp_path / "c.toml").write_text(f"[export]\nformats = {formats}\n[synthetic]\nframes = 6\n")
        app = build_process(load_config(tmp_path / "c.toml"), videos, rig_path=tmp_path / "rig.toml",
                            detector="synthetic")
        app.close()
        app.source.stop()
        notes = " ".join(app.notes)
        assert ("the rig's world is camera cam_01's frame (calibrated without a floor)" in notes) == warned
        assert ("--floor FRAME" in notes) == warned


def test_process_trial_finds_its_calibration_as_batch_does(tmp_path, capsys):
    """Item 18: `process TRIAL` with the Pose2Sim layout (calibration/ beside the trials) needs no --rig."""
    rig = _rig(2, size_wh=(160, 120))
    (tmp_path / "calibration").mkdir()
    save_rig(tmp_path / "calibration" / "rig.toml", rig)
    (tmp_path / "Trial_1" / "videos").mkdir(parents=True)
    for i in (1, 2):
        _video(tmp_path / "Trial_1" / "videos" / f"cam0{i}.avi", 5)
    (tmp_path / "c.toml").write_text("[export]\nformats = [\"csv\"]\n[synthetic]\nframes = 5\n")
    assert main(["process", str(tmp_path / "Trial_1"), "--config", str(tmp_path / "c.toml"), "--detector",
                 "synthetic", "-o", str(tmp_path / "out")]) == 0
    assert f"calibration {(tmp_path / 'calibration' / 'rig.toml').resolve()} (found beside the trial" \
        in capsys.readouterr().out
    assert (tmp_path / "out" / "keypoints3d.csv").is_file()


def test_record_summary_names_no_limiting_stage(tmp_path, capsys):
    """Item 18: `record` (no detection) said "limited by detect: processing busy 0%"."""
    _video(tmp_path / "cam01.avi", 5)
    _video(tmp_path / "cam02.avi", 5)
    (tmp_path / "r.toml").write_text(f"[source]\nkind = \"opencv\"\ncameras = [\"{tmp_path / 'cam01.avi'}\", "
                                     f"\"{tmp_path / 'cam02.avi'}\"]\n")
    assert main(["record", "--config", str(tmp_path / "r.toml"), "-o", str(tmp_path / "S")]) == 0
    out = capsys.readouterr().out
    assert "5 frame sets" in out and "limited by" not in out


# ---- a detector's native landmarks --------------------------------------------------------------------------------

def _cut(src: Path, dst: Path, n: int, scale: float = 1.0) -> Path:
    """The first n frames of a real video, re-encoded (resized by scale) into the test's folder."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = None
    for _ in range(n):
        ok, img = cap.read()
        if not ok:
            break
        if scale != 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if writer is None:
            writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), fps, (img.shape[1], img.shape[0]))
        writer.write(img)
    cap.release()
    writer.release()
    return dst


@pytest.mark.realdata
def test_detect_keeps_mediapipe_own_33_landmarks_when_asked(shared_data, tmp_path):
    """Item 6: `detect --keypoint-set MEDIAPIPE_33` (was: converted through BODY_25, so 12 of the 33 landmarks,
    eyes inner/outer, mouth, pinky, index, thumb, always missing)."""
    from capture3d.body.keypoint_sets import MEDIAPIPE_33
    from capture3d.io.openpose_json import read_openpose_folder
    video = _cut(shared_data / "pose2sim" / "Demo_Batch" / "Trial_1" / "videos" / "cam01.mp4", tmp_path / "cam01.avi",
                 3, scale=0.5)
    assert main(["detect", str(video), "--keypoint-set", "MEDIAPIPE_33", "-o", str(tmp_path / "kp")]) == 0
    folder = read_openpose_folder(tmp_path / "kp" / "cam01")
    assert folder.keypoint_set == "MEDIAPIPE_33" and folder.keypoints.shape[-2] == 33
    seen = folder.keypoints[:, 0, :, 2] > 0  # (T, 33)
    lost_before = [MEDIAPIPE_33.names.index(n) for n in MEDIAPIPE_33.names
                   if (n.endswith(("EyeInner", "EyeOuter", "Pinky", "Index", "Thumb")) and "Foot" not in n)
                   or n.startswith("Mouth")]
    assert len(lost_before) == 12
    assert seen[:, lost_before].mean() > 0.9 and seen.mean() > 0.9


@pytest.mark.realdata
def test_detect_a_wholebody_set_turns_on_hands_and_face(shared_data, tmp_path, caplog):
    """Item 8: `detect VIDEO --keypoint-set WHOLEBODY_135` without --hands --face (was: the 110 hand and
    face joints always empty, silently)."""
    from capture3d.io.openpose_json import read_openpose_folder
    video = _cut(shared_data / "pose2sim" / "Demo_Batch" / "Trial_1" / "videos" / "cam01.mp4", tmp_path / "cam01.avi",
                 2)
    assert main(["detect", str(video), "--keypoint-set", "WHOLEBODY_135", "-o", str(tmp_path / "kp")]) == 0
    assert "detecting the hands and the face too" in caplog.text
    kp = read_openpose_folder(tmp_path / "kp" / "cam01").keypoints[:, 0]  # (T, 135, 3)
    hands = kp[:, 25:67, 2] > 0
    assert kp.shape[1] == 135 and hands.mean() > 0.4


def test_process_says_when_the_face_reaches_3d_in_no_frame():
    """Item 8: a whole-body take whose face is never triangulated (was: face 0% of frames, exit 0, no word)."""
    from capture3d.body.keypoint_sets import WHOLEBODY_135
    from capture3d.cli.process import _missing_parts
    from capture3d.types import Keypoints3D
    T, J = 5, WHOLEBODY_135.n_joints
    xyz = np.random.default_rng(2).normal(size=(T, J, 3))
    face = [i for i, n in enumerate(WHOLEBODY_135.names) if n.startswith("Face_")]
    xyz[:, face] = np.nan
    kp = Keypoints3D(xyz, np.ones((T, J)), np.ones((T, J)), np.full((T, J), 2), np.arange(T) / 30.0, 30.0,
                     WHOLEBODY_135, {})
    lines = _missing_parts(kp)
    assert len(face) == 70 and len(lines) == 1
    assert lines[0].startswith("no face joint reached 3D in any of the 5 frames")
    xyz[:, face] = 0.0
    assert _missing_parts(dataclasses.replace(kp, xyz_world=xyz)) == []


# ---- live replay figures ------------------------------------------------------------------------------------------

def test_live_summary_gives_sets_without_a_pose_apart(tmp_path, capsys):
    """Item 17: "3D results N" counted every processed set; now those with a pose and those without."""
    import re
    rig = _rig(2, size_wh=(160, 120), names=["cam01", "cam02"])
    save_rig(tmp_path / "rig.toml", rig)
    videos = [str(_video(tmp_path / f"cam0{i}.avi", 8)) for i in (1, 2)]
    (tmp_path / "l.toml").write_text(f"[source]\nkind = \"opencv\"\ncameras = {videos!r}\n".replace("'", '"')
                                     + f"[pipeline]\nrig = \"{tmp_path / 'rig.toml'}\"\ndetector = \"synthetic\"\n"
                                     "[synthetic]\nframes = 8\nwidth = 160\nheight = 120\n")
    assert main(["live", "--config", str(tmp_path / "l.toml"), "--no-viewer", "--record", str(tmp_path / "S")]) == 0
    m = re.search(r"3D results (\d+) \((\d+) with a pose, (\d+) without\)", capsys.readouterr().out)
    assert m is not None and int(m.group(1)) == int(m.group(2)) + int(m.group(3)) and int(m.group(1)) >= 1


def test_a_replay_that_cannot_keep_up_says_so_and_what_to_do():
    from types import SimpleNamespace
    from capture3d.cli.live import replay_behind_line
    from capture3d.types import LiveStats
    src = SimpleNamespace(realtime=True, fps=60.0, streams=[0, 1, 2, 3])
    pipe = SimpleNamespace(source=src, reconstructor=object())
    per_camera = {f"cam{i}": {"grabbed": 100, "decode_s": 0.89} for i in range(4)}
    # 100 sets assembled (5 of them replaced unprocessed) and 55 skipped whole before assembly: 60 of 155
    st = LiveStats(sets=100, dropped_sets=55, drops=5, per_camera=per_camera)
    line = replay_behind_line(pipe, st)
    assert "could not keep up with 60 fps: 60 of 155 frame sets were not processed" in line
    assert "35.6 ms of CPU per frame set" in line and "'capture3d process' takes every frame set" in line
    assert replay_behind_line(SimpleNamespace(source=SimpleNamespace(realtime=False), reconstructor=object()), st) is None


# ---- other tools' 3D files --------------------------------------------------------------------------------------

POSE2SIM_MARKERS = ["Hip", "RHip", "RKnee", "RAnkle", "RBigToe", "RSmallToe", "RHeel", "LHip", "LKnee", "LAnkle",
                    "LBigToe", "LSmallToe", "LHeel", "Neck", "Head", "Nose", "RShoulder", "RElbow", "RWrist",
                    "LShoulder", "LElbow", "LWrist"]


def test_pose2sim_trc_is_read_by_joint_names(tmp_path, capsys):
    """Item 16: Pose2Sim's pose-3d/*.trc (its HALPE_26 markers, in its order, "Hip" and "Head") was refused
    with "markers ... match no known keypoint set"."""
    from capture3d.body.keypoint_sets import HALPE_26
    from capture3d.export.trc import TRC_FROM_WORLD, read_trc
    rng = np.random.default_rng(7)
    T = 4
    xyz = rng.normal(size=(T, len(POSE2SIM_MARKERS), 3))  # world, Z up
    trc = xyz @ TRC_FROM_WORLD.T
    lines = ["PathFileType\t4\t(X/Y/Z)\tp2s.trc",
             "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
             f"60\t60\t{T}\t{len(POSE2SIM_MARKERS)}\tm\t60\t0\t{T}",
             "Frame#\tTime\t" + "\t\t\t".join(POSE2SIM_MARKERS),
             "\t\t" + "\t".join(f"X{j + 1}\tY{j + 1}\tZ{j + 1}" for j in range(len(POSE2SIM_MARKERS))), ""]
    for t in range(T):
        lines.append("\t".join([str(t), f"{t / 60:.6f}"] + [f"{v:.6f}" for v in trc[t].ravel()]))
    (tmp_path / "p2s.trc").write_text("\n".join(lines) + "\n")
    kp = read_trc(tmp_path / "p2s.trc")
    assert kp.keypoint_set.name == "HALPE_26" and kp.fps == 60.0
    for m, name in enumerate(POSE2SIM_MARKERS):
        j = HALPE_26.names.index({"Hip": "MidHip", "Head": "HeadTop"}.get(name, name))
        np.testing.assert_allclose(kp.xyz_world[:, j], xyz[:, m], atol=2e-6)
    assert np.isnan(kp.xyz_world[:, HALPE_26.names.index("LEye")]).all()
    assert main(["export", str(tmp_path / "p2s.trc"), "-o", str(tmp_path / "p2s.csv")]) == 0


def test_opencv_stereo_calib_pair_is_read_and_an_unknown_size_is_said(tmp_path, caplog):
    """Item 12: OpenCV's stereo_calib output (intrinsics.yml + extrinsics.yml) was not recognised, and a
    stereo YAML without image_width/height had its size invented and printed as fact."""
    rig = _rig(2, size_wh=(640, 480))
    c1, c2 = rig.cameras
    R = c2.R @ c1.R.T
    T = c2.tvec - R @ c1.tvec
    fs = cv2.FileStorage(str(tmp_path / "intrinsics.yml"), cv2.FILE_STORAGE_WRITE)
    for key, val in (("M1", c1.K), ("D1", c1.dist[None]), ("M2", c2.K), ("D2", c2.dist[None])):
        fs.write(key, val)
    fs.release()
    fs = cv2.FileStorage(str(tmp_path / "extrinsics.yml"), cv2.FILE_STORAGE_WRITE)
    for key, val in (("R", R), ("T", T[:, None]), ("R1", np.eye(3)), ("R2", np.eye(3)), ("Q", np.eye(4))):
        fs.write(key, val)
    fs.release()
    for where in (tmp_path, tmp_path / "intrinsics.yml", tmp_path / "extrinsics.yml"):
        got = load_rig(where)
        np.testing.assert_allclose(got.cameras[0].K, c1.K)
        np.testing.assert_allclose(got.cameras[1].R, R, atol=1e-9)
        np.testing.assert_allclose(got.cameras[1].tvec, T, atol=1e-9)
    assert "records no image size" in caplog.text and "only a guess" in caplog.text


# ---- cameras not started together ------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_sync_aligns_a_camera_that_started_late(shared_data, trial1_mediapipe, tmp_path, capsys):
    """Item 9: cam03's folder 7 frames shorter because it started 7 frames late (was refused: "frames
    differ ... missing frames [93, ..., 99]"); `sync` reads them, and `triangulate --offsets` aligns them."""
    import tomllib
    calib = shared_data / "pose2sim" / "Demo_Batch" / "calibration" / "Calib.qca.txt"
    rig = load_rig(calib)
    folders = []
    for i in range(1, 5):
        src = trial1_mediapipe / f"cam0{i}"
        dst = tmp_path / "kp" / f"cam0{i}"
        dst.mkdir(parents=True)
        files = sorted(src.glob("*.json"))[7 if i == 3 else 0:]
        for k, f in enumerate(files):  # the late camera numbers its own frames from 0
            shutil.copy(f, dst / f"frame_{k:012d}_keypoints.json")
        folders.append(dst)
    # sync reads folders of different lengths (its estimate on this trial is flagged unreliable: exit 3)
    assert main(["sync", "--rig", str(calib), "--keypoints2d", *map(str, folders), "-o", str(tmp_path / "off.toml")]) \
        in (0, 3)
    found = tomllib.loads((tmp_path / "off.toml").read_text())
    assert set(found["offsets"]) == {"cam01", "cam02", "cam03", "cam04"} and found["sync"]["frames"] == 100
    with pytest.raises(KeypointFileError, match=r"cam03: frames differ .* missing frames \[93, 94"):
        triangulate_folders(rig, folders)  # without offsets the frames must match
    plain = triangulate_folders(rig, [trial1_mediapipe / f"cam0{i}" for i in range(1, 5)])
    synced = triangulate_folders(rig, folders, offsets=np.array([0.0, 0.0, -7.0, 0.0]))
    n = min(plain.n_frames, synced.n_frames) - 7
    d = np.linalg.norm(synced.xyz_world[:n] - plain.xyz_world[:n], axis=-1)
    assert np.nanmedian(d) < 0.02 and np.isfinite(d).mean() > 0.7


def test_butterworth_error_says_the_fix():
    """Item 18: the Butterworth error named the key but not the fix."""
    from capture3d.config import check_cutoff
    from capture3d.errors import ConfigError
    with pytest.raises(ConfigError, match=r"found 20 Hz: set \[filter\] butterworth_cutoff_hz = 6 \(a value below 15\)"):
        check_cutoff(20.0, 30.0)
