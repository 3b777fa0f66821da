"""Calibration and synchronization from the people in view, on synthetic rigs with known truth
(cameras bumped by known rotations/translations, views shifted by known, sub-frame offsets)."""
import numpy as np
import pytest

from capture3d.calib.refine import RefineSettings, refine_rig
from capture3d.calib.metrics import similarity_transform as similarity
from capture3d.calib.rig_compare import compare_rigs, perturb_rig
from capture3d.calib.timesync import offsets_from_geometry, offsets_from_speed
from capture3d.cli import main
from capture3d.errors import ConfigError
from capture3d.geometry.camera import Rig
from capture3d.io.openpose_json import write_openpose_folder
from capture3d.io.rig_files import load_rig, save_rig
from capture3d.reconstruct.offsets import apply_offsets, offsets_toml, read_offsets, sample_view
from capture3d.synth import ErrorModel, make_rig, observe, walking_motion

NOISE = ErrorModel(noise_px=2.0, missing=0.1, outliers=0.05, swaps=0.0)


def _shifted_views(rig, offsets, n_frames, seed=7, model=NOISE, still=False):
    """Camera v shows at its frame t what camera 0 shows at frame t - offsets[v] (0.1-frame resolution)."""
    up, pad = 10, 40
    walk = walking_motion((n_frames + 2 * pad) * up, 30.0 * up)
    xyz = walk.xyz_world if not still else np.repeat(walk.xyz_world[:1], len(walk.xyz_world), axis=0)
    views = []
    for v in range(len(rig)):
        idx = np.round((np.arange(n_frames) + pad - offsets[v]) * up).astype(int)
        views.append(observe(rig, xyz[idx], model, seed + v, walk.keypoint_set).keypoints_px[v])
    return np.stack(views)


@pytest.mark.parametrize("n_cameras", [4, 8])
def test_refine_recovers_bumped_cameras(n_cameras):
    rig = make_rig(n_cameras, seed=1)
    walk = walking_motion(100, 30.0)
    kp = observe(rig, walk.xyz_world, NOISE, 7, walk.keypoint_set).keypoints_px
    bumped = perturb_rig(rig, 2.0, 0.05, seed=3)
    kp_in = kp.copy()
    res = refine_rig(bumped, kp)
    assert np.array_equal(kp, kp_in, equal_nan=True)  # inputs untouched
    before, after = compare_rigs(bumped, rig), compare_rigs(res.rig, rig)
    assert before.rotation_deg.min() > 1.5
    assert after.rotation_deg.max() < 0.1, after.rotation_deg
    assert after.center_m.max() < 0.01, after.center_m
    assert abs(after.scale - 1) < 0.01  # the prior holds the scale
    assert res.held_out_after_px < 0.1 * res.held_out_before_px and res.improved
    assert res.reproj_after_px < 2.5
    # every camera was bumped by 2 degrees: each is warned about, by name
    assert len(res.warnings) == n_cameras and all(c.name in w for c, w in zip(rig.cameras, res.warnings))


def test_refine_leaves_a_good_rig_alone_and_refuses_too_little_data():
    rig = make_rig(4, seed=1)
    walk = walking_motion(100, 30.0)
    kp = observe(rig, walk.xyz_world, NOISE, 7, walk.keypoint_set).keypoints_px
    res = refine_rig(rig, kp, RefineSettings(thresholds_px=(15.0,)))
    assert max(c.rotation_deg for c in res.changes) < 0.1 and max(c.center_m for c in res.changes) < 0.01
    assert not res.warnings
    with pytest.raises(ValueError, match="too little of the subject"):
        refine_rig(rig, kp[:, :1, :2])
    with pytest.raises(ValueError, match="loss must be"):
        refine_rig(rig, kp, RefineSettings(loss="l3"))
    with pytest.raises(ValueError, match=r"needs at least 2 cameras .*found 1 \(cam1\)"):
        refine_rig(Rig(rig.cameras[:1]), kp[:1])


def test_similarity_recovers_a_known_transform(rng):
    src = rng.normal(size=(6, 3))
    ang = 0.7
    Q = np.array([[np.cos(ang), -np.sin(ang), 0], [np.sin(ang), np.cos(ang), 0], [0, 0, 1]])
    s, Q2, p = similarity(src, 1.3 * src @ Q.T + [1, 2, 3])
    assert s == pytest.approx(1.3) and np.allclose(Q2, Q) and np.allclose(p, [1, 2, 3])


def test_sync_recovers_subframe_offsets():
    rig = make_rig(4, seed=1)
    true = np.array([0.0, 7.3, -12.6, 21.4])
    kp = _shifted_views(rig, true, 300)
    res = offsets_from_geometry(rig, kp, 30)
    assert np.abs(res.offsets - true).max() < 0.1, res.offsets
    assert res.reliable.all() and not res.notes
    # the baseline: speed cross-correlation gets these wrong, but says it is unsure
    speed = offsets_from_speed(kp, 30)
    assert not speed.reliable[np.abs(speed.offsets - true) > 1].any()


def test_sync_says_when_the_subject_does_not_move():
    rig = make_rig(4, seed=1)
    kp = _shifted_views(rig, np.array([0.0, 5.0, -3.0, 9.0]), 150, still=True)
    res = offsets_from_geometry(rig, kp, 30)
    assert (res.confidence[1:] < 0.1).all(), res.confidence
    assert any("barely moves" in n for n in res.notes)


def test_apply_offsets_interpolates_and_shifts():
    T = 20
    kp = np.zeros((2, T, 3, 3))
    kp[..., 0] = np.arange(T)[None, :, None] * 2.0  # x moves 2 px per frame
    kp[..., 1] = 5.0
    kp[..., 2] = 0.9
    kp[1, 7, 0] = (np.nan, np.nan, 0.0)
    out = apply_offsets(kp, [0.0, 2.25])
    assert np.allclose(out[0], kp[0], equal_nan=True)
    assert np.allclose(out[1, 0, :, 0], 4.5)            # frame 0 samples frame 2.25
    assert np.isnan(out[1, T - 2:, :, 0]).all()          # past the end: missing
    assert np.isnan(out[1, 4, 0, 0]) and np.isnan(out[1, 5, 0, 0]) and out[1, 5, 0, 2] == 0  # frames 6.25, 7.25
    assert np.allclose(sample_view(kp[0], -3)[3:, :, 0], kp[0, :-3, :, 0])


def test_offsets_file_round_trip_and_errors(tmp_path):
    p = tmp_path / "offsets.toml"
    p.write_text(offsets_toml(["cam_01", "cam_02"], np.array([0.0, -3.25]), np.array([1.0, 0.8]),
                              {"method": "x"}))
    off, extra = read_offsets(p, ["cam01", "cam02"])  # names match ignoring punctuation
    assert off.tolist() == [0.0, -3.25] and extra["confidence"]["cam_02"] == 0.8
    with pytest.raises(ConfigError, match="no offset for camera 'cam03'"):
        read_offsets(p, ["cam01", "cam03"])
    (tmp_path / "bad.toml").write_text("[offsets]\ncam01 = 'x'\n")
    with pytest.raises(ConfigError, match="must be a number of frames"):
        read_offsets(tmp_path / "bad.toml", ["cam01"])


def test_cli_sync_then_triangulate_with_offsets(tmp_path, capsys):
    rig = make_rig(4, seed=1)
    true = np.array([0.0, 4.0, -6.5, 9.0])
    kp = _shifted_views(rig, true, 300)
    save_rig(tmp_path / "rig.toml", rig)
    for v, cam in enumerate(rig.cameras):
        write_openpose_folder(tmp_path / "kp" / cam.name, kp[v][:, None], prefix=cam.name)
    off_path = tmp_path / "offsets.toml"
    assert main(["sync", "--rig", str(tmp_path / "rig.toml"), str(tmp_path / "kp"), "-o", str(off_path)]) == 0
    off, _ = read_offsets(off_path, rig.names)
    assert np.abs(off - true).max() < 0.15, off
    folders = [str(tmp_path / "kp" / n) for n in rig.names]
    errs = []
    for extra in ([], ["--offsets", str(off_path)]):
        out = tmp_path / f"pose{len(extra)}.csv"
        assert main(["triangulate", "--rig", str(tmp_path / "rig.toml"), "--keypoints2d", *folders, "-o", str(out),
                     *extra]) == 0
        text = capsys.readouterr().out
        errs.append(float(text.split("mean reprojection error ")[1].split(" px")[0]))
    assert errs[1] < 0.5 * errs[0], errs


def _bumped_rig_files(tmp_path, n_cameras: int):
    """truth.toml, bumped.toml (1 deg, 3 cm) and kp/<camera>/ OpenPose JSON of a walk: the truth rig."""
    rig = make_rig(n_cameras, seed=1)
    walk = walking_motion(100, 30.0)
    kp = observe(rig, walk.xyz_world, NOISE, 7, walk.keypoint_set).keypoints_px
    save_rig(tmp_path / "bumped.toml", perturb_rig(rig, 1.0, 0.03, seed=5))
    save_rig(tmp_path / "truth.toml", rig)
    for v, cam in enumerate(rig.cameras):
        write_openpose_folder(tmp_path / "kp" / cam.name, kp[v][:, None], prefix=cam.name)
    return rig


def test_cli_refine_writes_the_refined_rig(tmp_path, capsys):
    rig = _bumped_rig_files(tmp_path, 4)
    out = tmp_path / "refined.toml"
    assert main(["calibrate", "refine", "--rig", str(tmp_path / "bumped.toml"), str(tmp_path / "kp"), "-o", str(out),
                 "--reference", str(tmp_path / "truth.toml")]) == 0
    text = capsys.readouterr().out
    assert "held-out view" in text and "warning: camera cam1 moved" in text
    d = compare_rigs(load_rig(out), rig)
    assert d.rotation_deg.max() < 0.1 and d.center_m.max() < 0.01
    assert main(["calibrate", "refine", "--rig", str(tmp_path / "bumped.toml"), "-o", str(out)]) == 1


def test_process_applies_offsets(tmp_path, capsys):
    """process --offsets re-solves the take from the 2D re-sampled at the offsets: zero offsets change
    nothing, wrong offsets on a synchronized session raise the reprojection error."""
    from capture3d.config import RecordingConfig, load_config
    from capture3d.export import read_keypoints3d
    from capture3d.io.recording import SessionWriter
    from capture3d.runtime.pipeline import Pipeline
    from capture3d.sources.synthetic import SyntheticSource

    cfg_path = tmp_path / "cfg.toml"
    cfg_path.write_text('[source]\nkind = "synthetic"\n[synthetic]\ncameras = 3\nframes = 60\nfps = 30.0\n'
                        'width = 320\nheight = 240\nnoise_px = 0.5\n[pipeline]\ndetector = "synthetic"\n')
    cfg = load_config(cfg_path)
    src = SyntheticSource.from_config(cfg.synthetic, live=False, max_frames=40)
    writer = SessionWriter(tmp_path / "S", [s.info.name for s in src.streams], src.fps, RecordingConfig(),
                           app_config=cfg, rig=src.rig, source_kind="synthetic")
    Pipeline(src, None, None, mode="offline", recorder=writer).run(60)
    names = src.rig.names
    errs = {}
    for label, off in (("none", None), ("zero", [0.0, 0.0, 0.0]), ("wrong", [0.0, 2.5, -3.0])):
        extra = []
        if off is not None:
            (tmp_path / f"{label}.toml").write_text(offsets_toml(names, np.array(off), np.ones(3), {}))
            extra = ["--offsets", str(tmp_path / f"{label}.toml")]
        assert main(["process", str(tmp_path / "S"), "-o", str(tmp_path / label), *extra]) == 0
        capsys.readouterr()
        errs[label] = float(np.nanmean(read_keypoints3d(tmp_path / label / "keypoints3d.csv").reproj_err_px))
    assert errs["zero"] == pytest.approx(errs["none"], rel=1e-6)
    assert errs["wrong"] > 3 * errs["none"], errs


def test_cli_sync_without_rig_and_input_errors(tmp_path, capsys):
    rig = make_rig(4, seed=1)
    kp = _shifted_views(rig, np.array([0.0, 3.0, -4.0, 6.0]), 150)
    folders = []
    for v, cam in enumerate(rig.cameras):
        write_openpose_folder(tmp_path / "kp" / cam.name, kp[v][:, None], prefix=cam.name)
        folders.append(str(tmp_path / "kp" / cam.name))
    out = tmp_path / "off.toml"
    rc = main(["sync", "--keypoints2d", *folders, "-o", str(out)])
    text = capsys.readouterr().out
    assert "keypoint-speed cross-correlation" in text
    off, extra = read_offsets(out, rig.names)
    reliable = np.array([extra["confidence"][n] >= 0.3 for n in rig.names])
    assert rc == (0 if reliable.all() else 3)
    assert not (reliable & (np.abs(off - [0, 3, -4, 6]) > 1)).any()
    assert main(["sync", str(tmp_path / "kp"), "--keypoints2d", *folders, "-o", str(out)]) == 1
    assert main(["sync", folders[0], folders[1], "-o", str(out)]) == 1
    assert "expected one SESSION folder or only videos" in capsys.readouterr().err


def test_rolling_refiner_accepts_only_a_better_rig():
    from capture3d.calib.refine_live import RollingRefiner

    rig = make_rig(4, seed=1)
    walk = walking_motion(120, 30.0)
    kp = observe(rig, walk.xyz_world, NOISE, 7, walk.keypoint_set).keypoints_px
    roll = RollingRefiner(perturb_rig(rig, 2.0, 0.05, seed=3), window=120, min_frames=100)
    for t in range(99):
        roll.push(kp[:, t])
    assert roll.propose() is None  # not enough frames yet
    for t in range(99, 120):
        roll.push(kp[:, t])
    first = roll.propose()
    assert first.accepted and first.held_out_new_px < 0.1 * first.held_out_current_px
    d = compare_rigs(roll.rig, rig)
    assert d.rotation_deg.max() < 0.1 and d.center_m.max() < 0.01
    again = roll.propose()  # the rig in use is already as good: nothing to swap in
    assert not again.accepted and roll.rig is first.result.rig
    with pytest.raises(ValueError, match="expected the subject's keypoints"):
        roll.push(kp[:2, 0])


def test_cli_refine_two_cameras_with_a_reference(tmp_path, capsys):
    """A stereo pair: --reference compares through the cameras' orientations (old code: ValueError from
    similarity_transform), and the held-out line says why it is not measured instead of 'nan -> nan px'."""
    rig = _bumped_rig_files(tmp_path, 2)
    out = tmp_path / "refined.toml"
    assert main(["calibrate", "refine", "--rig", str(tmp_path / "bumped.toml"), str(tmp_path / "kp"), "-o", str(out),
                 "--reference", str(tmp_path / "truth.toml")]) == 0
    text = capsys.readouterr().out
    assert "held-out view: not measured (a view is predicted from at least 2 others: needs 3 cameras)" in text
    assert "nan" not in text
    given = compare_rigs(load_rig(tmp_path / "bumped.toml"), rig)
    assert given.rotation_deg.max() > 0.5  # the bump, seen through the two-camera alignment
    assert "(given, after similarity alignment): rotation max" in text
