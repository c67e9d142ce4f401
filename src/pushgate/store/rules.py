"""The Pushgateway's write rules as pure functions over a read-only index.

``plan_write`` turns a :class:`WriteRequest` into the group that should be
stored (or raises :class:`ConsistencyError`); ``plan_failure`` gives the group
after a rejected push. Neither mutates anything: the state applies the
result, so a failed commit can simply not apply it.

The consistency check is incremental. The official gateway re-gathers the
whole store on every push; here a push is checked only against indexes of the
rest of the store (family name -> type and number of groups, and which
group, if any, exposes a series: ``IndexView.series_owner``), so its cost is
proportional to the push itself. The rules
checked are the ones client_golang's gather applies (see the spec, 3.6).
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import Protocol

from pushgate.core.errors import ConsistencyError
from pushgate.core.goquote import go_quote
from pushgate.core.model import GroupingKey, Labels, Metric, MetricFamily, MetricType
from pushgate.core.names import is_reserved_label_name, is_valid_label_name, is_valid_metric_name
from pushgate.core.protobuf import render_metric_debug
from pushgate.store.contract import (
    PUSH_FAILURE_TIME_HELP,
    PUSH_FAILURE_TIME_NAME,
    PUSH_TIME_HELP,
    PUSH_TIME_NAME,
    Group,
    StoredFamily,
    WriteRequest,
)

_GO_TYPE_NAMES: dict[MetricType, str] = {
    "counter": "COUNTER",
    "gauge": "GAUGE",
    "summary": "SUMMARY",
    "histogram": "HISTOGRAM",
    "untyped": "UNTYPED",
}
_SUFFIXES = ("_count", "_sum", "_bucket")


class IndexView(Protocol):
    """What the rules need to know about the rest of the store."""

    def group(self, key: GroupingKey) -> Group | None: ...

    def family_type(self, name: str) -> tuple[MetricType, int] | None:
        """Type of the stored non-empty families called ``name`` and in how many groups."""
        ...

    def series_owner(self, name: str, labels: Labels, writer: GroupingKey) -> GroupingKey | None:
        """The group other than ``writer`` that exposes series ``name{labels}``, if any."""
        ...

    @property
    def own_types(self) -> Mapping[str, MetricType]:
        """Names and types of the gateway's own metrics."""
        ...


def go_type_name(t: MetricType) -> str:
    return _GO_TYPE_NAMES[t]


def _instance_labels(key: GroupingKey) -> Labels:
    """The labels of the synthetic push_* gauges: the key plus ``instance=""``."""
    if any(name == "instance" for name, _ in key):
        return key
    return tuple(sorted((*key, ("instance", ""))))


def _gauge(name: str, help_: str, key: GroupingKey, value: float, ts: float) -> StoredFamily:
    metric = Metric(labels=_instance_labels(key), value=float(value))
    return StoredFamily(MetricFamily(name, "gauge", help_, (metric,)), ts)


_EMPTY_INSTANCE = ("instance", "")
_NAME = itemgetter(0)


def sanitise(family: MetricFamily, key: GroupingKey) -> MetricFamily:
    """Apply the grouping labels to every metric (spec 2.5).

    Grouping labels overwrite same-named body labels, ``instance=""`` is added
    when absent, and the pairs are sorted by name. Two labels of one name in a
    metric (possible in protobuf) are rejected as client_golang does.

    Results are remembered per grouping key and body label set (a bounded
    cache): pushers repeat their label sets, and a repeated set then costs a
    lookup and yields the very tuple stored before, which makes the
    same-series comparisons that follow identity checks.
    """
    memo = _SANITISED.get(key)
    if memo is None or len(memo) > _MEMO_PER_KEY:
        if len(_SANITISED) >= _MEMO_KEYS:
            del _SANITISED[next(iter(_SANITISED))]
        memo = _SANITISED[key] = {}
    metrics = []
    for metric in family.metrics:
        own = metric.labels
        labels = memo.get(own)
        if labels is None:
            labels = memo[own] = _sanitised_labels(family, metric, key)
        metrics.append(_new(Metric, (labels, *metric[1:])))
    return MetricFamily(family.name, family.type, family.help, tuple(metrics))


#: sanitise()'s memory: grouping key -> body labels -> sanitised labels.
_SANITISED: dict[GroupingKey, dict[Labels, Labels]] = {}
_MEMO_KEYS = 64
_MEMO_PER_KEY = 1024
_new = tuple.__new__


def _sanitised_labels(family: MetricFamily, metric: Metric, key: GroupingKey) -> Labels:
    # The key's own pair objects go into every series: a group's series then
    # share them instead of each holding copies (most of a series' memory).
    own = metric.labels
    own_names = {pair[0] for pair in own}
    if len(own_names) != len(own):
        dup = _first_duplicate_name(own)
        raise ConsistencyError(
            f"collected metric {family.name!r} {{ {render_metric_debug(family.type, metric)}}}"
            f" has two or more labels with the same name: {dup}".replace("'", '"')
        )
    fixed = {pair[0]: pair for pair in key}
    pairs = [pair for pair in own if pair[0] not in fixed]
    pairs.extend(fixed.values())
    if "instance" not in fixed and "instance" not in own_names:
        pairs.append(_EMPTY_INSTANCE)
    pairs.sort(key=_NAME)
    return tuple(pairs)


def _first_duplicate_name(labels: Labels) -> str:
    seen: set[str] = set()
    for name, _ in labels:
        if name in seen:
            return name
        seen.add(name)
    return ""


def _metric_error(family: MetricFamily, metric: Metric, reason: str) -> str:
    dump = render_metric_debug(family.type, metric)
    return f"collected metric {go_quote(family.name)} {{ {dump}}} {reason}"


def _is_valid_utf8(value: str) -> bool:
    # Values decoded with surrogateescape carry lone surrogates for bad bytes.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _family_alone_errors(family: MetricFamily, errors: list[str]) -> None:
    """Rules that need only the family itself (names, labels, values)."""
    if not is_valid_metric_name(family.name):
        errors.append(f"{go_quote(family.name)} is not a valid metric name")
        return
    # Label names repeat across the metrics of a family: check each name once.
    names_ok: set[str] = set()
    summary = family.type == "summary"
    for metric in family.metrics:
        for name, value in metric.labels:
            if name not in names_ok:
                if not is_valid_label_name(name) or is_reserved_label_name(name):
                    errors.append(
                        _metric_error(family, metric, f"has a label with an invalid name: {name}")
                    )
                    break
                names_ok.add(name)
            if summary and name == "quantile":
                errors.append(
                    _metric_error(family, metric, 'must not have an explicit "quantile" label')
                )
                break
            if not value.isascii() and not _is_valid_utf8(value):
                errors.append(
                    _metric_error(
                        family,
                        metric,
                        f"has a label named {go_quote(name)} whose value is not utf8: {go_quote(value)}",
                    )
                )
                break


def _type_errors(
    family: MetricFamily, index: IndexView, own_group_has: bool, errors: list[str]
) -> None:
    own = index.own_types.get(family.name)
    if own is not None and own != family.type:
        errors.append(
            f"gathered metric family {family.name} has type {go_type_name(family.type)}"
            f" but should have {go_type_name(own)}"
        )
        return
    stored = index.family_type(family.name)
    if stored is None:
        return
    stored_type, groups = stored
    others = groups - (1 if own_group_has else 0)
    if others > 0 and stored_type != family.type:
        # client_golang reports every metric that does not fit the type.
        for metric in family.metrics:
            errors.append(_metric_error(family, metric, f"is not a {go_type_name(stored_type)}"))


def _name_exists(
    name: str, index: IndexView, new: Mapping[str, StoredFamily], old: Group | None
) -> MetricType | None:
    """Type of a non-empty family ``name`` in the store as it would be after the write."""
    candidate = new.get(name)
    if candidate is not None:
        return None if candidate.empty else candidate.type
    own = index.own_types.get(name)
    if own is not None:
        return own
    stored = index.family_type(name)
    if stored is None:
        return None
    stored_type, groups = stored
    old_has = old is not None and name in old.families and not old.families[name].empty
    # ``name`` is not in the new group, so the old group's copy (if any) is gone.
    return stored_type if groups - (1 if old_has else 0) > 0 else None


def _suffix_errors(
    family: MetricFamily,
    index: IndexView,
    new: Mapping[str, StoredFamily],
    old: Group | None,
    errors: list[str],
) -> None:
    name = family.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            base_type = _name_exists(base, index, new, old)
            if base_type == "summary" and suffix != "_bucket":
                errors.append(
                    f"collected metric named {go_quote(name)} collides with previously"
                    f" collected summary named {go_quote(base)}"
                )
            if base_type == "histogram":
                errors.append(
                    f"collected metric named {go_quote(name)} collides with previously"
                    f" collected histogram named {go_quote(base)}"
                )
    if family.type in ("summary", "histogram"):
        suffixes = _SUFFIXES if family.type == "histogram" else _SUFFIXES[:2]
        for suffix in suffixes:
            if _name_exists(name + suffix, index, new, old) is not None:
                errors.append(
                    f"collected histogram or summary named {go_quote(name)} collides with"
                    f" previously collected metric named {go_quote(name + suffix)}"
                )


def _series_errors(
    family: MetricFamily, key: GroupingKey, index: IndexView, errors: list[str]
) -> None:
    seen: set[Labels] = set()
    for metric in family.metrics:
        if metric.labels in seen or index.series_owner(family.name, metric.labels, key) is not None:
            errors.append(
                _metric_error(
                    family, metric, "was collected before with the same name and label values"
                )
            )
        seen.add(metric.labels)


def check_families(
    changed: list[StoredFamily],
    key: GroupingKey,
    index: IndexView,
    new: Mapping[str, StoredFamily],
    old: Group | None,
) -> None:
    """The consistency check of the families a write changes (spec 3.6).

    Like client_golang's gather, it reports every problem it finds: one as
    it is, several as ``N error(s) occurred:`` followed by ``* `` lines.
    """
    errors: list[str] = []
    for stored in changed:
        family = stored.family
        if not family.metrics:
            continue  # empty families are stored but never exposed
        previous = old.families.get(family.name) if old is not None else None
        if previous is not None and previous.same_series(stored):
            # A re-push of exactly the series this group already exposes, with
            # the same type: the store was consistent with them, so nothing
            # about names, types, collisions or duplicates can have changed.
            continue
        _family_alone_errors(family, errors)
        old_has = previous is not None and not previous.empty
        _type_errors(family, index, old_has, errors)
        _suffix_errors(family, index, new, old, errors)
        _series_errors(family, key, index, errors)
    if len(errors) == 1:
        raise ConsistencyError(errors[0])
    if errors:
        raise ConsistencyError(
            f"{len(errors)} error(s) occurred:\n" + "\n".join(f"* {e}" for e in errors)
        )


def plan_write(request: WriteRequest, index: IndexView) -> Group | None:
    """The group to store for ``request`` (``None`` for DELETE).

    Raises :class:`ConsistencyError` when the push must be rejected; the
    caller then records the failure with :func:`plan_failure`.
    """
    key = request.key
    if request.kind == "delete":
        return None
    ts = request.timestamp
    for family in request.families:
        for metric in family.metrics:
            if metric.timestamp_ms is not None:
                raise ConsistencyError("pushed metrics must not have timestamps")
    pushed = [sanitise(f, key) for f in request.families]
    old = index.group(key)
    families: dict[str, StoredFamily] = {}
    if old is not None:
        if request.kind == "put":
            for name in (PUSH_TIME_NAME, PUSH_FAILURE_TIME_NAME):
                if name in old.families:
                    families[name] = old.families[name]
        else:
            families.update(old.families)
    for family in pushed:
        families[family.name] = StoredFamily(family, ts)
    # A pushed push_time_seconds is always replaced by the gateway's own.
    families[PUSH_TIME_NAME] = _gauge(PUSH_TIME_NAME, PUSH_TIME_HELP, key, ts, ts)
    if PUSH_FAILURE_TIME_NAME not in families or old is None:
        # Quirk kept from 1.5.1 (spec 3.2): a pushed push_failure_time_seconds
        # replaces the gateway's only when the group already existed.
        families[PUSH_FAILURE_TIME_NAME] = _gauge(
            PUSH_FAILURE_TIME_NAME, PUSH_FAILURE_TIME_HELP, key, 0.0, ts
        )
    changed = [
        s
        for s in families.values()
        if s.last_push == ts and (old is None or old.families.get(s.name) is not s)
    ]
    check_families(changed, key, index, families, old)
    # A PUT replaces the group, TTL included; a POST without a TTL keeps it.
    ttl = request.ttl
    if ttl is None and request.kind == "post" and old is not None:
        ttl = old.ttl
    return Group(key, families, ttl=ttl)


def plan_failure(key: GroupingKey, timestamp: float, index: IndexView) -> Group | None:
    """The group after a rejected push: its failure time set to ``timestamp``.

    A missing group is created with ``push_time_seconds 0``, as 1.5.1 does,
    unless that group would expose the same push_* series as another group
    (``{job="a"}`` beside ``{job="a",instance=""}``): 1.5.1 creates it anyway
    and then fails every scrape; pushgate records nothing in that case.
    """
    old = index.group(key)
    failure = _gauge(PUSH_FAILURE_TIME_NAME, PUSH_FAILURE_TIME_HELP, key, timestamp, timestamp)
    if old is not None:
        families = dict(old.families)
        families[PUSH_FAILURE_TIME_NAME] = failure
        return Group(key, families, ttl=old.ttl, expires_at=old.expires_at)
    push = _gauge(PUSH_TIME_NAME, PUSH_TIME_HELP, key, 0.0, timestamp)
    for stored in (push, failure):
        for metric in stored.family.metrics:
            if index.series_owner(stored.name, metric.labels, key) is not None:
                return None
            if not all(_is_valid_utf8(v) for _, v in metric.labels):
                return None
    return Group(key, {PUSH_TIME_NAME: push, PUSH_FAILURE_TIME_NAME: failure})
