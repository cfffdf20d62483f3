"""The layering the package is built to, checked on its source: a core that never reaches the
engine or the features, a protocol package that reaches nothing but the errors, no import
circles, classes of a readable size (that nothing imports nats-py: tests/unit/test_no_privates.py)."""

from __future__ import annotations

import ast
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


def module_level_imports(name: str, path: Path) -> set[str]:
    """Absolute names imported at module level, TYPE_CHECKING blocks included (functions excluded)."""
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for n in nodes:
            if isinstance(n, ast.If):
                visit(n.body)
                visit(n.orelse)
            elif isinstance(n, ast.Try):
                visit(n.body)
            elif isinstance(n, ast.Import):
                out.update(a.name for a in n.names)
            elif isinstance(n, ast.ImportFrom):
                if n.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (n.level - 1)]
                    target = ".".join(base + ([n.module] if n.module else []))
                else:
                    target = n.module or ""
                out.add(target)
                out.update(f"{target}.{a.name}" for a in n.names)

    visit(ast.parse(path.read_text()).body)
    return out


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


def test_the_core_reaches_neither_the_engine_nor_the_features() -> None:
    offenders = []
    for name, path in modules().items():
        if not name.startswith("beluga_nats_sync._core"):
            continue
        for target in module_level_imports(name, path):
            if target.startswith("beluga_nats_sync.") and not target.startswith(
                ("beluga_nats_sync._core", "beluga_nats_sync.errors", "beluga_nats_sync.protocol")
            ):
                offenders.append(f"{name} imports {target}")
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_CORE_FILE_LINES, f"{name} has {lines} lines"
    assert offenders == []


def test_the_protocol_package_reaches_only_the_errors() -> None:
    """Sans I/O: no sockets, threads or selectors, and nothing of the package but its errors."""
    offenders = []
    for name, path in modules().items():
        if not name.startswith("beluga_nats_sync.protocol"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):  # function-level imports count here too
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                targets = [node.module or ""]
            elif isinstance(node, ast.ImportFrom) and node.level > 1:  # above the protocol package
                targets = [f"beluga_nats_sync.{node.module}"]
            offenders += [
                f"{name} imports {t}"
                for t in targets
                if (t.startswith("beluga_nats_sync") and t != "beluga_nats_sync.errors")
                or t.split(".")[0] in {"socket", "ssl", "threading", "selectors", "asyncio", "nats"}
            ]
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_CORE_FILE_LINES, f"{name} has {lines} lines"
    assert offenders == []


def test_no_import_circles() -> None:
    mods = modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets = set()
        for t in module_level_imports(name, path):
            # importing a.b.c runs the __init__ of a.b too (the top package aside: it imports all)
            if t == "beluga_nats_sync" and name != t:  # `from .. import X`: the top package, which imports all
                targets.add(t)
            parts = t.split(".")
            for i in range(2, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in mods and prefix != name and not name.startswith(prefix + "."):
                    targets.add(prefix)
        graph[name] = targets

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

    cycles = [c for c in (cycle_from(m) for m in graph) if c is not None]
    assert cycles == []


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
        for target in module_level_imports(name, path):
            if any(target.startswith(f"beluga_nats_sync._core.{m}") for m in ENGINE_INTERNALS):
                offenders.append(f"{name} imports {target}")
    assert offenders == []
