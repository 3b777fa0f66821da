"""Several people in the viewer, on a real (virtual) display like tests/test_viewer_gui.py (Xvfb, Mesa): every
person drawn in the colour of its id with its id label, the "Person" picker of the live window choosing who
goes out (the callback gets the id; the next StreamFrames carry that person, checked in mm against the
truth), a retired pick said in the status bar, and replay of a take of several people."""
from __future__ import annotations

import numpy as np
import pytest

from capture3d.body.keypoint_sets import BODY_25
from capture3d.cli import main as cli_main
from capture3d.export.people import write_people
from capture3d.types import Keypoints3D, LiveSnapshot, PeopleFrame, Pose3DFrame
from capture3d.viewer import LiveControls, has_display
from capture3d.viewer.geometry import person_rgba
from people_live_helpers import live_pipeline, truth_of
from viewer_helpers import show

pytestmark = [pytest.mark.gui, pytest.mark.skipif(not has_display(), reason="needs a display (run under Xvfb)")]


@pytest.fixture(scope="module")
def app():
    from capture3d.viewer.app import ensure_app

    return ensure_app()


def _people_coloured(scene, min_px: float = 14.0, tol: int = 40) -> dict[int, float]:
    """Per person id shown: the fraction of its isolated joints (>= min_px from every other joint drawn) whose
    pixel (or a neighbour) has the person's colour in the rendered framebuffer."""
    from PyQt6 import QtGui

    ids, xyz, _ = scene._people
    centre = np.nanmean(xyz.reshape(-1, 3), axis=0)
    scene.setCameraPosition(pos=QtGui.QVector3D(*centre), distance=4.0)  # both people fill the view
    img = scene.grab_rgb().astype(int)
    xy = scene.project(xyz.reshape(-1, 3)).reshape(len(ids), -1, 2)
    flat = xy.reshape(-1, 2)
    d = np.linalg.norm(flat[:, None] - flat[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    iso = (np.nan_to_num(d, nan=np.inf).min(axis=1) >= min_px).reshape(len(ids), -1) & np.isfinite(xy).all(-1)
    rgb = np.round(person_rgba(ids)[:, :3] * 255).astype(int)
    h, w = img.shape[:2]
    out = {}
    for k, pid in enumerate(ids):
        hits = []
        for x, y in xy[k][iso[k]]:
            xi, yi = int(np.floor(x)), int(np.floor(y))
            if not (1 <= xi < w - 1 and 1 <= yi < h - 1):
                continue
            patch = img[yi - 1:yi + 2, xi - 1:xi + 2]
            hits.append(bool((np.abs(patch - rgb[k]).max(axis=-1) <= tol).any()))
        out[int(pid)] = float(np.mean(hits)) if len(hits) >= 3 else float("nan")
    return out


def test_live_person_picker_chooses_who_goes_out(app, qtbot):
    from PyQt6 import QtCore

    from capture3d.viewer.app import build_live

    pipe, hub, sink, crowd = live_pipeline(frames=240)
    got = []

    def pick(person_id):
        got.append(person_id)
        pipe.pick_person(person_id)

    controls = LiveControls(start=pipe.resume, stop=pipe.pause, stopped=pipe.end_reason, pick_person=pick)
    pipe.start()
    try:
        window, ctl = build_live(pipe.poll, pipe.reconstructor.rig, BODY_25, controls)
        show(window, qtbot)
        box = ctl.picker.box
        qtbot.waitUntil(lambda: ctl.picker.ids == (1, 2), timeout=8000)
        assert box.isEnabled()
        assert [box.itemText(i) for i in range(box.count())] == ["lowest id in view", "person 1", "person 2"]
        qtbot.waitUntil(lambda: window.scene._people is not None and window.scene._people[2] == 1, timeout=3000)
        assert "people in view: 1, 2; out: person 1" in window.extra_status
        # the user picks person 2: the callback gets the id, the next frames sent carry that person
        box.setCurrentIndex(box.findData(2))
        assert got == [2] and ctl.picker.picked == 2
        assert "person 2 goes out" in window.statusBar().currentMessage()
        picked_at = pipe.latest().index
        qtbot.waitUntil(lambda: len([f for f in sink.since(picked_at + 1) if f.person_id == 2]) >= 3, timeout=5000)
        frames = [f for f in sink.since(picked_at + 2) if f.people_ids is not None and 2 in f.people_ids]
        assert frames and all(f.person_id == 2 for f in frames)
        for f in frames:
            mine = f.people_xyz[list(f.people_ids).index(2)]
            np.testing.assert_array_equal(f.xyz_world, mine)
            err_mm = 1000 * np.nanmax(np.abs(f.xyz_world - truth_of(crowd, f.index, f.xyz_world)))
            assert err_mm < 1.0, err_mm  # exact 2D, no filter: the triangulation to well under a millimetre
            other = f.people_xyz[list(f.people_ids).index(1)]
            assert np.nanmedian(np.linalg.norm(other - mine, axis=-1)) > 0.4  # not the other walker
        # the window singles person 2 out (larger joints, marked label) and draws both in their colours
        qtbot.waitUntil(lambda: window.scene._people[2] == 2, timeout=3000)
        qtbot.mouseClick(ctl.btn_live, QtCore.Qt.MouseButton.LeftButton)  # freeze the picture
        qtbot.wait(150)
        scene = window.scene
        ids, xyz, followed = scene._people
        assert list(ids) == [1, 2] and followed == 2
        assert sorted(t for _, t, _ in scene._person_labels) == ["1", "2 ●"]
        sizes = scene._joints.size if np.ndim(scene._joints.size) else None
        assert sizes is not None and sizes[scene.drawn_joint_person == 1].min() > sizes[scene.drawn_joint_person == 0].max()
        coloured = _people_coloured(scene)
        assert all(v >= 0.8 for v in coloured.values()), coloured
        # back to the default: the lowest id
        qtbot.mouseClick(ctl.btn_live, QtCore.Qt.MouseButton.LeftButton)
        box.setCurrentIndex(0)
        assert got == [2, None]
        back_at = pipe.latest().index
        qtbot.waitUntil(lambda: any(f.person_id == 1 for f in sink.since(back_at + 1)), timeout=5000)
    finally:
        pipe.stop()
        hub.close()


def _people_snapshot(index, xyz, ids, person_id, retired=None):
    K, J = xyz.shape[:2]
    people = PeopleFrame(np.asarray(ids), xyz, np.ones((K, J)), np.zeros((K, J)), np.full((K, J), 3),
                         np.zeros((K, 4), int), index / 30.0)
    k = list(ids).index(person_id) if person_id in ids else None
    pose = people.person(person_id) if k is not None else \
        Pose3DFrame(np.full((J, 3), np.nan), np.zeros(J), np.full(J, np.nan), np.zeros(J, int), np.full(4, -1), 0.0)
    return LiveSnapshot(index, index / 30.0, pose, None, None, people=people, person_id=person_id,
                        pick_retired=retired)


def test_a_retired_pick_is_said_and_the_picker_goes_back_to_the_lowest_id(app, qtbot):
    from capture3d.synth import make_rig, walking_motion
    from capture3d.viewer.app import build_live

    pose = walking_motion(3).xyz_world[0]
    two = np.stack([pose, pose + [1.2, 0, 0]])
    state = {"snap": _people_snapshot(0, two, [1, 2], 1)}
    got = []
    window, ctl = build_live(lambda: state["snap"], make_rig(4), BODY_25, LiveControls(pick_person=got.append))
    show(window, qtbot)
    qtbot.waitUntil(lambda: ctl.picker.ids == (1, 2), timeout=3000)
    box = ctl.picker.box
    box.setCurrentIndex(box.findData(2))
    assert got == [2]
    state["snap"] = _people_snapshot(1, two, [1, 2], 2)
    qtbot.waitUntil(lambda: ctl.last_index == 1, timeout=3000)
    state["snap"] = _people_snapshot(2, two, [1, 2], None)  # person 2 tracked but not seen: kept in the list
    qtbot.waitUntil(lambda: ctl.last_index == 2, timeout=3000)
    assert ctl.picker.picked == 2 and box.currentData() == 2
    state["snap"] = _people_snapshot(3, two[:1], [1], 1, retired=2)
    qtbot.waitUntil(lambda: ctl.last_index == 3, timeout=3000)
    assert "person 2 was retired" in window.statusBar().currentMessage()
    assert "lowest id in view goes out again" in window.statusBar().currentMessage()
    assert ctl.picker.picked is None and box.currentIndex() == 0 and ctl.picker.ids == (1,)
    assert got == [2]  # the pipeline ended the pick itself: no callback
    assert window.scene._people[2] == 1 and [t for _, t, _ in window.scene._person_labels] == ["1 ●"]


def test_picker_is_disabled_without_every_person(app, qtbot):
    from capture3d.synth import make_rig, walking_motion
    from capture3d.viewer.app import build_live

    motion = walking_motion(2)
    pose = Pose3DFrame(motion.xyz_world[0], np.ones(25), np.zeros(25), np.ones(25, int), np.zeros(4, int), 0.0)
    window, ctl = build_live(lambda: LiveSnapshot(0, 0.0, pose), make_rig(4), BODY_25, LiveControls(pick_person=print))
    show(window, qtbot)
    qtbot.waitUntil(lambda: ctl.snapshots == 1, timeout=3000)
    assert not ctl.picker.box.isEnabled() and "--people all" in ctl.picker.box.toolTip()
    assert window.scene._people is None and window.scene._person_labels == []


def _take(frames=40):
    from capture3d.synth.crowd import crowd_motion

    crowd = crowd_motion(2, frames, 30.0, seed=2)
    people = {pid: Keypoints3D.from_positions(crowd.xyz_world[k], 30.0, BODY_25) for k, pid in enumerate((3, 7))}
    people[7].xyz_world[20:] = np.nan  # person 7 leaves at frame 20
    people[7].valid[20:] = False
    return people


def test_replay_shows_every_person_of_a_take(app, qtbot):
    from capture3d.viewer.app import build_replay

    people = _take()
    window, ctl = build_replay(people[7], None, 10, people=people, person=7)
    show(window, qtbot)
    scene = window.scene
    ids, xyz, followed = scene._people
    assert list(ids) == [3, 7] and followed == 7
    np.testing.assert_array_equal(xyz[1], people[7].xyz_world[10])
    assert [t for _, t, _ in scene._person_labels] == ["3", "7 ●"]
    coloured = _people_coloured(scene)
    assert all(v >= 0.8 for v in coloured.values()), coloured
    assert window.stats["person"] == 7 and window.stats["people in view"] == "3, 7"
    ctl.set_frame(25)  # person 7 gone: person 3 alone, nobody singled out
    ids, _, followed = scene._people
    assert list(ids) == [3] and [t for _, t, _ in scene._person_labels] == ["3"]
    assert window.stats["people in view"] == "3"
    assert window.stats["person"] == 7 and window.stats["joints"] == "0 / 25"  # the picked one's figures


def test_cli_view_replays_a_take_of_several_people(app, tmp_path, capsys):
    import cv2

    path = write_people(tmp_path / "take.csv", _take())[0]
    png = tmp_path / "shot.png"
    assert cli_main(["view", str(path), "--person", "7", "--frame", "5", "--screenshot", str(png)]) == 0
    assert "2 people (ids 3, 7), each in the colour of its id; person 7 picked" in capsys.readouterr().out
    assert cv2.imread(str(png)).std() > 10
    assert cli_main(["view", str(path), "--screenshot", str(png)]) == 0
    assert cli_main(["view", str(path), "--person", "5", "--screenshot", str(png)]) == 1
    assert "no person 5; the file holds person ids 3, 7" in capsys.readouterr().err
