"""The Prometheus text exposition format 0.0.4: parser and renderer.

Parsing follows the ``TextParser`` of prometheus/common 0.37 as used by the
Pushgateway 1.5.1 (spec 4.4, Appendix B items 18-24): the same accepted syntax,
the same family/metric grouping, and byte-for-byte the same error messages
(``text format parsing error in line N: ...``), raised as
:class:`~pushgate.core.errors.ParseError`.

How it is fast: a body is decoded once and split into lines (every token of the
format ends at a newline, so lines are independent). The common lines, a sample
``name{a="b",...} value`` without escapes and a ``# HELP``/``# TYPE`` line, are
recognised by one compiled regular expression each. Every other line (extra
blanks, escapes, timestamps, errors, invalid UTF-8) goes to
:meth:`_Parser._parse_line`, a character-level transcription of the Go state
machine, so the fast path never has to decide an error message. Figures are in
``docs/textformat-performance.md``.

Rendering follows the text writer of prometheus/common 0.37 (spec 5.4). Counts
(summary/histogram ``_count``, bucket counts) are written through the float
formatter exactly as 1.5.1 does, so a count of 1234567 is written
``1.234567e+06`` (observed on the 1.5.1 binary; see the tests).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Final, Literal, NoReturn

from pushgate.core.errors import ParseError
from pushgate.core.floats import VALUE_SYNTAX, format_float, go_uint64, parse_float
from pushgate.core.goquote import escape_rune, go_quote
from pushgate.core.model import Labels, Metric, MetricFamily, MetricType
from pushgate.core.textshape import ShapeCache

__all__ = [
    "labels_sort_key",
    "metric_sort_key",
    "parse_text",
    "parse_text_in_full",
    "render_family_header",
    "render_label_block",
    "render_metric",
    "render_text",
]

# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------

_LABEL_PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"'

#: The common sample line: a legacy name, optional label pairs without escapes
#: (a trailing comma is allowed, as in Go), exactly one space, a value and the
#: end of the line. The value alternatives are exactly the Go ParseFloat syntax
#: (see pushgate.core.floats); ``float()`` then computes the same number. No two
#: quantifiers compete for the same characters, so matching is linear in the
#: line length even for hostile input.
_FAST_SAMPLE: Final = re.compile(
    r"([a-zA-Z_:][a-zA-Z0-9_:]*)"
    rf"(?:\{{((?:{_LABEL_PAIR}(?:,{_LABEL_PAIR})*,?)?)\}})?"
    rf" ({VALUE_SYNTAX})"
)
_FAST_PAIRS: Final = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"')

#: The common metadata line: a docstring or type without escapes and without a
#: leading blank (the slow path handles those).
_FAST_META: Final = re.compile(r"# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ([^ \t\\][^\\]*)")

#: Lone surrogates are how undecodable bytes survive ``surrogateescape``.
_SURROGATE: Final = re.compile("[\udc80-\udcff]")

_INT64: Final = re.compile(r"[+-]?[0-9]+")

_METRIC_NAME_START: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:")
_METRIC_NAME_CHAR: Final = _METRIC_NAME_START | frozenset("0123456789")
_LABEL_NAME_START: Final = _METRIC_NAME_START - {":"}
_LABEL_NAME_CHAR: Final = _METRIC_NAME_CHAR - {":"}
_BLANK: Final = frozenset(" \t")
_BLANK_OR_NEWLINE: Final = frozenset(" \t\n")

#: A family's type while parsing: a model type, or ``gauge_histogram``.
_ParsedType = Literal["counter", "gauge", "summary", "histogram", "untyped", "gauge_histogram"]

#: TYPE keywords (compared after Go's ``strings.ToUpper``).
#:
#: ``GAUGE_HISTOGRAM`` is known to the Go parser of 1.5.1: it parses such a
#: family's samples as plain series (without values) and the gateway then stores
#: it and truncates /metrics at its TYPE line (spec B.2). The data model has no
#: such type, so pushgate parses it exactly like Go (same errors, an empty family
#: is dropped) and only rejects the body at the end if such a family has samples:
#: a deliberate deviation, pinned by ``test_gauge_histogram_*``.
_TYPES: Final[dict[str, _ParsedType]] = {
    "COUNTER": "counter",
    "GAUGE": "gauge",
    "SUMMARY": "summary",
    "HISTOGRAM": "histogram",
    "UNTYPED": "untyped",
    "GAUGE_HISTOGRAM": "gauge_histogram",
}
#: The spelling of nearly every TYPE line, for the fast path.
_EXACT_TYPES: Final[dict[str, _ParsedType]] = {
    "counter": "counter",
    "gauge": "gauge",
    "summary": "summary",
    "histogram": "histogram",
    "untyped": "untyped",
}

#: Types whose samples are one line each (no quantile/le grouping).
_PLAIN_TYPES: Final = frozenset(("counter", "gauge", "untyped", "gauge_histogram"))

#: How a sample name relates to its family (``setOrCreateCurrentMF`` in Go).
_PLAIN, _COUNT, _SUM = 0, 1, 2

_INF: Final = math.inf
_NAN: Final = math.nan
_TWO_63: Final = 2**63


# Signatures of the helpers _parse_line passes to _parse_comment.
_At = Callable[[int], str]
_Skip = Callable[[int], int]
_Fail = Callable[[str], NoReturn]


class _EndOfInput(Exception):
    """The last line ended without a newline where Go would read another byte."""


class _Family:
    """A family being assembled. Mutable on purpose: it only lives during one
    parse and becomes a frozen :class:`MetricFamily` at the end."""

    __slots__ = ("aggregates", "groups", "help", "metrics", "name", "type", "type_line")

    def __init__(self, name: str) -> None:
        self.name = name
        # None until a TYPE line or the first sample fixes it (Go's nil Type).
        self.type: _ParsedType | None = None
        self.type_line = 0  # where a TYPE line set the type, for error messages
        self.help: str | None = None
        # Counters, gauges and untyped metrics are final as soon as read;
        # summaries and histograms collect lines until the end of the body.
        self.metrics: list[Metric] = []
        self.aggregates: list[_Aggregate] = []
        # Summaries and histograms: label set without quantile/le -> metric.
        self.groups: dict[frozenset[tuple[str, str]], _Aggregate] = {}


class _Aggregate:
    """A summary or histogram metric being assembled from several lines."""

    __slots__ = ("buckets", "count", "labels", "quantiles", "sum", "timestamp_ms")

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.count = 0
        self.sum = 0.0
        self.quantiles: list[tuple[float, float]] = []
        self.buckets: list[tuple[float, int]] = []
        self.timestamp_ms: int | None = None

    def freeze(self) -> Metric:
        return Metric(
            labels=self.labels,
            sample_count=self.count,
            sample_sum=self.sum,
            quantiles=tuple(self.quantiles),
            buckets=tuple(self.buckets),
            timestamp_ms=self.timestamp_ms,
        )


def parse_text(body: bytes) -> list[MetricFamily]:
    """Parse a text-format 0.0.4 push body.

    Returns the families in order of first appearance (a HELP or TYPE line
    counts), each with its metrics in order of first appearance and label pairs
    in input order. Families without samples are dropped. Timestamps are kept in
    ``Metric.timestamp_ms`` (the store rejects them). Summary and histogram
    lines are grouped by their label set without ``quantile``/``le``.

    Raises :class:`ParseError` with the message of the Go parser.
    """
    return _SHAPES.parse(body, parse_text_in_full)


def parse_text_in_full(body: bytes) -> list[MetricFamily]:
    """:func:`parse_text` without the shape cache: always line by line."""
    return _Parser().parse(body)


#: Bodies that repeat an earlier body's shape skip the line-by-line parse.
_SHAPES: Final = ShapeCache()


def _split_pairs(label_text: str) -> list[tuple[str, str]]:
    """The pairs of a label block that :data:`_FAST_SAMPLE` accepted.

    Values there contain no quote or backslash, so ``="`` only opens a value and
    ``",`` only closes one, except after a value ending in ``=``: that rare case
    takes the (slower) regular expression.
    """
    text = label_text[:-2] if label_text[-1] == "," else label_text[:-1]
    if '=",' in text or text[-1] == "=":
        return _FAST_PAIRS.findall(label_text)
    parts = iter(text.replace('="', '",').split('",'))
    return list(zip(parts, parts, strict=True))


class _Parser:
    """One parse of one body (the Go parser's state, minus the byte reader)."""

    __slots__ = ("_clean", "_families", "_resolved")

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        # name -> (family, role). Go resolves every name afresh, but the answer
        # never changes once given: families are never removed and their type
        # never changes once set, and a suffix name that did not resolve to its
        # base created a family of its own name.
        self._resolved: dict[str, tuple[_Family, int]] = {}
        self._clean = True

    def parse(self, body: bytes) -> list[MetricFamily]:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            # Invalid bytes are legal in HELP and comments; they become lone
            # surrogates that the slow path reports or renders back as bytes.
            text = body.decode("utf-8", "surrogateescape")
            self._clean = False
        lines = text.split("\n")
        tail = lines.pop()  # after the last newline: "" for a well-formed body
        resolve = self._resolve
        fast_sample = _FAST_SAMPLE.fullmatch
        fast_meta = _FAST_META.fullmatch
        clean = self._clean
        lineno = 0
        for line in lines:
            lineno += 1
            if not line:
                continue
            if not clean and _SURROGATE.search(line) is not None:
                self._parse_line(line + "\n", lineno)
                continue
            if line[0] == "#":
                meta = fast_meta(line)
                if meta is None or not self._apply_meta(
                    meta.group(1), meta.group(2), meta.group(3), lineno
                ):
                    self._parse_line(line + "\n", lineno)
                continue
            match = fast_sample(line)
            if match is None:
                self._parse_line(line + "\n", lineno)
                continue
            name, label_text, value_text = match.groups()
            pairs = _split_pairs(label_text) if label_text else []
            if len(pairs) > 1:
                # Duplicates and a reserved name need the slow path's error order.
                if len(dict(pairs)) != len(pairs) or "__name__=" in label_text:
                    self._parse_line(line + "\n", lineno)
                    continue
            elif pairs and pairs[0][0] == "__name__":
                self._parse_line(line + "\n", lineno)
                continue
            family, role = resolve(name)
            ftype = family.type
            if ftype is None:
                family.type = ftype = "untyped"
            if ftype in _PLAIN_TYPES:
                value = float(value_text)
                if (value == _INF or value == -_INF) and value_text[-1] in "0123456789.":
                    self._fail(lineno, f"expected float as value, got {go_quote(value_text)}")
                family.metrics.append(Metric(tuple(pairs), value))
                continue
            special = "quantile" if ftype == "summary" else "le"
            bound = _NAN
            rest = []
            for pair in pairs:
                if pair[0] == special:
                    try:
                        bound = parse_float(pair[1])
                    except ValueError:
                        self._fail(
                            lineno,
                            f"expected float as value for '{special}' label, "
                            f"got {go_quote(pair[1])}",
                        )
                else:
                    rest.append(pair)
            value = float(value_text)
            if (value == _INF or value == -_INF) and value_text[-1] in "0123456789.":
                self._fail(lineno, f"expected float as value, got {go_quote(value_text)}")
            self._observe(family, role, rest, bound, value, None)
        if tail.strip(" \t"):
            lineno += 1
            with contextlib.suppress(_EndOfInput):
                self._parse_line(tail, lineno)
            # Every non-blank unterminated line ends in an error: either one
            # found before the end (raised above) or running out of input.
            self._fail(lineno, "unexpected end of input stream")
        return self._result()

    def _result(self) -> list[MetricFamily]:
        out: list[MetricFamily] = []
        for family in self._families.values():
            if family.type is None:
                continue  # HELP only, never a sample
            if family.type == "gauge_histogram":
                if family.metrics:
                    self._fail(
                        family.type_line,
                        f'unsupported metric type "gauge_histogram" '
                        f"for metric name {go_quote(family.name)}",
                    )
                continue
            if family.aggregates:
                metrics = tuple([agg.freeze() for agg in family.aggregates])
            elif family.metrics:
                metrics = tuple(family.metrics)
            else:
                continue
            out.append(MetricFamily(family.name, family.type, family.help, metrics))
        return out

    @staticmethod
    def _fail(lineno: int, message: str) -> NoReturn:
        raise ParseError(f"text format parsing error in line {lineno}: {message}")

    def _resolve(self, name: str) -> tuple[_Family, int]:
        """The family a sample, HELP or TYPE name belongs to (Go's
        ``setOrCreateCurrentMF``), creating it if needed.

        ``x_count``/``x_sum`` belong to an existing summary ``x``, and also
        ``x_bucket`` to a histogram; otherwise the name is a family of its own.
        The lookup applies to HELP and TYPE lines too, which is why
        ``# TYPE x_count gauge`` after a summary ``x`` reports a second TYPE
        for ``x`` (spec 4.4).
        """
        entry = self._resolved.get(name)
        if entry is not None:
            return entry
        families = self._families
        family = families.get(name)
        role = _PLAIN
        if family is None:
            is_count = len(name) > 6 and name.endswith("_count")
            is_sum = not is_count and len(name) > 4 and name.endswith("_sum")
            is_bucket = len(name) > 7 and name.endswith("_bucket")
            if is_count or is_sum:
                base = families.get(name[:-6] if is_count else name[:-4])
                if base is not None and base.type in ("summary", "histogram"):
                    family, role = base, (_COUNT if is_count else _SUM)
            elif is_bucket:
                base = families.get(name[:-7])
                if base is not None and base.type == "histogram":
                    family = base
            if family is None:
                family = families[name] = _Family(name)
        entry = (family, role)
        self._resolved[name] = entry
        return entry

    def _apply_meta(self, keyword: str, name: str, text: str, lineno: int) -> bool:
        """A ``# HELP``/``# TYPE`` line in its common form; False hands the line
        to the slow path (a type that is not written in lower case)."""
        family = self._resolve(name)[0]
        if keyword == "HELP":
            if family.help is not None:
                self._fail(lineno, f"second HELP line for metric name {go_quote(family.name)}")
            family.help = text
            return True
        if family.type is not None:
            self._fail(
                lineno,
                f"second TYPE line for metric name {go_quote(family.name)}, "
                "or TYPE reported after samples",
            )
        mtype = _EXACT_TYPES.get(text)
        if mtype is None:
            return False
        family.type = mtype
        return True

    def _observe(
        self,
        family: _Family,
        role: int,
        labels: list[tuple[str, str]],
        bound: float,
        value: float,
        timestamp_ms: int | None,
    ) -> None:
        """Add one summary/histogram line to the metric of its label set."""
        key = frozenset(labels)
        agg = family.groups.get(key)
        if agg is None:
            agg = family.groups[key] = _Aggregate(tuple(labels))
            family.aggregates.append(agg)
        if role == _COUNT:
            agg.count = go_uint64(value)
        elif role == _SUM:
            agg.sum = value
        elif bound == bound:
            # Go uses NaN as "no quantile/le label seen", so such lines (and an
            # explicit quantile="NaN") add nothing; the metric still exists.
            if family.type == "summary":
                agg.quantiles.append((bound, value))
            else:
                agg.buckets.append((bound, go_uint64(value)))
        if timestamp_ms is not None:
            agg.timestamp_ms = timestamp_ms

    def _parse_line(self, s: str, lineno: int) -> None:
        """Parse one line exactly as the Go state machine does.

        ``s`` ends with ``"\\n"`` unless it is the unterminated last line; reading
        past its end raises :class:`_EndOfInput`, which is Go's "unexpected end
        of input stream". Each step below names the Go state it mirrors.
        """
        n = len(s)

        def at(i: int) -> str:
            if i < n:
                return s[i]
            raise _EndOfInput

        def skip_blank_tab(i: int) -> int:
            # Go's skipBlankTab: discard the current byte, then blanks and tabs.
            i += 1
            while at(i) in _BLANK:
                i += 1
            return i

        def fail(message: str) -> NoReturn:
            self._fail(lineno, message)

        # startOfLine
        i = 0
        while i < n and s[i] in _BLANK:
            i += 1
        if i == n or s[i] == "\n":
            return
        if s[i] == "#":
            self._parse_comment(s, i, at, skip_blank_tab, fail, lineno)
            return

        # readingMetricName
        j = i
        if s[i] in _METRIC_NAME_START:
            j += 1
            while at(j) in _METRIC_NAME_CHAR:
                j += 1
        name = s[i:j]
        if not name:
            fail("invalid metric name")
        family, role = self._resolve(name)
        if family.type is None:
            family.type = "untyped"
        ftype = family.type
        special = "quantile" if ftype == "summary" else "le" if ftype == "histogram" else None
        i = j
        if s[i] in _BLANK:
            i = skip_blank_tab(i)

        # readingLabels / startLabelName / startLabelValue
        labels: list[tuple[str, str]] = []
        bound = _NAN
        if s[i] == "{":
            seen: set[str] = set()
            while True:
                i = skip_blank_tab(i)
                if s[i] == "}":
                    i = skip_blank_tab(i)
                    break
                j = i
                if s[i] in _LABEL_NAME_START:
                    j += 1
                    while at(j) in _LABEL_NAME_CHAR:
                        j += 1
                label_name = s[i:j]
                if not label_name:
                    fail(f"invalid label name for metric {go_quote(family.name)}")
                if label_name == "__name__":
                    fail('label name "__name__" is reserved')
                i = j
                if s[i] in _BLANK:
                    i = skip_blank_tab(i)
                if s[i] != "=":
                    fail(f"expected '=' after label name, found {_go_quote_byte(s[i])}")
                is_special = label_name == special
                if not is_special:
                    # quantile/le of a summary/histogram are not labels in
                    # Go, so they escape the duplicate check.
                    if label_name in seen:
                        fail(f"duplicate label names for metric {go_quote(family.name)}")
                    seen.add(label_name)
                i = skip_blank_tab(i)
                if s[i] != '"':
                    fail(f"expected '\"' at start of label value, found {_go_quote_byte(s[i])}")
                chars: list[str] = []
                i += 1
                while True:
                    c = at(i)
                    if c == '"':
                        break
                    if c == "\\":
                        i += 1
                        c = at(i)
                        if c == "n":
                            c = "\n"
                        elif c != "\\" and c != '"':
                            fail(f"invalid escape sequence '\\{_go_byte_char(c)}'")
                    elif c == "\n":
                        fail(f"label value {go_quote(''.join(chars))} contains unescaped new-line")
                    chars.append(c)
                    i += 1
                value = "".join(chars)
                if not self._clean and _SURROGATE.search(value) is not None:
                    fail(f"invalid label value {go_quote(value)}")
                if is_special:
                    try:
                        bound = parse_float(value)
                    except ValueError:
                        fail(
                            f"expected float as value for '{special}' label, got {go_quote(value)}"
                        )
                else:
                    labels.append((label_name, value))
                i = skip_blank_tab(i)
                if s[i] == ",":
                    continue
                if s[i] == "}":
                    i = skip_blank_tab(i)
                    break
                fail(f"unexpected end of label value {go_quote(value)}")

        # readingValue
        j = i
        while at(j) not in _BLANK_OR_NEWLINE:
            j += 1
        token = s[i:j]
        try:
            sample_value = parse_float(token)
        except ValueError:
            fail(f"expected float as value, got {go_quote(token)}")

        # startTimestamp
        timestamp_ms: int | None = None
        if s[j] != "\n":
            i = skip_blank_tab(j)
            j = i
            while at(j) not in _BLANK_OR_NEWLINE:
                j += 1
            token = s[i:j]
            timestamp_ms = _parse_int64(token)
            if timestamp_ms is None:
                fail(f"expected integer as timestamp, got {go_quote(token)}")
            # readTokenUntilNewline starts at the byte after the timestamp, so
            # even a single trailing blank is "spurious" (observed on 1.5.1).
            k = j
            while at(k) != "\n":
                k += 1
            if k > j:
                # Go's readTokenUntilNewline drops backslashes when it does
                # not decode escapes (observed on 1.5.1), here and for TYPE.
                spurious = s[j:k].replace("\\", "")
                fail(f"spurious string after timestamp: {go_quote(spurious)}")

        if special is None:
            family.metrics.append(Metric(tuple(labels), sample_value, timestamp_ms=timestamp_ms))
        else:
            self._observe(family, role, labels, bound, sample_value, timestamp_ms)

    def _parse_comment(
        self,
        s: str,
        i: int,
        at: _At,
        skip_blank_tab: _Skip,
        fail: _Fail,
        lineno: int,
    ) -> None:
        """Go's startComment, readingHelp and readingType; ``s[i]`` is ``#``."""
        i = skip_blank_tab(i)
        if s[i] == "\n":
            return
        j = i
        while at(j) not in _BLANK_OR_NEWLINE:
            j += 1
        keyword = s[i:j]
        if s[j] == "\n":
            return
        if keyword != "HELP" and keyword != "TYPE":
            # Any other comment (``# EOF``, ``# UNIT``, text) is skipped, but
            # still needs its newline.
            if s[-1] != "\n":
                raise _EndOfInput
            return
        i = skip_blank_tab(j)
        j = i
        if s[i] in _METRIC_NAME_START:
            j += 1
            while at(j) in _METRIC_NAME_CHAR:
                j += 1
        if s[j] == "\n":
            return  # "# HELP name" alone is a plain comment
        if s[j] not in _BLANK:
            fail("invalid metric name in comment")
        family = self._resolve(s[i:j])[0]
        i = skip_blank_tab(j)
        if s[i] == "\n":
            return  # "# HELP name " with only blanks after it: no help
        if keyword == "HELP":
            if family.help is not None:
                fail(f"second HELP line for metric name {go_quote(family.name)}")
            chars: list[str] = []
            while True:
                c = at(i)
                if c == "\n":
                    break
                if c == "\\":
                    i += 1
                    c = at(i)
                    if c == "n":
                        c = "\n"
                    elif c != "\\":
                        fail(f"invalid escape sequence '\\{_go_byte_char(c)}'")
                chars.append(c)
                i += 1
            family.help = "".join(chars)
            return
        if family.type is not None:
            fail(
                f"second TYPE line for metric name {go_quote(family.name)}, "
                "or TYPE reported after samples"
            )
        j = i
        while at(j) != "\n":
            j += 1
        token = s[i:j].replace("\\", "")  # dropped by Go, see the timestamp case
        mtype = _TYPES.get(_go_upper(token))
        if mtype is None:
            fail(f"unknown metric type {go_quote(token)}")
        family.type = mtype
        family.type_line = lineno


def _parse_int64(token: str) -> int | None:
    """Go ``strconv.ParseInt(token, 10, 64)``, or None where Go errors."""
    if _INT64.fullmatch(token) is None:
        return None
    # Go allows any number of leading zeros; int() would refuse a string of
    # more than 4300 digits, so the range is checked on the digits first.
    digits = token.lstrip("+-").lstrip("0")
    if len(digits) > 19:
        return None
    value = -int(digits or "0") if token[0] == "-" else int(digits or "0")
    if -_TWO_63 <= value < _TWO_63:
        return value
    return None


def _go_upper(s: str) -> str:
    """Go ``strings.ToUpper``: per-rune simple case mapping, so U+017F (long s)
    becomes ``S`` but the ligature U+FB00 stays (Python maps it to ``FF``)."""
    if s.isascii():
        return s.upper()
    return "".join(u if len(u := c.upper()) == 1 else c for c in s)


def _go_byte_char(c: str) -> str:
    """Go's ``%c`` of the byte the parser is looking at: the first byte of the
    character's UTF-8 form, taken as a code point (0xC3 prints as ``Ã``)."""
    return chr(c.encode("utf-8", "surrogateescape")[0])


def _go_quote_byte(c: str) -> str:
    """Go's ``%q`` of the byte the parser is looking at (a quoted rune)."""
    r = _go_byte_char(c)
    if r == "'" or r == "\\":
        return f"'\\{r}'"
    if r.isprintable():
        return f"'{r}'"
    return f"'{escape_rune(r)}'"


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _escape_label_value(v: str) -> str:
    if "\\" in v or '"' in v or "\n" in v:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return v


def _escape_help(v: str) -> str:
    if "\\" in v or "\n" in v:
        return v.replace("\\", "\\\\").replace("\n", "\\n")
    return v


def _family_header_text(name: str, type: MetricType, help: str | None) -> str:
    if help is None:
        return f"# TYPE {name} {type}\n"
    return f"# HELP {name} {_escape_help(help)}\n# TYPE {name} {type}\n"


def render_label_block(labels: Labels) -> str:
    """``{name="value",...}`` with values escaped; ``""`` for no labels."""
    if not labels:
        return ""
    return "{" + ",".join([f'{k}="{_escape_label_value(v)}"' for k, v in labels]) + "}"


def _metric_text(name: str, type: MetricType, metric: Metric) -> str:
    labels = ",".join([f'{k}="{_escape_label_value(v)}"' for k, v in metric.labels])
    if type == "counter" or type == "gauge" or type == "untyped":
        if labels:
            return f"{name}{{{labels}}} {format_float(metric.value)}\n"
        return f"{name} {format_float(metric.value)}\n"
    # The summary/histogram lines share the label block; quantile/le go last.
    if labels:
        braces = f"{{{labels}}}"
        open_extra = f"{{{labels},"
    else:
        braces = ""
        open_extra = "{"
    lines: list[str] = []
    if type == "summary":
        for quantile, value in metric.quantiles:
            lines.append(
                f'{name}{open_extra}quantile="{format_float(quantile)}"}} {format_float(value)}\n'
            )
    else:
        inf_seen = False
        for bound, count in metric.buckets:
            lines.append(
                f'{name}_bucket{open_extra}le="{format_float(bound)}"}} {format_float(float(count))}\n'
            )
            if bound == _INF:
                inf_seen = True
        if not inf_seen:
            lines.append(
                f'{name}_bucket{open_extra}le="+Inf"}} {format_float(float(metric.sample_count))}\n'
            )
    lines.append(f"{name}_sum{braces} {format_float(metric.sample_sum)}\n")
    # 1.5.1 writes counts as float64 too: 1234567 -> 1.234567e+06.
    lines.append(f"{name}_count{braces} {format_float(float(metric.sample_count))}\n")
    return "".join(lines)


def _encode(text: str) -> bytes:
    # surrogateescape gives back the raw bytes of an undecodable HELP text,
    # which 1.5.1 echoes unchanged (spec B.1 item 22).
    return text.encode("utf-8", "surrogateescape")


def render_family_header(name: str, type: MetricType, help: str | None) -> bytes:
    """The ``# HELP`` (omitted when ``help`` is None) and ``# TYPE`` lines.

    HELP escapes ``\\`` and newline; an empty help string still gets a HELP line,
    as in Go (``# HELP name ``).
    """
    return _encode(_family_header_text(name, type, help))


def render_metric(name: str, type: MetricType, metric: Metric) -> bytes:
    """All text lines of one metric of family ``name``.

    Labels are written in the given order (callers sort them), values with
    :func:`format_float`; summaries get one line per quantile then ``_sum`` and
    ``_count``; histograms ``_bucket`` lines (a ``+Inf`` bucket carrying the
    sample count is added when missing), ``_sum`` and ``_count``. Timestamps are
    never written.
    """
    return _encode(_metric_text(name, type, metric))


def render_text(families: Iterable[MetricFamily]) -> bytes:
    """A whole exposition: each family's header and metrics, in the given order.

    Families without metrics are skipped. Nothing is sorted here.
    """
    parts: list[str] = []
    for family in families:
        if not family.metrics:
            continue
        name = family.name
        mtype = family.type
        parts.append(_family_header_text(name, mtype, family.help))
        parts.extend([_metric_text(name, mtype, metric) for metric in family.metrics])
    return _encode("".join(parts))


_VALUE: Final = itemgetter(1)
_NAME: Final = itemgetter(0)


def metric_sort_key(metric: Metric) -> str:
    """client_golang's ``MetricSorter`` order for metrics of one family.

    Fewer label pairs first, then label values compared position by position
    (labels must already be sorted by name). The label names break the
    remaining ties (Go leaves them in any order), so the order is total for
    distinct label sets. Go compares strings bytewise, which for valid UTF-8 is
    the same as Python's code-point order. Timestamps, Go's last criterion,
    are not used: stored metrics never have one.

    The key is one string that sorts as the tuple ``(n, values..., names...)``
    would: ``chr(n)``, then the values and the names joined by ``"\x00\x01"``,
    with a NUL inside a value written ``"\x00\x02"``, so that a value sorts
    before any longer value it starts (the separator is lower than anything
    that can follow it). A string rather than a tuple: its hash is computed
    once and cached, so the store's index looks lines up without re-hashing
    nested tuples, compares keys with ``memcmp`` when it sorts, and keeps one
    object per series instead of two.
    """
    return labels_sort_key(metric.labels)


def labels_sort_key(labels: Sequence[tuple[str, str]]) -> str:
    """:func:`metric_sort_key` of a metric with ``labels``."""
    values = list(map(_VALUE, labels))
    if "\x00" in "".join(values):
        values = [value.replace("\x00", "\x00\x02") for value in values]
    return (
        chr(len(labels)) + _SORT_SEP.join(values) + _SORT_SEP + _SORT_SEP.join(map(_NAME, labels))
    )


_SORT_SEP: Final = "\x00\x01"
