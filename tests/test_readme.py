"""The README's Python example runs as written and gives the accuracy it claims to show."""
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


def test_readme_quick_start_matches_ci():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    test_cmd = "bash tools/install.sh --test && .venv/bin/python -m pytest -q"
    assert test_cmd in text and test_cmd in ci
    assert "bash tools/install.sh && .venv/bin/capture3d demo" in text
