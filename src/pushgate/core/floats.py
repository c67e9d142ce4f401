"""Go-compatible float formatting and parsing.

The Pushgateway writes every number with Go's ``strconv.FormatFloat(v, 'g', -1,
64)`` ("shortest 'g'") and reads sample values with ``strconv.ParseFloat`` as
restricted by the Prometheus text parser. Python's ``repr`` and ``float`` differ
from both in ways a scraper can see (``repr(1e6)`` is ``1000000.0``;
``float("1_000")`` is accepted), so this module reproduces the Go rules.

Formatting rule (spec 5.4): take the shortest digit string that round-trips
(``repr`` computes exactly those digits); with ``e`` the decimal exponent of the
first digit, use ``d.ddde±XX`` (two exponent digits at least) when ``e < -4`` or
``e >= 6``, otherwise plain decimal without trailing zeros.

``repr`` already uses that scientific form when ``e < -4`` or ``e >= 16`` and the
plain form elsewhere, so only two ranges need work: integral values (``repr``
appends ``.0``) and ``6 <= e < 16`` (Go switches to the exponent form earlier).
"""

from __future__ import annotations

import math
import re

__all__ = [
    "DECIMAL_SYNTAX",
    "VALUE_SYNTAX",
    "format_float",
    "format_float_json",
    "go_uint64",
    "parse_float",
]

_INF = math.inf

#: Go ``ParseFloat`` decimal syntax: sign, digits with an optional point (at least
#: one digit), optional exponent with at least one digit. ASCII digits only; no
#: ``_`` (the text parser rejects it even where Go would allow it) and no hex
#: mantissa (it needs a ``p`` exponent, which the text parser rejects).
#: Written so that no two quantifiers compete for the same digits: matching
#: stays linear in the length of the literal (``[0-9]+\.?[0-9]*`` is quadratic
#: on a long run of digits followed by a bad character).
DECIMAL_SYNTAX = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_DECIMAL = re.compile(DECIMAL_SYNTAX)

#: Every value the text parser accepts, as a regular expression: a decimal,
#: ``NaN`` (unsigned) or an infinity, as :func:`parse_float` reads them.
VALUE_SYNTAX = DECIMAL_SYNTAX + r"|[nN][aA][nN]|[+-]?[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"

#: Go's special values: ``inf``/``infinity`` with an optional sign, ``nan``
#: without one (``+NaN`` is a syntax error in Go), all case-insensitive.
_SPECIAL: dict[str, float] = {"nan": math.nan, "inf": _INF, "infinity": _INF}


def format_float(v: float) -> str:
    """Go ``strconv.FormatFloat(v, 'g', -1, 64)`` as the text writer uses it.

    ``NaN``, ``+Inf``, ``-Inf``; negative zero prints as ``0`` (the text
    exposition writer special-cases zero).
    """
    # Most rendered values (counters, gauges, bucket bounds) lie in this range,
    # where Go and repr agree except for the ".0" of integral values.
    if -1e6 < v < 1e6:
        if v.is_integer():
            return str(int(v))
        return repr(v)
    if -1e16 < v < 1e16:
        # 1e6 <= |v| < 1e16: repr writes plain decimals, Go an exponent.
        return _exponent_form(repr(v))
    if v != v:
        return "NaN"
    if v == _INF:
        return "+Inf"
    if v == -_INF:
        return "-Inf"
    # |v| >= 1e16: repr's scientific form ("1e+16", "1.5e+300") is Go's.
    return repr(v)


def format_float_json(v: float) -> str:
    """Go ``fmt.Sprint(float64)``, used by the JSON API: as :func:`format_float`
    except that negative zero stays ``-0``."""
    if v == 0.0 and math.copysign(1.0, v) < 0.0:
        return "-0"
    return format_float(v)


def _exponent_form(r: str) -> str:
    """Rewrite repr's plain form of a value with 6 <= exponent < 16 as Go's
    ``d.ddde+XX``."""
    sign = ""
    if r[0] == "-":
        sign = "-"
        r = r[1:]
    int_part, _, frac_part = r.partition(".")
    if frac_part == "0":
        frac_part = ""
    digits = (int_part + frac_part).rstrip("0")
    exponent = len(int_part) - 1
    if len(digits) > 1:
        return f"{sign}{digits[0]}.{digits[1:]}e+{exponent:02d}"
    return f"{sign}{digits}e+{exponent:02d}"


def parse_float(s: str) -> float:
    """Parse ``s`` as the Prometheus text parser does (Go ``ParseFloat``).

    Accepts decimal and exponent forms with an optional sign (``+5``, ``.5``,
    ``5.``, ``1E-3``), ``NaN`` (unsigned) and ``Inf``/``Infinity`` with an optional
    sign, case-insensitively. Rejects hex floats, ``_``, surrounding whitespace,
    and finite literals too large for float64 (``1e309``: Go's ``ErrRange``).
    Literals too small underflow to zero or a subnormal, as in Go.

    Raises :class:`ValueError` on any other input.
    """
    if _DECIMAL.fullmatch(s) is not None:
        value = float(s)
        if value == _INF or value == -_INF:
            raise ValueError(f"float literal out of range: {s!r}")
        return value
    body = s[1:] if s[:1] in ("+", "-") else s
    special = _SPECIAL.get(body.lower()) if body.isascii() else None
    if special is None or (special != special and body is not s):
        raise ValueError(f"invalid float literal: {s!r}")
    return -special if s[0] == "-" else special


def go_uint64(v: float) -> int:
    """Go's ``uint64(v)`` for a float64 on amd64, which is how the Go parser
    stores counts.

    Integral values in range convert exactly and fractions are truncated. The
    rest is what the amd64 instruction sequence yields, observed on the 1.5.1
    binary: negative values wrap (``-1`` -> 2**64-1), and NaN, infinities and
    values outside int64/uint64 range become 2**63.
    """
    if v < 9223372036854775808.0:  # 2**63; NaN takes the other branch, as in Go
        if v >= -9223372036854775808.0:
            return int(v) & 0xFFFFFFFFFFFFFFFF
        return 2**63
    shifted = v - 9223372036854775808.0
    if shifted < 9223372036854775808.0:
        return int(shifted) | 2**63
    return 2**63
