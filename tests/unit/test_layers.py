"""The layers' import rules, read from the source (ast): routers call services, never tables or
each other; services never reach up into the web layer or the worker entry point."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ragline.bootstrap import Lifecycle
from tests.fakes import FakeModels

SRC = Path(__file__).resolve().parents[2] / "src" / "ragline"
COMPAT_COMMON = "ragline.web.routes.compat.common"


def _module(path: Path) -> str:
    return ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    return _imported(path.read_text(encoding="utf-8"), _module(path))


def _imported(source: str, module: str) -> set[str]:
    """Every module `source` imports, wherever the import sits (functions included)."""
    package = module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _modules(under: str) -> list[Path]:
    return sorted((SRC / under).rglob("*.py"))


def _is(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


@pytest.mark.parametrize("path", _modules("web"), ids=lambda p: _module(p))
def test_web_modules_import_no_tables_and_no_other_router(path: Path) -> None:
    me = _module(path)
    bad = []
    for name in _imports(path):
        if _is(name, "ragline.adapters.db.tables"):
            bad.append(name)
        elif _is(name, "ragline.web.routes") and not _allowed_router_import(me, name):
            bad.append(name)
    assert not bad, f"{me} imports {sorted(bad)}"


def _allowed_router_import(me: str, name: str) -> bool:
    if me == "ragline.web.app":  # the app lists its routers
        return True
    if name in ("ragline.web.routes", "ragline.web.routes.compat"):  # the packages themselves
        return True
    is_compat = me.startswith("ragline.web.routes.compat.")
    return is_compat and _is(name, COMPAT_COMMON)


@pytest.mark.parametrize("path", _modules("services"), ids=lambda p: _module(p))
def test_services_import_neither_web_nor_worker(path: Path) -> None:
    bad = [n for n in _imports(path) if _is(n, "ragline.web") or _is(n, "ragline.worker")]
    assert not bad, f"{_module(path)} imports {sorted(bad)}"


def test_the_checker_sees_what_it_forbids() -> None:
    """Absolute, relative and function-level imports are all seen."""
    source = ("from ragline.adapters.db.tables import Thread\n"
              "def f():\n    from ..routes import documents\n"
              "    from .compat import common\n")
    found = _imported(source, "ragline.web.routes.probe")
    assert "ragline.adapters.db.tables" in found
    assert "ragline.web.routes.documents" in found
    assert not _allowed_router_import("ragline.web.routes.probe", "ragline.web.routes.documents")
    assert not _allowed_router_import("ragline.web.routes.probe", COMPAT_COMMON)
    assert _allowed_router_import("ragline.web.routes.compat.oneshot", COMPAT_COMMON)


def test_fakes_satisfy_the_lifecycle() -> None:
    assert isinstance(FakeModels(), Lifecycle)
