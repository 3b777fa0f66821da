"""Keyframe detection + Lucas-Kanade tracking between keyframes (capture3d.detect.keyframes): which views the
CNN sees on which sets, how far tracked points are from the truth, what the checks drop and re-detect."""
import cv2
import numpy as np
import pytest

from capture3d.detect.base import Detections, Detector, missing_keypoints
from capture3d.config import config_from_dict, detect_every_value
from capture3d.detect.keyframes import AutoInterval, KeyframeDetector
from capture3d.errors import ConfigError

W, H = 960, 540


def _texture(seed: int, w: int = W + 200, h: int = H + 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (h, w)).astype(np.float32)
    tex = cv2.GaussianBlur(noise, (0, 0), 3.0)
    tex = cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX)
    return cv2.cvtColor(tex.astype(np.uint8), cv2.COLOR_GRAY2BGR)


def _shift(k: int, v: int) -> np.ndarray:
    """The scene's translation in view v at set k, px (sub-pixel)."""
    return np.array([1.7 * k + 0.3 * v, -1.1 * k + 0.2 * v])


def _view(tex: np.ndarray, shift) -> np.ndarray:
    m = np.float32([[1, 0, shift[0] - 100], [0, 1, shift[1] - 100]])
    return cv2.warpAffine(tex, m, (W, H), flags=cv2.INTER_LINEAR)


class TruthDetector(Detector):
    """Returns the true keypoints of the frame given (test double): P people of J joints plus a 21-joint
    left hand, moving with the scene; records which views each call saw."""

    name = "truth"
    accepts_crops = True

    def __init__(self, base_xy: np.ndarray, hand_xy: np.ndarray) -> None:
        self.base_xy, self.hand_xy = base_xy, hand_xy  # (P, J, 2), (P, 21, 2)
        self.calls: list[tuple[int, list[int]]] = []
        self.frame = 0

    def truth(self, v: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        s = _shift(k, v)
        return self.base_xy + s, self.hand_xy + s

    def detect_views(self, images, views, frame_index=None) -> Detections:
        self.calls.append((frame_index, list(views)))
        P, J = self.base_xy.shape[:2]
        pose, hand = missing_keypoints(len(views), P, J), missing_keypoints(len(views), P, 21)
        for i, v in enumerate(views):
            body, lh = self.truth(v, frame_index)
            pose[i, :, :, :2], pose[i, :, :, 2] = body, 0.9
            hand[i, :, :, :2], hand[i, :, :, 2] = lh, 0.8
        return Detections(pose=pose, hand_left=hand)

    def detect(self, images, frame_index=None) -> Detections:
        return self.detect_views(images, range(len(images)), frame_index)


def _scene(seed: int = 3, n_people: int = 2, n_joints: int = 25):
    rng = np.random.default_rng(seed)
    base = rng.uniform([150, 120], [W - 150, H - 120], (n_people, n_joints, 2))
    hand = rng.uniform([150, 120], [W - 150, H - 120], (n_people, 21, 2))
    return TruthDetector(base, hand)


def test_views_are_detected_on_their_staggered_keyframes_and_tracked_to_a_tenth_of_a_pixel():
    V, N, sets = 4, 4, 12
    inner = _scene()
    texs = [_texture(10 + v) for v in range(V)]
    kf = KeyframeDetector(inner, N, track_long_side_px=960)
    errs = []
    for k in range(sets):
        det = kf.detect([_view(texs[v], _shift(k, v)) for v in range(V)], frame_index=k)
        assert det.pose.shape == (V, 2, 25, 3) and det.hand_left.shape == (V, 2, 21, 3)
        for v in range(V):
            body, lh = inner.truth(v, k)
            errs.append(np.linalg.norm(det.pose[v, :, :, :2] - body, axis=-1).ravel())
            errs.append(np.linalg.norm(det.hand_left[v, :, :, :2] - lh, axis=-1).ravel())
        assert np.all(det.pose[..., 2] == 0.9)  # scores kept from the keyframe
    # set 0 detects every view; then view v every 4 sets, v sets after view 0 (one view per set)
    assert inner.calls[0] == (0, [0, 1, 2, 3])
    assert [c for c in inner.calls[1:]] == [(k, [k % 4]) for k in range(4, 12)] or \
        sorted(v for _, vs in inner.calls[1:] for v in vs) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert all(len(vs) == 1 for _, vs in inner.calls[1:])
    assert kf.counts.detected == [3, 3, 3, 3] and kf.counts.tracked == [9, 9, 9, 9]
    assert kf.counts.redetected == [0, 0, 0, 0] and kf.counts.dropped_fb == 0
    err = np.concatenate(errs)
    assert np.isfinite(err).all()
    assert np.median(err) < 0.1 and err.max() < 0.5, (np.median(err), err.max())


def test_tracking_on_a_half_size_pyramid_stays_within_half_a_pixel():
    inner = _scene(n_people=1)
    tex = _texture(5)
    kf = KeyframeDetector(inner, 10, track_long_side_px=480)
    for k in range(8):
        det = kf.detect([_view(tex, _shift(k, 0))], frame_index=k)
    body, _ = inner.truth(0, 7)
    err = np.linalg.norm(det.pose[0, 0, :, :2] - body, axis=-1)
    assert np.median(err) < 0.3 and err.max() < 1.0, err
    assert len(inner.calls) == 1


def test_points_whose_patch_changes_fail_the_forward_backward_check_and_stay_missing():
    inner = _scene(n_people=1)
    tex = _texture(7)
    other = cv2.convertScaleAbs(_texture(8), alpha=0.6, beta=90)  # an occluder: other texture, other brightness
    kf = KeyframeDetector(inner, 20, track_long_side_px=960, max_lost_fraction=0.9)
    kf.detect([_view(tex, _shift(0, 0))], frame_index=0)
    img = _view(tex, _shift(1, 0))
    img[:, : W // 3] = _view(other, _shift(1, 0))[:, : W // 3]  # the left third now shows something else
    det = kf.detect([img], frame_index=1)
    body, _ = inner.truth(0, 1)
    left = body[0, :, 0] < W // 3 - 25
    right = body[0, :, 0] > W // 3 + 100  # beyond the coarse pyramid levels' window
    assert left.sum() >= 3 and right.sum() >= 3
    assert not np.isfinite(det.pose[0, 0, left, 0]).any()  # dropped, missing with score 0
    assert np.all(det.pose[0, 0, left, 2] == 0)
    assert np.linalg.norm(det.pose[0, 0, right, :2] - body[0, right], axis=-1).max() < 0.2
    assert kf.counts.dropped_fb >= left.sum()
    det = kf.detect([_view(tex, _shift(2, 0))], frame_index=2)  # dropped points come back only on a keyframe
    assert not np.isfinite(det.pose[0, 0, left, 0]).any()
    assert len(inner.calls) == 1


def test_a_view_that_loses_too_many_points_is_redetected_in_the_same_set():
    inner = _scene(n_people=1)
    texs = [_texture(20), _texture(21)]
    kf = KeyframeDetector(inner, 50, track_long_side_px=960)
    kf.detect([_view(t, _shift(0, v)) for v, t in enumerate(texs)], frame_index=0)
    cut = _view(_texture(99), _shift(1, 1))  # view 1 now films another scene: every point fails
    det = kf.detect([_view(texs[0], _shift(1, 0)), cut], frame_index=1)
    assert inner.calls[-1] == (1, [1])
    body, _ = inner.truth(1, 1)
    assert np.allclose(det.pose[1, 0, :, :2], body)  # the re-detection's keypoints, not the lost tracks
    assert kf.counts.redetected == [0, 1] and kf.counts.detected == [1, 2] and kf.counts.tracked == [1, 0]


def test_check_drift_drops_tracked_points_far_from_the_reprojection():
    inner = _scene(n_people=2)
    tex = _texture(30)
    kf = KeyframeDetector(inner, 10, track_long_side_px=960, drift_max_px=20.0)
    kf.detect([_view(tex, _shift(0, 0))], frame_index=0)
    det = kf.detect([_view(tex, _shift(1, 0))], frame_index=1)
    expected = det.pose[:, 1, :, :2].copy()  # the 3D pose uses person 1
    expected[0, :5] += 50.0  # 5 joints drifted 50 px away
    assert kf.check_drift(expected, np.array([1])) == 5
    det = kf.detect([_view(tex, _shift(2, 0))], frame_index=2)
    assert np.isfinite(det.pose[0, 1, :, 0]).sum() == 20 and np.isfinite(det.pose[0, 0, :, 0]).sum() == 25
    assert kf.counts.dropped_drift == 5


def test_auto_interval_from_the_cpu_budget_and_the_subject_speed():
    auto = AutoInterval(fps=60.0, budget_share=0.5, shift_px=40.0, max_every=30)
    assert auto.every(4) == 1  # nothing measured yet: detect
    auto.observe(detect_ms=4 * 20.0, n_detected=4, track_ms=2.0, speed_px=None)
    assert auto.every(4) == 30  # speed unknown: as a still subject, max_every
    auto.observe(detect_ms=4 * 20.0, n_detected=4, track_ms=2.0, speed_px=4.0)
    # the subject moves 40 px in 10 sets, but 4 views x 20 ms / (8.33 ms - 2 ms) = 12.6 -> 13 sets is the
    # fewest the CPU allows
    assert auto.every(4) == 13
    fast = AutoInterval(fps=60.0)
    fast.observe(detect_ms=1.0, n_detected=4, track_ms=0.5, speed_px=10.0)
    assert fast.every(4) == 4  # CPU allows every set; a subject moving 10 px/set: 40 px in 4 sets
    slow = AutoInterval(fps=60.0)
    slow.observe(detect_ms=1.0, n_detected=4, track_ms=0.5, speed_px=0.5)
    assert slow.every(4) == 30  # capped at max_every


def test_auto_mode_detects_less_often_as_the_detector_gets_slower():
    inner = _scene(n_people=1)
    tex = _texture(40)
    auto = AutoInterval(fps=60.0)
    kf = KeyframeDetector(inner, "auto", track_long_side_px=480, auto=auto)
    kf.detect([_view(tex, _shift(0, 0))], frame_index=0)
    auto.detect_ms_per_view = 30.0  # as measured on a slow CPU
    assert kf.every >= 8


@pytest.mark.parametrize("value, found", [(0, "found 0"), (-3, "found -3"), ("fast", "found 'fast'"),
                                          (2.5, "found 2.5"), (True, "found True")])
def test_detect_every_must_be_auto_or_a_positive_whole_number(value, found):
    with pytest.raises(ConfigError, match="detect_every must be \"auto\" or a whole number") as exc:
        detect_every_value(value)
    assert found in str(exc.value)
    with pytest.raises(ConfigError, match="detect_every"):
        KeyframeDetector(_scene(), value)


@pytest.mark.parametrize("value, found", [(0, "found 0"), (-2, "found -2"), ("often", "found 'often'")])
def test_config_detect_every_errors_name_the_key(value, found):
    with pytest.raises(ConfigError, match="pipeline.detect_every must be") as exc:
        config_from_dict({"pipeline": {"detect_every": value}})
    assert found in str(exc.value)
    with pytest.raises(ConfigError, match="pipeline.keyframes must be live, always or off, found 'sometimes'"):
        config_from_dict({"pipeline": {"keyframes": "sometimes"}})


def test_detect_every_accepts_auto_and_numbers():
    assert detect_every_value("auto") == "auto" and detect_every_value(5) == 5 and detect_every_value("5") == 5
    cfg = config_from_dict({"pipeline": {"detect_every": 8}})
    assert cfg.pipeline.detect_every == 8 and cfg.pipeline.keyframes == "live"
    assert config_from_dict({}).pipeline.detect_every == "auto"
