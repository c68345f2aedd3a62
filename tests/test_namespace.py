"""chinwag imports itself only as ``chinwag``: no module of the source tree (product, tests,
benchmarks) imports the generic top-level names its folders have on disk. Such an import works
from the source tree but not from the installed wheel, where those names belong to the user."""

from __future__ import annotations

import ast
from pathlib import Path

import chinwag

REPO = Path(__file__).resolve().parents[1]
GENERIC = {"core", "adapters", "channel_responses"}


def sources() -> list[Path]:
    found = [
        path for folder in ("chinwag", "tests", "bench") for path in (REPO / folder).rglob("*.py")
    ]
    assert len(found) > 100, "the walk follows chinwag/'s links into the package folders"
    return found


def generic_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [
            f"{path}:{node.lineno}: {name}" for name in names if name.split(".")[0] in GENERIC
        ]
    return found


def test_no_module_imports_a_generic_top_level_name() -> None:
    offenders = [line for path in sources() for line in generic_imports(path)]
    assert not offenders, "import these through chinwag.*:\n" + "\n".join(offenders)


def test_the_package_folders_are_the_source_folders() -> None:
    for name in GENERIC:
        assert (Path(chinwag.__file__).parent / name).resolve() == REPO / name
