"""A griffe extension: the docstrings' few reStructuredText habits, read as Markdown.

The docstrings are written for ``help()`` and the terminal, with Sphinx roles
(``:class:`~beluga_nats_sync.Client```) and ``::`` literal blocks. For the site, a role whose
target is a dotted name becomes a cross-reference (checked by ``mkdocs build --strict``), other
roles become code, and a literal block becomes a code block (Python when it parses as Python).
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|func|meth|attr|exc|mod|data|obj):`(~?)([\w.]+)(\(\))?`")


def _role(m: re.Match[str]) -> str:
    kind, tilde, target, call = m.groups()
    shown = (target.rsplit(".", 1)[-1] if tilde else target) + (call or "")
    if "." not in target and kind in ("class", "exc", "func") and target in _top_level():
        target = f"beluga_nats_sync.{target}"  # :class:`Client` in the package means the public one
    if "." in target and target.startswith("beluga_nats_sync"):
        return f"[`{shown}`][{target}]"
    return f"`{shown}`"


def _top_level() -> frozenset[str]:
    import beluga_nats_sync

    return frozenset(beluga_nats_sync.__all__)


def _language(code: list[str]) -> str:
    """``python`` for a block that parses as Python, ``text`` for anything else (a tree, a usage line)."""
    try:
        ast.parse("\n".join(code))
    except SyntaxError:
        return "text"
    return "python"


def _literal_blocks(text: str) -> str:
    """``Example::`` followed by an indented block -> ``Example:`` and a fenced Python block."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::") and not line.strip().startswith((">>>", "...")):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            base = len(line) - len(line.lstrip())
            block: list[str] = []
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > base):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
            if block:
                head = line.rstrip()[:-2].rstrip()
                if head:
                    out.append(head + ":")
                indent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
                pad = " " * base
                code = [b[indent:] for b in block]
                out.extend(["", f"{pad}```{_language(code)}", *(pad + c for c in code), pad + "```", ""])
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def convert(text: str) -> str:
    return _ROLE.sub(_role, _literal_blocks(text))


class RstToMarkdown(griffe.Extension):
    """Rewrite each docstring once, when its object is made."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
