"""The package's layout rules (DESIGN.md, docs/architecture.md "Layout"): checked on the source, so a change that breaks
one fails here with the file and line."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "capture3d"

#: what may import these third-party packages (path prefixes inside capture3d/)
_ONLY = {
    "PyQt6": ("viewer/", "testing/naive_viewer.py"), "pyqtgraph": ("viewer/", "testing/naive_viewer.py"),
    "OpenGL": ("viewer/", "testing/naive_viewer.py"),
    "torch": ("detect/",), "mediapipe": ("detect/",), "PySpin": ("sources/spinnaker.py",),
    "pylsl": ("stream/",), "websockets": ("stream/",), "pythonosc": ("stream/",),
    "onnxruntime": ("detect/",), "onnx": ("testing/",),
}
#: layers under the runtime: none of them imports capture3d.runtime (or the CLI)
_BELOW_RUNTIME = ("geometry/", "body/", "reconstruct/", "io/", "calib/", "detect/", "export/", "sources/", "synth/",
                  "errors.py", "config.py", "types.py")


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        tree = ast.parse(path.read_text(), str(path))
        yield rel, path, tree


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def test_top_level_is_small_and_modules_and_functions_are_short():
    top = [p.name for p in PKG.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(top) <= 10, top
    long_files, long_functions = [], []
    for rel, path, tree in _modules():
        n = len(path.read_text().splitlines())
        if n > 450:
            long_files.append(f"{rel} ({n} lines)")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 100:
                    long_functions.append(f"{rel}:{node.lineno} {node.name} ({length} lines)")
    assert not long_files and not long_functions, long_files + long_functions


def test_heavy_and_optional_imports_stay_in_their_home():
    wrong = []
    for rel, _, tree in _modules():
        for line, name in _imports(tree):
            root = name.split(".")[0]
            if root in _ONLY and not rel.startswith(_ONLY[root]):
                wrong.append(f"{rel}:{line} imports {name}")
    assert not wrong, wrong


def test_test_doubles_are_out_of_the_production_import_graph():
    wrong = [f"{rel}:{line} imports {name}" for rel, _, tree in _modules() if not rel.startswith("testing/")
             for line, name in _imports(tree) if name.startswith("capture3d.testing")]
    assert not wrong, wrong


def test_dependencies_point_one_way():
    wrong = [f"{rel}:{line} imports {name}" for rel, _, tree in _modules() if rel.startswith(_BELOW_RUNTIME)
             for line, name in _imports(tree) if name.startswith(("capture3d.runtime", "capture3d.cli"))]
    assert not wrong, wrong


def test_every_subpackage_says_what_it_is():
    for init in sorted(PKG.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.strip()) > 40, f"{init.relative_to(PKG)} has no docstring saying what it is"


def _cycles_in(prefixes: tuple[str, ...]) -> list[list[str]]:
    """Import cycles (function-level imports included) among the modules under ``prefixes``."""
    mods = {rel[:-3].replace("/", "."): tree for rel, _, tree in _modules() if rel.startswith(prefixes)}
    graph = {m: {name[len("capture3d."):] for _, name in _imports(tree)} & set(mods) for m, tree in mods.items()}
    cycles, state = [], {}

    def visit(m, stack):
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return cycles


def test_no_import_circles_in_calib_and_io():
    """calib/boards <-> board_import and io/rig_files <-> rig_formats / rig_caliscope / rig_easymocap /
    rig_opencv_yaml were circles: every pair of these modules imports one way only."""
    assert _cycles_in(("calib/", "io/")) == []
