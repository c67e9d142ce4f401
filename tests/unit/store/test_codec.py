"""The group encoder writes exactly what ``json.dumps`` would, and decodes back."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pushgate.core.model import Metric, MetricFamily
from pushgate.store.codec import decode_group, encode_group
from pushgate.store.contract import Group, StoredFamily
from tests.unit.core.test_textformat_properties import family_lists, label_names, texts
from tests.unit.store.test_stored import exact, stored_families


def _flat(labels: tuple[tuple[str, str], ...]) -> list[str]:
    return [part for pair in labels for part in pair]


def _reference(group: Group) -> bytes:
    """The document built as nested lists and written by the json module."""

    def metric(family_type: str, m: Metric) -> list[Any]:
        if family_type == "summary":
            return [_flat(m.labels), m.sample_count, m.sample_sum, [list(q) for q in m.quantiles]]
        if family_type == "histogram":
            return [_flat(m.labels), m.sample_count, m.sample_sum, [list(b) for b in m.buckets]]
        return [_flat(m.labels), m.value]

    doc: dict[str, Any] = {
        "k": [list(p) for p in group.key],
        "f": [
            [
                s.family.name,
                s.family.type,
                s.family.help,
                s.last_push,
                [metric(s.family.type, m) for m in s.family.metrics],
            ]
            for s in group.families.values()
        ],
    }
    if group.ttl is not None:
        doc["t"] = group.ttl
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "surrogateescape"
    )


keys = st.lists(st.tuples(label_names, texts), max_size=4, unique_by=lambda p: p[0]).map(
    lambda pairs: tuple(sorted(pairs))
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    keys,
    family_lists(),
    st.floats(allow_nan=False),
    st.none() | st.floats(min_value=0, allow_infinity=False),
)
def test_encoding_is_what_json_dumps_writes(
    key: tuple[tuple[str, str], ...],
    families: list[MetricFamily],
    last_push: float,
    ttl: float | None,
) -> None:
    group = Group(key, {f.name: StoredFamily(f, last_push) for f in families}, ttl=ttl)
    data = encode_group(group)
    assert data == _reference(group)
    again = decode_group(data, "test")
    assert encode_group(again) == data


def test_special_numbers_and_invalid_utf8_help() -> None:
    family = MetricFamily(
        "x",
        "gauge",
        'quote " newline \n bad byte \udc80',
        (
            Metric((("a", "nan"),), math.nan),
            Metric((("a", "neg zero"),), -0.0),
            Metric((("a", "inf"),), math.inf),
            Metric((("a", "-inf"),), -math.inf),
        ),
    )
    group = Group((("job", "j\u2028é"),), {"x": StoredFamily(family, 1.5)}, ttl=30.0)
    data = encode_group(group)
    assert data == _reference(group)
    assert b"\x80" in data  # the raw byte, as pushed
    assert repr(decode_group(data, "test")) == repr(group)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(stored_families(), st.floats(allow_nan=False, allow_infinity=False))
def test_compacted_families_are_written_as_their_lines(
    family: MetricFamily, last_push: float
) -> None:
    """A family held as lines is stored as them (with the pushed order), and
    read back as lines that give the same family, keys and document."""
    stored = StoredFamily(family, last_push)
    compacted = stored.compact()
    group = Group((("job", "j"),), {family.name: stored})
    data = encode_group(group)
    doc = json.loads(data.decode("utf-8", "surrogateescape"))
    entry = doc["f"][0]
    assert isinstance(entry[4], str) == compacted
    if not compacted:
        assert data == _reference(group)
        return
    assert entry[4].encode("utf-8", "surrogateescape") == stored.text
    assert (entry[5:] or [None])[0] == (None if stored.order is None else list(stored.order))
    again = decode_group(data, "test").families[family.name]
    assert again.compacted
    assert exact(again.family) == exact(family)
    assert (again.first_key, again.last_key) == (stored.first_key, stored.last_key)
    assert encode_group(Group((("job", "j"),), {family.name: again})) == data
