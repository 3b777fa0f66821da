"""Rig formats: every writable format round-trips (write -> read -> same cameras), order survives 12 cameras,
formats are detected from name and content, errors name the key and the file; Caliscope's real files read."""
import logging
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from capture3d.cli import main
from capture3d.errors import RigError
from capture3d.geometry.camera import Camera, Rig
from capture3d.io.rig_files import load_rig, save_rig
from capture3d.io.rig_files import write_rig
from capture3d.io.rig_formats import detect_format, output_format
from capture3d.synth import make_rig

REPO = Path(__file__).resolve().parents[1]


def _same(a: Rig, b: Rig, tol: float = 1e-9) -> None:
    assert b.names == a.names
    for ca, cb in zip(a.cameras, b.cameras):
        assert cb.size_wh == ca.size_wh, ca.name
        assert np.abs(cb.K - ca.K).max() <= tol, ca.name
        assert cb.dist.shape == ca.dist.shape and np.abs(cb.dist - ca.dist).max() <= tol, ca.name
        assert np.abs(cb.R - ca.R).max() <= tol, ca.name
        assert np.abs(cb.rvec - ca.rvec).max() <= tol, ca.name
        assert np.abs(cb.tvec - ca.tvec).max() <= tol, ca.name


def _in_first_camera_frame(rig: Rig) -> Rig:
    """The same rig with camera 1 as the world frame (what a stereo YAML holds)."""
    R1, t1 = rig[0].R, rig[0].tvec
    cams = []
    for c in rig.cameras:
        R = c.R @ R1.T
        cams.append(Camera(c.name, c.size_wh, c.K, c.dist, _rvec(R), c.tvec - R @ t1, c.fisheye))
    return Rig(tuple(cams))


def _rvec(R):
    import cv2
    return cv2.Rodrigues(R)[0].ravel()


_OUTS = {  # format -> (OUT relative to tmp_path, --format or None)
    "toml": ("rig.toml", None),
    "caliscope": ("camera_array.toml", None),
    "caliscope_config": ("config.toml", None),
    "easymocap": ("emc", "easymocap"),
    "openpose": ("xml", None),
}


@pytest.mark.parametrize("fmt", list(_OUTS))
def test_roundtrip_every_multi_camera_format(tmp_path, fmt):
    rig = make_rig(4, seed=3)
    out, flag = _OUTS[fmt]
    written = write_rig(tmp_path / out, rig, flag)
    assert all(p.is_file() for p in written)
    expected = "caliscope" if fmt.startswith("caliscope") else fmt
    assert detect_format(tmp_path / out) == expected
    _same(rig, load_rig(tmp_path / out))


def test_easymocap_reads_from_either_file_and_the_folder(tmp_path):
    rig = make_rig(3, seed=4)
    write_rig(tmp_path, rig, "easymocap")
    for p in (tmp_path, tmp_path / "intri.yml", tmp_path / "extri.yml"):
        assert detect_format(p) == "easymocap"
        _same(rig, load_rig(p))


def test_stereo_yaml_roundtrip_puts_camera_1_at_the_origin(tmp_path):
    rig = make_rig(2, seed=5)
    p = write_rig(tmp_path / "stereo.yml", rig)[0]
    assert detect_format(p) == "stereo"
    back = load_rig(p)
    assert np.array_equal(back[0].rvec, np.zeros(3)) and np.array_equal(back[0].tvec, np.zeros(3))
    _same(_in_first_camera_frame(rig), back)
    # relative pose and the baseline are what the file keeps
    assert abs(np.linalg.norm(back[1].center_world) -
               np.linalg.norm(rig[1].center_world - rig[0].center_world)) < 1e-9


def test_stereo_yaml_opencv_variant_k1_k2_without_names_or_size(tmp_path):
    p = tmp_path / "calib.yaml"
    p.write_text("%YAML:1.0\n---\n"
                 "K1: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 800., 0., 320., 0., 810., 240., 0., 0., 1. ]\n"
                 "D1: !!opencv-matrix\n   rows: 5\n   cols: 1\n   dt: d\n   data: [ -0.1, 0.01, 0., 0., 0. ]\n"
                 "K2: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 805., 0., 330., 0., 805., 250., 0., 0., 1. ]\n"
                 "D2: !!opencv-matrix\n   rows: 1\n   cols: 4\n   dt: d\n   data: [ -0.2, 0.02, 0., 0. ]\n"
                 "R: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 0., 0., -1., 0., 1., 0., 1., 0., 0. ]\n"
                 "T: !!opencv-matrix\n   rows: 3\n   cols: 1\n   dt: d\n   data: [ -0.5, 0., 0.5 ]\n")
    rig = load_rig(p)
    assert rig.names == ["cam_01", "cam_02"]
    assert rig[0].size_wh == (640, 480) and rig[1].size_wh == (660, 500)  # 2 x principal point
    assert rig[1].dist.size == 4
    assert np.allclose(rig[1].R, [[0, 0, -1], [0, 1, 0], [1, 0, 0]])
    # camera 2's centre in camera 1's frame: -R^T T
    assert np.allclose(rig[1].center_world, [-0.5, 0.0, -0.5])


def test_stereo_yaml_needs_two_cameras(tmp_path):
    with pytest.raises(RigError, match="exactly 2 cameras; this rig has 4"):
        write_rig(tmp_path / "s.yml", make_rig(4, seed=1))


def test_twelve_cameras_keep_their_order_in_every_format(tmp_path):
    rig = make_rig(12, seed=6)
    assert rig.names[9:] == ["cam10", "cam11", "cam12"]
    for fmt, (out, flag) in _OUTS.items():
        write_rig(tmp_path / out, rig, flag)
        assert load_rig(tmp_path / out).names == rig.names, fmt
    # tables are zero-padded, so sorting the table names as text (aniposelib does) keeps the order
    toml_tables = list(tomllib.loads((tmp_path / "rig.toml").read_text()))
    cams = [k for k in toml_tables if k != "metadata"]
    assert cams == sorted(cams) and cams[0] == "cam_01" and cams[-1] == "cam_12"
    names_by_text = [tomllib.loads((tmp_path / "rig.toml").read_text())[k]["name"] for k in sorted(cams)]
    assert names_by_text == rig.names
    ports = list(tomllib.loads((tmp_path / "camera_array.toml").read_text())["cameras"])
    assert ports == sorted(ports) and ports[0] == "00" and ports[-1] == "11"
    legacy = [k for k in tomllib.loads((tmp_path / "config.toml").read_text())]
    assert legacy == sorted(legacy) and legacy[-1] == "cam_11"


_POSE2SIM = """
[cam_01]
name = "cam_01"
size = [ 1088.0, 1920.0,]
matrix = [ [ 1676.0, 0.0, 543.0,], [ 0.0, 1675.0, 960.0,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.04, 0.3, 0.001, 0.0,]
rotation = [ 1.6, -0.9, 0.7,]
translation = [ 0.2, 0.8, 3.9,]
fisheye = false

[cam_02]
name = "cam_02"
size = [ 1088.0, 1920.0,]
matrix = [ [ 1690.0, 0.0, 540.0,], [ 0.0, 1690.0, 961.0,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.05, 0.2, 0.0, 0.0,]
rotation = [ 1.2, 1.3, -1.1,]
translation = [ 0.1, 0.7, 4.5,]
fisheye = false
rotation_euler = [ 1.0, 2.0, 3.0,]       # FreeMoCap-style extra keys are ignored
error = 0.41

[metadata]
adjusted = false
error = 0.0

[capture_volume]
stage = 2

[charuco]
columns = 4

[checkerboard]
corners_nb = [ 4, 7,]
"""


def test_pose2sim_and_freemocap_variants_skip_non_camera_tables_with_a_note(tmp_path, caplog):
    p = tmp_path / "Calib.toml"
    p.write_text(_POSE2SIM)
    with caplog.at_level(logging.INFO, logger="capture3d.io.rig_files"):
        rig = load_rig(p)
    assert rig.names == ["cam_01", "cam_02"]
    assert rig[0].size_wh == (1088, 1920)
    assert np.allclose(rig[1].tvec, [0.1, 0.7, 4.5]) and rig[1].dist.size == 4
    note = " ".join(r.getMessage() for r in caplog.records)
    assert "capture_volume" in note and "charuco" in note and "checkerboard" in note and "skipped" in note


@pytest.mark.parametrize("write,needle", [
    (lambda d: (d / "extri.yml").write_text((d / "extri.yml").read_text().replace("T_cam2:", "X_cam2:")),
     r"extri\.yml: missing key 'T_cam2'"),
    (lambda d: (d / "intri.yml").write_text((d / "intri.yml").read_text().replace("K_cam1:", "Q_cam1:")),
     r"intri\.yml: missing key 'K_cam1'"),
])
def test_easymocap_missing_key_names_key_and_file(tmp_path, write, needle):
    write_rig(tmp_path, make_rig(2, seed=1), "easymocap")
    write(tmp_path)
    with pytest.raises(RigError, match=needle):
        load_rig(tmp_path)


def test_stereo_and_caliscope_missing_keys_name_key_and_file(tmp_path):
    p = write_rig(tmp_path / "s.yml", make_rig(2, seed=1))[0]
    p.write_text(p.read_text().replace("D2:", "Dx:"))
    with pytest.raises(RigError, match=r"s\.yml: missing key 'D2'"):
        load_rig(p)
    c = write_rig(tmp_path / "camera_array.toml", make_rig(2, seed=1))[0]
    c.write_text("\n".join(line for line in c.read_text().splitlines() if not line.startswith("translation")))
    with pytest.raises(RigError, match=r"camera_array\.toml \[cameras\.00\]: missing field\(s\) translation"):
        load_rig(c)


def test_unknown_format_lists_the_formats_and_how_they_are_recognized(tmp_path):
    p = tmp_path / "rig.json5"
    p.write_text("{}")
    with pytest.raises(RigError) as exc:
        load_rig(p)
    msg = str(exc.value)
    for name in ("toml", "caliscope", "easymocap", "openpose", "stereo", "qualisys", "recognized"):
        assert name in msg
    with pytest.raises(RigError, match="cannot tell the output format"):
        output_format(tmp_path / "rig.csv")
    (tmp_path / "other.yml").write_text("%YAML:1.0\n---\nfoo: 1\n")
    with pytest.raises(RigError, match="neither a stereo calibration"):
        load_rig(tmp_path / "other.yml")


def test_output_format_from_the_name():
    assert output_format(Path("a/rig.toml")) == "toml"
    assert output_format(Path("a/camera_array.toml")) == "caliscope"
    assert output_format(Path("a/config.toml")) == "caliscope"
    assert output_format(Path("a/intri.yml")) == "easymocap"
    assert output_format(Path("a/stereo.yaml")) == "stereo"
    assert output_format(Path("a/xml_folder")) == "openpose"
    assert output_format(Path("a/folder"), "easymocap") == "easymocap"


def test_cli_convert_chain_through_every_format_keeps_the_cameras(tmp_path, capsys):
    rig = make_rig(4, seed=8)
    src = save_rig(tmp_path / "rig.toml", rig)
    before = src.read_bytes()
    assert main(["rig", "convert", str(src), "-o", str(tmp_path / "camera_array.toml")]) == 0
    assert main(["rig", "convert", str(tmp_path / "camera_array.toml"), "-o", str(tmp_path / "emc"),
                 "--format", "easymocap"]) == 0
    assert main(["rig", "convert", str(tmp_path / "emc" / "intri.yml"), "-o", str(tmp_path / "xml"),
                 "--to", "openpose"]) == 0
    assert main(["rig", "convert", str(tmp_path / "xml"), "-o", str(tmp_path / "back.toml")]) == 0
    out = capsys.readouterr().out
    assert "toml -> caliscope" in out and "caliscope -> easymocap" in out and "openpose -> toml" in out
    _same(rig, load_rig(tmp_path / "back.toml"))
    assert src.read_bytes() == before  # the input is never modified
    assert main(["rig", "convert", str(src), "-o", str(tmp_path / "back.toml")]) != 0  # exists, no --force
    emc = (tmp_path / "emc" / "intri.yml").read_bytes()
    assert main(["rig", "convert", str(tmp_path / "emc"), "-o", str(tmp_path / "emc" / "extri.yml"),
                 "--force"]) != 0  # would overwrite the input, even with --force
    assert "overwrite the input" in capsys.readouterr().err
    assert (tmp_path / "emc" / "intri.yml").read_bytes() == emc


def test_caliscope_ignored_cameras_are_skipped_and_ports_order_the_cameras(tmp_path, caplog):
    rig = make_rig(3, seed=2)
    p = write_rig(tmp_path / "camera_array.toml", rig)[0]
    text = p.read_text().replace('name = "cam2"\n', 'name = "cam2"\nignore_me = 1\n')
    text = text.replace("[cameras.01]\nport = 1", "[cameras.01]\nport = 7")  # port 7 now sorts last
    head, _, tail = text.partition("[cameras.02]")
    p.write_text(head.replace("ignore = false", "ignore = true", 1) + "[cameras.02]" + tail)
    with caplog.at_level(logging.INFO):
        back = load_rig(p)
    assert back.names == ["cam3", "cam2"] and "ignore = true" in caplog.text


# ------------------------------------------------------------------------------------------ real data


@pytest.fixture
def caliscope_dir(shared_data):
    d = shared_data / "caliscope" / "charuco_calibration"
    if not (d / "camera_array.toml").is_file() or not (d / "config.toml").is_file():
        pytest.skip(f"Caliscope's sample calibration not found in {d}")
    return d


@pytest.mark.realdata
def test_caliscope_real_camera_array_and_config_agree_and_are_plausible(caliscope_dir, caplog):
    assert detect_format(caliscope_dir / "camera_array.toml") == "caliscope"
    assert detect_format(caliscope_dir / "config.toml") == "caliscope"
    with caplog.at_level(logging.INFO):
        arr = load_rig(caliscope_dir / "camera_array.toml")
        cfg = load_rig(caliscope_dir / "config.toml")
    assert "capture_volume" in caplog.text and "charuco" in caplog.text  # skipped with a note
    assert arr.names == cfg.names == ["cam_0", "cam_1", "cam_2", "cam_3"]
    _same(arr, cfg, tol=1e-12)
    for cam in arr.cameras:
        assert cam.size_wh == (1280, 720)
        assert abs(cam.K[0, 2] - 640) < 40 and abs(cam.K[1, 2] - 360) < 40  # size is [W, H]
        assert 600 < cam.K[0, 0] < 950 and cam.dist.size == 5
        # world -> camera: Caliscope's origin (where the board lay when the origin was set) is in front of
        # every camera, 0.6-0.9 m away (metres), and projects inside every image
        z = cam.world_to_cam(np.zeros((1, 3)))[0, 2]
        assert 0.6 < z < 0.9, cam.name
        uv = cam.project(np.zeros((1, 3)))[0]
        assert 0 < uv[0] < 1280 and 0 < uv[1] < 720, cam.name
        # the other reading (camera -> world) would put the origin behind cam_0 and cam_1
        if cam.name in ("cam_0", "cam_1"):
            assert (-cam.R.T @ cam.tvec)[2] < 0
    c0 = arr.camera("cam_0")
    assert np.allclose(c0.center_world, [-0.652, -0.241, -0.147], atol=1e-3)
    assert np.allclose(c0.project(np.zeros((1, 3)))[0], [778.77, 120.50], atol=0.01)
    # a point on camera 0's optical axis (third row of R) projects to its principal point
    on_axis = c0.center_world + 0.7 * c0.R[2]
    assert np.allclose(c0.project(on_axis[None])[0], c0.K[:2, 2], atol=1e-6)
    # baselines of a desk-sized rig (measured from the file: 1.132, 0.550, 0.426 m)
    base = [np.linalg.norm(c0.center_world - arr.camera(n).center_world) for n in ("cam_1", "cam_2", "cam_3")]
    assert np.allclose(base, [1.1318, 0.5496, 0.4263], atol=1e-3)


@pytest.mark.realdata
def test_caliscope_real_to_toml_and_back_to_caliscope(caliscope_dir, tmp_path):
    arr = load_rig(caliscope_dir / "camera_array.toml")
    assert main(["rig", "convert", str(caliscope_dir / "camera_array.toml"), "-o", str(tmp_path / "rig.toml")]) == 0
    as_toml = load_rig(tmp_path / "rig.toml")
    _same(arr, as_toml)
    write_rig(tmp_path / "out" / "camera_array.toml", as_toml)
    _same(arr, load_rig(tmp_path / "out" / "camera_array.toml"))


def _bench_python() -> str | None:
    env = os.environ.get("CAPTURE3D_BENCH_PYTHON")
    if env and Path(env).is_file():
        return env
    local = REPO / ".bench-venv" / "bin" / "python"
    return str(local) if local.is_file() else None


_ANIPOSE_CHECK = """
import sys, numpy as np
from aniposelib.cameras import CameraGroup
g = CameraGroup.load(sys.argv[1])
print(len(g.cameras), *[c.get_name() for c in g.cameras])
print(*g.project(np.zeros((1, 3))).reshape(-1).round(6))
"""


def _aniposelib(toml_path: Path) -> tuple[str, str]:
    """(names line, projections line) printed by aniposelib loading toml_path; skips without aniposelib."""
    try:
        import aniposelib  # noqa: F401
        python = sys.executable
    except ImportError:
        python = _bench_python()
    if python is None:
        pytest.skip("aniposelib is not importable here and no .bench-venv (bash tools/bench/setup_env.sh, or set "
                    "CAPTURE3D_BENCH_PYTHON)")
    res = subprocess.run([python, "-c", _ANIPOSE_CHECK, str(toml_path)], capture_output=True, text=True, timeout=120)
    if res.returncode != 0 and "No module named 'aniposelib'" in res.stderr:
        pytest.skip(f"aniposelib not installed in {python}")
    assert res.returncode == 0, res.stderr
    head, uv = res.stdout.strip().splitlines()[-2:]
    return head, uv


def test_twelve_camera_toml_keeps_its_order_in_aniposelib(tmp_path):
    rig = make_rig(12, seed=9)
    head, uv = _aniposelib(save_rig(tmp_path / "rig.toml", rig))
    assert head.split() == ["12", *rig.names]
    ours = np.concatenate([c.project(np.zeros((1, 3)))[0] for c in rig.cameras])
    assert np.abs(np.array(uv.split(), dtype=float) - ours).max() < 1e-3


@pytest.mark.realdata
def test_caliscope_converted_to_toml_loads_in_aniposelib(caliscope_dir, tmp_path):
    rig = load_rig(caliscope_dir / "camera_array.toml")
    head, uv = _aniposelib(save_rig(tmp_path / "rig.toml", rig))
    assert head.split() == ["4", "cam_0", "cam_1", "cam_2", "cam_3"]
    ours = np.concatenate([c.project(np.zeros((1, 3)))[0] for c in rig.cameras])
    assert np.abs(np.array(uv.split(), dtype=float) - ours).max() < 1e-3


def _charuco_views(folder: Path, every: int) -> dict[int, dict[int, np.ndarray]]:
    """{sync index: {camera: (ids, corners_px)}} of Caliscope's 4x5 ChArUco (5.4 cm squares, inverted) in
    its extrinsic videos, every ``every``-th synchronized frame set (timestamps.csv pairs the frames)."""
    import csv

    import cv2
    board = cv2.aruco.CharucoBoard((4, 5), 0.054, 0.75 * 0.054, cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_1000))
    detector = cv2.aruco.CharucoDetector(board)
    with open(folder / "timestamps.csv", newline="") as fh:
        rows = [(int(r["sync_index"]), int(r["cam_id"]), int(r["frame_index"])) for r in csv.DictReader(fh)]
    syncs = sorted({s for s, _, _ in rows})[::every]
    views: dict[int, dict[int, tuple]] = {s: {} for s in syncs}
    for cam in range(4):
        wanted = {f: s for s, c, f in rows if c == cam and s in views}
        cap = cv2.VideoCapture(str(folder / f"cam_{cam}.mp4"))
        n = 0
        while wanted and n <= max(wanted):
            ok, img = cap.read()
            if not ok:
                break
            if n in wanted:
                corners, ids, _, _ = detector.detectBoard(255 - cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
                if ids is not None:
                    views[wanted[n]][cam] = (ids.ravel(), corners.reshape(-1, 2))
            n += 1
        cap.release()
    return views


def _triangulate_board(rig: Rig, views) -> tuple[np.ndarray, np.ndarray]:
    """Reprojection errors (px) of ChArUco corners seen by 2+ cameras (DLT on undistorted points), and the
    distances (m) between neighbouring triangulated corners."""
    import cv2
    errors, spacing = [], []
    for per_cam in views.values():
        seen: dict[int, dict[int, np.ndarray]] = {}
        for cam, (ids, corners) in per_cam.items():
            for i, uv in zip(ids, corners):
                seen.setdefault(int(i), {})[cam] = uv
        xyz = {}
        for i, obs in seen.items():
            if len(obs) < 2:
                continue
            rows = []
            for cam, uv in obs.items():
                c = rig[cam]
                x, y = cv2.undistortPoints(uv.reshape(1, 1, 2).astype(float), c.K, c.dist).reshape(2)
                P = c.cam_from_world
                rows += [x * P[2] - P[0], y * P[2] - P[1]]
            h = np.linalg.svd(np.array(rows))[2][-1]
            xyz[i] = h[:3] / h[3]
            errors += [np.linalg.norm(rig[cam].project(xyz[i][None])[0] - uv) for cam, uv in obs.items()]
        for i, p in xyz.items():  # corner ids run along rows of 3 (a 4x5-square board has 3x4 inner corners)
            spacing += [np.linalg.norm(xyz[j] - p) for j in (i + 1, i + 3) if j in xyz and (j == i + 3 or i % 3 != 2)]
    return np.array(errors), np.array(spacing)


@pytest.mark.realdata
@pytest.mark.slow
def test_caliscope_rig_read_as_world_to_camera_metres_triangulates_its_own_board(caliscope_dir):
    """The convention check on real footage: with rotation/translation read as world -> camera in metres,
    ChArUco corners seen by 2-4 of Caliscope's cameras triangulate with sub-pixel median reprojection error
    and neighbouring corners 5.4 cm apart (the board's squares); read as camera -> world they do not."""
    rig = load_rig(caliscope_dir / "camera_array.toml")
    views = _charuco_views(caliscope_dir / "calibration" / "extrinsic", every=6)
    errors, spacing = _triangulate_board(rig, views)
    assert errors.size > 200 and spacing.size > 80
    assert np.median(errors) < 1.5  # measured 0.85 px (90th percentile 2.1 px)
    assert abs(np.median(spacing) - 0.054) < 1e-3  # measured 0.0539 m
    inverted = Rig(tuple(Camera(c.name, c.size_wh, c.K, c.dist, -c.rvec, -c.R.T @ c.tvec) for c in rig.cameras))
    errors_inv, spacing_inv = _triangulate_board(inverted, views)
    # measured: 0% within 10 px (99% of the points land behind a camera, NaN), spacing 0.039 m
    within_10px = np.mean(np.nan_to_num(errors_inv, nan=np.inf) < 10)
    assert within_10px < 0.5 and abs(np.median(spacing_inv) - 0.054) > 5e-3
