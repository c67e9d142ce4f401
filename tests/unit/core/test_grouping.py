"""The grouping-key codec and name rules, pinned to answers of the 1.5.1 binary.

Every error message below was recorded from the Debian Pushgateway 1.5.1 by
sending the path to it (bodies without the trailing newline of http.Error).
"""

from __future__ import annotations

import pytest

from pushgate.core.errors import GroupingKeyError
from pushgate.core.grouping import (
    decode_base64_value,
    encode_base64_value,
    go_quote,
    parse_grouping_key,
    render_grouping_path,
)
from pushgate.core.names import (
    is_reserved_label_name,
    is_valid_label_name,
    is_valid_metric_name,
)


def raw(b: bytes) -> str:
    """A path piece holding bytes ``b`` (percent-decoded, not necessarily UTF-8)."""
    return b.decode("utf-8", "surrogateescape")


# --- names -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "_", "A_b9", "__name__", "job", "a" * 300])
def test_valid_label_names(name: str) -> None:
    assert is_valid_label_name(name)


@pytest.mark.parametrize(
    "name", ["", "1abc", "a-b", "a:b", "é", "a b", "a\n", "a@base64", "ǅ", "a٣"]
)
def test_invalid_label_names(name: str) -> None:
    assert not is_valid_label_name(name)


@pytest.mark.parametrize("name", ["a", "a:b", ":a", "_", "abc_1:x", "__x"])
def test_valid_metric_names(name: str) -> None:
    assert is_valid_metric_name(name)


@pytest.mark.parametrize("name", ["", "1a", "a-b", "a.b", "é", "a\n", "a b"])
def test_invalid_metric_names(name: str) -> None:
    assert not is_valid_metric_name(name)


def test_reserved_label_names() -> None:
    assert is_reserved_label_name("__name__")
    assert is_reserved_label_name("__foo")
    assert not is_reserved_label_name("_foo")
    assert not is_reserved_label_name("foo__")


# --- base64 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("dGVzdC9qb2I", "test/job"),  # spec 12 item 2: any number of '='
        ("dGVzdC9qb2I=", "test/job"),
        ("dGVzdC9qb2I==", "test/job"),
        ("dGVzdC9qb2I=====", "test/job"),
        ("L3Zhci90bXA", "/var/tmp"),
        ("", ""),
        ("=", ""),
        ("==", ""),
        ("YWJj", "abc"),
        ("_-8", raw(b"\xff\xef")),
        ("QR", "A"),  # non-zero trailing bits are ignored (Go's non-strict mode)
        ("QUI", "AB"),
        ("zqDPgc6_zrzOt864zrXPjc-C", "Προμηθεύς"),
    ],
)
def test_decode_base64_value(encoded: str, decoded: str) -> None:
    assert decode_base64_value(encoded) == decoded


def test_decode_skips_newlines() -> None:
    # Go's decoder skips CR and LF anywhere, so %0A inside a value is ignored.
    assert decode_base64_value("Y\nQ") == "a"
    assert decode_base64_value("\r\nYWJj\n") == "abc"
    assert decode_base64_value("YQ\n==") == "a"


@pytest.mark.parametrize(
    ("encoded", "offset"),
    [
        ("a+b", 1),
        ("a/b", 1),
        ("a", 0),
        ("abcde", 4),
        ("abcdefghi", 8),
        ("ab=c", 2),
        ("a=bc==", 1),
        ("YQ==\n", 2),
        ("abcd\ne", 5),
        ("abcde\n", 5),
        ("a\n", 1),
        ("\na", 1),
        ("é", 0),
        ("abcdefgh*", 8),
        ("abcdefg*", 7),
        (raw(b"\xff\x00"), 0),
        ('a"b', 1),
    ],
)
def test_decode_errors_match_go(encoded: str, offset: int) -> None:
    with pytest.raises(GroupingKeyError) as info:
        decode_base64_value(encoded)
    assert str(info.value) == f"illegal base64 data at input byte {offset}"


@pytest.mark.parametrize("value", ["", "a", "test/job", "Προμηθεύς", raw(b"\xff\x00")])
def test_encode_base64_value(value: str) -> None:
    encoded = encode_base64_value(value)
    assert "=" not in encoded or encoded == "="
    assert decode_base64_value(encoded) == value


def test_encode_empty_value_is_equals_sign() -> None:
    assert encode_base64_value("") == "="


# --- Go's %q -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("a", '"a"'),
        ("", '""'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("\a\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'),
        ("\x00\x01\x7f", '"\\x00\\x01\\x7f"'),
        ("\xa0\u2028", '"\\u00a0\\u2028"'),
        ("\U000e0001", '"\\U000e0001"'),
        ("é😀\ufffd", '"é😀\ufffd"'),
        (raw(b"\xff\xed\xa0\x80"), '"\\xff\\xed\\xa0\\x80"'),
        ("\ud800", '"\\xed\\xa0\\x80"'),
    ],
)
def test_go_quote(value: str, quoted: str) -> None:
    assert go_quote(value) == quoted


# --- parse_grouping_key ----------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "job_base64", "labels", "key"),
    [
        ("j", False, "", (("job", "j"),)),
        ("j", False, "/", (("job", "j"),)),  # trailing slash: no labels (spec 2.2)
        ("j", False, "/l@base64/", (("job", "j"), ("l", ""))),
        ("j", False, "/l/", (("job", "j"), ("l", ""))),
        ("j", False, "/b/2/a/1", (("a", "1"), ("b", "2"), ("job", "j"))),
        ("dup", False, "/a/1/a/2", (("a", "2"), ("job", "dup"))),  # last one wins
        ("jobA", False, "/job/jobB", (("job", "jobA"),)),  # job segment wins
        ("x", False, "/job@base64/YQ", (("job", "x"),)),
        ("dGVzdC9qb2I", True, "", (("job", "test/job"),)),
        ("dGVzdC9qb2I==", True, "", (("job", "test/job"),)),
        ("j", False, "/path@base64/L3Zhci90bXA", (("job", "j"), ("path", "/var/tmp"))),
        ("j", False, "/first_label@base64/=", (("first_label", ""), ("job", "j"))),
        ("j", False, "/instance/", (("instance", ""), ("job", "j"))),
        (" ", False, "", (("job", " "),)),  # a single space is a valid job
        ("a+b", False, "/name/Προμηθεύς", (("job", "a+b"), ("name", "Προμηθεύς"))),
        ("j", False, "/a/" + raw(b"\xff"), (("a", raw(b"\xff")), ("job", "j"))),
        ("YQ\n", True, "", (("job", "a"),)),
    ],
)
def test_parse_grouping_key(
    job: str, job_base64: bool, labels: str, key: tuple[tuple[str, str], ...]
) -> None:
    assert parse_grouping_key(job, job_base64, labels) == key


@pytest.mark.parametrize(
    ("job", "job_base64", "labels", "message"),
    [
        ("j", False, "/l", 'odd number of components in label string "/l"'),
        ("j", False, "/a/b/c", 'odd number of components in label string "/a/b/c"'),
        ("j", False, "/a/b/", 'odd number of components in label string "/a/b/"'),
        ("j", False, "/1abc/x", 'improper label name "1abc"'),
        ("j", False, "/__name__/x", 'improper label name "__name__"'),
        ("j", False, "/__foo/x", 'improper label name "__foo"'),
        ("j", False, "/l@base64@base64/x", 'improper label name "l@base64"'),
        ("j", False, "/__x@base64/x", 'improper label name "__x"'),
        ("j", False, "/é/x", 'improper label name "é"'),
        ("j", False, "/a\nb/x", 'improper label name "a\\nb"'),
        ("j", False, "/@base64/x", 'improper label name ""'),
        (
            "j",
            False,
            "/l@base64/a+b",
            'invalid base64 encoding for label l="a+b": illegal base64 data at input byte 1',
        ),
        (
            "j",
            False,
            "/l@base64/YQ=Yg",
            'invalid base64 encoding for label l="YQ=Yg": illegal base64 data at input byte 2',
        ),
        (
            "j",
            False,
            "/l@base64/abcd\ne",
            'invalid base64 encoding for label l="abcd\\ne": illegal base64 data at input byte 5',
        ),
        (
            "j",
            False,
            "/l@base64/é",
            'invalid base64 encoding for label l="é": illegal base64 data at input byte 0',
        ),
        (
            "j",
            False,
            "/l@base64/" + raw(b'\xff\n"\\\x01\x7f\xc2\xa0\xe2\x80\xa8\xf0\x9f\x98\x80x'),
            'invalid base64 encoding for label l="\\xff\\n\\"\\\\\\x01\\x7f\\u00a0\\u2028😀x": '
            "illegal base64 data at input byte 0",
        ),
        (
            "j",
            False,
            "/" + raw(b'\xff\n"\\\x01\x7f\xc2\xa0\xe2\x80\xa8\xf0\x9f\x98\x80x'),
            'odd number of components in label string "/\\xff\\n\\"\\\\\\x01\\x7f\\u00a0\\u2028😀x"',
        ),
        ("=", True, "", "job name is required"),
        ("", True, "", "job name is required"),
        ("", False, "", "job name is required"),
        (
            "j",
            False,
            "/a/1/a@base64/*",
            'invalid base64 encoding for label a="*": illegal base64 data at input byte 0',
        ),
    ],
)
def test_parse_errors_match_go(job: str, job_base64: bool, labels: str, message: str) -> None:
    with pytest.raises(GroupingKeyError) as info:
        parse_grouping_key(job, job_base64, labels)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("job", "labels", "message"),
    [
        # Quirk kept on purpose: Go quotes the partially decoded job, i.e.
        # every complete 4-character quantum before the failing one.
        ("a*b", "", 'invalid base64 encoding in job name "": illegal base64 data at input byte 1'),
        (
            "YWJj*",
            "",
            'invalid base64 encoding in job name "abc": illegal base64 data at input byte 4',
        ),
        (
            "YWJjZGVm*",
            "",
            'invalid base64 encoding in job name "abcdef": illegal base64 data at input byte 8',
        ),
        (
            "YWJjZ",
            "",
            'invalid base64 encoding in job name "abc": illegal base64 data at input byte 4',
        ),
        (
            "YWJj=x",
            "/a/b",
            'invalid base64 encoding in job name "abc": illegal base64 data at input byte 4',
        ),
        (
            raw(b"\xff\xfe\xfdx\n\ny"),
            "/l",
            'invalid base64 encoding in job name "": illegal base64 data at input byte 0',
        ),
        (
            "_w_w_w_w-w-w*",
            "/a",
            'invalid base64 encoding in job name "\\xff\\x0f\\xf0\\xff\\x0f\\xf0\\xfb\\x0f\\xb0": '
            "illegal base64 data at input byte 12",
        ),
    ],
)
def test_job_error_quotes_partial_value(job: str, labels: str, message: str) -> None:
    with pytest.raises(GroupingKeyError) as info:
        parse_grouping_key(job, True, labels)
    assert str(info.value) == message


def test_processing_order() -> None:
    """Job decoding, then label splitting, then the empty-job check (spec 2.1)."""
    with pytest.raises(GroupingKeyError, match="in job name"):
        parse_grouping_key("*", True, "/odd")
    with pytest.raises(GroupingKeyError, match="odd number"):
        parse_grouping_key("=", True, "/odd")
    with pytest.raises(GroupingKeyError, match="improper label name"):
        parse_grouping_key("=", True, "/1/x")
    # The first bad pair wins, even if a later one would be overridden.
    with pytest.raises(GroupingKeyError, match='label job="!"'):
        parse_grouping_key("x", False, "/job@base64/!/1a/x")


# --- render_grouping_path ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ({"job": "x"}, "/job/x"),
        ((("job", "x"),), "/job/x"),
        ({"job": "test/job"}, "/job@base64/dGVzdC9qb2I"),
        ({"job": "j", "b": "2", "a": "1"}, "/job/j/a/1/b/2"),
        ((("a", "1"), ("job", "j")), "/job/j/a/1"),
        ({"job": "j", "instance": ""}, "/job/j/instance@base64/="),
        ({"job": "j", "path": "/var/tmp"}, "/job/j/path@base64/L3Zhci90bXA"),
        ({"job": "a b", "v": "a+b=c%"}, "/job/a%20b/v/a%2Bb%3Dc%25"),
        (
            {"job": "j", "name": "Προμηθεύς"},
            "/job/j/name/%CE%A0%CF%81%CE%BF%CE%BC%CE%B7%CE%B8%CE%B5%CF%8D%CF%82",
        ),
        ({"job": ".", "a": ".."}, "/job@base64/Lg/a@base64/Li4"),
        ({"job": "j", "a": "x\ny"}, "/job/j/a@base64/eAp5"),
        ({"job": "j", "a": raw(b"\xff")}, "/job/j/a@base64/_w"),
        ({"job": "a-b_c.d~e"}, "/job/a-b_c.d~e"),
    ],
)
def test_render_grouping_path(key: dict[str, str] | tuple[tuple[str, str], ...], path: str) -> None:
    assert render_grouping_path(key) == path


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ({}, "job name is required"),
        ({"a": "1"}, "job name is required"),
        ({"job": ""}, "job name is required"),
        ({"job": "j", "1a": "x"}, 'improper label name "1a"'),
        ({"job": "j", "__name__": "x"}, 'improper label name "__name__"'),
    ],
)
def test_render_refuses_keys_the_gateway_refuses(key: dict[str, str], message: str) -> None:
    with pytest.raises(GroupingKeyError) as info:
        render_grouping_path(key)
    assert str(info.value) == message


def test_keys_are_remembered_but_errors_are_raised_every_time() -> None:
    first = parse_grouping_key("a", False, "/instance/b")
    assert parse_grouping_key("a", False, "/instance/b") is first
    for _ in range(2):
        with pytest.raises(GroupingKeyError):
            parse_grouping_key("", False, "/instance/b")
