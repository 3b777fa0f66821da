"""OpenPose torch networks (published shapes and strides), model cards and weight checks, and the
openpose backend end to end (a stand-in network that renders known maps, and random weights)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from capture3d.detect import create_detector  # noqa: E402
from capture3d.detect.caffe_convert import save_model  # noqa: E402
from capture3d.detect.openpose_arch import (BODY_25_PAF_CHANNELS, BODY_25_PAF_PAIRS,  # noqa: E402
                                            get_architecture)
from capture3d.detect.openpose_net import OpenPoseNet  # noqa: E402
from capture3d.testing.paf_render import render_heatmaps, render_pafs  # noqa: E402
from capture3d.errors import DetectorError  # noqa: E402


@pytest.mark.parametrize("name, n_maps, n_paf", [("body_25", 26, 52), ("coco", 19, 38), ("hand", 22, None),
                                                 ("face", 71, None)])
def test_output_channels_and_stride(name, n_maps, n_paf):
    torch.manual_seed(0)
    net = OpenPoseNet(get_architecture(name)).eval()
    with torch.inference_mode():
        hm, paf = net(torch.randn(2, 3, 96, 136))
    assert tuple(hm.shape) == (2, n_maps, 12, 17)  # stride 8
    if n_paf is None:
        assert paf is None
    else:
        assert tuple(paf.shape) == (2, n_paf, 12, 17)


def test_layer_shapes_as_published():
    """Spot checks against OpenPose's prototxt files (num_output, kernel, inputs of the concatenations)."""
    b25 = get_architecture("body_25").param_shapes()
    assert b25["layers.conv4_3_CPM.weight"] == (256, 512, 3, 3)
    assert b25["acts.prelu4_2.weight"] == (512,)
    assert b25["layers.Mconv1_stage0_L2_0.weight"] == (96, 128, 3, 3)
    assert b25["layers.Mconv2_stage0_L2_0.weight"] == (96, 288, 3, 3)  # dense block: 3 x 96 concatenated
    assert b25["layers.Mconv6_stage0_L2.weight"] == (256, 288, 1, 1)
    assert b25["layers.Mconv1_stage1_L2_0.weight"] == (128, 180, 3, 3)  # 128 features + 52 PAF
    assert b25["layers.Mconv6_stage3_L2.weight"] == (512, 384, 1, 1)
    assert b25["layers.Mconv7_stage3_L2.weight"] == (52, 512, 1, 1)
    assert b25["layers.Mconv1_stage0_L1_0.weight"] == (96, 180, 3, 3)
    assert b25["layers.Mconv1_stage1_L1_0.weight"] == (128, 206, 3, 3)  # 128 + 26 + 52
    assert b25["layers.Mconv7_stage1_L1.weight"] == (26, 512, 1, 1)
    assert "layers.Mconv1_stage4_L2_0.weight" not in b25 and "layers.Mconv1_stage2_L1_0.weight" not in b25
    coco = get_architecture("coco").param_shapes()
    assert coco["layers.Mconv1_stage2_L1.weight"] == (128, 185, 7, 7)
    assert coco["layers.Mconv7_stage6_L2.weight"] == (19, 128, 1, 1)
    hand = get_architecture("hand").param_shapes()
    assert hand["layers.conv6_2_CPM.weight"] == (22, 512, 1, 1)
    assert hand["layers.Mconv1_stage6.weight"] == (128, 150, 7, 7)
    face = get_architecture("face").param_shapes()
    assert face["layers.Mconv1_stage2.weight"] == (128, 199, 7, 7)
    # parameters x 4 bytes ~ the official caffemodel sizes (BODY_25 ~105 MB, COCO ~209 MB)
    assert abs(get_architecture("body_25").n_params() - 26.17e6) < 0.01e6
    assert abs(get_architecture("coco").n_params() - 52.31e6) < 0.01e6


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """A models folder with a BODY_25 model of random weights."""
    d = tmp_path_factory.mktemp("models")
    torch.manual_seed(1)
    save_model(d / "body_25", "body_25", OpenPoseNet(get_architecture("body_25")).state_dict(),
               source="random weights for tests", licence="test")
    return d


def _edit_card(folder, **changes):
    text = (folder / "model.toml").read_text()
    lines = [ln for ln in text.splitlines() if ln.split(" = ")[0] not in changes]
    lines += [f"{k} = {v}" for k, v in changes.items() if v is not None]
    (folder / "model.toml").write_text("\n".join(lines) + "\n")


def test_bad_models_say_what_is_wrong(models_dir, tmp_path):
    import shutil
    good = models_dir / "body_25"
    with pytest.raises(DetectorError, match="not found.*models there: body_25"):
        create_detector("openpose", model="nope", models_dir=models_dir)

    bad = tmp_path / "m" / "body_25"
    shutil.copytree(good, bad)
    _edit_card(bad, sha256='"' + "0" * 64 + '"')
    with pytest.raises(DetectorError, match="checksum mismatch.*expected sha256 0000.*found [0-9a-f]{64}"):
        create_detector("openpose", model=str(bad))

    # wrong architecture: a state_dict of other layers, with a correct checksum
    wrong = tmp_path / "w" / "body_25"
    save_model(wrong, "body_25", {"layers.conv1_1.weight": torch.zeros(64, 3, 3, 3), "layers.fc.weight": torch.zeros(3)})
    with pytest.raises(DetectorError, match=r"do not fit architecture 'body_25'.*missing parameter.*unexpected.*fc"):
        create_detector("openpose", model=str(wrong))
    save_model(wrong, "body_25", {**OpenPoseNet(get_architecture("body_25")).state_dict(),
                                  "layers.conv1_1.weight": torch.zeros(32, 3, 3, 3)})
    with pytest.raises(DetectorError, match=r"conv1_1.weight: expected shape \(64, 3, 3, 3\), found \(32, 3, 3, 3\)"):
        create_detector("openpose", model=str(wrong))

    corrupt = tmp_path / "c" / "body_25"
    corrupt.mkdir(parents=True)
    (corrupt / "x.pt").write_bytes(np.random.default_rng(0).bytes(1000))
    from capture3d.detect.model_card import sha256_of
    (corrupt / "model.toml").write_text((good / "model.toml").read_text())
    _edit_card(corrupt, weights='"x.pt"', sha256=f'"{sha256_of(corrupt / "x.pt")}"')
    with pytest.raises(DetectorError, match="not a loadable torch state_dict"):
        create_detector("openpose", model=str(corrupt))
    (corrupt / "x.pt").unlink()
    with pytest.raises(DetectorError, match="weights file not found"):
        create_detector("openpose", model=str(corrupt))
    _edit_card(corrupt, colour='"red"')
    with pytest.raises(DetectorError, match="unknown key.*colour"):
        create_detector("openpose", model=str(corrupt))
    _edit_card(corrupt, colour=None, stride=None)
    with pytest.raises(DetectorError, match="missing key 'stride'"):
        create_detector("openpose", model=str(corrupt))


def test_shipped_cards_are_valid_and_ask_for_conversion():
    from pathlib import Path

    from capture3d.detect.model_card import load_card
    root = Path(__file__).resolve().parents[1] / "models"
    for name, arch in (("body_25", "body_25"), ("coco", "coco"), ("hand", "hand"), ("face", "face")):
        card = load_card(root / name)
        assert card.architecture == arch and card.stride == 8 and card.mean == (128.0,) * 3
    if not (root / "body_25" / load_card(root / "body_25").weights).exists():
        with pytest.raises(DetectorError, match="weights file not found|no sha256"):
            create_detector("openpose", model="body_25", models_dir=root)


class _RenderingNet(torch.nn.Module):
    """Stands in for the body network: renders the maps of known people given in IMAGE pixels, using the
    detector's documented image -> map mapping, so decoding + coordinate conversion are checked exactly."""

    def __init__(self, people_px, factors):
        super().__init__()
        self.people_px, self.factors = people_px, factors

    def forward(self, x):
        B, _, H, W = x.shape
        hms, pafs = [], []
        for b in range(B):
            k = H / self.base_h  # multi-scale: the batch may be resized
            m = (self.people_px[b] + 0.5) * self.factors[b] * k / 8 - 0.5
            hms.append(render_heatmaps(m, (H // 8, W // 8), sigma_px=1.0))
            pafs.append(render_pafs(m, BODY_25_PAF_PAIRS, BODY_25_PAF_CHANNELS, (H // 8, W // 8), width_px=1.0))
        return torch.from_numpy(np.stack(hms)), torch.from_numpy(np.stack(pafs))


def _template_people(rng, n, scale_cells, offsets_cells, factor):
    from test_paf_parsing import TEMPLATE_25
    out = []
    for off in offsets_cells:
        m = TEMPLATE_25 * scale_cells + off + rng.uniform(-0.4, 0.4, (25, 2))
        out.append((m + 0.5) * 8 / factor - 0.5)  # map cells -> image px (the inverse mapping)
    return np.stack(out)[:n]


def test_backend_decodes_rendered_maps_to_image_pixels(models_dir):
    rng = np.random.default_rng(7)
    det = create_detector("openpose", models_dir=models_dir, net_height=736, device="cpu")
    sizes = [(480, 640), (600, 800)]  # different cameras: different factors and padding
    factors = [736 / h for h, _ in sizes]
    people = [_template_people(rng, 2, 0.6, [(20, 8), (60, 10)], factors[0]),
              _template_people(rng, 3, 0.55, [(15, 5), (45, 12), (75, 9)], factors[1])]
    fake = _RenderingNet(people, factors)
    fake.base_h = 736
    det.body.net = fake
    views = [np.zeros((h, w, 3), np.uint8) for h, w in sizes]
    res = det.detect(views)
    assert res.pose.shape == (2, 3, 25, 3)
    for v in range(2):
        found = res.pose[v][res.pose[v, :, 0, 2] > 0]
        assert len(found) == len(people[v])
        for truth in people[v]:
            err = np.linalg.norm(found[:, :, :2] - truth[None], axis=-1).max(axis=1).min()
            assert err < 0.05 * 8 / factors[v], err  # 1/20 of a map cell, in image px
    assert {"preprocess", "inference", "postprocess", "total"} <= set(res.timings_s)
    # multi-scale: the half-size pass is resized back to the base maps and averaged
    det.scales = (1.0, 0.5)
    res2 = det.detect(views)
    ok = (res2.pose[..., 2] > 0) & (res.pose[..., 2] > 0)
    assert ok.sum() > 100
    assert np.abs(res2.pose[..., :2] - res.pose[..., :2])[ok].max() < 8  # px; the 0.5 scale is coarse


def test_backend_random_weights_batch_heatmaps_and_bad_views(models_dir, tmp_path, caplog):
    det = create_detector("openpose", models_dir=models_dir, net_height=128, device="cpu",
                          heatmap_dir=tmp_path / "maps")
    rng = np.random.default_rng(3)
    views = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), rng.integers(0, 255, (240, 320), dtype=np.uint8),
             None, np.zeros((240, 320, 3), np.float32)]
    res = det.detect(views, frame_index=5)
    assert res.pose.shape[0] == 4 and res.pose.shape[2:] == (25, 3)
    assert np.isnan(res.pose[2:, :, :, :2]).all()
    assert sum("keypoints of this view are missing" in r.getMessage() for r in caplog.records) == 2
    z = np.load(tmp_path / "maps" / "maps_000000000005.npz")
    assert z["heatmaps"].shape == (2, 26, 16, 22) and z["pafs"].shape == (2, 52, 16, 22)  # 320 * 128 / 240 -> 171 -> 176 px
    assert z["views"].tolist() == [0, 1]
    assert det.device.type == "cpu" and not det.fp16


class _FakeCropNet:
    """Stands in for the hand network: returns maps with peaks at given crop-map positions."""

    class arch:  # noqa: N801
        stride = 8

    def __init__(self, targets_map):
        self.targets_map = targets_map

    def normalize(self, crops):
        self.crops = crops
        return crops

    def __call__(self, x):
        maps = np.stack([render_heatmaps(t[None], (46, 46), sigma_px=1.0) for t in self.targets_map])
        return torch.from_numpy(maps), None


def test_hand_crops_map_back_to_image_pixels(models_dir):
    from capture3d.detect.base import StageTimer, missing_keypoints
    det = create_detector("openpose", models_dir=models_dir, device="cpu")
    body = missing_keypoints(1, 25)
    for j, xy in {4: (300, 200), 3: (262, 158), 2: (220, 110), 7: (120, 210), 6: (150, 160), 5: (180, 110)}.items():
        body[0, j] = (*xy, 0.9)
    boxes = det.hand_boxes(body)
    assert [(s, b is not None) for s, _, b in boxes] == [("left", True), ("right", True)]
    rng = np.random.default_rng(5)
    truths, targets = [], []
    for side, _, (cx, cy, size) in boxes:
        truth = np.stack([rng.uniform(cx - 0.3 * size, cx + 0.3 * size, 21), rng.uniform(cy - 0.3 * size, cy + 0.3 * size, 21)], 1)
        k = 368 / size  # the documented mapping, written out independently: image px -> crop px -> map cell
        u = (truth[:, 0] + 0.5 - (cx + 0.5 - size / 2)) * k - 0.5
        w = (truth[:, 1] + 0.5 - (cy + 0.5 - size / 2)) * k - 0.5
        if side == "left":
            u = 367 - u  # left hands are mirrored for the (right-hand) network
        targets.append(np.stack([(u + 0.5) / 8 - 0.5, (w + 0.5) / 8 - 0.5], 1))
        truths.append(truth)
    image = np.zeros((400, 480, 3), np.uint8)
    px = np.rint(truths[1][0]).astype(int)  # a bright dot at the right hand's first keypoint
    image[px[1], px[0]] = 255
    det.hand = _FakeCropNet(targets)
    res = det._hands_and_face([image], [body], StageTimer())
    assert res["hand_left"].shape == (1, 1, 21, 3)
    assert np.abs(res["hand_left"][0, 0, :, :2] - truths[0]).max() < 0.05
    assert np.abs(res["hand_right"][0, 0, :, :2] - truths[1]).max() < 0.05
    # the crop really shows the image where the mapping says: the dot lands on its crop pixel
    crop = det.hand.crops[1, :, :, 0].astype(float)
    cy_, cx_ = np.unravel_index(np.argmax(crop), crop.shape)
    _, _, (cx, cy, size) = boxes[1]
    k = 368 / size
    exp = ((px[0] + 0.5 - (cx + 0.5 - size / 2)) * k - 0.5, (px[1] + 0.5 - (cy + 0.5 - size / 2)) * k - 0.5)
    assert abs(cx_ - exp[0]) <= 1.0 and abs(cy_ - exp[1]) <= 1.0
