"""MediaPipe backend on real photos shipped with scikit-image, against positions labelled by eye.

Labels: pixel coordinates read off magnified crops of the images with a 10 px grid (OpenCV convention,
(0, 0) = centre of the top-left pixel). Tolerances are stated per joint: tight where the point is sharp
(pupils, mouth corners: a few px), looser where the anatomical point is hidden (shoulders in a bulky
space suit, an ear seen in profile).
"""
import logging

import numpy as np
import pytest

skimage_data = pytest.importorskip("skimage.data")
pytest.importorskip("mediapipe")

from capture3d.detect import create_detector  # noqa: E402
from capture3d.errors import DetectorError  # noqa: E402
from capture3d.body.keypoint_sets import BODY_25, FACE_70  # noqa: E402

#: the path the labels' tolerances were set on: MediaPipe full on each whole image (the default, top-down
#: heavy on every person, is tested on real multi-person video in test_people_2d.py and bench_2d.py)
WHOLE = {"model_complexity": 1, "person_detector": None}

# astronaut(): 512 x 512, Eileen Collins, frontal. (x px, y px, tolerance px)
ASTRONAUT_BODY = {"Nose": (224, 127, 8), "REye": (204, 101, 10), "LEye": (244, 102, 14),
                  "RShoulder": (95, 260, 45), "LShoulder": (345, 260, 45)}
ASTRONAUT_FACE = {"RPupil": (204, 101, 4), "LPupil": (244, 102, 4), "LipsOuter0": (203, 139, 4),
                  "LipsOuter6": (244, 140, 4), "NoseBridge3": (224, 127, 5)}
# camera(): 512 x 512 grayscale, the cameraman in right profile (his right side faces us).
CAMERAMAN_BODY = {"Nose": (252, 167, 10), "REye": (234, 145, 10), "REar": (188, 141, 20)}


def _bgr(img):
    return np.ascontiguousarray(img[:, :, ::-1]) if img.ndim == 3 else img


def _errors(kp, labels, kps):
    out = {}
    for name, (x, y, tol) in labels.items():
        j = kps.index(name)
        assert kp[j, 2] > 0.5, f"{name} score {kp[j, 2]}"
        out[name] = (float(np.hypot(kp[j, 0] - x, kp[j, 1] - y)), tol)
    return out


def test_pose_on_labelled_photos_image_mode():
    imgs = [_bgr(skimage_data.astronaut()), skimage_data.camera()]  # colour and grayscale
    with create_detector("mediapipe", mode="image", **WHOLE) as det:
        res = det.detect(imgs)
    assert res.pose.shape == (2, 1, 25, 3)
    assert res.hand_left is None and res.face is None
    for v, labels in ((0, ASTRONAUT_BODY), (1, CAMERAMAN_BODY)):
        for name, (err, tol) in _errors(res.pose[v, 0], labels, BODY_25).items():
            assert err <= tol, f"view {v} {name}: {err:.1f} px > {tol} px"
    # MediaPipe supplies no small toes: missing, never invented
    for name in ("LSmallToe", "RSmallToe"):
        j = BODY_25.index(name)
        assert np.isnan(res.pose[:, 0, j, :2]).all() and (res.pose[:, 0, j, 2] == 0).all()
    assert {"preprocess", "inference", "postprocess", "total"} <= set(res.timings_s)


def test_holistic_face_and_hands_on_astronaut():
    img = _bgr(skimage_data.astronaut())
    with create_detector("mediapipe", mode="image", hands=True, face=True, **WHOLE) as det:
        res = det.detect([img])
    assert res.face.shape == (1, 1, 70, 3) and res.hand_left.shape == res.hand_right.shape == (1, 1, 21, 3)
    for name, (err, tol) in _errors(res.face[0, 0], ASTRONAUT_FACE, FACE_70).items():
        assert err <= tol, f"{name}: {err:.1f} px > {tol} px"
    # the face contour is a plausible face: jaw spans the face width, chin below the mouth
    face = res.face[0, 0]
    assert 70 < face[16, 0] - face[0, 0] < 130
    assert face[8, 1] > face[57, 1] > face[51, 1] > face[30, 1] > face[27, 1]
    # her hands are (almost) out of the frame: whatever is missing is NaN with score 0
    for hand in (res.hand_left[0, 0], res.hand_right[0, 0]):
        miss = hand[:, 2] == 0
        assert np.isnan(hand[miss, :2]).all() and np.isfinite(hand[~miss, :2]).all()
    whole = res.wholebody()
    assert whole.shape == (1, 1, 135, 3)


def test_video_mode_one_tracker_per_view_with_offsets():
    """4 views = the astronaut pasted at 4 places of a 640 x 480 canvas, over 5 frames (tracking mode on the
    whole views: no person detector)."""
    src = _bgr(skimage_data.astronaut())[:400, 40:440]  # 400 x 400 crop, nose at (184, 127)
    offsets = [(0, 0), (240, 80), (100, 40), (200, 0)]
    views = []
    for dx, dy in offsets:
        canvas = np.full((480, 640, 3), 127, np.uint8)
        canvas[dy:dy + 400, dx:dx + 400] = src
        views.append(canvas)
    nose = BODY_25.index("Nose")
    with create_detector("mediapipe", **WHOLE) as det:
        for t in range(5):
            res = det.detect(views)
            for v, (dx, dy) in enumerate(offsets):
                x, y, s = res.pose[v, 0, nose]
                assert s > 0.5
                # 10 px: the nose tolerance of the photo labels (8 px) + 2 px for the tracker's crop
                assert np.hypot(x - (184 + dx), y - (127 + dy)) < 10, (t, v, x, y)
        assert len(det._solutions) == 4


def test_bad_views_are_missing_with_a_warning(caplog):
    good = _bgr(skimage_data.astronaut())
    bad = [None, np.zeros((0, 0, 3), np.uint8), good.astype(np.float32), np.zeros((5, 5, 5, 5), np.uint8), "img"]
    with caplog.at_level(logging.WARNING), create_detector("mediapipe", mode="image", **WHOLE) as det:
        res = det.detect([good] + bad)
    assert res.pose.shape == (6, 1, 25, 3)
    assert (res.pose[0, 0, :, 2] > 0).sum() >= 10  # head, shoulders, arms, hips (legs are out of the frame)
    assert np.isnan(res.pose[1:, :, :, :2]).all() and (res.pose[1:, :, :, 2] == 0).all()
    assert len([r for r in caplog.records if "missing" in r.getMessage()]) == 5
    assert res.image_size_wh.tolist() == [[512, 512]] + [[0, 0]] * 5


def test_a_view_without_images_warns_once_and_is_counted(caplog):
    """A camera that keeps sending nothing: one warning, the rest counted (live runs on real video)."""
    good = _bgr(skimage_data.astronaut())
    with caplog.at_level(logging.WARNING), create_detector("mediapipe", mode="image", **WHOLE) as det:
        for _ in range(6):
            det.detect([good, None])
        assert det.unusable_views.count == 6 and det.unusable_views.per_view == {1: 6}
    shown = [r for r in caplog.records if "view 1" in r.getMessage()]
    assert len(shown) == 1 and "counted, not logged" in shown[0].getMessage()


def test_not_a_person_gives_missing_and_a_corrupt_heavy_model_is_refused(tmp_path, monkeypatch):
    with create_detector("mediapipe", mode="image", **WHOLE) as det:
        res = det.detect([np.zeros((480, 640, 3), np.uint8)])
    assert np.isnan(res.pose[..., :2]).all() and (res.pose[..., 2] == 0).all()
    from capture3d.detect import model_install
    (tmp_path / "pose_landmark_heavy.tflite").write_bytes(b"truncated")
    monkeypatch.setattr(model_install, "mediapipe_models_dir", lambda: tmp_path)
    with pytest.raises(DetectorError, match="model_complexity=2: .*pose_landmark_heavy.tflite: checksum mismatch.*"
                                            "capture3d models install mediapipe-pose-heavy"):
        create_detector("mediapipe", model_complexity=2)
    monkeypatch.undo()
    with pytest.raises(DetectorError, match="'video' or 'image'"):
        create_detector("mediapipe", mode="live")
