"""Detection on crops around the subject (capture3d.detect.crop, capture3d.runtime.view_crops): the crop
geometry in numbers, keypoints mapped back to full-image pixels exactly, the fallback to the whole frame."""
from __future__ import annotations

import numpy as np
import pytest

from capture3d.detect.base import Detections, missing_keypoints
from capture3d.detect.crop import (CropTransform, box_of_points, full_transform, keypoints_to_full, output_size,
                                   transform_for_box, warp_crop)
from capture3d.runtime.view_crops import ViewCropper


def test_transform_maps_crop_pixels_to_full_pixels_and_back():
    tf = CropTransform(x0=100.25, y0=-40.0, scale=0.5, size_wh=(288, 512))
    full = tf.to_full(np.array([[0.0, 0.0], [10.0, 20.0], [287.0, 511.0]]))
    np.testing.assert_allclose(full, [[100.25, -40.0], [120.25, 0.0], [674.25, 982.0]], atol=1e-12)
    np.testing.assert_allclose(tf.to_crop(full), [[0, 0], [10, 20], [287, 511]], atol=1e-12)
    np.testing.assert_allclose(tf.matrix(), [[0.5, 0, -50.125], [0, 0.5, 20.0]])


def test_box_is_grown_by_the_margin_and_kept_to_a_least_size():
    xy = np.array([[500.0, 400.0], [700.0, 1400.0], [np.nan, np.nan]])
    # larger side 1000 px, margin 0.25 -> 250 px on every side
    assert box_of_points(xy, (1088, 1920), 0.25) == pytest.approx((250.0, 150.0, 950.0, 1650.0))
    # a tiny subject: at least 0.25 x 1920 = 480 px each way, centred on it
    assert box_of_points(np.array([[600.0, 800.0], [610.0, 820.0]]), (1088, 1920), 0.0) == \
        pytest.approx((365.0, 570.0, 845.0, 1050.0))
    assert box_of_points(np.array([[5000.0, 5000.0], [5100.0, 5200.0]]), (1088, 1920), 0.25) is None  # off image
    # a subject reaching out of the image: the box stops at the image's edges
    assert box_of_points(np.array([[-300.0, 100.0], [900.0, 2500.0]]), (1088, 1920), 0.1) == \
        pytest.approx((-0.5, -0.5, 1087.5, 1919.5))
    assert box_of_points(np.array([[1.0, 2.0], [np.nan, 3.0]]), (1088, 1920), 0.25) is None  # one point


def test_crop_of_a_box_holds_it_centred_at_one_scale():
    assert output_size((1088, 1920), 512) == (290, 512)
    assert output_size((1920, 1080), 512) == (512, 288)
    assert output_size((320, 240), 512) == (320, 240)  # never upscaled
    tf = transform_for_box((250.0, 150.0, 950.0, 1650.0), (290, 512))
    assert tf.scale == pytest.approx(512 / 1500)  # the box's height fills the crop
    centre = tf.to_full(np.array([(290 - 1) / 2, (512 - 1) / 2]))
    np.testing.assert_allclose(centre, [600.0, 900.0], atol=1e-9)
    full = full_transform((1088, 1920), (290, 512))
    corners = full.to_crop(np.array([[-0.5, -0.5], [1087.5, 1919.5]]))
    # the width fills the crop exactly (image edge on crop pixel edge), the height fits inside it
    np.testing.assert_allclose(corners[:, 0], [-0.5, 289.5], atol=1e-9)
    assert -0.5 <= corners[0, 1] < 0 and 511 < corners[1, 1] <= 511.5


def _blob(size_wh, centre_xy, sigma=3.0):
    w, h = size_wh
    yy, xx = np.mgrid[0:h, 0:w]
    g = np.exp(-((xx - centre_xy[0]) ** 2 + (yy - centre_xy[1]) ** 2) / (2 * sigma ** 2))
    return np.repeat((255 * g).astype(np.uint8)[:, :, None], 3, axis=2)


def _centroid(img):
    g = img[:, :, 0].astype(float)
    yy, xx = np.mgrid[0:g.shape[0], 0:g.shape[1]]
    return np.array([(g * xx).sum() / g.sum(), (g * yy).sum() / g.sum()])


def test_warped_crop_puts_an_image_point_where_the_transform_says():
    """A blob drawn at a known full-image position, found in the crop, maps back within 0.05 px."""
    full_xy = np.array([612.3, 1005.7])
    img = _blob((1088, 1920), full_xy, sigma=6.0)
    for tf in (transform_for_box((400.0, 700.0, 900.0, 1500.0), (290, 512)),  # scale 0.64
               CropTransform(550.0, 950.0, 1.0, (128, 128)),  # a plain cut, scale 1
               full_transform((1088, 1920), (290, 512))):  # the whole frame, scale 0.267
        crop = warp_crop(img, tf)
        assert crop.shape == (tf.size_wh[1], tf.size_wh[0], 3)
        found = tf.to_full(_centroid(crop))
        np.testing.assert_allclose(found, full_xy, atol=0.05)
        np.testing.assert_allclose(_centroid(crop), tf.to_crop(full_xy), atol=0.05 * tf.scale + 0.02)


def test_keypoints_map_back_exactly_and_border_joints_become_missing():
    tf = CropTransform(x0=-20.0, y0=300.0, scale=0.25, size_wh=(290, 512))
    kp = np.array([[[10.0, 40.0, 0.9], [100.0, 0.0, 0.8], [2.0, 10.0, 0.7], [np.nan, np.nan, 0.0]]])
    out = keypoints_to_full(kp, tf, (1088, 1920))
    np.testing.assert_allclose(out[0, 0], [20.0, 460.0, 0.9])
    np.testing.assert_allclose(out[0, 1], [380.0, 300.0, 0.8])
    assert np.isnan(out[0, 2, :2]).all() and out[0, 2, 2] == 0.0  # x = -12 px: in the grey border
    assert np.isnan(out[0, 3, :2]).all()
    assert kp[0, 0, 0] == 10.0  # the input is not changed


class _CropEcho:
    """A detector that 'finds' the blob centres of a crop: the true full-image joints mapped into the crop
    it is given (so the cropper's mapping back must return them exactly)."""

    accepts_crops = True

    def __init__(self, cropper, truth_px):
        self.cropper, self.truth_px, self.sizes = cropper, truth_px, []

    def detect(self, images, frame_index=None):
        pose = missing_keypoints(len(images), 1, self.truth_px.shape[1])
        for v, (im, tf) in enumerate(zip(images, self.cropper.last_planned)):
            self.sizes.append(im.shape[:2])
            xy = tf.to_crop(self.truth_px[v])
            inside = (xy >= 0).all(axis=1) & (xy[:, 0] <= im.shape[1] - 1) & (xy[:, 1] <= im.shape[0] - 1)
            pose[v, 0, inside, :2] = xy[inside]
            pose[v, 0, inside, 2] = 0.9
        return Detections(pose=pose)


def test_cropper_follows_the_prediction_and_maps_detections_back(rig4, walk):
    V, size = len(rig4), rig4.cameras[0].size_wh
    cropper = ViewCropper(rig4, margin=0.25, long_side_px=512)
    images = [np.full((size[1], size[0], 3), 90, np.uint8) for _ in range(V)]
    xyz = walk.xyz_world  # (T, J, 3)
    truth = rig4.project(xyz)  # (V, T, J, 2)
    det = _CropEcho(cropper, truth[:, 0])
    out = cropper.detect(det, images, 0, 0.0)  # no track yet: the whole frame
    assert cropper.counts.full == V and cropper.counts.cropped == 0
    np.testing.assert_allclose(out.pose[:, 0, :, :2], truth[:, 0], atol=1e-9)
    cropper.update(xyz[0], 0.0)
    cropper.update(xyz[1], 1 / 30)
    # constant-velocity prediction at frame 2
    np.testing.assert_allclose(cropper.predict(2 / 30), 2 * xyz[1] - xyz[0], atol=1e-12)
    det.truth_px = truth[:, 2]
    out = cropper.detect(det, images, 2, 2 / 30)
    assert cropper.counts.cropped == V
    assert all(tf.scale < 1.0 and tf != full_transform(size, tf.size_wh) for tf in cropper.last_planned)
    assert {s for s in det.sizes} == {(288, 512)}  # every crop one size
    np.testing.assert_allclose(out.pose[:, 0, :, :2], truth[:, 2], atol=1e-9)  # back in full-image px, exactly
    np.testing.assert_array_equal(out.image_size_wh, [size] * V)
    assert cropper.predict(2 / 30 + 1.5) is None  # track too old: the whole frame again


def test_a_crop_that_loses_the_person_falls_back_to_the_whole_frame(rig4, walk):
    V, size = len(rig4), rig4.cameras[0].size_wh
    cropper = ViewCropper(rig4, min_joints=8)
    images = [np.zeros((size[1], size[0], 3), np.uint8) for _ in range(V)]
    cropper.update(walk.xyz_world[0], 0.0)
    truth = rig4.project(walk.xyz_world[0]).copy()
    truth[1] = np.nan  # view 1: the crop shows nobody
    det = _CropEcho(cropper, truth)
    cropper.detect(det, images, 1, 0.01)
    assert cropper.counts.cropped == V and cropper.counts.lost == 1
    cropper.detect(det, images, 2, 0.02)  # next set: view 1 on the whole frame, the others on crops
    tfs = cropper.last_planned
    assert tfs[1] == full_transform(size, tfs[1].size_wh)
    assert all(tfs[v] != full_transform(size, tfs[v].size_wh) for v in (0, 2, 3))
    assert cropper.counts.full == 1 and cropper.counts.lost == 1  # a whole-frame miss is not a lost crop
