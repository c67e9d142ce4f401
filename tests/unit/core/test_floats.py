"""Go float formatting and parsing (spec 5.4, Appendix B items 21, 24, 26).

Every expected string below was observed on the Pushgateway 1.5.1 binary
(``/metrics`` for the text writer, ``/api/v1/metrics`` for ``fmt.Sprint``).
"""

from __future__ import annotations

import math
import sys

import pytest

from pushgate.core.floats import format_float, format_float_json, parse_float

# Spec 5.4 table, B.1 item 26 and the extra values of Appendix A.
FORMAT_TABLE = [
    (123456.0, "123456"),
    (1234567.0, "1.234567e+06"),
    (1000000.0, "1e+06"),
    (100.0, "100"),
    (0.1, "0.1"),
    (0.0001, "0.0001"),
    (0.00001, "1e-05"),
    (0.00001234, "1.234e-05"),
    (1e21, "1e+21"),
    (17560473.0, "1.7560473e+07"),
    (-1.5e-7, "-1.5e-07"),
    (1795980076.432929, "1.795980076432929e+09"),
    (1234567.5, "1.2345675e+06"),
    (53423.0, "53423"),
    (2398.283, "2398.283"),
    (3.14, "3.14"),
    (0.000634217, "0.000634217"),
    (1.5, "1.5"),
    (1e100, "1e+100"),
    (1.0, "1"),
    (-1.0, "-1"),
    (0.0, "0"),
    (999999.0, "999999"),
    (999999.5, "999999.5"),
    (-123456.0, "-123456"),
    (-1234567.0, "-1.234567e+06"),
    (1e15, "1e+15"),
    (1e16, "1e+16"),
    (1234567890123456.0, "1.234567890123456e+15"),
    (12345678901234567.0, "1.2345678901234568e+16"),
    (9007199254740993.0, "9.007199254740992e+15"),
    (2.0**64, "1.8446744073709552e+19"),
    (2.0**63, "9.223372036854776e+18"),
    (5e-324, "5e-324"),
    (sys.float_info.max, "1.7976931348623157e+308"),
    (-sys.float_info.max, "-1.7976931348623157e+308"),
    (0.00012345, "0.00012345"),
    (1.2345e-5, "1.2345e-05"),
    (math.inf, "+Inf"),
    (-math.inf, "-Inf"),
    (math.nan, "NaN"),
]


@pytest.mark.parametrize(("value", "expected"), FORMAT_TABLE)
def test_format_float_table(value: float, expected: str) -> None:
    assert format_float(value) == expected


@pytest.mark.parametrize(("value", "expected"), FORMAT_TABLE)
def test_format_float_json_agrees_except_negative_zero(value: float, expected: str) -> None:
    assert format_float_json(value) == expected


def test_negative_zero_is_zero_in_text_and_minus_zero_in_json() -> None:
    # spec 5.4 / checklist 33: the text writer special-cases 0, fmt.Sprint does not
    assert format_float(-0.0) == "0"
    assert format_float_json(-0.0) == "-0"
    assert format_float_json(0.0) == "0"


# B.1 item 24: le/quantile label values are re-rendered from the parsed float.
@pytest.mark.parametrize(
    ("literal", "rendered"),
    [
        ("1.0", "1"),
        ("1e3", "1000"),
        ("1000000", "1e+06"),
        ("0.50", "0.5"),
        ("1e-1", "0.1"),
        ("+inf", "+Inf"),
        ("+Inf", "+Inf"),
        ("-Inf", "-Inf"),
        ("NaN", "NaN"),
    ],
)
def test_le_and_quantile_rerendering(literal: str, rendered: str) -> None:
    assert format_float(parse_float(literal)) == rendered


# B.1 item 21 and checklist 28: accepted by 1.5.1 (each verified with a push).
@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("NaN", math.nan),
        ("nan", math.nan),
        ("nAn", math.nan),
        ("Inf", math.inf),
        ("inf", math.inf),
        ("+inf", math.inf),
        ("+Inf", math.inf),
        ("-Inf", -math.inf),
        ("Infinity", math.inf),
        ("-infinity", -math.inf),
        ("iNfInItY", math.inf),
        ("+Infinity", math.inf),
        (".5", 0.5),
        ("5.", 5.0),
        ("+7", 7.0),
        ("+5", 5.0),
        ("1E-3", 0.001),
        ("1e3", 1000.0),
        ("1.5E+3", 1500.0),
        ("+.5e-3", 0.0005),
        ("00", 0.0),
        ("-0", -0.0),
        ("0001.2500", 1.25),
        # underflow is not an error in Go: it rounds to zero or a subnormal
        ("1e-400", 0.0),
        ("2e-324", 0.0),
        ("3e-324", 5e-324),
        ("4.9e-324", 5e-324),
        ("1.7976931348623157e308", sys.float_info.max),
    ],
)
def test_parse_float_accepts(literal: str, value: float) -> None:
    parsed = parse_float(literal)
    if math.isnan(value):
        assert math.isnan(parsed)
    else:
        assert parsed == value
        assert math.copysign(1.0, parsed) == math.copysign(1.0, value)


# B.1 item 21 and checklist 28: rejected by 1.5.1, and things Python's float()
# accepts that Go does not.
@pytest.mark.parametrize(
    "literal",
    [
        "+NaN",
        "-NaN",
        "-nan",
        "0x1p-2",
        "0x1p3",
        "0x10",
        "0X10",
        "1_000",
        "1e309",
        "-1e309",
        "1.8e308",
        "infin",
        "infinit",
        "infinityy",
        "++1",
        "+-1",
        "--1",
        "1e",
        "1e+",
        ".",
        "e5",
        ".e1",
        "",
        " 1",
        "1 ",
        "1\r",
        "\t1",
        "1\n",
        "\u0661",  # Arabic-Indic digit one: Python's float() accepts it
        "\uff11",  # fullwidth digit one
        "1.5p3",
        "1P3",
        "nanx",
        "in",
        "x",
        "1,5",
        "1.2.3",
    ],
)
def test_parse_float_rejects(literal: str) -> None:
    with pytest.raises(ValueError):
        parse_float(literal)


def test_parse_float_returns_negative_infinity_sign() -> None:
    assert parse_float("-inf") == -math.inf
    assert parse_float("-Infinity") == -math.inf
