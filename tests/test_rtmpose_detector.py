"""The rtmpose backend on generated ONNX models whose outputs are known exactly: letterbox of the person
detector, affine crop per box, mean/std and channel order, SimCC decoding, back-projection to image pixels,
batching of views and people, RTMO, model cards (checksum, missing file)."""
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from capture3d.body.keypoint_sets import BODY_25, get_keypoint_set  # noqa: E402
from capture3d.detect import create_detector, detector_names  # noqa: E402
from capture3d.detect import topdown  # noqa: E402
from capture3d.detect.model_card import load_card  # noqa: E402
from capture3d.detect.onnx_session import pick_providers  # noqa: E402
from capture3d.errors import DetectorError  # noqa: E402
from capture3d.testing import onnx_models as om  # noqa: E402

HW = (256, 192)
DET_HW = (640, 640)
ROOT = Path(__file__).resolve().parents[1]


def _person_model(root, dets, labels=None, batch=None, name="det"):
    om.constant_person_model(root / name / "d.onnx", np.asarray(dets, np.float32), labels, DET_HW, batch)
    om.write_card(root / name, "yolox", "d.onnx", input_size=DET_HW, mean=[0, 0, 0], std=[1, 1, 1], channel_order="BGR")
    return name


def _expected_from_bins(box_img, bins_xy):
    """Independent of the backend: box -> centre / padded aspect-fixed size -> image px of crop bins."""
    x1, y1, x2, y2 = box_img
    c = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    w, h = (x2 - x1) * 1.25, (y2 - y1) * 1.25
    w, h = (w, w * 256 / 192) if w > h * 192 / 256 else (h * 192 / 256, h)
    crop_xy = np.asarray(bins_xy, float) / 2.0
    return (crop_xy - [96, 128]) * (w / 192) + c


def test_simcc_decode_letterbox_boxes_and_batches(tmp_path):
    rng = np.random.default_rng(0)
    K = 17
    bins = np.stack([rng.integers(20, 360, K), rng.integers(20, 490, K)], 1)
    sx, sy = np.zeros((K, 384), np.float32), np.zeros((K, 512), np.float32)
    sx[np.arange(K), bins[:, 0]] = 0.8
    sy[np.arange(K), bins[:, 1]] = 0.9
    sx[16], sy[16] = 0.0, 0.0  # nothing: missing
    om.constant_simcc_model(tmp_path / "pose" / "m.onnx", sx, sy)
    om.write_card(tmp_path / "pose", "rtmpose", "m.onnx")
    dets = [[100.3, 40.7, 181.1, 300.2, 0.9],    # person A
            [102.0, 42.0, 180.0, 298.0, 0.6],    # duplicate of A (IoU > 0.45): dropped by NMS
            [400.0, 100.0, 470.5, 200.25, 0.95],  # person B (best score: first)
            [300.0, 300.0, 350.0, 400.0, 0.99],  # label 1 (not a person): dropped
            [10.0, 10.0, 60.0, 60.0, 0.3],       # below box_score: dropped
            [0.0, 0.0, 0.0, 0.0, 0.0]]           # padding row
    name = _person_model(tmp_path, dets, np.array([0, 0, 0, 1, 0, 0]))
    det = create_detector("rtmpose", model="pose", person_detector=name, models_dir=tmp_path)
    views = [np.zeros((480, 640, 3), np.uint8), np.zeros((720, 1280, 3), np.uint8)]  # r = 1 and r = 0.5
    res = det.detect(views)
    assert res.pose.shape == (2, 2, K, 3) and res.keypoint_set == "COCO_17"
    assert det.last_batches == {"person": 2, "pose": 4}  # both views in one batch; all crops in one batch
    for v, r in enumerate((1.0, 0.5)):
        for p, d in enumerate((dets[2], dets[0])):
            box = (np.asarray(d[:4]) + 0.5) / r - 0.5
            want = _expected_from_bins(box, bins)
            got = res.pose[v, p]
            h, w = views[v].shape[:2]
            inside = (want[:, 0] >= -0.5) & (want[:, 0] <= w - 0.5) & (want[:, 1] >= -0.5) & (want[:, 1] <= h - 0.5)
            ok = inside & (np.arange(K) != 16)
            assert ok.sum() >= 8
            assert np.abs(got[ok, :2] - want[ok]).max() < 1e-4  # px (float32 network outputs)
            np.testing.assert_allclose(got[ok, 2], 0.8, atol=1e-6)  # min(max x, max y)
            assert np.isnan(got[~ok, :2]).all() and (got[~ok, 2] == 0).all()
    assert {"preprocess", "inference", "postprocess", "total"} <= set(res.timings_s)


def _blob_image(hw, centers_xy, channel, sigma=2.0):
    h, w = hw
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    val = np.zeros((h, w))
    for cx, cy in centers_xy:
        val = np.maximum(val, np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma ** 2)))
    img[:, :, channel] = np.round(255 * val).astype(np.uint8)
    return img


@pytest.mark.parametrize("order,channel", [("RGB", 2), ("BGR", 0)])
def test_crop_and_normalisation_end_to_end(tmp_path, order, channel):
    """The pose model finds the brightest pixel of its input channel 0 in each crop: the blob of each person
    comes back at its image position (within 0.5 px), only through the right channel, scored by the
    normalised pixel value."""
    om.dot_simcc_model(tmp_path / "pose" / "m.onnx", 26)
    mean, std = [10.0, 20.0, 30.0], [40.0, 50.0, 60.0]
    om.write_card(tmp_path / "pose", "rtmpose", "m.onnx", keypoints="HALPE_26", mean=mean, std=std, channel_order=order)
    # boxes of at most 204 px height: crops magnify (>= 1 crop px per image px), so the argmax is within 0.5 px
    dets = [[50.0, 30.0, 150.0, 200.0, 0.9], [300.0, 40.0, 420.0, 230.0, 0.8]]
    name = _person_model(tmp_path, dets)
    det = create_detector("rtmpose", model="pose", person_detector=name, models_dir=tmp_path, min_score=0.0)
    truths = [[(97.3, 111.6), (351.8, 140.2)], [(88.5, 60.25), (401.1, 201.7)]]
    views = [_blob_image((480, 640), t, channel) for t in truths]
    res = det.detect(views)
    assert res.pose.shape == (2, 2, 26, 3) and res.keypoint_set == "HALPE_26"
    expected_score_max = (255 - mean[0]) / std[0]  # channel 0 of the network input: R for RGB, B for BGR
    for v in range(2):
        for p in range(2):
            err = np.abs(res.pose[v, p, :, :2] - np.asarray(truths[v][p])).max()
            assert err <= 0.5 + 1e-9, (v, p, err)
            assert expected_score_max * 0.9 < res.pose[v, p, 0, 2] <= expected_score_max + 1e-5
    wrong = _blob_image((480, 640), truths[0], 1)  # green only: not the network's channel 0
    assert (det.detect([wrong]).pose[..., 2] == 0).all()


def test_letterbox_maps_back_within_half_a_pixel():
    img = _blob_image((720, 1280), [(401.0, 301.0)], 1, sigma=4.0)
    canvas, ratio = topdown.letterbox(img, DET_HW, 114)
    assert ratio == (0.5, 0.5) and canvas.shape == (640, 640, 3)
    assert (canvas[360:] == 114).all() and canvas[:360, :, 1].max() > 100
    g = canvas[:360, :, 1].astype(float)
    ys, xs = np.mgrid[0:360, 0:640]
    peak_in = np.array([(g * xs).sum() / g.sum(), (g * ys).sum() / g.sum()])
    np.testing.assert_allclose(topdown.from_letterbox(peak_in, ratio), (401.0, 301.0), atol=0.5)


def test_fixed_batch_one_models_give_the_same_result(tmp_path):
    om.dot_simcc_model(tmp_path / "pose" / "m.onnx", 17)
    om.write_card(tmp_path / "pose", "rtmpose", "m.onnx")
    om.dot_simcc_model(tmp_path / "pose1" / "m.onnx", 17, batch=1)
    om.write_card(tmp_path / "pose1", "rtmpose", "m.onnx")
    dets = [[50.0, 30.0, 150.0, 200.0, 0.9], [300.0, 40.0, 420.0, 230.0, 0.8]]
    _person_model(tmp_path, dets)
    _person_model(tmp_path, dets, batch=1, name="det1")
    views = [_blob_image((480, 640), [(97.3, 111.6), (351.8, 140.2)], 2)] * 3
    a = create_detector("rtmpose", model="pose", person_detector="det", models_dir=tmp_path).detect(views)
    d1 = create_detector("rtmpose", model="pose1", person_detector="det1", models_dir=tmp_path)
    b = d1.detect(views)
    assert d1.pose_net.batch == 1 and d1.last_batches == {"person": 3, "pose": 6}
    np.testing.assert_array_equal(a.pose, b.pose)
    assert np.isfinite(a.pose[..., :2]).all()


def test_rtmo_one_stage_and_keypoint_sets(tmp_path):
    K = 26
    rng = np.random.default_rng(4)
    kp = np.concatenate([rng.uniform(50, 400, (3, K, 2)), np.full((3, K, 1), 0.9)], 2).astype(np.float32)
    dets = np.array([[40, 40, 420, 420, 0.8], [45, 42, 418, 421, 0.7], [100, 100, 200, 200, 0.1]], np.float32)
    om.constant_rtmo_model(tmp_path / "rtmo" / "m.onnx", dets, kp)
    om.write_card(tmp_path / "rtmo", "rtmo", "m.onnx", keypoints="HALPE_26", input_size=DET_HW, mean=[0, 0, 0],
                  std=[1, 1, 1], channel_order="BGR")
    det = create_detector("rtmpose", model="rtmo", models_dir=tmp_path)
    views = [np.zeros((480, 640, 3), np.uint8), np.zeros((1280, 1280), np.uint8)]  # grayscale works too
    res = det.detect(views)
    assert res.pose.shape == (2, 1, K, 3) and det.last_batches == {"pose": 2}  # NMS + score: one person
    for v, r in enumerate((1.0, 0.5)):
        np.testing.assert_allclose(res.pose[v, 0, :, :2], (kp[0, :, :2] + 0.5) / r - 0.5, atol=1e-4)
    body = res.keypoints_in(BODY_25)  # converted by name
    halpe = get_keypoint_set("HALPE_26")
    assert body.shape == (2, 1, 25, 3)
    nose = BODY_25.names.index("Nose")
    np.testing.assert_allclose(body[:, :, nose], res.pose[:, :, halpe.names.index("Nose")])


def test_wholebody_133_and_bad_views(tmp_path, caplog):
    K = 133
    sx, sy = np.zeros((K, 384), np.float32), np.zeros((K, 512), np.float32)
    sx[:, 192], sy[:, 256] = 0.7, 0.7  # every keypoint at the crop centre
    om.constant_simcc_model(tmp_path / "wb" / "m.onnx", sx, sy)
    om.write_card(tmp_path / "wb", "rtmpose", "m.onnx", keypoints="COCO_WHOLEBODY_133")
    det = create_detector("rtmpose", model="wb", person_detector=None, models_dir=tmp_path)  # whole image = box
    views = [np.zeros((100, 200, 3), np.uint8), None, np.zeros((100, 200, 3), np.float32)]
    for _ in range(3):
        res = det.detect(views)
    assert res.pose.shape == (3, 1, K, 3) and res.keypoint_set == "COCO_WHOLEBODY_133"
    np.testing.assert_allclose(res.pose[0, 0, :, :2], np.tile([99.5, 49.5], (K, 1)), atol=1e-9)  # image centre
    assert np.isnan(res.pose[1:, :, :, :2]).all() and (res.pose[1:, ..., 2] == 0).all()
    assert res.image_size_wh.tolist() == [[200, 100], [0, 0], [0, 0]]
    assert det.unusable_views.per_view == {1: 3, 2: 3}
    assert sum("keypoints of this view are missing" in r.getMessage() for r in caplog.records) == 2
    assert (res.keypoints_in(BODY_25)[0, 0, :, 2] > 0).sum() == 25  # BODY_25 built by name from the 133
    from capture3d.body.keypoint_sets import WHOLEBODY_135
    assert (res.keypoints_in(WHOLEBODY_135)[0, 0, :, 2] > 0).sum() == 133  # body, feet, hands, face by name


def test_cards_checksum_and_missing_files(tmp_path):
    om.constant_simcc_model(tmp_path / "pose" / "m.onnx", np.ones((17, 384), np.float32), np.ones((17, 512), np.float32))
    card = om.write_card(tmp_path / "pose", "rtmpose", "m.onnx")
    with pytest.raises(DetectorError, match=r"weights file not found: .*yolox-m.*end2end\.onnx; put the file there"):
        create_detector("rtmpose", model="pose", person_detector=str(ROOT / "models" / "yolox-m"), models_dir=tmp_path)
    text, sha = card.read_text(), load_card(tmp_path / "pose").sha256
    card.write_text(text.replace(sha, "0" * 64))
    with pytest.raises(DetectorError, match="checksum mismatch.*expected sha256 0000.*found [0-9a-f]{64}"):
        create_detector("rtmpose", model="pose", person_detector=None, models_dir=tmp_path)
    card.write_text(text.replace(sha, ""))
    with pytest.raises(DetectorError, match=r'no sha256 for m\.onnx; check the file .* set sha256 = "[0-9a-f]{64}"'):
        create_detector("rtmpose", model="pose", person_detector=None, models_dir=tmp_path)
    card.write_text(text.replace("simcc_split_ratio = 2.0\n", ""))
    with pytest.raises(DetectorError, match="missing key 'simcc_split_ratio'"):
        create_detector("rtmpose", model="pose", person_detector=None, models_dir=tmp_path)
    card.write_text(text.replace('keypoints = "COCO_17"', 'keypoints = "COCO_99"'))
    with pytest.raises(DetectorError, match="unknown keypoint set 'COCO_99'"):
        create_detector("rtmpose", model="pose", person_detector=None, models_dir=tmp_path)
    card.write_text(text.replace("input_size = [256, 192]", "input_size = [384, 288]"))
    with pytest.raises(DetectorError, match="input height is 256 in m.onnx, but the card says 384"):
        create_detector("rtmpose", model="pose", person_detector=None, models_dir=tmp_path)
    card.write_text(text)
    with pytest.raises(DetectorError, match="is a rtmpose network; expected one of: yolox, rtmdet"):
        create_detector("rtmpose", model="pose", person_detector="pose", models_dir=tmp_path)
    with pytest.raises(DetectorError, match="ONNX rtmpose network, not an OpenPose one"):
        create_detector("openpose", model="pose", models_dir=tmp_path)
    (tmp_path / "pose" / "m.onnx").write_bytes(b"not onnx")
    card.write_text(text.replace(sha, om.sha256_of(tmp_path / "pose" / "m.onnx")))
    with pytest.raises(DetectorError, match="is not a loadable ONNX model"):
        create_detector("rtmpose", model="pose", person_detector=None, models_dir=tmp_path)


def test_shipped_cards_and_providers(monkeypatch, tmp_path):
    for name, kps in (("rtmpose-m", "COCO_17"), ("rtmpose-m-halpe26", "HALPE_26"), ("rtmw-x-256", "COCO_WHOLEBODY_133"),
                      ("rtmo-m", "COCO_17")):
        card = load_card(ROOT / "models" / name)
        assert card.keypoints == kps and card.is_onnx and card.source.startswith("https://")
    assert load_card(ROOT / "models" / "yolox-m").pad_value == 114
    if not (ROOT / "models" / "rtmpose-m" / "end2end.onnx").exists():
        with pytest.raises(DetectorError, match=r"models/rtmpose-m/end2end\.onnx; put the file there \(get it from: https"):
            create_detector("rtmpose")
    assert "rtmpose" in detector_names()
    every = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert pick_providers(every[::-1] + ["AzureExecutionProvider"]) == every
    assert pick_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert pick_providers(every, "cuda") == every[1:]
    with pytest.raises(DetectorError, match="needs onnxruntime's CUDAExecutionProvider"):
        pick_providers(["CPUExecutionProvider"], "cuda")
    with pytest.raises(DetectorError, match="device must be"):
        pick_providers(every, "gpu0")
    om.constant_simcc_model(tmp_path / "pose" / "m.onnx", np.ones((17, 384), np.float32), np.ones((17, 512), np.float32))
    om.write_card(tmp_path / "pose", "rtmpose", "m.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(DetectorError, match=r"needs onnxruntime: pip install 'capture3d\[rtmpose\]'"):
        create_detector("rtmpose", model=str(tmp_path / "pose"), person_detector=None)


def test_a_failing_inference_gives_missing_views_not_an_exception(tmp_path, caplog):
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail
    om.dot_simcc_model(tmp_path / "pose" / "m.onnx", 17)
    om.write_card(tmp_path / "pose", "rtmpose", "m.onnx")
    det = create_detector("rtmpose", model="pose", person_detector="none", models_dir=tmp_path)
    views = [_blob_image((240, 180), [(90.2, 120.7)], 2), _blob_image((240, 180), [(30.0, 40.0)], 2)]
    ok = det.detect(views)
    assert np.abs(ok.pose[0, 0, :, :2] - (90.2, 120.7)).max() <= 0.5 + 1e-9  # whole image = the box

    class _Broken:
        def run(self, *a, **k):
            raise Fail("[ONNXRuntimeError] : 1 : FAIL : boom")

    det.pose_net.session = _Broken()
    for _ in range(2):
        res = det.detect(views)
    assert res.pose.shape == (2, 1, 17, 3) and (res.pose[..., 2] == 0).all()
    assert det.unusable_views.per_view == {0: 2, 1: 2}
    assert sum("failed on a batch of 2" in r.getMessage() for r in caplog.records) == 2


@pytest.mark.parametrize("edit,message", [
    (("simcc_split_ratio = 2.0", "simcc_split_ratio = 0.0"), "simcc_split_ratio must be positive"),
    (("std = [58.395,", 'std = ["58.395",'), "mean and std must hold numbers"),
    (("box_padding = 1.25", 'box_padding = "1.25"'), "box_padding must be a number, found str"),
    (("input_size = [256, 192]", "input_size = [256, -1]"), "two positive integers"),
    (('architecture = "rtmpose"', 'architecture = "rtmpose2"'), "unknown architecture 'rtmpose2'.*rtmpose, rtmo"),
    (("box_padding = 1.25", "box_padding = 1.25\nstride = 8"), r"unknown key\(s\) stride; keys of a rtmpose card"),
])
def test_bad_onnx_cards_say_what_is_wrong(tmp_path, edit, message):
    om.constant_simcc_model(tmp_path / "pose" / "m.onnx", np.ones((17, 384), np.float32), np.ones((17, 512), np.float32))
    card = om.write_card(tmp_path / "pose", "rtmpose", "m.onnx")
    assert edit[0] in card.read_text()
    card.write_text(card.read_text().replace(*edit))
    with pytest.raises(DetectorError, match=message):
        create_detector("rtmpose", model="pose", person_detector=None, models_dir=tmp_path)


def test_person_boxes_from_the_letterboxed_image_end_to_end(tmp_path):
    """Both stages computed from the pixels: the person detector boxes the red blob it sees in the letterboxed
    image (views of three sizes: ratios 1, 0.5 and 0.8), the pose model finds it in the crop of that box."""
    om.extent_person_model(tmp_path / "det" / "d.onnx", DET_HW)
    om.write_card(tmp_path / "det", "yolox", "d.onnx", input_size=DET_HW, mean=[0, 0, 0], std=[1, 1, 1],
                  channel_order="BGR")
    om.dot_simcc_model(tmp_path / "pose" / "m.onnx", 17)
    om.write_card(tmp_path / "pose", "rtmpose", "m.onnx")
    truths = [(411.3, 87.6), (1001.2, 612.9), (150.4, 700.1)]
    views = [_blob_image(hw, [t], 2, sigma=3.0) for hw, t in zip([(480, 640), (720, 1280), (800, 500)], truths)]
    det = create_detector("rtmpose", model="pose", person_detector="det", models_dir=tmp_path)
    res = det.detect(views)
    assert res.pose.shape == (3, 1, 17, 3) and det.last_batches == {"person": 3, "pose": 3}
    err = np.abs(res.pose[:, 0, :, :2] - np.asarray(truths)[:, None]).max()
    assert err <= 0.5, err
    assert det.detect([np.zeros((480, 640, 3), np.uint8)]).pose[..., 2].max() == 0  # nobody: nothing found
    det.close()
    det.close()  # idempotent
    with pytest.raises(DetectorError, match="the detector was closed"):
        det.detect(views)


def test_benchmark_network_has_rtmpose_m_size_and_signature(tmp_path):
    """The network bench_detect times in place of RTMPose-m (random weights): its size and I/O."""
    path, size = om.rtmpose_m_like_model(tmp_path / "m" / "model.onnx")
    assert abs(size["macs"] / 1.93e9 - 1) < 0.1 and abs(size["params"] / 13.6e6 - 1) < 0.2, size
    om.write_card(tmp_path / "m", "rtmpose", "model.onnx")
    det = create_detector("rtmpose", model=str(tmp_path / "m"), person_detector=None, device="cpu", min_score=-1e9)
    res = det.detect([np.zeros((120, 90, 3), np.uint8), np.zeros((60, 80, 3), np.uint8)])
    assert res.pose.shape == (2, 1, 17, 3) and det.last_batches == {"pose": 2}
    assert det.providers == ["CPUExecutionProvider"]
