"""Streams with several people: ``vmc://HOST:PORT?people=N`` (one performer per UDP port, stable slots, a
solver per slot) and ``lsl://NAME?people=N`` (a channel block per person: id, then joints x X Y Z
Confidence); the URL options and their errors; the slot assignment."""
from __future__ import annotations

import os
import socket

import numpy as np
import pytest

from capture3d.body.keypoint_sets import BODY_25
from capture3d.errors import StreamError
from capture3d.stream import parse_stream_url
from capture3d.stream.base import StreamFrame
from capture3d.stream.lsl import LSLSink, channel_layout, people_sample
from capture3d.stream.slots import StreamSlots
from capture3d.stream.urls import check_stream_urls
from capture3d.stream.vmc import VMCSink
from capture3d.synth.crowd import crowd_motion

#: Unity (left-handed, Y up) <- capture3d world (Z up): written out here, independently of capture3d
UNITY_FROM_WORLD = np.array([[-1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
MID_HIP = BODY_25.index("MidHip")


def test_people_option_of_stream_urls():
    t = parse_stream_url("vmc://127.0.0.1:40000?people=3")
    assert (t.host, t.port, t.people, list(t.ports())) == ("127.0.0.1", 40000, 3, [40000, 40001, 40002])
    assert parse_stream_url("lsl://mocap?people=2").name == "mocap" and parse_stream_url("lsl://mocap").people == 1
    assert parse_stream_url("vmc://h").people == 1 and list(parse_stream_url("vmc://h").ports()) == [39539]
    for url, msg in (("vmc://h?people=0", r"people must be an integer 1..16 .*found '0'"),
                     ("lsl://x?people=two", r"people must be an integer 1..16 .*found 'two'"),
                     ("vmc://h?people=17", "found '17'"),
                     ("osc://h?people=2", r"unknown option 'people'; osc:// takes none \(people=N is for vmc:// and lsl://\)"),
                     ("vmc://h?persons=2", "unknown option 'persons'; vmc:// takes people=N"),
                     ("vmc://h?people=2&people=3", "people is given twice; give it once"),
                     ("vmc://h:65534?people=3", "needs ports 65534..65536, past the last port 65535")):
        with pytest.raises(StreamError, match=msg):
            parse_stream_url(url)
    with pytest.raises(StreamError, match=r"'vmc://h:100\?people=3' and 'vmc://h:102' both send to port 102 of h"):
        check_stream_urls(["vmc://h:100?people=3", "vmc://h:102"])
    with pytest.raises(StreamError, match="both send to the LSL stream 'x'"):
        check_stream_urls(["lsl://x", "lsl://x?people=2"])
    assert len(check_stream_urls(["vmc://h:100?people=2", "vmc://h:102"])) == 2


def test_person_slots_are_stable_and_reused():
    s = StreamSlots(2, release_s=1.0)
    np.testing.assert_array_equal(s.assign([2, 1], 0.0), [1, 0])  # in id order: 1 -> slot 0, 2 -> slot 1
    assert list(s.owner) == [1, 2] and s.changed.all()
    np.testing.assert_array_equal(s.assign([2], 0.1), [-1, 0])  # 1 out of view: keeps its slot
    assert list(s.owner) == [1, 2] and not s.changed.any()
    np.testing.assert_array_equal(s.assign([1, 2], 0.2), [0, 1])  # back: the same slot
    np.testing.assert_array_equal(s.assign([2, 3], 0.3), [1, 0])  # no free slot: 3 takes the away owner's
    assert list(s.owner) == [3, 2] and list(s.changed) == [True, False]
    np.testing.assert_array_equal(s.assign([2, 3, 4], 0.4), [1, 0])  # all owners in view: 4 waits
    np.testing.assert_array_equal(s.assign([4], 2.0), [0, -1])  # 2 and 3 unseen > 1 s: freed, 4 takes slot 0
    assert list(s.owner) == [4, 0]
    s = StreamSlots(2)
    s.assign([5, 6, 7], 0.0, first=7)  # the picked person is served first
    assert list(s.owner) == [7, 5]


def _udp_pair():
    """Two bound UDP sockets on consecutive ports of 127.0.0.1."""
    for _ in range(50):
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.bind(("127.0.0.1", 0))
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            b.bind(("127.0.0.1", a.getsockname()[1] + 1))
        except OSError:
            a.close()
            b.close()
            continue
        for s in (a, b):
            s.settimeout(2.0)
        return a, b
    pytest.skip("no two consecutive free UDP ports")


def _bones(datagram: bytes) -> dict[str, tuple]:
    """Decode one VMC bundle: {bone or address: args}."""
    from pythonosc.osc_bundle import OscBundle

    out = {}
    for m in OscBundle(datagram):
        out[m.params[0] if m.address in ("/VMC/Ext/Bone/Pos", "/VMC/Ext/Root/Pos") else m.address] = tuple(m.params)
    return out


def _frame(t, ids, xyz, person_id=None):
    ids = np.asarray(ids)
    J = xyz.shape[1]
    k = list(ids).index(person_id) if person_id in list(ids) else 0
    return StreamFrame(t, t / 30.0, xyz[k], np.ones(J), np.zeros(J), np.full(J, 3), people_ids=ids, people_xyz=xyz,
                       people_confidence=np.full(xyz.shape[:2], 0.9), person_id=person_id)


def test_vmc_sends_one_performer_per_port_in_metres():
    pytest.importorskip("pythonosc", reason="python-osc decodes the bundles: pip install 'capture3d[test]'")
    crowd = crowd_motion(3, 40, 30.0, seed=4).xyz_world  # (3, T, 25, 3)
    a, b = _udp_pair()
    port = a.getsockname()[1]
    sink = VMCSink(parse_stream_url(f"vmc://127.0.0.1:{port}?people=2"), BODY_25, 30.0)
    sink.open()
    try:
        got = []
        for t in range(25):  # persons 1 and 2 (their ids in view in reverse order: slots follow ids)
            sink.send(_frame(t, [2, 1], crowd[[1, 0], t], person_id=1))
            got.append((_bones(a.recv(65536)), _bones(b.recv(65536))))
        for t in range(25, 40):  # person 1 leaves, person 3 arrives: port 0 changes owner, port 1 keeps 2
            sink.send(_frame(t, [2, 3], crowd[[1, 2], t], person_id=2))
            got.append((_bones(a.recv(65536)), _bones(b.recv(65536))))
    finally:
        sink.close()
        a.close()
        b.close()
    # rest lengths measured on the first 10 frames: then every bundle has the bones
    assert "Hips" not in got[0][0] and got[0][0]["/VMC/Ext/OK"] == (1, 0, 0, 0)
    posed = 0
    for t, (p0, p1) in enumerate(got):
        owners = (0, 1) if t < 25 else (2, 1)
        for msgs, who in zip((p0, p1), owners):
            if "Hips" not in msgs:
                continue
            posed += 1
            assert msgs["/VMC/Ext/OK"] == (1, 3, 0, 1)
            hips_m = np.array(msgs["Hips"][1:4])
            np.testing.assert_allclose(hips_m, UNITY_FROM_WORLD @ crowd[who, t, MID_HIP], atol=1e-5)
            assert abs(msgs["/VMC/Ext/T"][0] - t / 30.0) < 1e-5
    assert posed >= 2 * 15 + 15 + 5  # both ports from frame 10; port 0 again 10 frames after its new owner
    # port 0's new owner (person 3) has its own bone lengths: measured again, no bones for 10 frames
    assert all("Hips" not in got[t][0] for t in range(25, 34)) and "Hips" in got[39][0]
    assert all("Hips" in got[t][1] for t in range(10, 40))  # person 2 kept port 1 throughout
    assert [p.person_id for p in sink.performers] == [3, 2]


def test_vmc_single_port_follows_the_picked_person_with_its_own_solver():
    crowd = crowd_motion(2, 30, 30.0, seed=4).xyz_world
    sink = VMCSink(parse_stream_url("vmc://127.0.0.1:9?people=1"), BODY_25, 30.0)
    for t in range(12):
        sink.encode(_frame(t, [1, 2], crowd[:, t], person_id=1))
    first = sink.solver
    assert first.ready and sink.performers[0].person_id == 1
    sink.encode(_frame(12, [1, 2], crowd[:, 12], person_id=2))  # picked person 2: a solver of its own
    assert sink.solver is not first and not sink.solver.ready
    for t in range(13, 25):
        sink.encode(_frame(t, [1, 2], crowd[:, t], person_id=2))
    sink.encode(_frame(25, [1, 2], crowd[:, 25], person_id=1))  # back to person 1: its lengths kept
    assert sink.solver is first


def test_lsl_people_sample_blocks():
    rng = np.random.default_rng(3)
    xyz = rng.normal(size=(2, 25, 3))
    xyz[1, 4] = np.nan
    conf = rng.uniform(0.2, 1.0, size=(2, 25))
    out = np.zeros((1, 3 * 101), np.float32)
    people_sample(out, np.array([1, -1, 0]), np.array([7, 9]), xyz, conf)
    blocks = out.reshape(3, 101)
    assert list(blocks[:, 0]) == [9, 0, 7]
    j = blocks[:, 1:].reshape(3, 25, 4)
    np.testing.assert_allclose(j[0, :, :3], xyz[1].astype(np.float32))
    assert np.isnan(j[0, 4, :3]).all() and j[0, 4, 3] == 0
    np.testing.assert_allclose(j[2, :, 3], conf[0].astype(np.float32))
    assert np.isnan(j[1, :, :3]).all() and (j[1, :, 3] == 0).all()
    labels = [c[0] for c in channel_layout(BODY_25, 2)]
    assert labels[:5] == ["p1_id", "p1_Nose_X", "p1_Nose_Y", "p1_Nose_Z", "p1_Nose_Confidence"]
    assert labels[101:103] == ["p2_id", "p2_Nose_X"] and len(labels) == 2 * 101
    assert [c[0] for c in channel_layout(BODY_25)][:4] == ["Nose_X", "Nose_Y", "Nose_Z", "Nose_Confidence"]


def test_lsl_inlet_reads_a_block_per_person():
    pylsl = pytest.importorskip("pylsl", reason="the LSL stream needs pylsl: pip install 'capture3d[stream]'")
    crowd = crowd_motion(2, 20, 30.0, seed=4).xyz_world
    name = f"capture3d-people-{os.getpid()}"
    sink = LSLSink(parse_stream_url(f"lsl://{name}?people=3"), BODY_25, 30.0)
    sink.open()
    try:
        found = pylsl.resolve_byprop("name", name, 1, 10.0)
        inlet = pylsl.StreamInlet(found[0], max_buflen=30)
        inlet.open_stream(10.0)
        info = inlet.info(10.0)
        for t in range(5):
            sink.send(_frame(t, [4, 2], crowd[:, t], person_id=2))
        samples = []
        while len(samples) < 5:
            s, _ = inlet.pull_sample(timeout=5.0)
            assert s is not None, "the inlet got fewer samples than were sent"
            samples.append(np.asarray(s, dtype=float))
        inlet.close_stream()
    finally:
        sink.close()
    assert info.channel_count() == 3 * (1 + 4 * 25)
    ch = info.desc().child("channels").child("channel")
    labels, types = [], []
    while not ch.empty():
        labels.append(ch.child_value("label"))
        types.append(ch.child_value("type"))
        ch = ch.next_sibling()
    assert labels[0] == "p1_id" and types[0] == "PersonId" and labels[1] == "p1_Nose_X" and labels[202] == "p3_id"
    assert info.desc().child("acquisition").child("settings").child_value("people") == "3"
    for t, s in enumerate(samples):
        blocks = s.reshape(3, 101)
        assert list(blocks[:, 0]) == [2, 4, 0]  # slots in id order, the picked (2) first; the third empty
        np.testing.assert_allclose(blocks[0, 1:].reshape(25, 4)[:, :3], crowd[1, t], atol=1e-6)  # metres
        np.testing.assert_allclose(blocks[1, 1:].reshape(25, 4)[:, :3], crowd[0, t], atol=1e-6)
        np.testing.assert_allclose(blocks[0, 1:].reshape(25, 4)[:, 3], 0.9, atol=1e-6)
        assert np.isnan(blocks[2, 1:].reshape(25, 4)[:, :3]).all()


def test_capture3d_live_says_when_people_n_meets_one_subject():
    from capture3d.config import config_from_dict
    from capture3d.runtime.app import build_live

    for people, said in (("one", True), ("all", False)):
        app = build_live(config_from_dict({"tracking": {"people": people}}),
                         streams=["vmc://127.0.0.1:45000?people=2"])
        try:
            notes = [n for n in app.notes if "people=N streams one person per VMC port / LSL block" in n]
            assert bool(notes) == said, app.notes
            assert [len(s.performers) for s in app.streams.sinks] == [2]
        finally:
            app.close()
