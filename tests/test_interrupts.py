"""Interruptions of long runs (fault injection): Ctrl-C (SIGINT) and SIGKILL during process, record,
live --record --bvh and calibrate rig. What is on disk afterwards is readable and says how far it got;
Ctrl-C exits 130 and says what was kept. Progress is read from the commands' own output (no sleeps)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from capture3d.config import RecordingConfig
from capture3d.export import read_keypoints3d
from capture3d.io.recording import SessionWriter, read_session
from capture3d.runtime.pipeline import Pipeline
from capture3d.sources.synthetic import SyntheticSource

ROOT = Path(__file__).resolve().parents[1]
LIVE = """
[source]
kind = "synthetic"
[synthetic]
cameras = 3
frames = 900
fps = 30.0
width = 160
height = 120
[pipeline]
detector = "synthetic"
[recording]
codec = "mjpg"
flush_s = 0.1
min_free_mb = 0.0
"""


class Watch:
    """A child process whose stdout and stderr are read as they come; ``until(pattern)`` blocks until
    the text matches (or the process ends, or the timeout passes) and returns the match."""

    def __init__(self, argv: list[str], cwd: Path):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "capture3d", *argv], cwd=cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.text = {"out": "", "err": ""}
        self._changed = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(s, k), daemon=True)
                         for s, k in ((self.proc.stdout, "out"), (self.proc.stderr, "err"))]
        for t in self._readers:
            t.start()

    def _read(self, stream, key):
        while chunk := stream.read1(4096):
            with self._changed:
                self.text[key] += chunk.decode(errors="replace")
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def until(self, pattern: str, timeout_s: float = 60.0):
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                m = list(re.finditer(pattern, self.text["out"] + self.text["err"]))
                if m:
                    return m[-1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not any(t.is_alive() for t in self._readers)):
                    raise AssertionError(f"{pattern!r} never appeared:\n{self.text['out'][-2000:]}\n"
                                         f"{self.text['err'][-2000:]}")
                self._changed.wait(min(left, 1.0))

    def finish(self, timeout_s: float = 60.0) -> tuple[int, str, str]:
        rc = self.proc.wait(timeout_s)
        for t in self._readers:
            t.join(timeout_s)
        return rc, self.text["out"], self.text["err"]


@pytest.fixture(scope="module")
def long_session(tmp_path_factory):
    """A synthetic recording of 400 frame sets (4 cameras, 160x120) with its rig."""
    folder = tmp_path_factory.mktemp("interrupt") / "session"
    src = SyntheticSource(4, 30.0, (160, 120), n_frames=400, seed=3, live=False, max_frames=400)
    writer = SessionWriter(folder, [s.info.name for s in src.streams], src.fps, RecordingConfig(codec="mjpg"),
                           rig=src.rig, source_kind="synthetic")
    Pipeline(src, None, None, mode="offline", recorder=writer, queue_size=8).run(duration_s=120)
    return folder


def test_ctrl_c_during_process_keeps_what_was_done_and_says_so(long_session, tmp_path):
    out = tmp_path / "out"
    w = Watch(["process", str(long_session), "-o", str(out)], tmp_path)
    w.until(r"\b([4-9]\d|\d{3,})/400\b")  # the progress bar is past 40 sets
    w.proc.send_signal(signal.SIGINT)
    rc, stdout, stderr = w.finish()
    assert rc == 130, stderr[-2000:]
    m = re.search(r"interrupted \(SIGINT\) after (\d+) of 400 frame sets", stderr)
    assert m and 40 <= int(m.group(1)) < 400, stderr[-2000:]
    assert "Traceback" not in stderr
    kp = read_keypoints3d(out / "keypoints3d.csv")
    assert kp.n_frames == int(m.group(1))
    assert kp.valid[-5:].mean() > 0.8 * kp.valid.mean()  # no NaN tail: sets cut by the stop were dropped, not processed
    meta = json.loads((out / "keypoints3d.csv.meta.json").read_text())["metadata"]
    assert meta["partial"] is True and meta["frame_sets"] == f"{kp.n_frames} of 400"
    assert json.loads((out / "keypoints3d.json").read_text())["metadata"]["partial"] is True
    assert not list(out.glob(".*.tmp"))


def test_sigkill_during_process_leaves_no_half_written_output(long_session, tmp_path):
    out = tmp_path / "out"
    w = Watch(["process", str(long_session), "-o", str(out)], tmp_path)
    w.until(r"\b([2-9]\d|\d{3,})/400\b")
    w.proc.kill()
    rc, _, _ = w.finish()
    assert rc == -signal.SIGKILL
    for f in out.glob("keypoints3d.*") if out.exists() else []:
        read_keypoints3d(f)  # whatever exists is complete (writes are atomic)


def test_ctrl_c_during_live_record_bvh_finalizes_session_and_bvh(tmp_path):
    cfg = tmp_path / "live.toml"
    cfg.write_text(LIVE)
    session = tmp_path / "take"
    w = Watch(["live", "--config", str(cfg), "--no-viewer", "--record", str(session), "--bvh"], tmp_path)
    w.until(r"recorded ([2-9]\d\d|\d{4,})\b")  # the stats line: 200+ frames (67+ sets of 3) recorded
    w.proc.send_signal(signal.SIGINT)
    rc, stdout, stderr = w.finish()
    assert rc == 130, stderr[-2000:]
    m = re.search(r"interrupted \(Ctrl-C\) after (\d+) frame sets; the session .* is complete", stderr)
    assert m, stderr[-2000:]
    info = read_session(session)
    assert info.finished and len(np.unique(info.table["set_index"])) >= 60
    from capture3d.export.bvh_read import read_bvh
    bvh = read_bvh(session / "keypoints3d.bvh")
    assert bvh.n_frames >= 30 and np.isfinite(bvh.xyz_world).all(-1).any(-1).all()


def test_sigkill_during_live_bvh_is_repairable(tmp_path):
    cfg = tmp_path / "live.toml"
    cfg.write_text(LIVE)
    session = tmp_path / "take"
    w = Watch(["live", "--config", str(cfg), "--no-viewer", "--record", str(session), "--bvh"], tmp_path)
    w.until(r"recorded ([2-9]\d\d|\d{4,})\b")
    w.proc.kill()
    w.finish()
    bvh = session / "keypoints3d.bvh"
    res = subprocess.run([sys.executable, "-m", "capture3d", "export", "--repair", str(bvh)], cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    n = int(re.search(r"(\d+) complete frames", res.stdout).group(1))
    from capture3d.export.bvh_read import read_bvh
    assert read_bvh(bvh).n_frames == n > 0
    info = read_session(session)  # the recording itself is readable up to the kill
    assert not info.finished and len(info.table["set_index"]) > 0


def test_ctrl_c_during_calibrate_rig_exits_at_once(tmp_path):
    from capture3d.calib import board_from_dict, board_to_toml
    from capture3d.calib.synth import random_board_poses, write_session_images
    from capture3d.synth import make_rig
    board = board_from_dict({"type": "charuco", "squares": [7, 5], "square_size": 0.12, "marker_size": 0.09,
                             "dictionary": "DICT_4X4_50"})
    rig = make_rig(4, size_wh=(640, 360), radius_m=2.2, target_world=(0.0, 0.0, 0.4), seed=4)
    rng = np.random.default_rng(0)
    poses = random_board_poses(rig, board, 60, rng, center_world=(0, 0, 0.7), half_extent_m=(0.5, 0.5, 0.3),
                               max_tilt_deg=30)
    write_session_images(tmp_path / "session", rig, board, poses, rng)
    (tmp_path / "board.toml").write_text(board_to_toml(board))
    w = Watch(["calibrate", "rig", "--board", str(tmp_path / "board.toml"), str(tmp_path / "session"),
               "-o", str(tmp_path / "rig.toml")], tmp_path)
    w.until(r"\b([1-9]\d)/60\b")  # a progress bar is past 10 frames
    t0 = time.monotonic()
    w.proc.send_signal(signal.SIGINT)
    rc, _, stderr = w.finish()
    assert time.monotonic() - t0 < 2.0
    assert rc == 130 and "interrupted" in stderr and "Traceback" not in stderr, stderr[-2000:]
    assert not (tmp_path / "rig.toml").exists()
