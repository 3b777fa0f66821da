"""The workflow battery (issue 31): every command, as a user runs it (a subprocess), on inputs of the shapes
real recordings have (a subset of the rig's cameras, names in another order or no names, unequal lengths,
mixed frame rates, images a few pixels off or half their calibration's size; see workflow_cases.py). Each
case must exit 0 with the right answer (the plain case's, with the same cameras) or fail with a message
naming the cause, never with a traceback."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from workflow_cases import CASES, build, make_workspace

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    root = tmp_path_factory.mktemp("workflows")
    ws = make_workspace(root)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen", "TQDM_DISABLE": "1"}

    def run(case):
        folder = root / case.id
        argv = build(case, ws, folder)
        try:
            res = subprocess.run([sys.executable, "-m", "capture3d", *argv], cwd=folder, env=env,
                                 capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            return case.id, (None, "", "timed out after 120 s", folder)
        return case.id, (res.returncode, res.stdout, res.stderr, folder)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(run, CASES))
    return results, ws


def _pose(case, folder: Path):
    from capture3d.export import read_keypoints3d
    return read_keypoints3d(folder / "out" / ("pose.csv" if case.command == "triangulate" else "keypoints3d.csv"))


def _session_sets(folder: Path) -> int:
    with open(folder / "out" / "session" / "frames.csv", newline="") as fh:
        return len({row["set_index"] for row in csv.DictReader(fh)})


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_workflow_gives_the_right_answer_or_says_why_not(battery, case):
    results, ws = battery
    rc, out, err, folder = results[case.id]
    assert "Traceback" not in err, err[-3000:]
    kind, value = case.expect()
    if kind == "error":
        assert rc not in (0, None), f"exit {rc}, expected an error with {value!r}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
        assert value in err, f"{value!r} not in: {err[-2000:]}"
        return
    assert rc == 0, f"exit {rc}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
    if case.command in ("triangulate", "process"):
        ref_rc, _, ref_err, ref_folder = results[case.reference().id]
        assert ref_rc == 0, ref_err[-2000:]
        got, ref = _pose(case, folder), _pose(case, ref_folder)
        assert got.n_frames == value
        assert got.valid.mean() > 0.6
        tol_m = 1e-6 if case.size == "equal" else 2e-3  # a crop leaves the joints at the cropped edge out
        diff = np.abs(got.xyz_world - ref.xyz_world[:value])
        assert np.nanmax(diff) < tol_m, f"{1000 * np.nanmax(diff):.3f} mm from the plain case"
        assert (got.valid == ref.valid[:value]).mean() > (1.0 if case.size == "equal" else 0.95) - 1e-9
    elif case.command in ("live", "record"):
        from capture3d.io.rig_files import load_rig
        rig, used = load_rig(ws / "rig.toml"), load_rig(folder / "out" / "session" / "rig.toml")
        assert len(used) == case.n_cams
        for cam, c in zip(used.cameras, case.cams()):  # the session's cameras, in the order given
            np.testing.assert_array_equal(cam.K, rig.cameras[c].K)
            assert cam.name == rig.cameras[c].name
        assert _session_sets(folder) == value
    else:  # detect
        from capture3d.io.openpose_json import read_openpose_folder
        for c in case.cams():
            kp = read_openpose_folder(folder / "out" / case.input_name(c))
            assert len(kp.files) == value and kp.fps == case.rate(c) and kp.image_size_wh == case.size_wh(c)
        if case.fps == "mixed":
            assert "different frame rates" in err
        if case.lengths == "unequal":
            assert f"ended after {value} frames" in err


def test_the_battery_covers_every_command_and_shape():
    """The pruned cross product still holds every command, camera count and shape."""
    assert len(CASES) == 102
    for field in ("command", "n_cams", "names", "lengths", "fps", "size"):
        values = {getattr(c, field) for c in CASES}
        assert len(values) >= 2, field
    assert {c.size for c in CASES} == {"equal", "crop", "plus", "half"}
    assert {c.n_cams for c in CASES} == {1, 2, 3, 4}
