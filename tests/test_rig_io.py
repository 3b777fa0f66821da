import numpy as np
import pytest

from capture3d.errors import RigError
from capture3d.io.media import natural_key
from capture3d.io.rig_files import load_rig, read_openpose_xml, save_rig, write_openpose_xml


def test_toml_roundtrip_exact(tmp_path, rig4):
    p = save_rig(tmp_path / "rig.toml", rig4, {"error": 0.42})
    back = load_rig(p)
    assert back.names == rig4.names
    for a, b in zip(rig4.cameras, back.cameras):
        assert np.array_equal(a.K, b.K) and np.array_equal(a.dist, b.dist)
        assert np.array_equal(a.rvec, b.rvec) and np.array_equal(a.tvec, b.tvec)
        assert a.size_wh == b.size_wh
    assert back.metadata["error"] == 0.42


_ANIPOSE = """
[cam_10]
name = "J"
size = [ 1280, 1024,]
matrix = [ [ 1000.0, 0.0, 640.0,], [ 0.0, 1000.0, 512.0,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.1, 0.01, 0.0, 0.0, 0.0,]
rotation = [ 0.0, 0.0, 0.0,]
translation = [ 0.0, 0.0, 2000.0,]

[cam_2]
name = "B"
size = [ 1280, 1024,]
matrix = [ [ 1000.0, 0.0, 640.0,], [ 0.0, 1000.0, 512.0,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.1, 0.01, 0.0, 0.0,]
rotation = [ [1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0] ]
translation = [ 10.0, 0.0, 2000.0,]

[metadata]
units = "mm"
adjusted = false
"""


def test_reads_anipose_style_numeric_order_units_and_matrix_rotation(tmp_path):
    p = tmp_path / "calibration.toml"
    p.write_text(_ANIPOSE)
    rig = load_rig(p)
    assert rig.names == ["B", "J"]  # cam_2 before cam_10
    assert rig[0].tvec.tolist() == [0.01, 0.0, 2.0]  # mm -> m
    assert np.allclose(rig[0].R, [[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    assert rig[0].dist.size == 4


@pytest.mark.parametrize("edit,needle", [
    (lambda s: s.replace("matrix = [ [ 1000.0, 0.0, 640.0,], [ 0.0, 1000.0, 512.0,], [ 0.0, 0.0, 1.0,],]\n"
                         "distortions = [ -0.1, 0.01, 0.0, 0.0, 0.0,]", "distortions = [ -0.1, 0.01, 0.0, 0.0, 0.0,]"),
     r"\[cam_10\]: missing field\(s\) matrix"),
    (lambda s: s.replace("translation = [ 0.0, 0.0, 2000.0,]", "translation = [ 0.0, nan, 2000.0,]"), "non-finite"),
    (lambda s: s.replace("[0.0, 0.0, -1.0], [0.0, 1.0, 0.0]", "[0.0, 0.0, -1.0], [0.0, 1.0, 0.5]"), "not a proper rotation"),
    (lambda s: s.replace("size = [ 1280, 1024,]", "size = [ 1280,]", 1), "field 'size' must have shape"),
    (lambda s: s.replace("distortions = [ -0.1, 0.01, 0.0, 0.0, 0.0,]", "distortions = [ -0.1, 0.01, 0.0,]"), "distortions"),
    (lambda s: s.replace("[cam_10]", "[cam_10"), "not a valid TOML"),
])
def test_invalid_rig_files_name_file_camera_and_field(tmp_path, edit, needle):
    p = tmp_path / "bad.toml"
    p.write_text(edit(_ANIPOSE))
    with pytest.raises(RigError, match=needle) as exc:
        load_rig(p)
    assert "bad.toml" in str(exc.value)


def test_missing_rig_file_is_clear(tmp_path):
    with pytest.raises(RigError, match="not found"):
        load_rig(tmp_path / "nope.toml")


def test_openpose_xml_roundtrip_and_folder_order(tmp_path, rig4):
    write_openpose_xml(tmp_path, rig4)
    back = load_rig(tmp_path)
    assert back.names == sorted(rig4.names, key=natural_key)
    for cam in rig4.cameras:
        b = back.camera(cam.name)
        assert np.allclose(b.K, cam.K) and np.allclose(b.tvec, cam.tvec) and np.allclose(b.rvec, cam.rvec)


def test_openpose_xml_missing_node(tmp_path):
    p = tmp_path / "123.xml"
    p.write_text('<?xml version="1.0"?>\n<opencv_storage>\n</opencv_storage>\n')
    with pytest.raises(RigError, match="CameraMatrix"):
        read_openpose_xml(p)
