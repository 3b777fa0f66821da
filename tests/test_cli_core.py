import json
import shutil

import numpy as np
import pytest

from capture3d.cli import main
from capture3d.export import read_keypoints3d
from capture3d.io.openpose_json import write_openpose_folder
from capture3d.io.rig_files import save_rig


def test_demo_writes_outputs_and_reports_accuracy(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--frames", "120", "--cameras", "4", "--seed", "2", "--out", str(out), "--no-viewer"]) == 0
    text = capsys.readouterr().out
    assert "MPJPE vs truth" in text and "frame sets/s" in text
    names = {p.name for p in out.iterdir()}
    assert {"rig.toml", "keypoints3d.csv", "keypoints3d.json", "keypoints3d.trc", "report.json", "config.toml"} <= names
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == 120 and report["cameras"] == 4
    assert report["mpjpe_mm"]["median"] < 10 and report["reproj_err_px_mean"] < 4
    kp = read_keypoints3d(out / "keypoints3d.csv")
    assert kp.xyz_world.shape == (120, 25, 3)


@pytest.fixture()
def json_session(tmp_path, rig4, walk, noisy_obs):
    save_rig(tmp_path / "rig.toml", rig4)
    folders = []
    for v, cam in enumerate(rig4.cameras):
        d = tmp_path / "json" / cam.name
        write_openpose_folder(d, noisy_obs.keypoints_px[v][:, None], prefix=f"video_{cam.name}")
        folders.append(str(d))
    return tmp_path, folders


def test_triangulate_openpose_folders(json_session, walk, capsys):
    root, folders = json_session
    out = root / "pose.trc"
    assert main(["triangulate", "--rig", str(root / "rig.toml"), "--keypoints2d", *folders, "-o", str(out)]) == 0
    kp = read_keypoints3d(out)
    err = np.linalg.norm(kp.xyz_world - walk.xyz_world, axis=-1) * 1000
    assert np.nanmedian(err) < 8 and np.nanpercentile(err, 95) < 20
    assert "wrote" in capsys.readouterr().out


def test_triangulate_wrong_camera_count(json_session, capsys):
    """3 of the rig's 4 cameras, named after them: those cameras are used and the 4th is said to be left out
    (the one camera-matching rule); unnamed folders of the wrong count are refused."""
    root, folders = json_session
    rc = main(["triangulate", "--rig", str(root / "rig.toml"), "--keypoints2d", *folders[:3], "-o", str(root / "a.csv")])
    assert rc == 0
    assert "cam4 left out" in capsys.readouterr().out
    import shutil
    unnamed = [shutil.copytree(f, root / "unnamed" / f"view_{i}") for i, f in enumerate(folders[:3])]
    rc = main(["triangulate", "--rig", str(root / "rig.toml"), "--keypoints2d", *map(str, unnamed), "-o",
               str(root / "b.csv")])
    err = capsys.readouterr().err
    assert rc == 1 and "3 keypoint folders" in err and "the rig has 4 cameras" in err and "Traceback" not in err


def test_triangulate_missing_frames_named(json_session, capsys):
    root, folders = json_session
    victim = sorted((root / "json" / "cam2").glob("*.json"))[5]
    victim.unlink()
    rc = main(["triangulate", "--rig", str(root / "rig.toml"), "--keypoints2d", *folders, "-o", str(root / "a.csv")])
    assert rc == 1
    assert "missing frames [5]" in capsys.readouterr().err


def test_triangulate_bad_paths(json_session, capsys, tmp_path):
    root, folders = json_session
    assert main(["triangulate", "--rig", str(tmp_path / "none.toml"), "--keypoints2d", *folders, "-o", "a.csv"]) == 1
    assert "rig file not found" in capsys.readouterr().err
    shutil.rmtree(folders[0])
    assert main(["triangulate", "--rig", str(root / "rig.toml"), "--keypoints2d", *folders, "-o", "a.csv"]) == 1
    assert "keypoint folder not found" in capsys.readouterr().err


def test_help_has_examples(capsys):
    for cmd in (["demo", "--help"], ["triangulate", "--help"]):
        with pytest.raises(SystemExit):
            main(cmd)
        assert "example" in capsys.readouterr().out
