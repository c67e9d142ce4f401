"""Encoding of a whole group for the journals (JSON, versioned by the schema).

One compact JSON document per group: ``{"k": [[name, value], ...], "f": [...]}``
where each family is ``[name, type, help, last_push, metrics]`` and each
metric is ``[flat labels, value]`` (counter, gauge, untyped) or
``[flat labels, count, sum, pairs]`` (summary quantiles / histogram buckets).
A family the state holds as its exposition lines (see
:mod:`pushgate.store.stored`) is written as those lines instead of the
metrics list: ``[name, type, help, last_push, lines]``, plus the order of
the pushed metrics when it differs from the exposition order
(``[..., lines, order]``). Older pushgates cannot read that form: the
SQLite journal marks its files schema 2 for it (store/sqlite.py).
JSON keeps the file inspectable with the ``sqlite3`` shell; NaN and
infinities use Python's JSON extensions, which round-trip exactly.

``"t"`` (optional) is the time to live the pusher asked for, in seconds.
It needs no schema version: older documents simply lack it, and older
pushgates ignore it. The expiry time itself is derived, not stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from operator import itemgetter
from sys import intern
from typing import Any

from pushgate.core.errors import StoreOpenError
from pushgate.core.memo import BoundedMemo
from pushgate.core.model import METRIC_TYPES, PLAIN_TYPES, GroupingKey, Labels, Metric, MetricFamily
from pushgate.store.contract import Group, StoredFamily


def _short(_: object, text: str) -> bool:
    """Whether a JSON text is small enough to remember (see core/memo.py)."""
    return len(text) <= 512


def _key_json(key: GroupingKey) -> str:
    return json.dumps(key, separators=(",", ":"))


#: ASCII-escaped: the key is a TEXT column, and it must be valid UTF-8.
#: Remembered: pushers write to the same groups again and again.
encode_key: Callable[[GroupingKey], str] = BoundedMemo(_key_json, keep=_short)


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


def encode_group(group: Group) -> bytes:
    """The group as one JSON document (see the module doc).

    Built by hand rather than with ``json.dumps`` on nested lists: a group is
    encoded on every push, and its label sets repeat from push to push, so
    each label set's JSON is remembered (a bounded cache) and numbers are
    written the way ``json`` writes them. The result is byte for byte what
    ``json.dumps(doc, ensure_ascii=False, separators=(",", ":"))`` gives (a
    test holds the two together).
    """
    out = ['{"k":', _cached_json(group.key), ',"f":[']
    first = True
    for s in group.families.values():
        out.append("[" if first else ",[")
        first = False
        out.append(_cached_json(s.name))
        out.append(_TYPE_JSON[s.type])
        out.append(_cached_json(s.help))
        out.append(",")
        out.append(_number(s.last_push))
        family = s.held_family()
        if family is None:  # held as lines: written as them, never parsed here
            out.append(",")
            out.append(_dumps(s.text.decode("utf-8", "surrogateescape")))
            order = s.order
            if order is not None:
                out.append(",")
                out.append(_dumps(order))
            out.append("]")
            continue
        out.append(",[")
        if family.type in PLAIN_TYPES:
            out.append(_plain_metrics_json(family.metrics))
        else:
            out.append(",".join([_aggregate_json(family.type, m) for m in family.metrics]))
        out.append("]]")
    out.append("]")
    if group.ttl is not None:
        out.append(',"t":')
        out.append(_number(group.ttl))
    out.append("}")
    # surrogateescape: a HELP text with invalid UTF-8 bytes (accepted and
    # echoed raw, as 1.5.1 does) is stored as those same bytes.
    return "".join(out).encode("utf-8", "surrogateescape")


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_TYPE_JSON = {t: f",{_dumps(t)}," for t in METRIC_TYPES}


def _number(v: float | int) -> str:
    """A number as ``json`` writes it (NaN and infinities as its extensions)."""
    return repr(v) if v - v == 0 else _special(v)


def _special(v: float) -> str:
    if v != v:
        return "NaN"
    return "Infinity" if v > 0 else "-Infinity"


#: Plain families' metric lists as %-templates with a ``%s`` per value, by the
#: identities of their label tuples (re-pushes carry the very same tuples,
#: see rules.sanitise); each entry keeps its tuples, which are compared
#: before use, so a reused id can only cost a rebuild.
_TEMPLATES: dict[tuple[int, ...], tuple[tuple[Labels, ...], str]] = {}
_TEMPLATES_MAX = 256
_TEMPLATE_LONGEST = 16 * 1024
_LABELS = itemgetter(0)
_VALUE = itemgetter(1)


def _plain_metrics_json(metrics: tuple[Metric, ...]) -> str:
    """The JSON of a counter, gauge or untyped family's metrics."""
    if len(metrics) < 4:
        # Few metrics (such as the gateway's own push_time_seconds, whose
        # labels are new tuples every time): not worth a template.
        return ",".join([f"[{_labels_json(m.labels)},{_number(m.value)}]" for m in metrics])
    labels = tuple(map(_LABELS, metrics))
    ids = tuple(map(id, labels))
    entry = _TEMPLATES.get(ids)
    if entry is None or entry[0] != labels:
        template = ",".join(f"[{_labels_json(ls).replace('%', '%%')},%s]" for ls in labels)
        entry = (labels, template)
        if len(template) <= _TEMPLATE_LONGEST:  # large families: made every time
            if len(_TEMPLATES) >= _TEMPLATES_MAX:
                _TEMPLATES.clear()
            _TEMPLATES[ids] = entry
    values = tuple(map(_VALUE, metrics))
    # %s writes a float with repr(), which is json's format for finite values.
    if all(map(math.isfinite, values)):
        return entry[1] % values
    return entry[1] % tuple(map(_number, values))


#: The JSON of grouping keys, family names and help texts, which repeat.
_cached_json: Callable[[GroupingKey | str | None], str] = BoundedMemo(_dumps, keep=_short)


def _label_set_json(labels: Labels) -> str:
    return _dumps(_flat(labels))


#: The JSON of label sets (flat name, value lists).
_labels_json: Callable[[Labels], str] = BoundedMemo(_label_set_json, keep=_short)


def _aggregate_json(family_type: str, m: Metric) -> str:
    """The JSON of a summary's or histogram's metric (plain ones: above)."""
    pairs = m.quantiles if family_type == "summary" else m.buckets
    points = ",".join(f"[{_number(a)},{_number(b)}]" for a, b in pairs)
    labels = _labels_json(m.labels)
    return f"[{labels},{_number(m.sample_count)},{_number(m.sample_sum)},[{points}]]"


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
        for name, type_, help_, last_push, metrics, *order in doc["f"]:
            if type_ not in METRIC_TYPES:
                raise ValueError(f"unknown metric type {type_!r}")
            if isinstance(metrics, str):
                families[name] = StoredFamily.from_text(
                    intern(str(name)),
                    type_,
                    help_,
                    float(last_push),
                    metrics.encode("utf-8", "surrogateescape"),
                    tuple(map(int, order[0])) if order else None,
                )
                continue
            family = MetricFamily(
                str(name), type_, help_, tuple(_decode_metric(type_, m, shared) for m in metrics)
            )
            families[family.name] = StoredFamily(family, float(last_push))
        raw_ttl = doc.get("t")
        ttl = None if raw_ttl is None else float(raw_ttl)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise StoreOpenError(f"{where}: a stored group cannot be decoded ({e})") from e
    return Group(key, families, ttl=ttl)
