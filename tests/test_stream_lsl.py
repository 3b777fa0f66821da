"""The LSL stream (lsl://NAME) read by a real pylsl StreamInlet during a synthetic live run: MoCap metadata,
one sample per frame set with the 3D results, timestamps = the frame sets' capture times on the LSL clock."""
import os

import numpy as np
import pytest

from stream_helpers import live_run

pylsl = pytest.importorskip("pylsl", reason="the LSL stream needs pylsl: pip install 'capture3d[stream]'")


def test_lsl_inlet_reads_mocap_samples_stamped_with_capture_times():
    name = f"capture3d-test-{os.getpid()}"
    box = {}

    def connect(hub):
        found = pylsl.resolve_byprop("name", name, 1, 10.0)
        assert len(found) == 1, found
        inlet = pylsl.StreamInlet(found[0], max_buflen=30)
        inlet.open_stream(10.0)
        box["inlet"], box["info"] = inlet, inlet.info(10.0)

    run = live_run([f"lsl://{name}"], frames=60, whole_body=False, before_start=connect)
    inlet, info = box["inlet"], box["info"]
    sink = run.hub.sinks[0]
    samples, stamps = [], []
    while True:
        s, ts = inlet.pull_sample(timeout=1.0)
        if s is None:
            break
        samples.append(s)
        stamps.append(ts)
    inlet.close_stream()
    kps = run.keypoint_set
    # metadata: the XDF MoCap conventions
    assert info.type() == "MoCap" and info.name() == name and info.nominal_srate() == 60.0
    assert info.channel_count() == 4 * kps.n_joints and info.channel_format() == pylsl.cf_float32
    ch = info.desc().child("channels").child("channel")
    labels, types, units = [], [], []
    while not ch.empty():
        labels.append(ch.child_value("label"))
        types.append(ch.child_value("type"))
        units.append(ch.child_value("unit"))
        assert ch.child_value("marker") == kps.names[(len(labels) - 1) // 4]
        ch = ch.next_sibling()
    assert labels[:4] == ["Nose_X", "Nose_Y", "Nose_Z", "Nose_Confidence"] and len(labels) == 4 * kps.n_joints
    assert types[:4] == ["PositionX", "PositionY", "PositionZ", "Confidence"]
    assert units[:4] == ["meters", "meters", "meters", "normalized"]
    assert info.desc().child("acquisition").child_value("manufacturer") == "capture3d"
    # samples: every frame set sent, stamped with its capture time mapped to the LSL clock
    sent = run.hub.stats()[sink.label]["sent"]
    assert len(samples) == sent >= 40, (len(samples), sent)  # BODY_25: the 3D stage keeps up with 60/s
    by_stamp = {round(sink.lsl_time(p.time_s), 6): p for _, p in run.pipeline.results}
    matched = 0
    for s, ts in zip(samples, stamps):
        pose = by_stamp.get(round(ts, 6))
        if pose is None:
            assert np.isnan(np.asarray(s).reshape(-1, 4)[:, :3]).all()  # a frame set without a pose
            continue
        matched += 1
        v = np.asarray(s, dtype=float).reshape(-1, 4)
        np.testing.assert_allclose(v[:, :3], pose.xyz_world, atol=1e-6)
        seen = np.isfinite(pose.xyz_world).all(axis=1)
        np.testing.assert_allclose(v[seen, 3], pose.confidence[seen], atol=1e-6)
    assert matched >= 40
    dt = np.diff(stamps)
    assert (dt > 0).all() and np.median(dt) == pytest.approx(1 / 60, abs=1e-3)
    # the mapping is the clocks' offset: LSL's clock is the host's monotonic clock on Linux
    assert abs(sink.clock_offset_s) < 0.01
