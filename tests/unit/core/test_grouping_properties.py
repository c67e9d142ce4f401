"""Property tests for the grouping-key codec (Hypothesis)."""

from __future__ import annotations

import base64
from urllib.parse import unquote_to_bytes

from hypothesis import given
from hypothesis import strategies as st

from pushgate.core.errors import GroupingKeyError
from pushgate.core.grouping import (
    decode_base64_value,
    encode_base64_value,
    parse_grouping_key,
    render_grouping_path,
)
from pushgate.core.model import GroupingKey, grouping_key_from_mapping


def _from_bytes(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


# Any text, plus byte strings that are not UTF-8 (kept with surrogateescape),
# plus the characters that matter to the codec.
values = st.one_of(
    st.text(),
    st.binary().map(_from_bytes),
    st.text(alphabet="/=%.+@ \n\r-_~"),
)
label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: not n.startswith("__") and n != "job"
)
keys = st.builds(
    lambda job, labels: grouping_key_from_mapping({**labels, "job": job}),
    values.filter(bool),
    st.dictionaries(label_names, values, max_size=6),
)


def split(path: str) -> tuple[str, bool, str]:
    """A rendered path as the router would hand it over: decode, then split.

    The gateway percent-decodes the whole path before routing, so ``%2F``
    would split a segment; the renderer must never produce one.
    """
    decoded = _from_bytes(unquote_to_bytes(path))
    _, marker, rest = decoded.split("/", 2)
    job, slash, labels = rest.partition("/")
    return job, marker == "job@base64", slash + labels


@given(keys)
def test_parse_inverts_render(key: GroupingKey) -> None:
    assert parse_grouping_key(*split(render_grouping_path(key))) == key


@given(keys)
def test_render_never_makes_unclean_paths(key: GroupingKey) -> None:
    decoded = unquote_to_bytes(render_grouping_path(key))
    segments = decoded.split(b"/")[1:]
    assert all(segment not in (b"", b".", b"..") for segment in segments)


@given(values)
def test_decode_inverts_encode(value: str) -> None:
    assert decode_base64_value(encode_base64_value(value)) == value


@given(st.binary())
def test_decode_agrees_with_python_base64(data: bytes) -> None:
    encoded = base64.urlsafe_b64encode(data).decode("ascii")
    assert decode_base64_value(encoded) == _from_bytes(data)
    assert decode_base64_value(encoded.rstrip("=")) == _from_bytes(data)


@given(values)
def test_decode_raises_only_grouping_key_error(value: str) -> None:
    try:
        decode_base64_value(value)
    except GroupingKeyError as error:
        assert str(error).startswith("illegal base64 data at input byte ")


@given(st.text(alphabet="ABCab01-_=+/*\n"))
def test_decode_error_offset_points_into_input(value: str) -> None:
    try:
        decode_base64_value(value)
    except GroupingKeyError as error:
        offset = int(str(error).rsplit(" ", 1)[1])
        assert 0 <= offset < len(value.rstrip("="))


@given(values, st.booleans(), values)
def test_parse_raises_only_grouping_key_error(job: str, job_base64: bool, labels: str) -> None:
    try:
        key = parse_grouping_key(job, job_base64, labels)
    except GroupingKeyError:
        return
    assert dict(key)["job"]
    assert list(key) == sorted(key)


@given(values, st.booleans(), st.lists(st.sampled_from(["/", "a", "a@base64", "=", "YQ", "*"])))
def test_parse_handles_path_shapes(job: str, job_base64: bool, pieces: list[str]) -> None:
    label_string = "".join(pieces)
    try:
        key = parse_grouping_key(job, job_base64, label_string)
    except GroupingKeyError:
        return
    # The first character (the router's leading "/") is dropped and the rest is
    # split on "/": each pair of components adds at most one label, and job is
    # always there.
    components = label_string[1:].count("/") + 1 if len(label_string) > 1 else 0
    assert len(key) <= 1 + components // 2
