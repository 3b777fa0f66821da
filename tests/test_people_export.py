"""Several people in the outputs: CSV person column, JSON person_id, one TRC/C3D/BVH per person, the CLI."""
import dataclasses
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capture3d.errors import ExportError
from capture3d.export import read_keypoints3d
from capture3d.export.people import person_path, read_people, read_person, write_people
from capture3d.io.openpose_json import write_openpose_folder
from capture3d.io.rig_files import save_rig
from capture3d.synth import make_rig
from capture3d.synth.crowd import crowd_motion
from capture3d.synth.crowd_noise import CrowdErrorModel, observe_crowd
from capture3d.types import Keypoints3D

FPS = 30.0


@pytest.fixture(scope="module")
def people():
    """Three people over 40 frames, each missing in some frames (NaN rows), some joints missing."""
    c = crowd_motion(3, 40, FPS, seed=0)
    rng = np.random.default_rng(0)
    out = {}
    for i, pid in enumerate((1, 2, 5)):
        xyz = c.xyz_world[i].copy()
        xyz[rng.random(xyz.shape[:2]) < 0.1] = np.nan
        xyz[: 3 * i] = np.nan  # born later
        ok = np.isfinite(xyz).all(-1)
        out[pid] = Keypoints3D(xyz, np.where(ok, rng.uniform(0.5, 1, ok.shape), 0), np.where(ok, 1.5, np.nan),
                               np.where(ok, 4, 0), np.arange(40) / FPS, FPS, c.keypoint_set)
    return out


def test_csv_has_a_person_column_after_time_and_round_trips_exactly(people, tmp_path):
    path = write_people(tmp_path / "take.csv", people)[0]
    df = pd.read_csv(path)
    assert list(df.columns[:3]) == ["time_s", "person", "Nose_x"]
    assert len(df) == 40 * 3 and df["person"].tolist()[:6] == [1, 2, 5, 1, 2, 5]
    back = read_people(path)
    assert sorted(back) == [1, 2, 5]
    for pid, kp in people.items():
        b = back[pid]
        assert np.array_equal(np.isnan(b.xyz_world), np.isnan(kp.xyz_world))
        assert np.nanmax(np.abs(b.xyz_world - kp.xyz_world)) <= 5e-7
        assert (b.n_views == kp.n_views).all() and np.allclose(b.times_s, kp.times_s) and b.fps == FPS
    again = write_people(tmp_path / "again.csv", back)[0]
    assert again.read_bytes() == path.read_bytes()  # write -> read -> write: the same file
    # each person's own "person" metadata describes its own file (TRC ...), not the file of everybody
    tagged = {pid: dataclasses.replace(kp, metadata={"person": pid, "source": "x"}) for pid, kp in people.items()}
    for ext in ("csv", "json"):
        meta = json.loads(Path(str(write_people(tmp_path / f"tagged.{ext}", tagged)[0]) + (".meta.json" if ext == "csv"
                                                                                        else "")).read_text())
        assert meta["metadata"] == {"source": "x"}, ext


def test_json_carries_person_id_and_round_trips(people, tmp_path):
    path = write_people(tmp_path / "take.json", people)[0]
    back = read_people(path)
    assert sorted(back) == [1, 2, 5]
    for pid, kp in people.items():
        assert np.array_equal(np.isnan(back[pid].xyz_world), np.isnan(kp.xyz_world))
        assert np.nanmax(np.abs(back[pid].xyz_world - kp.xyz_world)) <= 5e-7
    assert write_people(tmp_path / "again.json", back)[0].read_bytes() == path.read_bytes()


@pytest.mark.parametrize("ext", ["trc", "c3d", "bvh"])
def test_one_file_per_person_for_single_skeleton_formats(people, tmp_path, ext):
    paths = write_people(tmp_path / f"take.{ext}", people)
    assert [p.name for p in paths] == [f"take_person{i}.{ext}" for i in (1, 2, 5)]
    assert person_path(tmp_path / f"take.{ext}", 2) == paths[1]
    kp = read_keypoints3d(paths[1])
    assert kp.n_frames == 40
    if ext == "trc":
        assert np.nanmax(np.abs(kp.xyz_world - people[2].xyz_world)) < 1e-4


def test_single_person_readers_refuse_a_multi_person_file_clearly(people, tmp_path):
    for ext in ("csv", "json"):
        path = write_people(tmp_path / f"take.{ext}", people)[0]
        with pytest.raises(ExportError, match=r"holds several people .*1, 2, 5.*--person ID"):
            read_keypoints3d(path)
        with pytest.raises(ExportError, match=r"no person 3; the file holds person ids 1, 2, 5"):
            read_person(path, 3)
        assert np.array_equal(read_person(path, 5).n_views, read_people(path)[5].n_views)
    with pytest.raises(ExportError, match="TRC holds one person per file"):
        read_people(write_people(tmp_path / "t.trc", people)[0])
    with pytest.raises(ExportError, match="no person to write"):
        write_people(tmp_path / "empty.csv", {})


def _cli(*args, cwd):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "capture3d", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


@pytest.fixture(scope="module")
def take2d(tmp_path_factory):
    d = tmp_path_factory.mktemp("take2d")
    c = crowd_motion(2, 60, FPS, seed=0)
    rig = make_rig(4, seed=0)
    o = observe_crowd(rig, c.xyz_world, c.keypoint_set, CrowdErrorModel(), seed=1)
    save_rig(d / "rig.toml", rig)
    for v in range(4):
        write_openpose_folder(d / f"cam{v + 1}", o.keypoints2d[v], keypoint_set="BODY_25")
    return d


def test_cli_triangulate_people_all_then_export_one_person(take2d, tmp_path):
    cams = [str(take2d / f"cam{v}") for v in (1, 2, 3, 4)]
    r = _cli("triangulate", "--rig", str(take2d / "rig.toml"), "--keypoints2d", *cams, "-o", str(tmp_path / "t.csv"),
             "--people", "all", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2 people" in r.stdout and "person 1: in 60 frames" in r.stdout and "person 2: in 60 frames" in r.stdout
    df = pd.read_csv(tmp_path / "t.csv")
    assert sorted(df["person"].unique()) == [1, 2] and len(df) == 120
    r = _cli("export", str(tmp_path / "t.csv"), "-o", str(tmp_path / "p.bvh"), cwd=tmp_path)
    assert r.returncode != 0 and "holds several people" in r.stderr and "--person ID" in r.stderr
    r = _cli("export", str(tmp_path / "t.csv"), "--person", "2", "-o", str(tmp_path / "p2.csv"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    one = read_keypoints3d(tmp_path / "p2.csv")
    assert np.array_equal(np.isnan(one.xyz_world), np.isnan(read_people(tmp_path / "t.csv")[2].xyz_world))
    r = _cli("export", str(tmp_path / "t.csv"), "--person", "7", "-o", str(tmp_path / "p7.csv"), cwd=tmp_path)
    assert r.returncode != 0 and "no person 7; the file holds person ids 1, 2" in r.stderr
    r = _cli("export", str(tmp_path / "t.csv"), "--person", "0", "-o", str(tmp_path / "p0.csv"), cwd=tmp_path)
    assert r.returncode == 2 and "--person: expected a person id >= 1 (ids start at 1), found 0" in r.stderr
    r = _cli("export", str(tmp_path / "p2.csv"), "--person", "2", "-o", str(tmp_path / "again.csv"), cwd=tmp_path)
    assert r.returncode != 0 and "holds one person (no 'person' column / person_id): leave out --person 2" in r.stderr


def test_cli_people_bad_values(take2d, tmp_path):
    cams = [str(take2d / f"cam{v}") for v in (1, 2, 3, 4)]
    base = ["triangulate", "--rig", str(take2d / "rig.toml"), "--keypoints2d", *cams, "-o", str(tmp_path / "x.csv")]
    r = _cli(*base, "--people", "two", cwd=tmp_path)
    assert r.returncode == 2 and "--people: expected 'all', 'one' or a person id (an integer >= 1), found 'two'" in r.stderr
    r = _cli(*base, "--people", "0", cwd=tmp_path)
    assert r.returncode == 2 and "person id >= 1" in r.stderr
    r = _cli(*base, "--people", "9", cwd=tmp_path)
    assert r.returncode != 0 and "no person 9 in this take: the people found have ids 1..2" in r.stderr
    r = _cli(*base, "--people", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert read_keypoints3d(tmp_path / "x.csv").valid.any(1).sum() == 58


def test_cli_triangulate_one_person_says_how_many_it_saw_and_which_it_kept(take2d, tmp_path):
    """Single-person mode on two walkers: the command says how many people were found when it chose and by
    which policy; the file records it (metadata people_seen) and holds one walker, the one nearest the
    middle of the rig's volume at the first frame set (policy central)."""
    cams = [str(take2d / f"cam{v}") for v in (1, 2, 3, 4)]
    r = _cli("triangulate", "--rig", str(take2d / "rig.toml"), "--keypoints2d", *cams, "-o", str(tmp_path / "one.json"),
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert ('people: one subject followed, chosen by [tracking] policy = "central" among up to 2 people found at '
            'once') in r.stdout
    meta = json.loads((tmp_path / "one.json").read_text())["metadata"]
    assert meta["people_seen"] == 2 and meta["subject_choices"] == 1
    one = read_keypoints3d(tmp_path / "one.json")
    c = crowd_motion(2, 60, FPS, seed=0)
    err = [np.nanmedian(np.linalg.norm(one.xyz_world - c.xyz_world[k], axis=-1)) for k in range(2)]
    assert min(err) < 0.03 and max(err) > 0.3                   # one walker, not a mix of the two


SYNTHETIC_SESSION = ('[source]\nkind = "synthetic"\n[synthetic]\ncameras = 3\nframes = 60\nfps = 30.0\n'
                     'width = 320\nheight = 240\nnoise_px = 0.5\n[pipeline]\ndetector = "synthetic"\n')


def _session(tmp_path, n_frames: int, extra: str = ""):
    """A synthetic one-walker session of n_frames sets recorded into tmp_path/S; (config path, source)."""
    from capture3d.config import RecordingConfig, load_config
    from capture3d.io.recording import SessionWriter
    from capture3d.runtime.pipeline import Pipeline
    from capture3d.sources.synthetic import SyntheticSource

    cfg_path = tmp_path / "cfg.toml"
    cfg_path.write_text(SYNTHETIC_SESSION + extra)
    cfg = load_config(cfg_path)
    src = SyntheticSource.from_config(cfg.synthetic, live=False, max_frames=n_frames)
    writer = SessionWriter(tmp_path / "S", [s.info.name for s in src.streams], src.fps, RecordingConfig(),
                           app_config=cfg, rig=src.rig, source_kind="synthetic")
    Pipeline(src, None, None, mode="offline", recorder=writer).run(60)
    return cfg_path, src


def test_process_people_all_writes_every_person(tmp_path, capsys, caplog):
    """process --people all on a recorded synthetic session: the person column, person ids, per-person TRC,
    the same poses as single-person mode would give for the one walker (within filter differences)."""
    from capture3d.cli import main

    cfg_path, src = _session(tmp_path, 40, '[export]\nformats = ["csv", "trc"]\n')
    out = tmp_path / "O"
    assert main(["process", str(tmp_path / "S"), "--config", str(cfg_path), "--people", "all", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1 person: person 1 in 40 sets" in printed
    df = pd.read_csv(out / "keypoints3d.csv")
    assert list(df.columns[:2]) == ["time_s", "person"] and set(df["person"]) == {1} and len(df) == 40
    assert (out / "keypoints3d_person1.trc").is_file() and not (out / "keypoints3d.trc").exists()
    kp = read_people(out / "keypoints3d.csv")[1]
    err = np.linalg.norm(kp.xyz_world - src.motion.xyz_world[:40], axis=-1)
    assert np.nanmean(err) < 0.02 and kp.valid.any(1).sum() == 40
    assert "people = \"all\"" in (out / "config.toml").read_text()
    with caplog.at_level(logging.WARNING):  # the same folder again, one subject: the per-person TRC is an old run's
        assert main(["process", str(tmp_path / "S"), "--config", str(cfg_path), "-o", str(out)]) == 0
    assert "also holds 3D files this run did not write (an earlier run's): keypoints3d_person1.trc" in caplog.text
    with pytest.raises(SystemExit):
        main(["process", str(tmp_path / "S"), "--people", "everyone", "-o", str(tmp_path / "O2")])
    assert "--people: expected 'all', 'one' or a person id" in capsys.readouterr().err


def test_live_people_all_headless_says_who_it_followed(tmp_path, capsys):
    from capture3d.cli import main

    cfg = tmp_path / "live.toml"
    cfg.write_text(SYNTHETIC_SESSION)
    assert main(["live", "--config", str(cfg), "--no-viewer", "--duration", "1.5", "--people", "all"]) == 0
    assert "people: 1 tracked with an id (ids 1..1)" in capsys.readouterr().out
    assert main(["live", "--config", str(cfg), "--no-viewer", "--duration", "0.5"]) == 0
    assert 'people: one subject followed, chosen by [tracking] policy = "central"' in capsys.readouterr().out


def test_live_pipeline_snapshots_carry_every_person():
    """The threaded pipeline with [tracking] people = "all": each snapshot holds every person (ids, poses) and
    its pose is the lowest id's; the take gives every person (Reconstructor.end_take_people)."""
    from capture3d.config import TrackingConfig
    from capture3d.detect import create_detector
    from capture3d.reconstruct import Reconstructor
    from capture3d.runtime.pipeline import Pipeline
    from capture3d.sources.synthetic import SyntheticSource
    from capture3d.synth import ErrorModel

    src = SyntheticSource(4, 30.0, (320, 240), n_frames=40, seed=3, live=False, max_frames=40)
    c = crowd_motion(3, 40, FPS, seed=7)
    det = create_detector("synthetic", rig=src.rig, motion=c.xyz_world.transpose(1, 0, 2, 3),
                          error_model=ErrorModel(1.0, 0.05, 0.0, swaps=0.0))
    recon = Reconstructor(src.rig, c.keypoint_set, tracking=TrackingConfig(people="all"))
    recon.start_take()
    snaps = []
    Pipeline(src, det, recon, mode="offline", on_result=snaps.append, queue_size=4).run(duration_s=60)
    assert len(snaps) == 40
    assert [len(s.people.ids) for s in snaps[:3]] == [0, 0, 3] and all(len(s.people.ids) == 3 for s in snaps[2:])
    last = snaps[-1]
    assert list(last.people.ids) == [1, 2, 3]
    assert np.array_equal(last.pose.xyz_world, last.people.xyz_world[0], equal_nan=True)
    for k in range(3):  # each id is one of the walkers, within a few cm (live filter chain)
        err = np.linalg.norm(last.people.xyz_world[k][None] - c.xyz_world[:, 39], axis=-1)
        assert np.nanmin(np.nanmean(err, axis=-1)) < 0.03
    people = recon.end_take_people(FPS)
    assert sorted(people) == [1, 2, 3] and all(kp.n_frames == 40 for kp in people.values())


def test_websocket_frame_lists_every_person_with_its_id():
    import json

    from capture3d.stream.base import StreamFrame
    from capture3d.stream.ws import frame_message

    J = 25
    xyz = np.arange(2 * J * 3, dtype=float).reshape(2, J, 3) / 100
    xyz[1, 4] = np.nan
    f = StreamFrame(7, 1.5, xyz[0], np.ones(J), np.zeros(J), np.full(J, 3), 0.0, np.array([2, 5]), xyz)
    msg = json.loads(frame_message(f, "BODY_25", 1.0))
    assert [p["id"] for p in msg["people"]] == [2, 5]
    assert msg["people"][1]["joints"][4] is None and msg["people"][1]["joints"][5] == [0.9, 0.91, 0.92]
    assert msg["joints"] == msg["people"][0]["joints"]
    single = json.loads(frame_message(StreamFrame(7, 1.5, xyz[0], np.ones(J), np.zeros(J), np.full(J, 3)),
                                      "BODY_25", 1.0))
    assert "people" not in single


def test_process_people_id_that_does_not_exist(tmp_path, capsys):
    from capture3d.cli import main

    cfg_path, _ = _session(tmp_path, 20)
    assert main(["process", str(tmp_path / "S"), "--config", str(cfg_path), "--people", "3", "-o",
                 str(tmp_path / "O")]) != 0
    assert "no person 3 in this take: the people found have ids 1..1" in capsys.readouterr().err
    assert main(["process", str(tmp_path / "S"), "--config", str(cfg_path), "--people", "1", "-o",
                 str(tmp_path / "O1")]) == 0
    assert "following person 1 of the multi-person tracking" in capsys.readouterr().out
