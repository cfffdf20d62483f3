"""The package names no private of a dependency or of the standard library.

Read from the source (no import): ``from x import _y``, ``import _x`` and ``x._y`` (not a dunder)
where ``_y`` is not a name our own code defines, and ``x`` is not our own package. The whole
package is held to it; the one exemption is listed below with its reason. And nothing imports
nats-py: it is a peer of ours (benchmarks, interoperability tests), not a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "beluga_nats_sync"

#: the modules allowed a foreign private, and why
EXEMPT = {
    # OpenTelemetry's fast path reads the SDK's span internals (guarded: it falls back to the
    # public API when they are not what it expects; tests/unit/test_otel_fast_path.py)
    "bus/_otel.py",
}


def _own_private_names() -> set[str]:
    """The private names our own classes and modules define (an attribute set on ``self``, a
    method, a ``__slots__`` entry, a module-level name): using one of them is using our own."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("_"):
                names.add(node.value)  # __slots__ entries
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


OWN = _own_private_names()


def _private_uses(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level:
            if (node.module or "").split(".")[0] == PACKAGE.name:
                continue  # our own modules, named absolutely
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.name}:{node.lineno}: from {node.module} import {alias.name}")
            if node.module != "__future__" and any(p.startswith("_") for p in (node.module or "").split(".")):
                found.append(f"{path.name}:{node.lineno}: from {node.module}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(part.startswith("_") for part in alias.name.split(".")):
                    found.append(f"{path.name}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute):
            name = node.attr
            if not name.startswith("_") or name.startswith("__"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls") or name in OWN:
                continue
            found.append(f"{path.name}:{node.lineno}: .{name}")
    return found


def test_the_package_uses_no_private_name_of_another() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if str(path.relative_to(PACKAGE)) not in EXEMPT:
            offenders += [f"{path.relative_to(PACKAGE)}: {use}" for use in _private_uses(path)]
    assert offenders == []


def _imports_nats_py(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(a.name == "nats" or a.name.startswith("nats.") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and not node.level:
            module = node.module or ""
            if module == "nats" or module.startswith("nats."):
                return True
    return False


def test_nothing_imports_nats_py() -> None:
    assert [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py")) if _imports_nats_py(p)] == []


def test_nothing_imports_asyncio() -> None:
    """The I/O thread runs our own loop (``_core/portal.py``): no asyncio object is anywhere in
    the client, so it works the same inside a user's running event loop and across forks."""

    def imports_asyncio(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "asyncio" for a in node.names):
                return True
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "asyncio":
                return True
        return False

    assert [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py")) if imports_asyncio(p)] == []


def test_the_check_finds_foreign_privates(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("import _thread\nfrom asyncio import _get_running_loop\nfd = loop._csock\nself._mine = 1\n")
    uses = _private_uses(src)
    assert len(uses) == 3 and all("_mine" not in u for u in uses), uses
