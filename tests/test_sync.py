"""Frame-set assembly: trigger ids and timestamps, with drops, late, mismatched and dead cameras."""
import numpy as np

from capture3d.runtime.sync import FrameSetAssembler, mispaired
from capture3d.types import Frame

FPS = 60.0
PERIOD = 1.0 / FPS


def frame(view, k, t=None, truth=None):
    t = k * PERIOD if t is None else t
    meta = {"truth_index": k if truth is None else truth}
    return Frame(f"cam{view}", view, k, t, t, t, None, False, meta)


def test_trigger_mode_groups_by_frame_id_in_any_arrival_order():
    rng = np.random.default_rng(0)
    asm = FrameSetAssembler(["cam0", "cam1", "cam2"], FPS, "trigger", max_delay_frames=3)
    frames = [frame(v, k) for k in range(50) for v in range(3)]
    # shuffle within a window of 2 frames: cameras deliver in their own order, interleaved arbitrarily
    order = sorted(range(len(frames)), key=lambda i: frames[i].frame_id + rng.uniform(0, 1.5))
    sets = []
    for i in order:
        sets += asm.add(frames[i])
    sets += asm.flush()
    assert [s.frame_id for s in sets] == list(range(50))
    assert [s.index for s in sets] == list(range(50))
    assert all(s.complete and not mispaired(s) for s in sets)
    assert asm.stats.as_dict()["missing"] == 0 and asm.stats.complete == 50


def test_dropped_frames_become_missing_views_and_are_counted():
    asm = FrameSetAssembler(["a", "b"], FPS, "trigger", max_delay_frames=2)
    dropped = {3, 7, 8}
    sets = []
    for k in range(20):
        sets += asm.add(frame(0, k))
        if k not in dropped:
            sets += asm.add(frame(1, k))
    sets += asm.flush()
    assert len(sets) == 20
    missing = [s.frame_id for s in sets if not s.complete]
    assert missing == sorted(dropped)
    assert all(s.frames[1] is None for s in sets if s.frame_id in dropped)
    assert asm.stats.missing == [0, 3] and asm.stats.frames == [20, 17]


def test_late_frame_after_emission_is_dropped_not_paired():
    asm = FrameSetAssembler(["a", "b"], FPS, "trigger", max_delay_frames=2)
    sets = []
    for k in range(6):
        sets += asm.add(frame(0, k))
    # camera b's frame 1 arrives after set 1 was given up (newest is 5 > 1 + 2)
    assert [s.frame_id for s in sets] == [0, 1, 2]
    assert asm.add(frame(1, 1)) == []
    assert asm.stats.late == [0, 1]
    assert all(s.frames[1] is None for s in sets)


def test_trigger_id_with_wrong_timestamp_is_mismatched_not_paired():
    asm = FrameSetAssembler(["a", "b"], FPS, "trigger")
    out = asm.add(frame(0, 10))
    # same trigger id but exposed 0.6 periods later: a counter that slipped
    out += asm.add(frame(1, 10, t=10 * PERIOD + 0.6 * PERIOD, truth=11))
    out += asm.flush()
    assert len(out) == 1 and out[0].frames[1] is None and not mispaired(out[0])
    assert asm.stats.mismatched == [0, 1]


def test_timestamp_mode_pairs_nearest_within_half_period_with_jitter_and_drift():
    rng = np.random.default_rng(1)
    n, V = 300, 4
    drift = np.array([0.0, 80e-6, -60e-6, 120e-6])  # 80 ppm etc. of free-running clocks
    offset = rng.uniform(0, 0.3 * PERIOD, V)
    asm = FrameSetAssembler([f"cam{v}" for v in range(V)], FPS, "timestamp", max_delay_frames=3)
    sets = []
    events = []
    for v in range(V):
        for k in range(n):
            if rng.random() < 0.03:  # 3 % dropped
                continue
            t = k * PERIOD * (1 + drift[v]) + offset[v] + rng.normal(0, 0.05 * PERIOD)
            events.append((t + rng.uniform(0, 2e-3), v, k, t))
    for _, v, k, t in sorted(events):
        f = Frame(f"cam{v}", v, k, t, t, t, None, False, {"truth_index": k})
        sets += asm.add(f)
    sets += asm.flush()
    assert sum(mispaired(s) for s in sets) == 0
    assert len(sets) == n
    n_frames = sum(s.present.sum() for s in sets)
    assert n_frames == len(events) - sum(asm.stats.late) - sum(asm.stats.mismatched)
    times = [s.time_s for s in sets]
    assert np.all(np.diff(times) > 0.5 * PERIOD)


def test_timestamp_mode_never_pairs_frames_a_period_apart():
    asm = FrameSetAssembler(["a", "b"], FPS, "timestamp", max_delay_frames=2)
    sets = asm.add(frame(0, 0, t=0.0))
    sets += asm.add(frame(1, 1, t=0.55 * PERIOD))  # beyond half a period: a new set
    sets += asm.flush()
    assert len(sets) == 2 and not any(s.complete for s in sets)


def test_dead_camera_releases_waiting_sets_and_expire_by_host_clock():
    asm = FrameSetAssembler(["a", "b", "c"], FPS, "trigger", max_delay_frames=5)
    for k in range(3):  # camera c never delivers: nothing is complete, nothing expires yet
        assert asm.add(frame(0, k)) == []
        assert asm.add(frame(1, k)) == []
    assert asm.n_pending == 3
    ready = asm.mark_dead(2)
    assert [s.frame_id for s in ready] == [0, 1, 2]
    assert asm.stats.dead == ["c"] and asm.stats.missing == [0, 0, 3]
    asm.add(frame(0, 3))
    assert asm.expire(now_s=3 * PERIOD + 2 * PERIOD) == []
    late = asm.expire(now_s=3 * PERIOD + 6 * PERIOD)
    assert [s.frame_id for s in late] == [3] and asm.stats.missing == [0, 1, 4]


def test_file_replay_waits_for_complete_sets_without_data_expiry():
    asm = FrameSetAssembler(["a", "b"], FPS, "trigger", max_delay_frames=2, data_expiry=False)
    for k in range(10):  # camera a's reader runs 10 frames ahead
        assert asm.add(frame(0, k)) == []
    sets = []
    for k in range(10):
        sets += asm.add(frame(1, k))
    assert len(sets) == 10 and all(s.complete for s in sets)
