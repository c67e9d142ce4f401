"""Label selectors in PromQL's form: ``{job=~"ci-.*", branch!="main"}``.

A selector is a list of matchers, all of which must hold. The operators are
PromQL's: ``=`` (equal), ``!=`` (not equal), ``=~`` (regular expression,
anchored at both ends) and ``!~`` (its negation). As in Prometheus, a label
that is absent has the empty value, so ``{branch=""}`` matches a group
without a ``branch`` label. ``{}`` matches everything.

Regular expressions are Python's ``re`` (the same as Go's RE2 for the usual
``.*``, alternatives and classes; back-references are not refused here but
have no use in a label match).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pushgate.core.errors import ConfigError
from pushgate.core.names import is_valid_label_name

MatchOp = Literal["=", "!=", "=~", "!~"]

_TOKEN = re.compile(
    r"""\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*(?P<sep>,|$)"""
)
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}


def _unquote(quoted: str) -> str:
    out: list[str] = []
    body = quoted[1:-1]
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                raise ConfigError(f"unknown escape \\{nxt} in {quoted}")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass(frozen=True, slots=True)
class Matcher:
    """One ``name op "value"`` condition."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_parts(cls, name: str, op: MatchOp, value: str) -> Matcher:
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile(value)
            except re.error as e:
                raise ConfigError(
                    f"{name}{op}{_quote(value)}: invalid regular expression: {e}"
                ) from None
        return cls(name, op, value, regex)

    def matches(self, value: str) -> bool:
        if self._regex is not None:
            found = self._regex.fullmatch(value) is not None
            return found if self.op == "=~" else not found
        return (value == self.value) if self.op == "=" else (value != self.value)

    def __str__(self) -> str:
        return f"{self.name}{self.op}{_quote(self.value)}"


@dataclass(frozen=True, slots=True)
class Selector:
    """Matchers that must all hold (see the module docstring)."""

    matchers: tuple[Matcher, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels.get(m.name, "")) for m in self.matchers)

    def __str__(self) -> str:
        return "{" + ", ".join(str(m) for m in self.matchers) + "}"


#: The selector that matches every group.
EVERYTHING = Selector()


def parse_selector(text: str) -> Selector:
    """A :class:`Selector` from ``{name op "value", ...}`` (braces optional).

    Raises :class:`ConfigError` quoting the part that could not be read.
    """
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise ConfigError(f"selector {text!r} opens '{{' but does not close it")
        body = body[1:-1]
    matchers: list[Matcher] = []
    pos = 0
    body = body.strip()
    while pos < len(body):
        match = _TOKEN.match(body, pos)
        if match is None:
            raise ConfigError(
                f"selector {text!r}: cannot read {body[pos:]!r}; write matchers like"
                ' job=~"ci-.*", branch!="main" (operators =, !=, =~, !~; values in quotes)'
            )
        name = match["name"]
        if not is_valid_label_name(name):
            raise ConfigError(f"selector {text!r}: {name!r} is not a valid label name")
        op: MatchOp = match["op"]  # type: ignore[assignment]
        matchers.append(Matcher.from_parts(name, op, _unquote(match["value"])))
        pos = match.end()
        if match["sep"] == "," and pos >= len(body):
            break  # a trailing comma, as PromQL allows
    return Selector(tuple(matchers))
