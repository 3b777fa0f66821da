"""Every person on real footage (Pose2Sim Demo_Batch Trial_2, 4 cameras, two people close together and a third
in the background) with today's single-person MediaPipe detections: one detection per view, the woman in three
views and the man in cam03. The multi-person association must find the one person seen consistently by >= 2
views and never pair cam03's other person with her (the real multi-person detectors are checked by the lead)."""
import sys
from pathlib import Path

import numpy as np
import pytest

from capture3d.config import TrackingConfig
from capture3d.io.rig_files import load_rig
from capture3d.reconstruct.folders import load_views, triangulate_folders, triangulate_folders_people

pytestmark = pytest.mark.realdata


def test_trial2_single_person_detections_give_one_consistent_person(shared_data, trial2_mediapipe):
    rig = load_rig(shared_data / "pose2sim" / "Demo_Batch" / "calibration" / "Calib.qca.txt")
    folders = [trial2_mediapipe / f"cam0{i}" for i in (1, 2, 3, 4)]
    people = triangulate_folders_people(rig, folders, 60.0, tracking=TrackingConfig(people="all"))
    assert sorted(people) == [1]                     # the man is seen by cam03 only: not a 3D person
    kp = people[1]
    assert kp.valid.any(axis=1).sum() == 100         # offline: the frames before its birth are filled in
    assert (kp.n_views[kp.valid] == 4).mean() == 0   # cam03's other person is never used with her views
    one = triangulate_folders(rig, folders, 60.0)
    d = np.linalg.norm(kp.xyz_world - one.xyz_world, axis=-1)
    assert np.nanmedian(d) < 0.002                   # the single-person mode's subject, within 2 mm


@pytest.mark.slow
def test_demo_multiperson_every_person_with_the_default_detector(shared_data, tmp_path, capsys):
    """Demo_MultiPerson (= Trial_2's videos) through `process --people all` with the default 2D path (top-down
    MediaPipe heavy on every person the PAF network finds): the two participants and the person behind them
    are three tracks over all 100 frame sets (offline, the frames before each birth are filled in), each hip
    centre moving continuously (no identity switch: never faster than 3 m/s between frames), the participants
    apart."""
    from capture3d.cli import main
    from capture3d.export.people import read_people

    session = shared_data / "pose2sim" / "Demo_MultiPerson"
    out = tmp_path / "out"
    assert main(["process", str(session), "--rig", str(session / "calibration" / "Calib.qca.txt"),
                 "--people", "all", "-o", str(out)]) == 0
    assert "3 people: person 1 in 100 sets, person 2 in 100 sets, person 3 in 100 sets" in capsys.readouterr().out
    people = read_people(out / "keypoints3d.csv")
    hips = {}
    for pid, kp in people.items():
        hip = kp.xyz_world[:, kp.keypoint_set.index("MidHip")]
        assert np.isfinite(hip).all(axis=1).sum() >= 98, pid
        speed = np.linalg.norm(np.diff(hip, axis=0), axis=-1) * kp.fps
        assert np.nanmax(speed) < 3.0, (pid, np.nanmax(speed))
        hips[pid] = np.nanmean(hip, axis=0)
    assert len(hips) == 3
    assert min(np.linalg.norm(hips[a] - hips[b]) for a in hips for b in hips if a < b) > 0.5


@pytest.mark.slow
def test_every_real_track_predicts_its_held_out_views(shared_data, demo_batch_default_2d):
    """tools/bench/bench_people_real.py's table with the default detector: each participant's track on Trial_2
    predicts the views it leaves out within 20% of the single-person figure on Trial_1 (same detector, same
    metric), and the single-person subject of Trial_2 no longer mixes people (its gross held-out errors are a
    shift of the whole body in cam03, a near back view, not joints of the other people: docs/people.md)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "bench"))
    import bench_people_real as bench

    rig = load_rig(shared_data / "pose2sim" / "Demo_Batch" / "calibration" / "Calib.qca.txt")
    table = {}
    for trial in ("Trial_1", "Trial_2"):
        kp, _, kps = load_views([demo_batch_default_2d / trial / c for c in bench.CAMERAS], len(rig))
        rows = bench.rows_of(rig, kp, kps)
        for row, used in rows.items():
            table[trial, row] = bench.score(rig, used, {k: u for k, u in rows.items() if k not in (row, "single")})
    ref = table["Trial_1", "single"]
    assert ref["sets"] == 100 and ref["median"] < 20.0 and ref["gross"] < 4.0
    participants = [r for (trial, row), r in table.items() if trial == "Trial_2" and row != "single" and r["views"] > 2.5]
    assert len(participants) == 2                                   # the person behind them: 2 views only
    for r in participants:
        assert r["sets"] >= 95 and r["median"] <= 1.2 * ref["median"], (r, ref)
        assert r["mixed"] < 1.0
    single = table["Trial_2", "single"]
    assert single["sets"] == 100 and single["median"] <= 1.2 * ref["median"]
    assert single["mixed"] < 1.0 and single["gross"] < 10.0          # was 33-36% gross: cam03 on the other person
