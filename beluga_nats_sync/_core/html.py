"""The hook behind the core objects' ``_repr_html_``: the notebook code registers how each type is
drawn, so the core never imports it (``_notebook/`` is a layer above the core).

``beluga_nats_sync/__init__.py`` imports ``_notebook/display.py``, which registers its renderers;
an object whose type has none shows its plain ``repr``, escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any, TypeVar

__all__ = ["html_of", "register_html"]

T = TypeVar("T")

_renderers: dict[type, Callable[[Any], str]] = {}


def register_html(cls: type[T], render: Callable[[T], str]) -> None:
    """Draw instances of ``cls`` (and of its subclasses) with ``render`` in a notebook."""
    _renderers[cls] = render


def html_of(obj: object) -> str:
    """The HTML registered for ``obj``'s type (the nearest in its MRO), else its ``repr``, escaped."""
    for cls in type(obj).__mro__:
        render = _renderers.get(cls)
        if render is not None:
            return render(obj)
    return f"<pre>{escape(repr(obj))}</pre>"
