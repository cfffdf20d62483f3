"""MkDocs hooks: the README as the home page, and the Options table generated from the class.

Both are made at build time from the code and the README, so the site cannot drift from them.
"""

from __future__ import annotations

import ast
import html
import inspect
import posixpath
import re
import textwrap
import typing
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
OPTIONS_MARKER = "<!-- options-table -->"

_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


# -- the home page ---------------------------------------------------------------------------------


def readme_page() -> str:
    """The README with its links made to work from inside docs/."""

    def fix(m: re.Match[str]) -> str:
        bang, text, target = m.groups()
        if target.startswith(("http://", "https://", "#", "mailto:")):
            return m.group(0)
        if target.startswith("docs/"):
            return f"{bang}[{text}]({target[len('docs/') :]})"
        # a file of the repository outside docs/ (examples/...): named, not linked
        return text if text.startswith("`") else f"`{text}`"

    return _LINK.sub(fix, README.read_text(encoding="utf-8"))


def outside_links(markdown: str, src_uri: str) -> str:
    """Links from a page to files outside docs/ (``../examples/x``) become their names in code."""
    here = posixpath.dirname(src_uri)

    def fix(m: re.Match[str]) -> str:
        bang, text, target = m.groups()
        if bang or "://" in target or not posixpath.normpath(posixpath.join(here, target)).startswith("../"):
            return m.group(0)
        return text if text.startswith("`") else f"`{text}`"

    return _LINK.sub(fix, markdown)


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(File.generated(config, "index.md", content=readme_page()))
    return files


def on_serve(server: Any, config: Any, builder: Any) -> Any:
    server.watch(str(README))
    return server


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if OPTIONS_MARKER in markdown:
        markdown = markdown.replace(OPTIONS_MARKER, options_table())
    return outside_links(markdown, page.file.src_uri)


# -- the Options table -----------------------------------------------------------------------------


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of ``cls`` (a string right after the assignment)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for stmt, after in zip(body, body[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[stmt.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return docs


def _type_text(annotation: Any, namespace: dict[str, Any]) -> str:
    """The annotation as written, with the module's type aliases spelled out."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))

    def expand(m: re.Match[str]) -> str:
        value = namespace.get(m.group(0))
        if value is None or typing.get_origin(value) is None:  # a class, or not a type alias
            return m.group(0)
        return re.sub(r"\b(typing|collections\.abc)\.", "", repr(value))

    return re.sub(r"\b[A-Z]\w*\b", expand, text)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return ""


def _default_text(field: Any) -> str:
    default = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return "computed (see the description)"
    text = f"<code>{html.escape(repr(default))}</code>"
    if isinstance(default, int) and not isinstance(default, bool) and _size(default):
        text += f" ({_size(default)})"
    return text


def _inline(text: str) -> str:
    """Escape for HTML, keeping ``code`` (reST) and `code` (Markdown) as code."""
    parts = re.split(r"``(.+?)``|`(.+?)`", text)
    out = []
    for i, part in enumerate(parts):
        if part is None:
            continue
        out.append(f"<code>{html.escape(part)}</code>" if i % 3 else html.escape(part))
    return "".join(out)


def options_table() -> str:
    """An HTML table (types hold ``|``, which a Markdown table would split on) of every field."""
    from beluga_nats_sync import Options

    namespace = vars(inspect.getmodule(Options))
    docs = field_docs(Options)
    missing = [f.name for f in attrs.fields(Options) if f.name not in docs]
    if missing:
        raise ValueError(f"Options fields without a docstring (a string under the field): {missing}")
    rows = [
        "<tr>"
        f'<td style="white-space: nowrap"><code id="options.{f.name}">{f.name}</code></td>'
        f"<td><code>{html.escape(_type_text(f.type, namespace))}</code></td>"
        f"<td>{_default_text(f)}</td>"
        f"<td>{_inline(docs[f.name])}</td>"
        "</tr>"
        for f in attrs.fields(Options)
    ]
    head = "<tr><th>option</th><th>type</th><th>default</th><th>meaning</th></tr>"
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n"
