"""The live (causal) filter chain: constant-velocity Kalman, bone-length projection, and the live targets
(accuracy, jitter, bone-length CV, latency; the cost is measured in tools/bench/bench_tracking.py) on the synthetic multi-person scene at 60 fps."""

import numpy as np
import pytest

from capture3d.body.bones import (BoneLengthProjector, IncrementalBoneLengths, bone_lengths, stabilize_bone_lengths,
                             tree_bones)
from capture3d.config import FilterConfig, TrackingConfig, TriangulationConfig, config_from_dict
from capture3d.errors import ConfigError
from capture3d.reconstruct.filters import CausalPoseFilter, ConstantVelocityKalman, jitter
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.body.keypoint_sets import BODY_25
from capture3d.synth import ErrorModel, walking_motion
from capture3d.synth.scene import make_scene

FPS = 60.0
BONES = tree_bones(BODY_25)


def test_kalman_has_no_lag_on_a_ramp_and_smooths_at_rest(rng):
    kf = ConstantVelocityKalman()
    t = np.arange(240) / FPS
    ramp = np.stack([1.0 * t, -0.5 * t, 0 * t], axis=1)[:, None, :]      # (T, 1, 3), 1.1 m/s
    y = np.stack([kf(x, ti) for x, ti in zip(ramp, t)])
    assert np.abs(y[60:] - ramp[60:]).max() < 1e-4                         # < 0.1 mm: no lag
    kf.reset()
    still = rng.normal(0.0, 0.005, (600, 25, 3))                            # 5 mm noise around a still pose
    z = np.stack([kf(x, i / FPS) for i, x in enumerate(still)])
    assert np.std(z[60:]) < 0.6 * np.std(still[60:])
    assert jitter(z[60:], FPS) < 0.3 * jitter(still[60:], FPS)


def test_kalman_gates_outliers_keeps_nan_and_restarts_after_a_real_move():
    kf = ConstantVelocityKalman(max_rejects=6)
    pose = np.zeros((2, 3))
    for k in range(30):
        kf(pose, k / FPS)
    spike = pose.copy()
    spike[0, 2] = 0.4                                                       # one frame 40 cm off
    out = kf(spike, 30 / FPS)
    assert np.abs(out[0]).max() < 1e-3                                      # replaced by the prediction
    missing = pose.copy()
    missing[1] = np.nan
    out = kf(missing, 31 / FPS)
    assert np.isnan(out[1]).all() and np.isfinite(out[0]).all()
    moved = pose.copy()
    moved[0, 0] = 0.5                                                       # joint 0 really moves and stays
    outs = np.array([kf(moved, (32 + k) / FPS)[0, 0] for k in range(8)])
    assert np.all(outs[:6] < 0.01)                                          # six rejections ...
    assert outs[6] == pytest.approx(0.5) and outs[7] == pytest.approx(0.5, abs=1e-3)  # ... then restart
    with pytest.raises(ConfigError, match="process_noise"):
        ConstantVelocityKalman(process_noise=0.0)


def test_bone_projector_imposes_lengths_in_one_step_close_to_the_iterative_solution(rng):
    m = walking_motion(60, FPS)
    true_len = bone_lengths(m.xyz_world[:1], BONES)[0]
    noisy = m.xyz_world + rng.normal(0, 0.003, m.xyz_world.shape)
    noisy[7, 4] = np.nan
    proj = BoneLengthProjector(BONES, 25)
    one = np.stack([proj(x, true_len, 1) for x in noisy])
    two = np.stack([proj(x, true_len, 2) for x in noisy])
    dev1 = np.abs(bone_lengths(one, BONES) - true_len)
    dev2 = np.abs(bone_lengths(two, BONES) - true_len)
    assert np.nanmax(dev1) < 1.5e-3 and np.nanmean(dev1) < 1e-4 and np.nanmax(dev2) < 1e-5
    assert np.isnan(one[7, 4]).all() and np.isfinite(one[7, 3]).all()
    ref = stabilize_bone_lengths(noisy, BONES, true_len, None, 100)         # Gauss-Seidel, converged
    assert np.nanmax(np.linalg.norm(two - ref, axis=-1)) < 1.5e-3  # same solution up to the linearization
    err_before = np.nanmean(np.linalg.norm(noisy - m.xyz_world, axis=-1))
    err_after = np.nanmean(np.linalg.norm(one - m.xyz_world, axis=-1))
    assert err_after < 0.85 * err_before
    unknown = true_len.copy()
    unknown[3] = np.nan                                                      # a bone left free
    free = bone_lengths(proj(noisy[0], unknown), BONES)
    others = np.arange(len(BONES)) != 3
    assert np.abs(free[others] - true_len[others]).max() < 1.5e-3
    assert abs(free[3] - bone_lengths(noisy[0], BONES)[3]) < 5e-3          # the free bone only follows its ends
    with pytest.raises(ValueError, match="tree"):
        BoneLengthProjector(np.array([[0, 1], [2, 1]]), 3)


def test_incremental_bone_lengths_are_robust_and_move_slowly(rng):
    m = walking_motion(600, FPS)
    true_len = bone_lengths(m.xyz_world[:1], BONES)[0]
    noisy = m.xyz_world + rng.normal(0, 0.002, m.xyz_world.shape)
    bad = rng.random(600) < 0.1
    noisy[bad, 4] += 0.3                                                    # 10% of frames: a wrist 30 cm off
    est = IncrementalBoneLengths(BONES, min_frames=30, step_m=3e-5)
    history = []
    for x in noisy:
        est.add(x)
        history.append(est.lengths.copy())
    history = np.array(history)
    assert np.isnan(history[:28]).all() and np.isfinite(history[29]).all()
    assert np.abs(np.diff(history[30:], axis=0)).max() <= 3e-5 + 1e-12
    assert np.abs(est.lengths - true_len).max() < 0.004


def test_live_method_setting():
    assert FilterConfig().live_method == "kalman"
    cfg = config_from_dict({"filter": {"causal": True, "live_method": "one_euro"}})
    f = CausalPoseFilter(cfg.filter, BONES)
    assert len(f.stages) == 2
    with pytest.raises(ConfigError, match="live_method"):
        FilterConfig(live_method="ukf").validate()
    with pytest.raises(ConfigError, match="kalman_process_noise"):
        FilterConfig(kalman_process_noise=-1.0).validate()


def _latency_frames(xyz, truth, max_lag=3.0, step=0.1):
    """Time shift (frames) that best aligns xyz(t) with truth(t - lag), linear interpolation."""
    T = truth.shape[0]
    best, best_err = 0.0, np.inf
    for lag in np.arange(0.0, max_lag + 1e-9, step):
        k, f = int(np.floor(lag)), lag - np.floor(lag)
        shifted = np.full_like(truth, np.nan)
        shifted[k + 1:] = (1 - f) * truth[1:T - k] + f * truth[:T - k - 1]
        err = np.nanmean(np.linalg.norm(xyz - shifted, axis=-1))
        if err < best_err:
            best, best_err = lag, err
    return best


@pytest.fixture(scope="module")
def live_run(rig4):
    """12 s at 60 fps, subject + 2 bystanders, 2 px noise, 10% missing, 5% outliers, 2% swaps."""
    scene = make_scene(rig4, 720, FPS, 2, ErrorModel(), (), seed=5)
    raw = Reconstructor(rig4, BODY_25, TriangulationConfig(), TrackingConfig(),
                        FilterConfig(enabled=False)).process_sequence(scene.keypoints2d, scene.times_s, FPS)
    live = Reconstructor(rig4, BODY_25, TriangulationConfig(), TrackingConfig(),
                         FilterConfig(causal=True)).process_sequence(scene.keypoints2d, scene.times_s, FPS)
    return scene, raw.xyz_world, live.xyz_world


def test_live_chain_meets_the_accuracy_jitter_bone_and_latency_targets(live_run):
    scene, raw, live = live_run
    truth = scene.xyz_world[0]
    e_raw = np.nanmean(np.linalg.norm(raw - truth, axis=-1))
    e_live = np.nanmean(np.linalg.norm(live - truth, axis=-1))
    assert e_live < 0.8 * e_raw                                             # at least 20% more accurate
    assert jitter(live, FPS) < jitter(raw, FPS) / 5                         # at least 5x less jitter
    L = bone_lengths(live, BONES)
    cv = np.nanmean(np.nanstd(L, 0) / np.nanmean(L, 0))
    assert cv < 0.01                                                        # bone-length CV under 1%
    assert _latency_frames(live, truth) <= 1.0
    assert np.isfinite(live).all(-1).mean() > 0.9


def test_kalman_glides_back_after_a_restart_instead_of_jumping():
    kf = ConstantVelocityKalman(max_rejects=6, catchup_mps=6.0)
    pose = np.zeros((1, 3))
    for k in range(30):
        kf(pose, k / FPS)
    moved = pose.copy()
    moved[0, 0] = 0.5                                                      # really moves 0.5 m and stays
    outs = np.array([kf(moved, (30 + k) / FPS)[0, 0] for k in range(20)])
    speed = np.abs(np.diff(np.concatenate([[0.0], outs]))) * FPS
    assert speed.max() <= 6.0 + 1e-9                                       # never faster than the glide
    reached = np.flatnonzero(np.isclose(outs, 0.5, atol=1e-3))
    assert reached.size and reached[0] <= 6 + 5 + 1                        # 6 rejections, then 0.5 m at 0.1 m/frame
    assert outs[-1] == pytest.approx(0.5, abs=1e-3)
