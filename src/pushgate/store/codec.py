"""Encoding of a whole group for the journals (JSON, versioned by the schema).

One compact JSON document per group: ``{"k": [[name, value], ...], "f": [...]}``
where each family is ``[name, type, help, last_push, metrics]`` and each
metric is ``[flat labels, value]`` (counter, gauge, untyped) or
``[flat labels, count, sum, pairs]`` (summary quantiles / histogram buckets).
JSON keeps the file inspectable with the ``sqlite3`` shell; NaN and
infinities use Python's JSON extensions, which round-trip exactly.

``"t"`` (optional) is the time to live the pusher asked for, in seconds.
It needs no schema version: older documents simply lack it, and older
pushgates ignore it. The expiry time itself is derived, not stored.
"""

from __future__ import annotations

import json
from sys import intern
from typing import Any

from pushgate.core.errors import StoreOpenError
from pushgate.core.model import METRIC_TYPES, GroupingKey, Metric, MetricFamily
from pushgate.store.contract import Group, StoredFamily


def encode_key(key: GroupingKey) -> str:
    # ASCII-escaped: the key is a TEXT column, and it must be valid UTF-8.
    return json.dumps(key, separators=(",", ":"))


def _flat(labels: tuple[tuple[str, str], ...]) -> list[str]:
    out: list[str] = []
    for name, value in labels:
        out.append(name)
        out.append(value)
    return out


def _pairs(
    flat: list[str], shared: dict[tuple[str, str], tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    # Equal pairs share one tuple (within a group, every series repeats the
    # grouping labels) and strings are interned: most of a loaded series'
    # memory is its labels.
    return tuple(
        shared.setdefault(pair, pair)
        for pair in zip(map(intern, flat[0::2]), map(intern, flat[1::2]), strict=True)
    )


def _encode_metric(family_type: str, m: Metric) -> list[Any]:
    if family_type == "summary":
        return [_flat(m.labels), m.sample_count, m.sample_sum, [list(q) for q in m.quantiles]]
    if family_type == "histogram":
        return [_flat(m.labels), m.sample_count, m.sample_sum, [list(b) for b in m.buckets]]
    return [_flat(m.labels), m.value]


def encode_group(group: Group) -> bytes:
    families = [
        [
            s.family.name,
            s.family.type,
            s.family.help,
            s.last_push,
            [_encode_metric(s.family.type, m) for m in s.family.metrics],
        ]
        for s in group.families.values()
    ]
    doc: dict[str, Any] = {"k": [list(p) for p in group.key], "f": families}
    if group.ttl is not None:
        doc["t"] = group.ttl
    # surrogateescape: a HELP text with invalid UTF-8 bytes (accepted and
    # echoed raw, as 1.5.1 does) is stored as those same bytes.
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "surrogateescape"
    )


def _decode_metric(
    family_type: str, raw: list[Any], shared: dict[tuple[str, str], tuple[str, str]]
) -> Metric:
    labels = _pairs(raw[0], shared)
    if family_type == "summary":
        return Metric(
            labels=labels,
            sample_count=int(raw[1]),
            sample_sum=float(raw[2]),
            quantiles=tuple((float(q), float(v)) for q, v in raw[3]),
        )
    if family_type == "histogram":
        return Metric(
            labels=labels,
            sample_count=int(raw[1]),
            sample_sum=float(raw[2]),
            buckets=tuple((float(b), int(c)) for b, c in raw[3]),
        )
    return Metric(labels=labels, value=float(raw[1]))


def decode_group(data: bytes, where: str) -> Group:
    """Decode one stored group; a malformed one raises :class:`StoreOpenError`."""
    try:
        doc = json.loads(data.decode("utf-8", "surrogateescape"))
        key: GroupingKey = tuple((intern(str(n)), intern(str(v))) for n, v in doc["k"])
        shared: dict[tuple[str, str], tuple[str, str]] = {pair: pair for pair in key}
        families: dict[str, StoredFamily] = {}
        for name, type_, help_, last_push, metrics in doc["f"]:
            if type_ not in METRIC_TYPES:
                raise ValueError(f"unknown metric type {type_!r}")
            family = MetricFamily(
                str(name), type_, help_, tuple(_decode_metric(type_, m, shared) for m in metrics)
            )
            families[family.name] = StoredFamily(family, float(last_push))
        raw_ttl = doc.get("t")
        ttl = None if raw_ttl is None else float(raw_ttl)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise StoreOpenError(f"{where}: a stored group cannot be decoded ({e})") from e
    return Group(key, families, ttl=ttl)
