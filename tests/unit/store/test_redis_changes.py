"""The Redis layout: keys in one slot, the head, change entries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from pushgate.core.errors import StoreError
from pushgate.store.codec import encode_key
from pushgate.store.redis_changes import (
    EMPTY_HEAD,
    Head,
    Keys,
    decode_changes,
    decode_key,
    encode_changes,
    parse_entries,
    parse_entry,
    stream_id_order,
)


def test_keys_share_one_cluster_slot() -> None:
    keys = Keys("team-a")
    assert keys.groups == "{team-a}:groups"
    slots = {key_slot(k.encode()) for k in (keys.groups, keys.head, keys.changes)}
    assert len(slots) == 1


def test_head_round_trip() -> None:
    head = Head(42, "1700000000000-3")
    assert Head.from_bytes(head.encode()) == head
    assert Head.from_bytes(None) == EMPTY_HEAD
    assert EMPTY_HEAD.encode() == b"0 0-0"
    with pytest.raises(StoreError, match="did not write"):
        Head.from_bytes(b"garbage")


def test_stream_ids_order_numerically() -> None:
    assert stream_id_order("9-0") < stream_id_order("10-0") < stream_id_order("10-1")


pairs = st.lists(st.tuples(st.binary(min_size=1), st.binary()), max_size=8)


@given(pairs)
def test_changes_round_trip(changes: list[tuple[bytes, bytes]]) -> None:
    assert decode_changes(encode_changes(changes)) == changes


@pytest.mark.parametrize("blob", [b"3:ab", b"x:a0:", b"1:a", b"1:a5:abc"])
def test_truncated_changes_are_store_errors(blob: bytes) -> None:
    with pytest.raises(StoreError, match="cannot be decoded"):
        decode_changes(blob)


@given(st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=4))
def test_key_round_trip(pairs_: list[tuple[str, str]]) -> None:
    key = tuple(pairs_)
    assert decode_key(encode_key(key).encode()) == key


def test_entries_from_redis_py_and_from_lua() -> None:
    blob = encode_changes([(b'[["job","a"]]', b"")])
    as_dict = parse_entry(b"5-0", {b"v": b"3", b"p": b"4-0", b"t": b"tok", b"c": blob})
    as_list = parse_entries([[b"5-0", [b"v", b"3", b"p", b"4-0", b"t", b"tok", b"c", blob]]])
    assert as_list == [as_dict]
    assert as_dict.version == 3 and as_dict.previous == "4-0" and as_dict.token == "tok"
    assert as_dict.changes == [(b'[["job","a"]]', b"")]
    with pytest.raises(StoreError, match="lacks a field"):
        parse_entry(b"6-0", {b"v": b"3"})
