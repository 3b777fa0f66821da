"""The README: its Python example runs and gives the accuracy it shows, its commands exist, its set-up
commands are what CI runs, and it stays a five-minute read."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    api = README.read_text().split("### Python API", 1)[1].split("\n#", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", api, flags=re.S)
    assert blocks, "README's Python API section has no example"
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    median_mm = float(re.search(r"median error ([\d.]+) mm", out).group(1))
    assert median_mm < 10
    assert (tmp_path / "walk.trc").stat().st_size > 1000


def test_every_command_the_readme_shows_exists_and_teaches():
    """Each ``capture3d COMMAND`` of the README's shell blocks is a real command whose --help ends with
    examples; the quick-start demo runs and reports the accuracy the README promises."""
    import pytest
    from capture3d.cli import main

    text = README.read_text()
    shell = "\n".join(re.findall(r"```bash\n(.*?)```", text, flags=re.S))
    commands = sorted(set(re.findall(r"capture3d ([a-z][a-z-]*)", shell))
                      | set(re.findall(r"`capture3d ([a-z][a-z-]*)", text)))
    assert {"demo", "live", "process", "calibrate", "export", "view"} <= set(commands), commands
    for name in commands:
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0, name


def test_readme_demo_runs_headless_with_its_accuracy(tmp_path, capsys):
    from capture3d.cli import main
    assert main(["demo", "--no-viewer", "--frames", "120", "--out", str(tmp_path / "demo_out")]) == 0
    out = capsys.readouterr().out
    mpjpe = float(re.search(r"MPJPE[^\d]*([\d.]+) mm", out).group(1))
    assert mpjpe < 10.0, out
    assert {"keypoints3d.csv", "keypoints3d.trc", "rig.toml"} <= {p.name for p in (tmp_path / "demo_out").iterdir()}


def test_readme_quick_start_matches_ci():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    test_cmd = "bash tools/install.sh --test && .venv/bin/python -m pytest -q"
    assert test_cmd in text and test_cmd in ci
    assert "bash tools/install.sh && .venv/bin/capture3d demo" in text


def test_readme_teaches_the_five_tasks_and_says_where_the_rest_is():
    """A newcomer's README: at most 200 lines, the five tasks each with one command, the picture, the
    documentation site, the licence and the peers to cite."""
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    shell = "\n".join(re.findall(r"```bash\n(.*?)```", text, flags=re.S))
    for command in ("capture3d calibrate rig", "capture3d live", "capture3d process", "capture3d export",
                    "--stream vmc://"):
        assert command in shell, command
    assert "(docs/images/viewer.png)" in text and (README.parent / "docs" / "images" / "viewer.png").is_file()
    assert "mkdocs serve" in text and "mkdocs build" in text and "Apache" in text
    for peer in ("OpenPose", "MediaPipe", "Anipose", "Pose2Sim", "Caliscope", "tf-pose-estimation"):
        assert peer in text, peer
