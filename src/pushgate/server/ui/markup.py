"""Safe-by-default HTML: every value is escaped unless it is :class:`Markup`.

The pages are built from small templates filled with :func:`render`. Label
values, HELP texts and metric names are user input, so nothing reaches the
page without passing :func:`escape`; only values that are already
:class:`Markup` (the output of :func:`render` or :func:`join`) pass
unchanged. A template must never be built from user input: it is the
format string.
"""

from __future__ import annotations

import html
from collections.abc import Iterable


class Markup(str):
    """A string that is already HTML and must not be escaped again."""

    __slots__ = ()


def escape(value: object) -> Markup:
    """``value`` as HTML text (quotes escaped too, so it fits in attributes)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def render(template: str, /, **values: object) -> Markup:
    """``template.format(**values)`` with every value escaped.

    ``template`` is a trusted literal; ``{name}`` fields are replaced by the
    escaped values (``Markup`` values are inserted as they are). Values are
    strings by then, so format numbers before passing them (no ``{n:.1f}``).
    """
    return Markup(template.format_map({k: escape(v) for k, v in values.items()}))


def join(parts: Iterable[object], separator: str = "") -> Markup:
    """The escaped ``parts`` joined by the trusted ``separator``."""
    return Markup(separator.join(escape(p) for p in parts))
