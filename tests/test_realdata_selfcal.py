"""Calibration and synchronization from the people in view on a real recording: Pose2Sim's Trial_1 (4
cameras, 100 frames of one walking person at 60 fps, MediaPipe detections), whose Qualisys calibration is
marker-based and serves as the reference.

What the numbers say (docs/selfcal.md): the refinement
is decided by the data (from the Qualisys rig and from a rig bumped by 2 deg / 5 cm it lands on the same
cameras) and predicts held-out views far better than the bumped rig, but that data optimum is 0.7-2.4 deg
away from Qualisys: MediaPipe's joints on these portrait videos (grossly wrong in cam02 for a third of the
take) do not pin the cameras to 0.3 deg.

Synchronization (views shifted by known offsets of up to 30 frames): cam02 and cam04 are recovered to
0.5 frame on both trials; cam03 is not (Trial_1: ~3 frames off, its joints sit ~20 px from the other views'
epipolar lines at the recorded alignment and its pair costs fall until +3..+4 frames, so either the recording
itself has cam03 a few frames off or its detections are biased; speed cross-correlation puts it at 0; Trial_2: its joints are grossly wrong, 82 px
median, and the command names it). On these 100 frames no offset stands out by more than ~10% of the cost
(confidence 0.0-0.12 < 0.3), so every camera is reported unreliable, with the numbers, and a wrong offset is
never reported as reliable.
"""
import numpy as np
import pytest

from capture3d.calib.refine import refine_rig, subject_keypoints
from capture3d.calib.rig_compare import compare_rigs, perturb_rig
from capture3d.calib.timesync import offsets_from_geometry, offsets_from_speed
from capture3d.io.rig_files import load_rig
from capture3d.reconstruct.folders import load_views
from capture3d.reconstruct.offsets import apply_offsets

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def trial1(shared_data, trial1_mediapipe):
    rig = load_rig(shared_data / "pose2sim" / "Demo_Batch" / "calibration" / "Calib.qca.txt")
    kp, _, kps = load_views([trial1_mediapipe / f"cam0{i}" for i in range(1, 5)], 4)
    return rig, kp, kps


def test_refine_from_the_subject_on_trial1(trial1):
    rig, kp, kps = trial1
    bumped = perturb_rig(rig, 2.0, 0.05, seed=3)
    sub = subject_keypoints(bumped, kp, kps)
    res = refine_rig(bumped, sub)
    from_truth = refine_rig(rig, subject_keypoints(rig, kp, kps))
    # the bumped rig predicts held-out views ~90 px off; refined, ~14 px (Qualisys itself: ~26 px)
    assert res.held_out_before_px > 60 and res.held_out_after_px < 20, (res.held_out_before_px, res.held_out_after_px)
    assert res.held_out_after_px < from_truth.held_out_before_px
    assert res.reproj_after_px < 7.0
    # the data decide the result: from Qualisys and from the bumped rig it reaches the same cameras
    same = compare_rigs(res.rig, from_truth.rig)
    assert same.rotation_deg.max() < 0.3 and same.center_m.max() < 0.02, (same.rotation_deg, same.center_m)
    # ... which are not Qualisys' to the issue's 0.3 deg / 2 cm: measured 0.8-2.1 deg and 3-9 cm
    vs_ref = compare_rigs(res.rig, rig)
    assert vs_ref.rotation_deg.max() < 2.5 and vs_ref.center_m.max() < 0.10, (vs_ref.rotation_deg, vs_ref.center_m)
    assert len(res.warnings) >= 3  # the bumped cameras are reported as moved


@pytest.mark.parametrize("shift", [(0, 17, -23, 30), (0, -30, 11, -5)])
def test_sync_never_reports_a_wrong_offset_as_reliable_on_trial1(trial1, shift):
    rig, kp, _ = trial1
    true = np.array(shift, float)
    views = apply_offsets(kp[:, :, 0], -true)  # camera v shows at frame t what camera 0 shows at t - shift[v]
    for res in (offsets_from_geometry(rig, views, 30), offsets_from_speed(views, 30)):
        wrong = np.abs(res.offsets - true) > 1.0
        assert not (res.reliable & wrong).any(), (res.method, res.offsets, res.confidence)
        if wrong.any():
            assert any("could not be synchronized" in n for n in res.notes)


@pytest.fixture(scope="module")
def trial2(shared_data, trial2_mediapipe):
    rig = load_rig(shared_data / "pose2sim" / "Demo_Batch" / "calibration" / "Calib.qca.txt")
    kp, _, _ = load_views([trial2_mediapipe / f"cam0{i}" for i in range(1, 5)], 4)
    return rig, kp


@pytest.mark.parametrize("shift", [(0, 0, 0, 0), (0, 17, -23, 30), (0, -30, 11, -5)])
@pytest.mark.parametrize("trial", ["trial1", "trial2"])
def test_sync_recovers_cam02_and_cam04_on_the_real_trials(request, trial, shift):
    rig, kp = request.getfixturevalue(trial)[:2]
    true = np.array(shift, float)
    res = offsets_from_geometry(rig, apply_offsets(kp[:, :, 0], -true), 30)
    err = np.abs(res.offsets - true)
    assert err[[1, 3]].max() < 0.5, (res.offsets, true)          # measured 0.05-0.49 frame
    assert not (res.reliable & (err > 1)).any(), res.confidence  # cam03 (3-35 frames off) never reliable
    assert (res.confidence[1:] < 0.3).all(), res.confidence      # 100 frames: no offset singled out (0.0-0.12)
    assert any("could not be synchronized" in n and "100 frames" in n for n in res.notes)
    if trial == "trial2":  # cam03's joints are grossly wrong: named
        assert any(f"camera(s) {rig.names[2]} disagree" in n for n in res.notes), res.notes
