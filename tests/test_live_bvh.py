"""Live BVH while recording (capture3d live --record SESSION --bvh): frame count, timing with skipped
frame sets, writer errors that must not stop the recording, and a recording killed with SIGKILL."""
import errno
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from capture3d.cli import main
from capture3d.config import RecordingConfig
from capture3d.detect import create_detector
from capture3d.errors import ExportError
from capture3d.export.bvh import read_bvh, repair_bvh
from capture3d.export.bvh_stream import BVHStreamWriter
from capture3d.runtime.pipeline import Pipeline
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.io.recording import LiveBVH, SessionWriter, read_session
from capture3d.body.keypoint_sets import BODY_25
from capture3d.sources.synthetic import SyntheticSource
from capture3d.synth import ErrorModel, walking_motion

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "demo-live.toml"


def test_live_bvh_holds_skipped_frame_sets_so_timing_stays_right(tmp_path):
    truth = walking_motion(40, 30.0).xyz_world
    sink = LiveBVH(tmp_path / "a.bvh", BODY_25, 30.0, rest_frames=5)
    given = [i for i in range(40) if i % 7 != 3]  # every 7th set skipped (dropped by the live path)
    for i in given:
        sink.append(i, None if i == 20 else truth[i])  # set 20 processed without a pose
    assert sink.close() == tmp_path / "a.bvh" and sink.error == ""
    assert sink.n_frames == 40 and sink.frames_held == 40 - len(given) + 1
    kp = read_bvh(tmp_path / "a.bvh")
    assert kp.n_frames == 40 and kp.fps == pytest.approx(30.0)
    # frames with a pose are where the subject was (BVH rounding and rest-pose fitting: a few mm)
    hip = BODY_25.names.index("MidHip")
    posed = [i for i in given if i != 20]
    err_mm = 1000 * np.linalg.norm(kp.xyz_world[posed, hip] - truth[posed, hip], axis=-1)
    assert np.max(err_mm) < 5.0, np.max(err_mm)


def _pipeline(tmp_path, sink):
    src = SyntheticSource(3, 30.0, (160, 120), seed=2, live=True)
    det = create_detector("synthetic", rig=src.rig, motion=src.motion, error_model=ErrorModel(1.0, 0.0, 0.0, swaps=0.0))
    writer = SessionWriter(tmp_path / "S", ["cam1", "cam2", "cam3"], 30.0, RecordingConfig(min_free_mb=0.0),
                           rig=src.rig)
    pipe = Pipeline(src, det, Reconstructor(src.rig, BODY_25), mode="live", recorder=writer, pose_sink=sink,
                    collect=True, thumbnail_width=0)
    return pipe, writer


def test_pipeline_feeds_every_processed_set_and_closes_the_bvh(tmp_path):
    sink = LiveBVH(tmp_path / "S_live.bvh", BODY_25, 30.0)
    pipe, writer = _pipeline(tmp_path, sink)
    pipe.run(duration_s=2.0)
    st = pipe.stats()
    assert pipe.stop_reason == "duration reached" and st.processed >= 45
    last = max(i for i, _ in pipe.results)
    assert sink.n_frames == last + 1  # frame k of the BVH is frame set k
    assert sink.frames_posed == len(pipe.results) - sum(1 for _, p in pipe.results
                                                       if not np.isfinite(p.xyz_world).any())
    assert read_bvh(sink.path).n_frames == sink.n_frames
    assert abs(sink.n_frames - (st.processed + st.drops)) <= 1


@pytest.mark.parametrize("failure", [ExportError("solver failed"), OSError(errno.ENOSPC, "No space left on device")])
def test_bvh_writer_error_disables_bvh_but_not_the_recording(tmp_path, monkeypatch, failure):
    real = BVHStreamWriter.append
    calls = {"n": 0}

    def append(self, xyz):
        calls["n"] += 1
        if calls["n"] > 20:
            raise failure
        return real(self, xyz)

    monkeypatch.setattr(BVHStreamWriter, "append", append)
    sink = LiveBVH(tmp_path / "S_live.bvh", BODY_25, 30.0, rest_frames=5)
    pipe, writer = _pipeline(tmp_path, sink)
    pipe.run(duration_s=2.0)
    assert pipe.stop_reason == "duration reached"
    assert str(failure) in sink.error and sink.n_frames == 20 and sink.close() is None
    assert read_session(tmp_path / "S").finished and writer.sets_written >= 45
    assert read_bvh(sink.path).n_frames == 20  # closed properly after the error: the first 20 frames


def test_live_record_bvh_cli_frame_count(tmp_path, capsys):
    session = tmp_path / "S"
    assert main(["live", "--config", str(DEMO), "--no-viewer", "--duration", "3", "--record", str(session),
                 "--bvh"]) == 0
    out = capsys.readouterr().out
    processed = int(re.search(r"3D results (\d+)", out).group(1))
    drops = int(re.search(r"drops (\d+),", out).group(1))
    m = re.search(r"live BVH: .*keypoints3d\.bvh \((\d+) frames: (\d+) with a pose, (\d+) held\)", out)
    assert m, out
    kp = read_bvh(session / "keypoints3d.bvh")
    assert kp.n_frames == int(m.group(1)) and processed >= 60
    assert abs(kp.n_frames - processed) <= 1 + drops
    assert read_session(session).n_sets >= processed  # the recording has every frame set
    assert main(["live", "--config", str(DEMO), "--no-viewer", "--duration", "1", "--bvh"]) == 2
    assert "--bvh needs --record" in capsys.readouterr().err


def _bvh_frames_on_disk(path):
    if not path.exists():
        return 0
    text = path.read_text(errors="replace")
    return len(text.partition("Frame Time:")[2].splitlines()) - 1 if "Frame Time:" in text else 0


def test_killed_recording_leaves_a_bvh_that_repair_makes_valid(tmp_path):
    session = tmp_path / "K"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "capture3d", "live", "--config", str(DEMO), "--no-viewer",
                             "--duration", "60", "--record", str(session), "--bvh"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    bvh = session / "keypoints3d.bvh"
    t0 = time.monotonic()
    while _bvh_frames_on_disk(bvh) < 45:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < 40
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    n = repair_bvh(bvh)
    assert n >= 45
    kp = read_bvh(bvh)
    assert kp.n_frames == n and np.isfinite(kp.xyz_world).all()
