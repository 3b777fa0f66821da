"""Reconstructor: tracker + triangulation + filters, live (process) and offline (process_sequence)."""
import numpy as np
import pytest

from capture3d.body.bones import bone_lengths, tree_bones
from capture3d.config import FilterConfig, TrackingConfig, TriangulationConfig
from capture3d.errors import ConfigError
from capture3d.reconstruct.filters import jitter
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.body.keypoint_sets import BODY_25
from capture3d.synth import ErrorModel
from capture3d.synth.scene import identity_of_pose, make_scene

FPS = 30.0
RAW = FilterConfig(enabled=False)


@pytest.fixture(scope="module")
def scene(rig4):
    """10 s, subject + 2 bystanders, 2 px noise, 10% missing, 5% outliers, 2% swaps, occluded 4-5 s."""
    return make_scene(rig4, 300, FPS, 2, ErrorModel(), ((4.0, 5.0),), seed=11)


def _bone_cv(xyz):
    L = bone_lengths(xyz, tree_bones(BODY_25))
    return float(np.nanmean(np.nanstd(L, 0) / np.nanmean(L, 0)))


def _mpjpe_mm(xyz, truth):
    return float(np.nanmean(np.linalg.norm(xyz - truth, axis=-1)) * 1000)


def test_offline_filters_meet_the_accuracy_jitter_and_bone_targets(rig4, scene):
    raw = Reconstructor(rig4, BODY_25, TriangulationConfig(), TrackingConfig(), RAW).process_sequence(
        scene.keypoints2d, scene.times_s, FPS)
    filt = Reconstructor(rig4, BODY_25).process_sequence(scene.keypoints2d, scene.times_s, FPS)
    truth = scene.xyz_world[0]
    assert filt.metadata["filter"] == "offline" and raw.metadata["filter"] == "none"
    assert (identity_of_pose(filt.xyz_world, scene.xyz_world) > 0).sum() == 0
    vis = scene.subject_visible
    e_raw, e_filt = _mpjpe_mm(raw.xyz_world[vis], truth[vis]), _mpjpe_mm(filt.xyz_world[vis], truth[vis])
    assert e_filt < 0.8 * e_raw
    assert jitter(filt.xyz_world, FPS) < jitter(raw.xyz_world, FPS) / 5
    assert _bone_cv(filt.xyz_world) < 0.01 < _bone_cv(raw.xyz_world)
    assert np.isnan(filt.xyz_world[125:148]).all()  # a 1 s occlusion is longer than max_gap_s: stays NaN
    # gap-filled joints carry no views, an interpolated confidence and a zero error
    filled = filt.valid & ~raw.valid
    assert filled.any() and (filt.n_views[filled] == 0).all() and (filt.confidence[filled] > 0).all()


def test_causal_replay_is_identical_to_live(rig4, scene):
    cfg = FilterConfig(causal=True)
    kp = scene.keypoints2d[:, :120]
    live = Reconstructor(rig4, BODY_25, TriangulationConfig(), TrackingConfig(), cfg)
    frames = [live.process(kp[:, t], t / FPS) for t in range(120)]
    replay = Reconstructor(rig4, BODY_25, TriangulationConfig(), TrackingConfig(), cfg).process_sequence(
        kp, scene.times_s[:120], FPS)
    xyz_live = np.stack([f.xyz_world for f in frames])
    assert np.array_equal(xyz_live, replay.xyz_world, equal_nan=True)
    assert np.array_equal(np.stack([f.n_views for f in frames]), replay.n_views)
    assert replay.metadata["filter"] == "causal"
    # the live chain smooths: less jitter than the raw triangulation
    raw = Reconstructor(rig4, BODY_25, TriangulationConfig(), TrackingConfig(), RAW).process_sequence(
        kp, scene.times_s[:120], FPS)
    assert jitter(replay.xyz_world, FPS) < 0.5 * jitter(raw.xyz_world, FPS)
    assert _mpjpe_mm(replay.xyz_world, scene.xyz_world[0, :120]) < 20


def test_take_api_matches_process_sequence(rig4, scene):
    kp = scene.keypoints2d[:, :60]
    rec = Reconstructor(rig4, BODY_25)
    rec.start_take()
    for t in range(60):
        rec.process(kp[:, t], t / FPS)
    take = rec.end_take(FPS)
    seq = Reconstructor(rig4, BODY_25).process_sequence(kp, scene.times_s[:60], FPS)
    assert np.array_equal(take.xyz_world, seq.xyz_world, equal_nan=True)
    assert take.metadata["filter"] == "offline"


def test_baseline_without_tracker_switches_to_bystanders(rig4, scene):
    base = Reconstructor(rig4, BODY_25, TriangulationConfig(), TrackingConfig(enabled=False), RAW)
    out = base.process_sequence(scene.keypoints2d, scene.times_s, FPS)
    assert (identity_of_pose(out.xyz_world, scene.xyz_world) > 0).sum() > 10


def test_single_detection_input_still_works(rig4, walk, noisy_obs):
    out = Reconstructor(rig4, BODY_25).process_sequence(noisy_obs.keypoints_px, walk.times_s, walk.fps)
    assert out.xyz_world.shape == (200, 25, 3)
    assert _mpjpe_mm(out.xyz_world, walk.xyz_world) < 8
    frame = Reconstructor(rig4, BODY_25).process(noisy_obs.keypoints_px[:, 0], 0.0)  # (V, J, 3)
    assert _mpjpe_mm(frame.xyz_world, walk.xyz_world[0]) < 15 and frame.person_per_view.tolist() == [0] * 4


def test_bad_frames_give_nan_and_tracking_resumes(rig4, scene):
    rec = Reconstructor(rig4, BODY_25, filtering=FilterConfig(causal=True))
    V, J = 4, 25
    for t in range(30):
        rec.process(scene.keypoints2d[:, t], t / FPS)
    nobody = np.zeros((V, 0, J, 3))
    missing = np.full((V, 3, J, 3), np.nan)
    partial = scene.keypoints2d[:, 32].copy()
    partial[:, :, :, 2] = np.inf  # nonsense scores and positions must not raise either
    partial[:, :, :, 0] = np.nan
    for t, kp in ((30, nobody), (31, missing), (32, partial)):
        f = rec.process(kp, t / FPS)
        assert np.isnan(f.xyz_world).all() and (f.n_views == 0).all()
    back = rec.process(scene.keypoints2d[:, 33], 33 / FPS)
    assert _mpjpe_mm(back.xyz_world, scene.xyz_world[0, 33]) < 30


def test_impossible_filter_settings_are_config_errors(rig4, scene):
    rec = Reconstructor(rig4, BODY_25, filtering=FilterConfig(butterworth_cutoff_hz=12.0))
    with pytest.raises(ConfigError, match="Nyquist frequency 10 Hz"):
        rec.process_sequence(scene.keypoints2d[:, :40], np.arange(40) / 20.0, 20.0)
    with pytest.raises(ConfigError, match="max_gap_s"):
        Reconstructor(rig4, BODY_25, filtering=FilterConfig(max_gap_s=-1.0))
    with pytest.raises(ConfigError, match="tracking.gate_m"):
        Reconstructor(rig4, BODY_25, tracking=TrackingConfig(gate_m=0.0))


def test_time_going_back_restarts_tracking_and_filters(rig4, scene):
    rec = Reconstructor(rig4, BODY_25, filtering=FilterConfig(causal=True))
    for t in range(40):
        rec.process(scene.keypoints2d[:, t], t / FPS)
    again = [rec.process(scene.keypoints2d[:, t], t / FPS) for t in range(10)]  # a replay from the start
    fresh = Reconstructor(rig4, BODY_25, filtering=FilterConfig(causal=True))
    first = [fresh.process(scene.keypoints2d[:, t], t / FPS) for t in range(10)]
    assert all(np.array_equal(a.xyz_world, b.xyz_world, equal_nan=True) for a, b in zip(again, first))
