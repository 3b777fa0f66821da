"""Several people live: the person picked (Pipeline.pick_person, the viewer's picker) is the pose that goes out
(snapshot pose, StreamFrame.xyz_world); no pick: the lowest id in view; a retired pick falls back to it."""
from __future__ import annotations

import time

import numpy as np
import pytest

from capture3d.errors import ConfigError
from capture3d.runtime.person_pick import PersonPick, check_person_id
from people_live_helpers import live_pipeline, truth_of, two_walkers


def _run_until(pipe, done, timeout_s: float = 10.0) -> None:
    """Do the main thread's duties (as the viewer's timer does) until done(latest snapshot) is true."""
    t_end = time.monotonic() + timeout_s
    while not done(pipe.poll()):
        assert time.monotonic() < t_end and pipe.running, f"not reached within {timeout_s} s"
        time.sleep(0.01)


def _frames(rec, det, ts):
    for t in ts:
        yield t, rec.process(det.keypoints[:, t], t / 30.0)


def test_the_picked_person_is_the_pose_and_a_retired_pick_falls_back_to_the_lowest_id():
    crowd, _, det, rec = two_walkers(frames=200)
    for t, pose in _frames(rec, det, range(10)):
        pass
    people = rec.latest_people
    assert list(people.ids) == [1, 2] and rec.person_id == 1  # no pick: the lowest id
    np.testing.assert_array_equal(pose.xyz_world, people.xyz_world[0])
    rec.pick = 2
    t, pose = next(_frames(rec, det, [10]))
    assert rec.person_id == 2 and rec.pick_retired is None
    np.testing.assert_array_equal(pose.xyz_world, rec.latest_people.xyz_world[1])
    assert np.nanmax(np.abs(pose.xyz_world - truth_of(crowd, 10, pose.xyz_world))) < 1e-3  # exact 2D: < 1 mm
    # nobody seen for longer than hold_s (3 s): both retired; the pick says so and nobody's pose goes out
    empty = np.full(det.keypoints[:, 0].shape, np.nan)
    empty[..., 2] = 0.0
    pose = rec.process(empty, 11 / 30.0)
    assert rec.person_id is None and rec.pick_retired is None and np.isnan(pose.xyz_world).all()  # held, not retired
    rec.process(empty, 11 / 30.0 + 3.5)
    assert rec.pick_retired == 2
    # the walkers come back with new ids (3, 4): the lowest of them goes out while the pick is retired
    for k, t in enumerate(range(12, 20)):
        pose = rec.process(det.keypoints[:, t], 11 / 30.0 + 4.0 + k / 30.0)
    assert list(rec.latest_people.ids) == [3, 4] and rec.pick_retired == 2 and rec.person_id == 3
    np.testing.assert_array_equal(pose.xyz_world, rec.latest_people.xyz_world[0])


def test_person_pick_hands_the_pick_over_and_ends_a_retired_one():
    class Rec:
        pick = pick_retired = None

    rec, pick = Rec(), PersonPick()
    pick.request(2)
    pick.apply(rec)
    assert rec.pick == 2
    rec.pick_retired = 2
    pick.settle(rec)
    assert pick.wanted is None and pick.retired == 2
    pick.apply(rec)
    assert rec.pick is None
    pick.request(3)  # a new pick clears the note
    assert pick.wanted == 3 and pick.retired is None
    pick.settle(rec)  # a stale report about person 2 does not end the pick of person 3
    assert pick.wanted == 3 and pick.retired is None
    assert check_person_id(np.int64(4)) == 4 and check_person_id(None) is None
    for bad, msg in ((0, "ids start at 1), found 0"), (1.5, "an integer >= 1) or None, found 1.5"),
                     ("2", "found '2'"), (True, "found True")):
        with pytest.raises(ConfigError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            pick.request(bad)


def test_pipeline_streams_the_picked_person_in_mm():
    pipe, hub, sink, crowd = live_pipeline(frames=75)
    try:
        pipe.start()
        _run_until(pipe, lambda s: s is not None and s.people is not None and len(s.people.ids) == 2)
        shown = pipe.latest().index
        _run_until(pipe, lambda s: sink.since(shown))
        first = sink.since(shown)[0]
        assert first.person_id == 1 and list(first.people_ids) == [1, 2]
        np.testing.assert_array_equal(first.xyz_world, first.people_xyz[0])
        picked_at = pipe.latest().index
        pipe.pick_person(2)
        _run_until(pipe, lambda s: s.index >= picked_at + 12)
    finally:
        pipe.stop()
        hub.close()
    later = [f for f in sink.since(picked_at + 2) if f.people_ids is not None and 2 in f.people_ids]
    assert len(later) >= 5
    for f in later:
        assert f.person_id == 2
        np.testing.assert_array_equal(f.xyz_world, f.people_xyz[list(f.people_ids).index(2)])
        err_mm = 1000 * np.nanmax(np.abs(f.xyz_world - truth_of(crowd, f.index, f.xyz_world)))
        assert err_mm < 1.0, err_mm
        other = f.people_xyz[list(f.people_ids).index(1)]
        assert np.nanmedian(np.linalg.norm(other - f.xyz_world, axis=-1)) > 0.4  # really the other walker
        assert f.people_confidence.shape == f.people_xyz.shape[:2]
    assert pipe.latest().person_id == 2 and pipe.latest().pick_retired is None


def test_websocket_frames_carry_every_person_with_its_id_and_who_goes_out():
    import json

    from capture3d.stream.base import StreamFrame
    from capture3d.stream.ws import frame_message

    rng = np.random.default_rng(5)
    xyz = rng.normal(size=(2, 25, 3))
    xyz[1, 3] = np.nan
    frame = StreamFrame(7, 1.5, xyz[1], np.ones(25), np.zeros(25), np.full(25, 3), people_ids=np.array([4, 6]),
                        people_xyz=xyz, people_confidence=np.ones((2, 25)), person_id=6)
    msg = json.loads(frame_message(frame, "BODY_25", 1.0))
    assert msg["person_id"] == 6 and [p["id"] for p in msg["people"]] == [4, 6]
    assert msg["people"][1]["joints"][3] is None
    np.testing.assert_allclose(msg["people"][0]["joints"][0], xyz[0, 0], atol=5e-5)
    assert msg["joints"][0] == msg["people"][1]["joints"][0]
