"""The layering the package is built to, checked on its source: every import counts, at module
level, under TYPE_CHECKING and inside functions alike. A protocol package that reaches nothing but
the errors; a core that never reaches the engine, the features or the notebook; a notebook that
reaches only the core (it registers how the core's objects are drawn: ``_core/html.py``); no import
circles; classes of a readable size (that nothing imports nats-py: tests/unit/test_no_privates.py)."""

from __future__ import annotations

import ast
import itertools
import tempfile
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "beluga_nats_sync"
MAX_CLASS_LINES = 400
MAX_CORE_FILE_LINES = 450


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path) -> dict[str, int]:
    """Absolute names ``name`` imports, each with the line of its first import: module level,
    TYPE_CHECKING blocks, ``try`` handlers and function bodies alike (an import inside a function
    is a dependency all the same, only a later one)."""
    is_pkg = path.name == "__init__.py"
    out: dict[str, int] = {}
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.Import):
            for a in n.names:
                out.setdefault(a.name, n.lineno)
        elif isinstance(n, ast.ImportFrom):
            if n.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (n.level - 1)]
                target = ".".join(base + ([n.module] if n.module else []))
            else:
                target = n.module or ""
            out.setdefault(target, n.lineno)
            for a in n.names:
                out.setdefault(f"{target}.{a.name}", n.lineno)
    return out


def test_imports_inside_functions_are_read() -> None:
    """The reader itself: what a function imports counts, relative imports resolved."""
    source = (
        "import json\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .stats import Stats\n"
        "def show(self):\n"
        "    from .._notebook.display import msg_html\n"
        "    return msg_html(self)\n"
    )
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "msg.py"
        path.write_text(source)
        found = imports("beluga_nats_sync._core.msg", path)
    assert {"json", "beluga_nats_sync._core.stats.Stats", "beluga_nats_sync._notebook.display.msg_html"} <= set(found)
    assert found["beluga_nats_sync._notebook.display"] == 6


def test_only_one_module_reads_opentelemetry_privates() -> None:
    """The bus's fast "is telemetry on" reads two private globals of the API, checked where they
    are read (bus/_otel.py); nothing else may name them or the API's private modules."""
    privates = ("_TRACER_PROVIDER", "_METER_PROVIDER", "opentelemetry.metrics._internal", "metrics import _internal")
    offenders = [
        f"{name} names {p}"
        for name, path in modules().items()
        if name != "beluga_nats_sync.bus._otel"
        for p in privates
        if p in path.read_text()
    ]
    assert offenders == []


def within(target: str, *packages: str) -> bool:
    """``target`` is one of ``packages`` or inside one (``beluga_nats_sync.`` left out of them)."""
    return any(target == f"beluga_nats_sync.{p}" or target.startswith(f"beluga_nats_sync.{p}.") for p in packages)


def package_imports(name: str, path: Path) -> list[tuple[str, int]]:
    """What ``name`` imports of the package, each with its line."""
    return [(t, line) for t, line in imports(name, path).items() if t.split(".")[0] == "beluga_nats_sync"]


def test_the_core_reaches_neither_the_engine_nor_the_features_nor_the_notebook() -> None:
    offenders = []
    for name, path in modules().items():
        if not within(name, "_core"):
            continue
        offenders += [
            f"{name}:{line} imports {target}"
            for target, line in package_imports(name, path)
            if not within(target, "_core", "errors", "protocol")
        ]
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_CORE_FILE_LINES, f"{name} has {lines} lines"
    assert offenders == []


def test_the_notebook_reaches_only_the_core() -> None:
    """The notebook sits on the core: it draws the core's objects (registering how, so that the
    core never imports it) and is imported by the client and the features that show themselves.
    It knows them by protocols, never by importing them."""
    offenders = []
    for name, path in modules().items():
        if not within(name, "_notebook"):
            continue
        offenders += [
            f"{name}:{line} imports {target}"
            for target, line in package_imports(name, path)
            if not within(target, "_notebook", "_core", "_text", "errors", "protocol")
        ]
    assert offenders == []


def test_the_protocol_package_reaches_only_the_errors() -> None:
    """Sans I/O: no sockets, threads or selectors, and nothing of the package but its errors."""
    offenders = []
    for name, path in modules().items():
        if not within(name, "protocol"):
            continue
        offenders += [
            f"{name}:{line} imports {target}"
            for target, line in imports(name, path).items()
            if (target.split(".")[0] == "beluga_nats_sync" and not within(target, "protocol", "errors"))
            or target.split(".")[0] in {"socket", "ssl", "threading", "selectors", "asyncio", "nats"}
        ]
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_CORE_FILE_LINES, f"{name} has {lines} lines"
    assert offenders == []


def import_graph() -> dict[str, dict[str, int]]:
    """Module -> the package modules it imports (each with the line), every import counted."""
    mods = modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in mods.items():
        targets: dict[str, int] = {}
        for t, line in imports(name, path).items():
            # importing a.b.c runs the __init__ of a.b too (the top package aside: it imports all)
            if t == "beluga_nats_sync" and name != t:  # `from .. import X`: the top package, which imports all
                targets.setdefault(t, line)
            parts = t.split(".")
            for i in range(2, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in mods and prefix != name and not name.startswith(prefix + "."):
                    targets.setdefault(prefix, line)
        graph[name] = targets
    return graph


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """A cycle through each module that is on one, as ``['a:12 -> b', 'b:3 -> a']``."""

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*path, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    found = []
    for m in graph:
        cycle = cycle_from(m)
        if cycle is not None:
            found.append([f"{a}:{graph[a][b]} -> {b}" for a, b in itertools.pairwise(cycle)])
    return found


def test_the_cycle_finder_finds_a_cycle_made_inside_a_function() -> None:
    graph = {"m.core": {"m.notebook": 60}, "m.notebook": {"m.core": 22}, "m.cli": {"m.notebook": 9}}
    assert find_cycles(graph) == [
        ["m.core:60 -> m.notebook", "m.notebook:22 -> m.core"],
        ["m.notebook:22 -> m.core", "m.core:60 -> m.notebook"],
    ]


def test_no_import_circles() -> None:
    assert find_cycles(import_graph()) == []


def test_no_class_over_400_lines() -> None:
    big = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                n = node.end_lineno - node.lineno + 1
                if n > MAX_CLASS_LINES:
                    big.append(f"{name}.{node.name}: {n} lines")
    assert big == []


FEATURES = ("jetstream", "services", "bus", "compat", "agents", "_notebook")
ENGINE_INTERNALS = ("connection", "transport", "portal", "outbox")


def test_features_reach_the_connection_only_through_its_feature_surface() -> None:
    """Features use the client's public methods, plus ``_core/surface.py``'s FeatureSurface where
    they need more: never the transport, its event loop, or the core modules behind the surface."""
    offenders = []
    for name, path in modules().items():
        parts = name.split(".")
        if len(parts) < 2 or parts[1] not in FEATURES:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("transport", "loop", "_e"):
                offenders.append(f"{name}:{node.lineno} uses .{node.attr}")
        for target, line in package_imports(name, path):
            if any(within(target, f"_core.{m}") for m in ENGINE_INTERNALS):
                offenders.append(f"{name}:{line} imports {target}")
    assert offenders == []


def test_the_core_draws_what_the_notebook_registered() -> None:
    """The core's ``_repr_html_`` asks ``_core/html.py``: the notebook's renderer once the package is
    imported, an escaped ``repr`` for a type nothing registered."""
    import beluga_nats_sync as bns
    from beluga_nats_sync._core.html import html_of
    from beluga_nats_sync._notebook.display import msg_html

    msg = bns.Msg("orders.<new>", b'{"id": 1}')
    assert msg._repr_html_() == msg_html(msg)
    assert "orders.&lt;new&gt;" in msg._repr_html_()

    class Unregistered:
        def __repr__(self) -> str:
            return "<Unregistered & plain>"

    assert html_of(Unregistered()) == "<pre>&lt;Unregistered &amp; plain&gt;</pre>"
