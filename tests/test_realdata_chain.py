"""The 2D -> 3D chain on real footage: Pose2Sim's Demo_Batch sessions (4 phone-style 1088x1920 videos at
60 fps, a Qualisys marker-based calibration). No ground truth: the numbers are reprojection errors,
coverage, and agreement of the files with the readers users have."""
import json
import shutil

import numpy as np
import pytest

from capture3d.cli import main

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def qca(shared_data):
    return shared_data / "pose2sim" / "Demo_Batch" / "calibration" / "Calib.qca.txt"


def test_qualisys_calibration_reads_in_pixels_and_metres(qca, tmp_path, capsys):
    from capture3d.io.rig_files import load_rig
    rig = load_rig(qca)
    assert rig.names == ["cam01", "cam02", "cam03", "cam04"]
    for cam in rig:
        assert cam.size_wh == (1088, 1920)  # the video window of a 1088x1920 portrait camera
        assert 1600 < cam.K[0, 0] < 1750 and abs(cam.K[0, 0] - cam.K[1, 1]) < 1.0  # 64 sensor units per px
        assert abs(cam.K[0, 2] - 544) < 40 and abs(cam.K[1, 2] - 960) < 40
        assert 1.5 < cam.center_world[2] < 2.2  # cameras on tripods, 1.7-2.1 m above the floor (Z up)
    # every camera looks at the capture volume's centre (in front of it, within the image)
    centre = np.mean([c.center_world for c in rig], axis=0) * np.array([1, 1, 0]) + [0, 0, 1.0]
    for cam in rig:
        xy = cam.project(centre)
        assert cam.world_to_cam(centre)[2] > 1.0 and cam.in_image(xy)
    out = tmp_path / "rig.toml"
    assert main(["rig", "convert", str(qca), "-o", str(out)]) == 0
    text = out.read_text()
    assert "[cam_01]" in text and "[cam_04]" in text
    back = load_rig(out)
    assert np.allclose(back[2].K, rig[2].K) and np.allclose(back[2].tvec, rig[2].tvec)
    assert main(["rig", "convert", str(qca), "-o", str(out)]) == 1  # exists: refused without --force
    assert "use --force" in capsys.readouterr().err


def test_real_openpose_folders_with_empty_frames_triangulate(trial1_mediapipe, qca, tmp_path, capsys):
    """Real folders hold frames with nobody in them, people entries {} and other file names."""
    cams = []
    for i in range(1, 5):
        src = trial1_mediapipe / f"cam0{i}"
        dst = tmp_path / f"cam0{i}"
        dst.mkdir()
        for k, f in enumerate(sorted(src.glob("*.json"))):
            shutil.copy(f, dst / f"cam0{i}.{k:04d}.json")  # names like cam01.0000.json
        cams.append(dst)
    (cams[0] / "cam01.0005.json").write_text(json.dumps({"version": 1.3, "people": []}))
    doc = json.loads((cams[1] / "cam02.0006.json").read_text())
    doc["people"].append({})
    (cams[1] / "cam02.0006.json").write_text(json.dumps(doc))
    out = tmp_path / "pose.csv"
    assert main(["triangulate", "--rig", str(qca), "--keypoints2d", *map(str, cams), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "RuntimeWarning" not in captured.err
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(out)
    assert len(df) == 100
    xyz = df[[f"MidHip_{a}" for a in "xyz"]].to_numpy()
    assert np.isfinite(xyz).all(axis=1).mean() > 0.9  # the walker's hip in (nearly) every frame
    err = df[[c for c in df.columns if c.endswith("_err_px")]].to_numpy()
    assert np.nanmedian(err) < 8.0  # MediaPipe on 1088x1920 phone video through the Qualisys rig


def test_process_videos_folder_adapts_the_cropped_cameras(shared_data, qca, tmp_path, capsys, fast_mediapipe_config):
    """Trial_1: cam01 and cam02 are 1080 px wide, the calibration says 1088: said, handled, 3D right."""
    out = tmp_path / "out"
    trial = shared_data / "pose2sim" / "Demo_Batch" / "Trial_1"
    before = {p.name: p.stat().st_mtime_ns for p in (trial / "videos").iterdir()}
    assert main(["process", str(trial), "--rig", str(qca), "--config", str(fast_mediapipe_config), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "cam01.mp4 is 1080x1920 px, camera cam01 was calibrated at 1088x1920" in captured.out
    assert "Traceback" not in captured.err
    assert captured.err.count("SymbolDatabase.GetPrototype") <= 1  # no warning per frame
    assert "100 of 100 frame sets -> 3D" in captured.out
    from capture3d.export import read_keypoints3d
    kp = read_keypoints3d(out / "keypoints3d.csv")
    assert kp.n_frames == 100 and kp.fps == pytest.approx(60.0, rel=1e-3)
    assert kp.valid.mean() > 0.85
    assert np.nanmedian(kp.reproj_err_px) < 8.0
    hip = kp.xyz_world[:, kp.keypoint_set.index("MidHip")]
    assert np.nanmedian(hip[:, 2]) == pytest.approx(0.95, abs=0.25)  # a standing adult's hip height, Z up
    assert {p.name: p.stat().st_mtime_ns for p in (trial / "videos").iterdir()} == before  # inputs untouched


def test_process_multiperson_session_follows_one_subject(shared_data, tmp_path, capsys):
    """Demo_MultiPerson runs end to end (in the shared copy its videos are Trial_2's, md5-identical, with one
    person MediaPipe finds): one subject whose root never teleports."""
    session = shared_data / "pose2sim" / "Demo_MultiPerson"
    out = tmp_path / "out"
    assert main(["process", str(session), "--rig", str(session / "calibration" / "Calib.qca.txt"), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "100 of 100 frame sets -> 3D" in captured.out
    from capture3d.export import read_keypoints3d
    kp = read_keypoints3d(out / "keypoints3d.csv")
    assert kp.valid.mean() > 0.85 and np.nanmedian(kp.reproj_err_px) < 8.0
    hip = kp.xyz_world[:, kp.keypoint_set.index("MidHip")]
    speed = np.linalg.norm(np.diff(hip, axis=0), axis=-1) * kp.fps
    assert np.nanmax(speed) < 3.0  # m/s: a walking subject, never a jump to the other person
