"""The package's layering, read from its source: imports flow one way, the estimators
reach the engine through its front door, and scikit-learn's private API is used in one
module only."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "sklnn"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _sources(folder: str = "") -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("layer, forbidden", [
    ("modules", ("sklnn.engine", "sklnn.estimators", "sklnn.callbacks", "sklnn.persistence")),
    ("engine", ("sklnn.estimators", "sklnn.callbacks", "sklnn.persistence")),
    ("callbacks", ("sklnn.estimators", "sklnn.persistence")),
    ("inspection", ("sklnn.estimators", "sklnn.callbacks", "sklnn.persistence")),
])
def test_imports_flow_from_estimators_to_engine_to_modules(layer, forbidden):
    for path in _sources(layer):
        wrong = {name for name in _imports(path) if name.startswith(forbidden)}
        assert not wrong, f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}"


def test_estimators_reach_processes_threads_heap_and_seeds_through_the_front_door():
    behind = ("sklnn.engine.threads", "sklnn.engine.heap", "sklnn.engine.seeding",
              "sklnn.engine.distributed", "sklnn.engine._ddp_worker", "sklnn.engine.lbfgs")
    for path in _sources("estimators"):
        wrong = {name for name in _imports(path) if name.startswith(behind)}
        assert not wrong, f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}"


def test_scikit_learns_private_names_are_imported_in_one_module():
    for path in _sources():
        private = {name for name in _imports(path)
                   if name.startswith("sklearn") and any(
                       part.startswith("_") for part in name.split(".")[1:])}
        if path.name == "_sklearn_private.py":
            assert private  # the one place
        else:
            assert not private, f"{path.relative_to(PACKAGE)} imports {sorted(private)}"
