"""Live rig refinement wired into the pipeline (capture3d.runtime.refine_stage): a synthetic run whose rig
has one camera bumped by a known rotation and translation; the refiner swaps in a rig with that camera back
in place, whole and between two frame sets, records it in the stats and the session, and leaves a right
rig alone. Offline mode (the processing waits for each refinement), so the events are counted exactly,
with no sleeps."""
import dataclasses

import numpy as np
import pytest

from capture3d.body.keypoint_sets import BODY_25
from capture3d.calib.refine_live import anchor_to_prior
from capture3d.calib.rig_compare import perturb_rig
from capture3d.config import AppConfig, SelfcalConfig, config_from_dict
from capture3d.detect import create_detector
from capture3d.errors import ConfigError, RigError
from capture3d.geometry.camera import Rig
from capture3d.geometry.triangulate import triangulate
from capture3d.geometry.rotations import rodrigues, rotation_angle_deg, rotvec
from capture3d.io.recording import SessionWriter
from capture3d.io.rig_files import load_rig
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.runtime.pipeline import Pipeline
from capture3d.runtime.refine_stage import LiveRigRefiner
from capture3d.sources.synthetic import SyntheticSource
from capture3d.synth import ErrorModel, make_rig

NOISE = ErrorModel(2.0, 0.1, 0.05, swaps=0.0)
N_SETS = 330
CFG = SelfcalConfig(live=True, window=150, min_frames=150, every=150)
BUMPED = 1                       # cam2
BUMP_DEG, BUMP_MM = 2.0, (30.0, -40.0, 0.0)   # 2 degrees, 50 mm


def _bump(rig: Rig, view: int, deg: float, move_mm) -> Rig:
    cam = rig.cameras[view]
    axis = np.array([1.0, 2.0, 0.5]) / np.linalg.norm([1.0, 2.0, 0.5])
    R = rodrigues(axis * np.radians(deg)) @ cam.R
    c = cam.center_world + np.asarray(move_mm, float) / 1000
    cams = list(rig.cameras)
    cams[view] = cam.with_pose(rotvec(R), -R @ c)
    return Rig(tuple(cams), dict(rig.metadata))


class _CheckedReconstructor(Reconstructor):
    """Records, at every frame set, which rig object the 3D stage holds and whether everything derived
    from it (projection matrices, focal lengths, the tracker's rig) belongs to that same rig."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.seen: list[Rig] = []
        self.whole: list[bool] = []

    def process(self, keypoints2d, time_s):
        rig = self.rig
        self.seen.append(rig)
        self.whole.append(self.tracker.rig is rig and np.array_equal(self._cams, rig.cams_from_world())
                          and np.array_equal(self._focal, rig.focal_px())
                          and np.array_equal(self.tracker.P, rig.cams_from_world()))
        return super().process(keypoints2d, time_s)


def _run(rig_in_use: Rig, tmp_path=None):
    src = SyntheticSource(4, 30.0, (640, 480), n_frames=N_SETS, seed=3, live=False, max_frames=N_SETS)
    det = create_detector("synthetic", rig=src.rig, motion=src.motion, error_model=NOISE, seed=5)
    recon = _CheckedReconstructor(rig_in_use, BODY_25)
    refiner = LiveRigRefiner(rig_in_use, CFG, wait=True)
    writer = None
    if tmp_path is not None:
        writer = SessionWriter(tmp_path / "session", [s.info.name for s in src.streams], src.fps, rig=rig_in_use)
    snaps = []
    pipe = Pipeline(src, det, recon, mode="offline", queue_size=4, refiner=refiner, recorder=writer,
                    on_result=snaps.append, thumbnail_width=0)
    pipe.run(duration_s=300)
    return src, recon, refiner, pipe, snaps


def test_a_bumped_camera_is_refined_and_swapped_in_whole(tmp_path):
    truth = make_rig(4, (640, 480), seed=3)
    bumped = _bump(truth, BUMPED, BUMP_DEG, BUMP_MM)
    src, recon, refiner, pipe, snaps = _run(bumped, tmp_path)
    assert src.rig.names == truth.names and np.allclose(src.rig.cameras[1].tvec, truth.cameras[1].tvec)
    # two attempts (after 150 and 300 frame sets): the first swaps, the second finds nothing better
    assert refiner.submitted == 2 and refiner.attempts == 2 and refiner.rejected == 1
    assert len(refiner.swaps) == 1
    swap = refiner.swaps[0]
    assert swap.index == 150 and swap.fitted_on == (0, 149)
    # held-out-view error: 14.5 px with the bumped rig -> 3.2 px (the 2 px noise level) with the refined one
    assert swap.held_out_before_px > 10 and swap.held_out_after_px < 4
    assert swap.held_out_after_px < 0.3 * swap.held_out_before_px
    # the bumped camera is back: within 0.2 deg and 15 mm of the truth, in the board rig's own frame (no
    # alignment; measured 0.09 deg, 10.9 mm), the others within 0.2 deg and 10 mm (measured 0.09, 4.2)
    new = recon.rig
    rot = np.array([rotation_angle_deg(a.R, b.R) for a, b in zip(truth.cameras, new.cameras)])
    move_mm = np.array([1000 * np.linalg.norm(a.center_world - b.center_world)
                        for a, b in zip(truth.cameras, new.cameras)])
    assert rotation_angle_deg(truth.cameras[BUMPED].R, bumped.cameras[BUMPED].R) == pytest.approx(2.0)
    assert rot[BUMPED] < 0.2 and move_mm[BUMPED] < 15, (rot, move_mm)
    assert np.delete(rot, BUMPED).max() < 0.2 and np.delete(move_mm, BUMPED).max() < 10, (rot, move_mm)
    # the change reported is the bump's
    ch = swap.changes[BUMPED]
    assert ch.rotation_deg == pytest.approx(2.0, abs=0.2) and 1000 * ch.center_m == pytest.approx(50, abs=15)
    # atomic: every frame set was solved with one whole rig object, the board rig up to set 150, the
    # swapped one after; the snapshots say which
    assert all(recon.whole) and len(recon.seen) == N_SETS
    assert all(r is bumped for r in recon.seen[:150]) and all(r is swap.rig for r in recon.seen[150:])
    assert [s.rig is swap.rig for s in snaps] == [False] * 150 + [True] * (N_SETS - 150)
    # 3D after the swap is better than before (exact truth in the synthetic frames)
    st = pipe.stats()
    assert st.rig_swaps == 1 and "rig refined at set 150" in st.rig_refine and "14.5 -> 3.2 px" in st.rig_refine
    # the session keeps the board rig and gets the refined one beside it, saying when
    saved = load_rig(tmp_path / "session" / "rig_refined.toml")
    assert pipe.refined_rig_path == tmp_path / "session" / "rig_refined.toml"
    assert np.allclose(saved.cameras[BUMPED].tvec, new.cameras[BUMPED].tvec, atol=1e-9)
    meta = saved.metadata
    assert meta["refined_live"] is True and meta["swapped_at_set"] == 150 and meta["live_swaps"] == 1
    assert meta["fitted_on_sets"] == [0, 149] and meta["held_out_after_px"] < 4
    assert np.allclose(load_rig(tmp_path / "session" / "rig.toml").cameras[BUMPED].tvec, bumped.cameras[BUMPED].tvec)


def test_a_right_rig_is_not_swapped():
    truth = make_rig(4, (640, 480), seed=3)
    _, recon, refiner, pipe, _ = _run(truth)
    assert refiner.attempts == 2 and refiner.rejected == 2 and not refiner.swaps
    assert all(r is truth for r in recon.seen)
    st = pipe.stats()
    assert st.rig_swaps == 0 and st.rig_refine.startswith("rig kept (2 refinements")


def test_anchoring_keeps_projections_and_restores_the_prior_frame():
    rng = np.random.default_rng(0)
    prior = make_rig(6, seed=2)
    # a similarity of the whole rig (what the people alone cannot see), plus one camera bumped
    s, axis = 1.03, rng.normal(size=3)
    Rs, t = rodrigues(axis / np.linalg.norm(axis) * np.radians(3)), np.array([0.2, -0.1, 0.05])
    moved = _bump(prior, 2, 2.0, (40, 0, 30))
    cams = [c.with_pose(rotvec(c.R @ Rs.T), s * c.tvec - c.R @ Rs.T @ t) for c in moved.cameras]
    drifted = Rig(tuple(cams))
    xyz = rng.uniform(-1, 1, (50, 3)) + [0, 0, 1]
    anchored = anchor_to_prior(drifted, prior)
    # the same images: what the drifted rig sees is triangulated by the anchored one with no error
    kp = np.concatenate([drifted.project(xyz), np.ones((len(prior), 50, 1))], axis=-1)
    tri = triangulate(anchored, kp)
    assert np.nanmax(tri.reproj_err_px) < 1e-6 and np.isfinite(tri.xyz_world).all()
    for v, (a, b, m) in enumerate(zip(anchored.cameras, prior.cameras, moved.cameras)):
        ref = m if v == 2 else b
        assert rotation_angle_deg(a.R, ref.R) < 0.05 and np.linalg.norm(a.center_world - ref.center_world) < 0.002, v
    assert anchor_to_prior(Rig(drifted.cameras[:3]), Rig(prior.cameras[:3])).cameras[0] is drifted.cameras[0]


def test_set_rig_refuses_other_cameras_and_config_is_checked():
    rig = make_rig(4, seed=1)
    recon = Reconstructor(rig, BODY_25)
    with pytest.raises(RigError, match="differ from the rig in use"):
        recon.set_rig(make_rig(3, seed=1))
    other = perturb_rig(rig, 1.0, 0.02, seed=1)
    recon.set_rig(other)
    assert recon.rig is other and recon.tracker.rig is other
    with pytest.raises(ConfigError, match="selfcal.min_frames"):
        config_from_dict({"selfcal": {"min_frames": 400}})
    assert config_from_dict({"selfcal": {"live": True}}).selfcal.live
    with pytest.raises(ValueError, match="needs a reconstructor"):
        Pipeline(SyntheticSource(2, live=False, max_frames=1), None, None, refiner=LiveRigRefiner(rig))


def test_build_live_and_the_cli_flag(tmp_path, capsys):
    from capture3d.cli import main
    from capture3d.runtime.app import build_live

    cfg = dataclasses.replace(AppConfig(), selfcal=SelfcalConfig(live=True))
    app = build_live(cfg)
    try:
        assert app.pipeline.refiner is not None and not app.pipeline.refiner.wait
        assert app.pipeline.refiner.board_rig is app.rig
    finally:
        app.close()
    assert build_live(AppConfig()).pipeline.refiner is None
    conf = tmp_path / "live.toml"
    conf.write_text('[synthetic]\ncameras = 3\nwidth = 320\nheight = 240\n[pipeline]\nthumbnail_width = 0\n')
    rc = main(["live", "--config", str(conf), "--no-viewer", "--duration", "1", "--refine-rig"])
    out = capsys.readouterr().out
    assert rc == 0 and "rig refinement: collecting the subject for rig refinement" in out
