"""The package names no private of a dependency or of the standard library.

Read from the source (no import): ``from x import _y``, ``import _x`` and ``x._y`` (not a dunder)
where ``_y`` is not a name our own code defines. Our engine (``engine/``) and the sans-IO protocol
(``protocol/``) are held to it fully. The rest of the package is checked for nats-py: the modules
that still import it are listed, and the list may only shrink (nats-py is on its way out of the
package's dependencies).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "beluga_nats_sync"

#: the modules that import nats-py today: the seam, and the client that chooses it
NATSPY_USERS = {
    "_client.py",
    "_natspy/contract.py",
    "_natspy/errors.py",
    "_natspy/security.py",
    "_natspy/transport.py",
    "_natspy/writer.py",
}


def _own_private_names() -> set[str]:
    """The private names our own classes and modules define (an attribute set on ``self``, a
    method, a ``__slots__`` entry, a module-level name): using one of them is using our own."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if "_natspy" in path.parts:  # the seam writes into nats-py's privates: those are not ours
            continue
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


def _sources(sub: str) -> list[Path]:
    return sorted((PACKAGE / sub).rglob("*.py"))


def _private_uses(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level:
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


@pytest.mark.parametrize("sub", ["engine", "protocol"])
def test_the_engine_and_the_protocol_use_no_private_name(sub: str) -> None:
    offenders = [use for path in _sources(sub) for use in _private_uses(path)]
    assert offenders == []


def _imports_natspy(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(a.name == "nats" or a.name.startswith("nats.") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if not node.level and (module == "nats" or module.startswith("nats.")):
                return True
            if node.level and (module == "_natspy" or module.startswith("_natspy.")):
                return True
    return False


def test_nats_py_is_imported_only_where_it_still_is() -> None:
    users = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if _imports_natspy(p)}
    assert users <= NATSPY_USERS, f"new users of nats-py: {sorted(users - NATSPY_USERS)}"
    assert users == NATSPY_USERS, f"no longer using nats-py (take them off the list): {sorted(NATSPY_USERS - users)}"


def test_the_check_finds_foreign_privates(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("import _thread\nfrom asyncio import _get_running_loop\nfd = loop._selector\nself._mine = 1\n")
    uses = _private_uses(src)
    assert len(uses) == 3 and all("_mine" not in u for u in uses), uses
