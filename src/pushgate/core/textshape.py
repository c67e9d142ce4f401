"""Parse a text body again without parsing it: a cache of body shapes.

Pushers send the same body over and over with new values: a CI job pushes
the same metric names and labels on every run, an exporter on every cycle.
The *shape* of a body is its bytes with the last token of every line cut out;
on a sample line that token is the value. Two bodies of one shape differ only
in those tokens, and a sample's value never changes how the rest of a line
is read: the families, their types and help, the label sets and the
grouping of summary and histogram lines all come from the shape.

So the first time a shape parses successfully a second time, a
:class:`Shape` is built: the full parser runs once more on the body with
every value replaced by a distinct sentinel (1, 2, 3, ...), and where each
sentinel lands in the result says which token fills which field. Later
bodies of that shape are "parsed" by splitting out their tokens, checking
them, and filling the fields.

What keeps this exact:

- the tokens of comment lines (``# HELP``/``# TYPE``) are part of the shape
  and must be equal;
- every value token must match the value syntax of the parser's fast path
  (checked for all of them at once), and a token that overflows to an
  infinity goes to the full parser, which reports it as Go does;
- the shape is only built from a body that parsed without error and without
  timestamps, and only kept if filling it with that body's own tokens gives
  exactly the full parser's result.

Anything else takes the full parser, so the cache can change speed only.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from itertools import repeat
from operator import itemgetter
from typing import Final, NamedTuple

from pushgate.core.errors import ParseError
from pushgate.core.floats import VALUE_SYNTAX, go_uint64
from pushgate.core.model import Labels, Metric, MetricFamily, MetricType

#: The last token of a line: a space, then anything but blanks and newlines,
#: then the newline. ``re.split`` with this keeps the tokens at odd indexes.
_LAST_TOKEN: Final = re.compile(rb" ([^ \t\n]+)(?=\n)")

#: The value syntax of the parser's fast path (``textformat._FAST_SAMPLE``).
_VALUE = VALUE_SYNTAX.encode()
_VALUES: Final = re.compile(rb"(?:" + _VALUE + rb")(?: (?:" + _VALUE + rb"))*")
#: Tokens made only of these characters are read by ``float()`` exactly when
#: they match :data:`_VALUE` (a property test holds the two to that), so the
#: common numeric case skips the slower alternation above.
_NUMERIC: Final = re.compile(rb"[-+0-9.eE ]+")

#: Bodies larger than this are always parsed in full (their shapes would
#: make big cache keys, and they are rarely repeated).
MAX_BODY: Final = 64 * 1024
#: How many shapes (and how many shape keys merely seen once) are kept.
MAX_SHAPES: Final = 128

_INF: Final = math.inf
#: ``Metric(labels, value)`` without the keyword handling: a third cheaper.
_new: Final = tuple.__new__
#: The fields of a plain Metric after its value, as endless columns to zip.
_PLAIN_REST: Final = (repeat(0), repeat(0.0), repeat(()), repeat(()), repeat(None))


class _Plain(NamedTuple):
    name: str
    type: MetricType
    help: str | None
    #: The labels of each metric, and a function picking their values (in
    #: the same order) from all the values of a body.
    labels: tuple[Labels, ...]
    pick: Callable[[list[float]], tuple[float, ...]]


def _picker(indexes: tuple[int, ...]) -> Callable[[list[float]], tuple[float, ...]]:
    """A function returning ``tuple(values[i] for i in indexes)``, in C."""
    if len(indexes) == 1:
        (only,) = indexes
        return lambda values: (values[only],)
    return itemgetter(*indexes)


class _Aggregate(NamedTuple):
    name: str
    type: MetricType
    help: str | None
    #: (labels, count index, sum index, ((bound, value index), ...)) per
    #: metric; an index of -1 means the field keeps its default.
    metrics: tuple[tuple[Labels, int, int, tuple[tuple[float, int], ...]], ...]


class Shape:
    """How to build the families of every body of one shape from its tokens."""

    __slots__ = ("_comment_idx", "_comments", "_families", "_value_idx")

    def __init__(
        self,
        comment_idx: tuple[int, ...],
        comments: tuple[bytes, ...],
        value_idx: tuple[int, ...],
        families: tuple[_Plain | _Aggregate, ...],
    ) -> None:
        self._comment_idx = comment_idx
        self._comments = comments
        self._value_idx = value_idx
        self._families = families

    def fill(self, tokens: list[bytes]) -> list[MetricFamily] | None:
        """The families of a body with these tokens; None if the full parser
        must decide (a changed comment, a value it might reject)."""
        if self._comment_idx and tuple(tokens[i] for i in self._comment_idx) != self._comments:
            return None
        raw = [tokens[i] for i in self._value_idx]
        joined = b" ".join(raw)
        if _NUMERIC.fullmatch(joined) is None and _VALUES.fullmatch(joined) is None:
            return None
        try:
            values = list(map(float, raw))
        except ValueError:
            return None
        if _INF in values or -_INF in values:
            for token, value in zip(raw, values, strict=True):
                if (value == _INF or value == -_INF) and token[-1:] in b"0123456789.":
                    return None  # out of range: an error, with Go's wording
        out: list[MetricFamily] = []
        for family in self._families:
            if isinstance(family, _Plain):
                # Metric(labels, value) for each metric, built without a
                # bytecode per metric: the rows are zipped and made in C.
                rows = zip(family.labels, family.pick(values), *_PLAIN_REST, strict=False)
                metrics = tuple(map(_new, repeat(Metric), rows))
            elif family.type == "summary":
                metrics = tuple(
                    [
                        Metric(
                            labels,
                            0.0,
                            go_uint64(values[c]) if c >= 0 else 0,
                            values[s] if s >= 0 else 0.0,
                            tuple([(bound, values[i]) for bound, i in points]),
                        )
                        for labels, c, s, points in family.metrics
                    ]
                )
            else:
                metrics = tuple(
                    [
                        Metric(
                            labels,
                            0.0,
                            go_uint64(values[c]) if c >= 0 else 0,
                            values[s] if s >= 0 else 0.0,
                            (),
                            tuple([(bound, go_uint64(values[i])) for bound, i in points]),
                        )
                        for labels, c, s, points in family.metrics
                    ]
                )
            out.append(MetricFamily(family.name, family.type, family.help, metrics))
        return out


def _comment_tokens(parts: list[bytes]) -> list[bool]:
    """For each token, whether it ends a comment line (``#`` after blanks)."""
    flags = []
    for k in range(1, len(parts), 2):
        before = parts[k - 1]
        start = before.rfind(b"\n") + 1
        flags.append(before[start:].lstrip(b" \t").startswith(b"#"))
    return flags


def _index(value: float, count: int) -> int:
    """The token index a sentinel stands for; ValueError if it is not one."""
    if value != value or value < 1 or value > count or value != int(value):
        raise ValueError(value)
    return int(value) - 1


def build_shape(
    parts: list[bytes],
    parsed: list[MetricFamily],
    parse: Callable[[bytes], list[MetricFamily]],
) -> Shape | None:
    """A :class:`Shape` for a body split by :data:`_LAST_TOKEN` into ``parts``
    whose full parse gave ``parsed``; None when the body cannot have one."""
    tokens = parts[1::2]
    is_comment = _comment_tokens(parts)
    comment_idx = tuple(k for k, c in enumerate(is_comment) if c)
    value_idx = tuple(k for k, c in enumerate(is_comment) if not c)
    count = len(tokens)
    sentinel = list(parts)
    for k in value_idx:
        sentinel[2 * k + 1] = str(k + 1).encode()
    try:
        marked = parse(b" ".join(_rejoin(sentinel)))
    except ParseError:
        return None
    # Indexes are into the value tokens only (what fill() extracts).
    position = {k: n for n, k in enumerate(value_idx)}
    families: list[_Plain | _Aggregate] = []
    try:
        for family in marked:
            if any(m.timestamp_ms is not None for m in family.metrics):
                return None
            if family.type == "summary" or family.type == "histogram":
                aggs = []
                for m in family.metrics:
                    c = position[_index(m.sample_count, count)] if m.sample_count else -1
                    s = position[_index(m.sample_sum, count)] if m.sample_sum else -1
                    raw_points = m.quantiles if family.type == "summary" else m.buckets
                    points = tuple((bound, position[_index(v, count)]) for bound, v in raw_points)
                    aggs.append((m.labels, c, s, points))
                families.append(_Aggregate(family.name, family.type, family.help, tuple(aggs)))
            else:
                picks = tuple(position[_index(m.value, count)] for m in family.metrics)
                labels = tuple(m.labels for m in family.metrics)
                families.append(
                    _Plain(family.name, family.type, family.help, labels, _picker(picks))
                )
    except (ValueError, KeyError):
        return None
    shape = Shape(
        comment_idx,
        tuple(tokens[k] for k in comment_idx),
        value_idx,
        tuple(families),
    )
    # The self-check: this body's own tokens must give the full parser's result.
    # repr, not ==: it tells 1 from 1.0 and -0.0 from 0.0, and NaN equals NaN.
    if repr(shape.fill(tokens)) != repr(parsed):
        return None
    return shape


def _rejoin(parts: list[bytes]) -> list[bytes]:
    """Pieces that ``b" ".join`` turns back into the body ``parts`` came from.

    ``re.split`` dropped the space before every token; joining the pieces
    pairwise restores it.
    """
    out = [parts[0]]
    for k in range(1, len(parts), 2):
        out.append(parts[k] + parts[k + 1])
    return out


class ShapeCache:
    """Shapes by the bytes of their body shape, built on a shape's second sighting.

    Bounded: at most :data:`MAX_SHAPES` shapes and as many keys seen once;
    the oldest entry goes first. Safe to share between threads.
    """

    def __init__(self, max_shapes: int = MAX_SHAPES) -> None:
        self._max = max_shapes
        self._shapes: dict[tuple[bytes, ...], Shape | None] = {}
        self._seen: dict[tuple[bytes, ...], None] = {}
        self._lock = threading.Lock()
        self.hits = 0

    def parse(
        self, body: bytes, parse: Callable[[bytes], list[MetricFamily]]
    ) -> list[MetricFamily]:
        """``parse(body)``, from a cached shape when the body has one."""
        if len(body) > MAX_BODY or not body.endswith(b"\n"):
            return parse(body)
        parts = _LAST_TOKEN.split(body)
        if len(parts) < 3:
            return parse(body)
        key = tuple(parts[0::2])
        shape = self._shapes.get(key)
        if shape is not None:
            filled = shape.fill(parts[1::2])
            if filled is not None:
                self.hits += 1
                return filled
        result = parse(body)  # raises on bad input: nothing is learnt from it
        if shape is None and key not in self._shapes:
            self._learn(key, parts, result, parse)
        return result

    def _learn(
        self,
        key: tuple[bytes, ...],
        parts: list[bytes],
        result: list[MetricFamily],
        parse: Callable[[bytes], list[MetricFamily]],
    ) -> None:
        with self._lock:
            if key not in self._seen:
                if len(self._seen) >= self._max:
                    del self._seen[next(iter(self._seen))]
                self._seen[key] = None
                return
            del self._seen[key]
        shape = build_shape(parts, result, parse)  # None is remembered too
        with self._lock:
            if len(self._shapes) >= self._max:
                del self._shapes[next(iter(self._shapes))]
            self._shapes[key] = shape
