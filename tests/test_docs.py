"""The documentation is tested: the site builds with ``mkdocs build --strict``, the generated reference pages
are current, every shell command shown in README.md and docs/*.md names real commands and flags (parsed by
the real argparse parser; the cheap ones are run), every script it names exists, and no relative link is
broken."""
from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Pages other branches write; the nav lists them. Until they are merged the build gets a stub in their place.
PAGES_FROM_OTHER_BRANCHES = ("live.md", "calibrate.md", "troubleshooting.md", "people.md")


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "tools" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def _shell_lines(text: str) -> list[str]:
    """The commands of the ```bash blocks: continuation lines joined, comments dropped, split at && ; |."""
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            commands += [part.strip() for part in re.split(r"&&|;|\|", line) if part.strip()]
    return commands


def _capture3d_argv(command: str) -> list[str] | None:
    """The argv after ``capture3d`` for a command that runs capture3d, else None."""
    words = shlex.split(command)
    for i, word in enumerate(words):
        if word == "capture3d" or word.endswith("/capture3d"):
            return words[i + 1:]
        if word == "-m" and i + 1 < len(words) and words[i + 1] == "capture3d":
            return words[i + 2:]
    return None


def _all_commands() -> list[tuple[str, str]]:
    return [(p.relative_to(ROOT).as_posix(), c) for p in _markdown_files()
            for c in _shell_lines(p.read_text(encoding="utf-8"))]


def test_docs_show_commands_in_every_user_page():
    """The extraction the next tests rely on finds the commands (a regex that finds nothing tests nothing)."""
    commands = _all_commands()
    runs = [argv for _, c in commands if (argv := _capture3d_argv(c)) is not None]
    assert len(runs) >= 40, len(runs)
    assert {"calibrate", "live", "process", "export", "batch", "detect", "rig", "board"} <= {a[0] for a in runs if a}


def test_every_capture3d_command_in_the_docs_parses_with_the_real_parser(capsys):
    """Each shown ``capture3d ...`` line parses: the command and sub-step exist and every flag is one of
    theirs with a valid value (files are not opened: parsing does not read them)."""
    from capture3d.cli import build_parser

    parser = build_parser()
    failures = []
    for where, command in _all_commands():
        argv = _capture3d_argv(command)
        if argv is None or "--help" in argv or "-h" in argv:
            continue
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code != 0:
                failures.append(f"{where}: {command}\n    {capsys.readouterr().err.strip().splitlines()[-1:]}")
    assert not failures, "commands in the docs the parser refuses:\n" + "\n".join(failures)


def test_every_inline_capture3d_command_exists():
    """`capture3d NAME` in running text (inline code) names a real command; its --help exits 0."""
    from capture3d.cli import COMMAND_MODULES, build_parser

    parser = build_parser()
    names = set()
    for path in _markdown_files():
        for code in re.findall(r"`([^`\n]*capture3d [a-z][^`\n]*)`", path.read_text(encoding="utf-8")):
            argv = _capture3d_argv(code.replace("...", ""))
            if argv and re.fullmatch(r"[a-z][a-z-]*", argv[0]):
                names.add(argv[0])
    commands = set(COMMAND_MODULES) | {"sync"}  # `sync` is registered by cli/selfcal.py
    assert names <= commands, sorted(names - commands)
    assert len(names) >= 12, sorted(names)
    for name in sorted(names):
        with pytest.raises(SystemExit) as info:
            parser.parse_args([name, "--help"])
        assert info.value.code == 0, name


def test_cheap_commands_in_the_docs_run(tmp_path):
    """The commands that cost nothing run as shown and succeed: every ``--help``, ``capture3d sets``, the
    reference generator's check."""
    ran = 0
    for where, command in _all_commands():
        argv = _capture3d_argv(command)
        cheap = argv is not None and (argv[:1] == ["sets"] or (argv and argv[-1] in ("--help", "-h")) or not argv)
        if cheap:
            out = subprocess.run([sys.executable, "-m", "capture3d", *(argv or ["--help"])], cwd=tmp_path,
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, f"{where}: {command}\n{out.stderr}"
            ran += 1
    assert ran >= 2
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_docs.py"), "--check"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_every_script_and_config_the_docs_run_exists():
    """``bash X.sh``, ``python X.py`` and ``--config X.toml`` of the shown commands name files of the repository
    (paths of the user's own data are not checked)."""
    missing = []
    for where, command in _all_commands():
        for word in shlex.split(command):
            if re.fullmatch(r"(tools|configs|calibration)/[\w./-]+\.(sh|py|toml)", word) and not (ROOT / word).exists():
                missing.append(f"{where}: {word}")
    assert not missing, missing


def test_every_tool_script_the_docs_run_exists_and_takes_the_flags_shown():
    """``python tools/...py --flag`` anywhere in the docs (blocks and running text, benchmarks included): the
    script exists and its --help lists every flag shown."""
    shown: dict[str, set[str]] = {}
    for path in _markdown_files():
        text = path.read_text(encoding="utf-8")
        for script, args in re.findall(r"python\s+(tools/[\w/]+\.py)([^`\n]*)", text):
            shown.setdefault(script, set()).update(re.findall(r"(?<![\w-])--[a-z][\w-]*", args.split("#")[0]))
    assert len(shown) >= 10, sorted(shown)
    bad = []
    for script, flags in sorted(shown.items()):
        if not (ROOT / script).is_file():
            bad.append(f"{script}: no such script")
            continue
        out = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True,
                             timeout=60, cwd=ROOT)
        if out.returncode != 0:
            bad.append(f"{script} --help: exit {out.returncode}: {out.stderr.strip()[-300:]}")
        bad += [f"{script}: {flag} is not in its --help" for flag in sorted(flags) if flag not in out.stdout]
    assert not bad, bad


def test_generated_reference_pages_are_current():
    gen = _gen_docs()
    stale = gen.stale_pages(ROOT)
    assert not stale, f"stale generated pages {stale}: run python tools/gen_docs.py"


def test_a_stale_reference_page_is_found(tmp_path):
    """The staleness check compares the whole text: one changed default or flag is enough."""
    gen = _gen_docs()
    for rel, make in gen.PAGES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(make(), encoding="utf-8")
    assert gen.stale_pages(tmp_path) == []
    page = tmp_path / "docs" / "reference" / "config.md"
    page.write_text(page.read_text().replace("| `threshold_px` | `float` | `15.0` |", "| `threshold_px` | `float` | `12.0` |"))
    (tmp_path / "docs" / "reference" / "api.md").unlink()
    assert gen.stale_pages(tmp_path) == ["docs/reference/config.md", "docs/reference/api.md"]


def test_cli_reference_covers_every_command_and_step():
    """Every parser of ``capture3d`` (each command, each sub-step such as ``calibrate rig``, ``models``) has
    its section with its full --help."""
    gen = _gen_docs()
    page = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    progs = [prog for prog, _ in gen.iter_parsers(gen._cli_parser())]
    assert {"capture3d models", "capture3d calibrate rig", "capture3d rig convert", "capture3d sync"} <= set(progs)
    for prog in progs:
        assert f"`{prog}` {{#{prog.replace(' ', '-')}}}" in page, prog
    assert page.count("usage: capture3d") == len(progs)


def test_config_reference_lists_every_key_with_its_default():
    import dataclasses

    from capture3d.config import AppConfig

    page = (DOCS / "reference" / "config.md").read_text(encoding="utf-8")
    n_keys = 0
    for section in dataclasses.fields(AppConfig):
        assert f"## `[{section.name}]`" in page, section.name
        for key in dataclasses.fields(section.default_factory()):
            if not dataclasses.is_dataclass(getattr(section.default_factory(), key.name)):
                assert re.search(rf"\| `{key.name}` \| `[^`]+` \| `", page), f"{section.name}.{key.name}"
                n_keys += 1
    assert n_keys >= 60, n_keys
    assert "| `threshold_px` | `float` | `15.0` |" in page  # [triangulation] threshold_px = 15.0


def _relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    return [link for link in links if not re.match(r"[a-z]+:|#", link)]


def test_no_broken_relative_links():
    broken = []
    for path in _markdown_files():
        for link in _relative_links(path):
            target = (path.parent / link.split("#", 1)[0]).resolve()
            if path.parent == DOCS and target.name in PAGES_FROM_OTHER_BRANCHES:
                continue  # written on other branches; mkdocs build checks them once merged
            if not target.exists():
                broken.append(f"{path.relative_to(ROOT)}: {link}")
    assert not broken, broken


def test_nav_lists_every_page_and_the_pages_of_other_branches():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s+([\w/.-]+\.md)\s*$", nav, flags=re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - listed == set(), sorted(pages - listed)
    assert set(PAGES_FROM_OTHER_BRANCHES) | {"detectors.md"} <= listed


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


@pytest.mark.skipif(shutil.which("mkdocs") is None and importlib.util.find_spec("mkdocs") is None,
                    reason="mkdocs is not installed: pip install -e '.[docs]' (tools/install.sh --test installs it)")
def test_mkdocs_build_strict(tmp_path):
    """The site builds with no warning. The build runs on a copy of docs/ where a page of another branch that
    is not merged yet is a stub (the nav lists it)."""
    for module in ("material", "mkdocstrings"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install -e '.[docs]' (tools/install.sh --test installs it)")
    work = tmp_path / "src"
    shutil.copytree(DOCS, work / "docs")
    shutil.copy(ROOT / "mkdocs.yml", work / "mkdocs.yml")
    (work / "capture3d").symlink_to(ROOT / "capture3d")  # mkdocstrings reads the package beside mkdocs.yml
    for name in PAGES_FROM_OTHER_BRANCHES:
        if not (work / "docs" / name).exists():
            (work / "docs" / name).write_text(f"# {name}\n\nWritten on another branch.\n")
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                         cwd=work, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stdout + out.stderr
    html = (tmp_path / "site" / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    assert "triangulate" in html and "load_rig" in html  # mkdocstrings rendered the docstrings
    assert (tmp_path / "site" / "images" / "viewer.png").is_file()
