"""The API reference documents every public name, and its Options table covers every field.

The site itself is built by ``mkdocs build --strict`` in .ci/run (the ``docs`` extra); these checks
need only the package, so they run everywhere.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest

import beluga_nats_sync as bns

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
#: The public modules: each name in their ``__all__`` needs a ``::: path`` entry in docs/reference/.
PUBLIC_MODULES = [
    "beluga_nats_sync",
    "beluga_nats_sync.bus",
    "beluga_nats_sync.deadletter",
    "beluga_nats_sync.message",
    "beluga_nats_sync.jetstream",
    "beluga_nats_sync.errors",
    "beluga_nats_sync.server",
    "beluga_nats_sync.cli",
    "beluga_nats_sync.compat.pynats2",
    "beluga_nats_sync.services",
    "beluga_nats_sync.agents",
    "beluga_nats_sync.testing",
]
_DIRECTIVE = re.compile(r"^:::\s*([\w.]+)\s*$", re.M)


def documented() -> dict[str, Any]:
    """Every ``::: identifier`` of the reference pages, resolved to its object."""
    found: dict[str, Any] = {}
    for page in sorted(REFERENCE.glob("*.md")):
        for ident in _DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            if _is_module(ident):
                found[ident] = importlib.import_module(ident)  # a module's docstring, as an introduction
                continue
            module_name, _, name = ident.rpartition(".")
            module = importlib.import_module(module_name)
            assert hasattr(module, name), f"{page.name}: ::: {ident} names nothing"
            found[ident] = getattr(module, name)
    return found


def _is_module(ident: str) -> bool:
    try:
        return importlib.util.find_spec(ident) is not None
    except ModuleNotFoundError:  # a parent is a module, this is a name in it
        return False


def test_every_public_name_has_a_reference_entry() -> None:
    entries = documented()
    by_identity = {id(obj) for obj in entries.values()}
    missing = []
    for module_name in PUBLIC_MODULES:
        module: ModuleType = importlib.import_module(module_name)
        for name in module.__all__:
            if name == "__version__":
                continue
            obj = getattr(module, name)
            if f"{module_name}.{name}" not in entries and id(obj) not in by_identity:
                missing.append(f"{module_name}.{name}")
    assert missing == [], f"not in docs/reference/*.md (add a '::: name' line): {missing}"


def test_reference_entries_use_public_import_paths() -> None:
    for ident in documented():
        assert not any(part.startswith("_") for part in ident.split(".")), f"{ident}: use the public path"


def test_the_reference_pages_are_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in REFERENCE.glob("*.md"):
        assert f"reference/{page.name}" in config, f"{page.name} is not in mkdocs.yml's nav"


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "_ext" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("docs_hooks", module)
    spec.loader.exec_module(module)
    return module


def test_the_options_table_has_every_field_with_its_type_default_and_meaning() -> None:
    table = _hooks().options_table()
    rows = re.findall(r"<tr>(.*?)</tr>", table)[1:]  # after the header
    fields = attrs.fields(bns.Options)
    assert len(rows) == len(fields)
    for row, field in zip(rows, fields, strict=True):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        assert len(cells) == 4 and field.name in cells[0], row
        assert all(c.strip() for c in cells), f"{field.name}: an empty cell"
    text = " ".join(rows)
    assert "<code>30.0</code>" in text and "8388608</code> (8 MiB)" in text  # timeout, reconnect_buffer_size
    assert "Callable[[BaseException], Any] | None" in text  # error_cb's alias spelled out


def test_an_option_without_a_docstring_fails_the_table() -> None:
    hooks = _hooks()

    @attrs.frozen
    class Sample:
        documented: int = 1
        """Has one."""
        bare: int = 2

    assert hooks.field_docs(Sample) == {"documented": "Has one."}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":class:`~beluga_nats_sync.Client` it", "[`Client`][beluga_nats_sync.Client] it"),
        (":meth:`connect`", "`connect`"),
        (":class:`Client`", "[`Client`][beluga_nats_sync.Client]"),
        (":class:`Unknown`", "`Unknown`"),
        (":func:`beluga_nats_sync.connect`", "[`beluga_nats_sync.connect`][beluga_nats_sync.connect]"),
        ("Example::\n\n    x = 1\n\nAfter.", "Example:\n\n```python\nx = 1\n```\n\nAfter."),
    ],
)
def test_docstring_rest_is_read_as_markdown(text: str, expected: str) -> None:
    pytest.importorskip("griffe", reason="the docstring converter is a griffe extension (the docs extra)")
    spec = importlib.util.spec_from_file_location("docs_rst", ROOT / "docs" / "_ext" / "rst.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.convert(text) == expected
