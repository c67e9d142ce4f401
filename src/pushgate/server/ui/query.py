"""What a page's query string asks for: label filter, metric search, paging.

Pure: the handlers pass ``request.query`` in and get values back. Nothing
here raises on bad input except :class:`FilterError`, whose message the page
shows next to the filter field; every other malformed parameter falls back
to its default, so a hand-edited URL still shows a page.

The label filter reads like a Prometheus selector without the metric name,
braces and quotes optional::

    branch=main job=~"api-.*" instance!=""  1.4.2

``=``, ``!=``, ``=~`` and ``!~`` behave as in PromQL (regular expressions
match the whole value; a missing label is the empty value). A word without an
operator matches groups that have it in any label name or value, ignoring
case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import urlencode

from pushgate.store.contract import Group

MatchOp = Literal["=", "!=", "=~", "!~"]
StatusFilter = Literal["", "failed", "ok"]
T = TypeVar("T")

_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*")
#: Between terms: blanks, commas and selector braces (``{a="b"}`` works as typed).
_SEPARATORS = " \t\r\n,{}"
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


class FilterError(ValueError):
    """The label filter could not be read; the message says where and why."""


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    """One ``name op value`` term of the label filter."""

    name: str
    op: MatchOp
    value: str
    pattern: re.Pattern[str] | None = None

    @classmethod
    def from_parts(cls, name: str, op: MatchOp, value: str) -> LabelMatcher:
        if op in ("=~", "!~"):
            try:
                return cls(name, op, value, re.compile(value))
            except re.error as e:
                raise FilterError(f"invalid regular expression in {name}{op}{value!r}: {e}") from e
        return cls(name, op, value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.pattern is not None:
            return (self.pattern.fullmatch(actual) is not None) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")


def _read_value(text: str, pos: int) -> tuple[str, int]:
    """A quoted or bare value starting at ``pos``; returns it and the end."""
    if pos < len(text) and text[pos] in "\"'":
        quote = text[pos]
        out: list[str] = []
        i = pos + 1
        while i < len(text):
            ch = text[i]
            if ch == "\\" and i + 1 < len(text):
                out.append(_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
                i += 2
                continue
            if ch == quote:
                return "".join(out), i + 1
            out.append(ch)
            i += 1
        raise FilterError(f"unterminated quote in filter at position {pos + 1}: {text[pos:]!r}")
    end = pos
    while end < len(text) and text[end] not in _SEPARATORS:
        end += 1
    return text[pos:end], end


def parse_label_filter(text: str) -> tuple[tuple[LabelMatcher, ...], tuple[str, ...]]:
    """The matchers and the free-text words of a label filter."""
    body = text
    matchers: list[LabelMatcher] = []
    words: list[str] = []
    pos = 0
    while True:
        while pos < len(body) and body[pos] in _SEPARATORS:
            pos += 1
        if pos >= len(body):
            break
        m = _MATCHER.match(body, pos)
        if m:
            op: MatchOp = m.group(2)  # type: ignore[assignment]
            value, pos = _read_value(body, m.end())
            matchers.append(LabelMatcher.from_parts(m.group(1), op, value))
        else:
            word, pos = _read_value(body, pos)
            if word:
                words.append(word.casefold())
    return tuple(matchers), tuple(words)


@dataclass(frozen=True, slots=True)
class GroupFilter:
    """Which groups a listing shows."""

    text: str = ""
    matchers: tuple[LabelMatcher, ...] = ()
    words: tuple[str, ...] = ()
    metric: str = ""
    status: StatusFilter = ""
    error: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> GroupFilter:
        text = query.get("match", "").strip()
        metric = query.get("metric", "").strip().replace("\0", "")
        raw_status = query.get("status", "")
        status: StatusFilter = raw_status if raw_status in ("failed", "ok") else ""  # type: ignore[assignment]
        try:
            matchers, words = parse_label_filter(text)
        except FilterError as e:
            return cls(text=text, metric=metric, status=status, error=str(e))
        return cls(text, matchers, words, metric, status)

    @property
    def active(self) -> bool:
        return bool(self.matchers or self.words or self.metric or self.status)

    def matches_labels(self, labels: Mapping[str, str]) -> bool:
        if not all(m.matches(labels) for m in self.matchers):
            return False
        for word in self.words:
            if not any(word in k.casefold() or word in v.casefold() for k, v in labels.items()):
                return False
        return True

    def matching_families(self, group: Group) -> list[str]:
        """Names of ``group``'s families that contain the metric search text."""
        needle = self.metric.casefold()
        return sorted(name for name in group.families if needle in name.casefold())

    def has_metric(self, group: Group) -> bool:
        """Whether a family name of ``group`` contains the metric search text.

        One search over the joined names (metric names never hold NUL), which
        is what keeps a search over 10,000 groups cheap.
        """
        return self.metric.casefold() in "\0".join(group.families).casefold()

    def matches(self, group: Group, labels: Mapping[str, str]) -> bool:
        if self.status == "failed" and group.last_push_successful:
            return False
        if self.status == "ok" and not group.last_push_successful:
            return False
        if not self.matches_labels(labels):
            return False
        return not self.metric or self.has_metric(group)


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer parameter clamped to ``[low, high]``; ``default`` if unreadable."""
    try:
        value = int(query.get(name, ""))
    except ValueError:
        return default
    return max(low, min(high, value))


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list of ``total`` items, ``size`` per page (1-based)."""

    number: int
    size: int
    total: int
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        pages = max(1, -(-self.total // self.size))
        object.__setattr__(self, "pages", pages)
        object.__setattr__(self, "number", max(1, min(self.number, pages)))

    @property
    def start(self) -> int:
        """Index of the first item on the page."""
        return (self.number - 1) * self.size

    @property
    def end(self) -> int:
        """Index after the last item on the page."""
        return min(self.total, self.start + self.size)

    def items(self, seq: Sequence[T]) -> Sequence[T]:
        return seq[self.start : self.end]


def query_string(params: Mapping[str, str], **changes: str | int) -> str:
    """``?a=b...`` with ``changes`` applied; empty values are left out."""
    merged = {**params, **{k: str(v) for k, v in changes.items()}}
    pairs = [(k, v) for k, v in merged.items() if v != ""]
    return "?" + urlencode(pairs) if pairs else "?"
