"""Pausing and resuming the recording of a running pipeline (the live viewer's Record button): paused frame
sets are left out of the videos, frames.csv and the live BVH, which stay aligned with each other."""

import numpy as np
import pytest

from capture3d.geometry.camera import Rig
from capture3d.config import FilterConfig, RecordingConfig
from capture3d.detect import create_detector
from capture3d.export.bvh import read_bvh
from capture3d.runtime.pipeline import Pipeline
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.io.recording import LiveBVH, SessionWriter, read_session
from capture3d.body.keypoint_sets import BODY_25
from capture3d.sources.base import EndOfStream
from capture3d.sources.session import SessionSource
from capture3d.sources.synthetic import SyntheticSource
from capture3d.synth import ErrorModel, make_rig


def test_paused_frame_sets_are_left_out_and_resume_continues(tmp_path):
    # one camera, offline: frame set k is dispatched by the grab of frame k, so the pause span is exact
    rig = Rig(make_rig(2, (160, 120), seed=5).cameras[:1])
    src = SyntheticSource(1, 30.0, (160, 120), n_frames=50, seed=5, live=False, max_frames=40, rig=rig)
    writer = SessionWriter(tmp_path / "s", ["cam1"], src.fps, RecordingConfig(codec="png"), rig=rig)
    pipe = Pipeline(src, None, None, mode="offline", recorder=writer, queue_size=4)
    stream, grab = src.streams[0], src.streams[0].grab
    states = {}

    def grab_and_toggle(timeout_s):
        frame = grab(timeout_s)
        if frame is not None and frame.frame_id in (10, 20):
            (pipe.pause_recording if frame.frame_id == 10 else pipe.resume_recording)()
            states[frame.frame_id] = pipe.recording
        return frame

    stream.grab = grab_and_toggle
    assert pipe.recording
    pipe.run(duration_s=60)
    assert states == {10: False, 20: True}
    st = pipe.stats()
    assert st.sets == 40 and pipe.record_paused_sets == 10 == st.record_paused_sets
    assert writer.sets_written == 30 == st.recorded_sets and writer.frames_written == [30]
    info = read_session(tmp_path / "s")
    assert info.finished and info.n_sets == 30
    np.testing.assert_array_equal(info.table["set_index"], np.arange(30))  # no gap in the recording
    np.testing.assert_array_equal(info.table["video_frame"], np.arange(30))
    np.testing.assert_array_equal(info.table["frame_id"], np.r_[0:10, 20:40])  # sets 10..19 left out
    # the images are those of the recorded frames (png: lossless)
    replay = SessionSource(tmp_path / "s").streams[0]
    frames = []
    with pytest.raises(EndOfStream):
        while True:
            frames.append(replay.grab(1.0))
    assert [f.frame_id for f in frames] == list(range(30))
    assert [f.metadata["device_frame_id"] for f in frames] == list(np.r_[0:10, 20:40])
    diff = [np.abs(f.image.astype(int) - stream.render(f.metadata["frame_index"])).max() for f in frames]
    assert max(diff) == 0


def test_live_pause_keeps_videos_table_and_bvh_aligned(tmp_path):
    src = SyntheticSource(3, 30.0, (160, 120), n_frames=300, seed=2, live=False, max_frames=60)
    det = create_detector("synthetic", rig=src.rig, motion=src.motion,
                          error_model=ErrorModel(0.0, 0.0, 0.0, swaps=0.0))
    writer = SessionWriter(tmp_path / "S", ["cam1", "cam2", "cam3"], 30.0, RecordingConfig(min_free_mb=0.0),
                           rig=src.rig)
    sink = LiveBVH(tmp_path / "S" / "keypoints3d.bvh", BODY_25, 30.0, rest_frames=5)
    pipe = Pipeline(src, det, Reconstructor(src.rig, BODY_25, filtering=FilterConfig(enabled=False)),
                    mode="offline", recorder=writer, pose_sink=sink, collect=True, thumbnail_width=0)
    states = []

    def on_frame_set(fs):  # the recording is paused for sets 15..26 (12 sets), as the Record button does
        if fs.index == 15:
            pipe.pause_recording()
            states.append((pipe.recording, pipe.stats().recording))
        elif fs.index == 27:
            pipe.resume_recording()
            states.append((pipe.recording, pipe.stats().recording))

    pipe.on_frame_set = on_frame_set
    pipe.run()
    assert states == [(False, False), (True, True)]
    st = pipe.stats()
    skipped, n = pipe.record_paused_sets, writer.sets_written
    assert skipped == 12 and st.sets == 60 == n + skipped  # every frame set recorded or counted as left out
    info = read_session(tmp_path / "S")
    assert info.finished and info.n_sets == n
    set_ids = np.unique(info.table["set_index"])
    np.testing.assert_array_equal(set_ids, np.arange(n))
    # the device frame id of each recorded set: consecutive, but for one gap of exactly the paused sets
    frame_id = np.array([info.table["frame_id"][info.table["set_index"] == s][0] for s in set_ids])
    steps = np.diff(frame_id)
    assert np.count_nonzero(steps != 1) == 1 and steps.max() == skipped + 1
    gap = int(np.argmax(steps)) + 1  # first recorded set after the pause
    # BVH frame r is recorded set r: its pose is the truth of that set's frame, after the gap too
    kp = read_bvh(sink.path)
    assert sink.error == "" and kp.n_frames == sink.n_frames and n - 3 <= sink.n_frames <= n
    results = dict(pipe.results)
    hip = BODY_25.names.index("MidHip")
    posed = [r for r in range(sink.n_frames) if int(frame_id[r]) in results
             and np.isfinite(results[int(frame_id[r])].xyz_world[hip]).all()]
    assert sum(r >= gap for r in posed) >= 10 and sum(r < gap for r in posed) >= 10
    truth = src.motion.xyz_world[frame_id[posed] % src.motion.n_frames, hip]
    err_mm = 1000 * np.linalg.norm(kp.xyz_world[posed, hip] - truth, axis=-1)
    assert np.max(err_mm) < 5.0, np.max(err_mm)
