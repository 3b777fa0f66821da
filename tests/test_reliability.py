"""Reliability details: file modes follow the umask, a repaired file keeps its mode, the camera probe is
quiet on a machine without cameras."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from capture3d.io.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_atomic_writes_follow_the_umask_and_keep_an_existing_mode(tmp_path):
    old = os.umask(0o027)
    try:
        new = atomic_write_text(tmp_path / "a.txt", "x")
        assert _mode(new) == 0o640                  # 0666 & ~027, as open() would give
        new.chmod(0o604)
        atomic_write_text(new, "y")                  # replacing a file keeps its mode
        assert _mode(new) == 0o604 and new.read_text() == "y"
    finally:
        os.umask(old)


def test_atomic_write_errors_name_the_target(tmp_path):
    with pytest.raises(IsADirectoryError) as err:
        atomic_write_text(tmp_path, "x")
    assert err.value.filename == str(tmp_path)


def test_bvh_repair_keeps_the_file_mode(tmp_path):
    from capture3d.export.bvh_write import write_bvh
    from capture3d.synth import walking_motion
    from capture3d.types import Keypoints3D
    from capture3d.body.keypoint_sets import BODY_25
    path = write_bvh(tmp_path / "a.bvh", Keypoints3D.from_positions(walking_motion(40).xyz_world, 30.0, BODY_25))
    text = path.read_text()
    path.write_text(text[: len(text) - 300])        # cut inside the last frames, as a crash would
    path.chmod(0o640)
    res = subprocess.run([sys.executable, "-m", "capture3d", "export", "--repair", str(path)], cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert _mode(path) == 0o640


@pytest.mark.skipif(any(Path(f"/dev/video{i}").exists() for i in range(8)), reason="this machine has cameras")
def test_camera_probe_without_cameras_is_two_lines():
    res = subprocess.run([sys.executable, "-m", "capture3d", "cameras"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
    assert res.returncode == 0 and len(lines) <= 2, lines
    assert "OpenCV: no cameras found (tried device indices 0..7" in res.stdout


def test_output_into_a_closed_pipe_is_not_a_traceback():
    """capture3d sets BODY_135 | head -1: the reader leaves early; the command ends quietly."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(f"'{sys.executable}' -m capture3d sets BODY_135 | head -1", shell=True, cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.stdout.startswith("BODY_135: 135 joints") and "Traceback" not in res.stderr, res.stderr
