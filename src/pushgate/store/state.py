"""The in-memory state every backend serves reads from.

It holds the groups and three derived structures, all kept up to date by the
one mutation, :meth:`State.replace_group`:

* the consistency index (family name -> type and group count; series ->
  owning group) that makes the push-time check incremental;
* per family name, the rendered text lines of every series across all groups,
  kept sorted in the exposition order (client_golang's metric order), so a
  scrape only re-joins the families that changed since the last scrape;
* the exposition body of the pushed families, cached between changes.

Undoing a change is replacing the group by its previous value, which is how
the store rolls back a batch whose commit failed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sortedcontainers import SortedDict, SortedList

from pushgate.core.model import GroupingKey, Labels, Metric, MetricFamily, MetricType
from pushgate.core.textformat import metric_sort_key, render_family_header, render_metric
from pushgate.store.contract import Group, StoredFamily


@dataclass
class _FamilyLines:
    """All series of one family name across groups, in exposition order."""

    type: MetricType
    lines: SortedDict = field(default_factory=SortedDict)  # (sort key, group key) -> bytes
    #: group key -> (last push, help) of that group's family: the most recently
    #: pushed help wins (1.5.1 picks one at random per scrape).
    helps: dict[GroupingKey, tuple[float, str | None]] = field(default_factory=dict)
    block: bytes | None = None

    def help(self) -> str | None:
        best: tuple[float, str | None] | None = None
        for candidate in self.helps.values():
            if best is None or candidate[0] > best[0]:
                best = candidate
        return None if best is None else best[1]


class State:
    """Groups plus the indexes and caches derived from them (see module doc)."""

    def __init__(self, own_types: Mapping[str, MetricType] | None = None) -> None:
        self._groups: dict[GroupingKey, Group] = {}
        self._families: dict[str, _FamilyLines] = {}
        self._names: SortedList = SortedList()
        self._series: dict[tuple[str, Labels], GroupingKey] = {}
        self._own_types: Mapping[str, MetricType] = dict(own_types or {})
        self._sorted_keys: list[GroupingKey] | None = None
        self.version = 0

    # -- IndexView -----------------------------------------------------------
    @property
    def own_types(self) -> Mapping[str, MetricType]:
        return self._own_types

    def group(self, key: GroupingKey) -> Group | None:
        return self._groups.get(key)

    def family_type(self, name: str) -> tuple[MetricType, int] | None:
        lines = self._families.get(name)
        if lines is None:
            return None
        return lines.type, len(lines.helps)

    def series_owner(self, name: str, labels: Labels) -> GroupingKey | None:
        return self._series.get((name, labels))

    # -- reads -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._groups)

    def groups(self) -> list[Group]:
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self._groups)
        return [self._groups[k] for k in self._sorted_keys]

    def family_names(self) -> Sequence[str]:
        """Names of the non-empty pushed families, sorted."""
        return self._names  # type: ignore[no-any-return]

    def family_block(
        self, name: str, help_override: str | None = None, extra: Sequence[Metric] = ()
    ) -> bytes:
        """The rendered block (HELP, TYPE, series) of one merged family."""
        lines = self._families[name]
        if extra or help_override is not None:
            help_ = help_override if help_override is not None else lines.help()
            body = [render_metric(name, lines.type, m) for m in extra]
            merged = sorted(
                [(metric_sort_key(m), b) for m, b in zip(extra, body, strict=True)]
                + [(k[0], v) for k, v in lines.lines.items()],
                key=lambda kv: kv[0],
            )
            return render_family_header(name, lines.type, help_) + b"".join(v for _, v in merged)
        if lines.block is None:
            lines.block = render_family_header(name, lines.type, lines.help()) + b"".join(
                lines.lines.values()
            )
        return lines.block

    def merged_family(self, name: str) -> MetricFamily:
        lines = self._families[name]
        metrics: list[tuple[object, Metric]] = []
        for group_key in lines.helps:
            stored = self._groups[group_key].families[name]
            metrics.extend((metric_sort_key(m), m) for m in stored.family.metrics)
        metrics.sort(key=lambda km: km[0])  # type: ignore[arg-type,return-value]
        return MetricFamily(name, lines.type, lines.help(), tuple(m for _, m in metrics))

    # -- the one mutation --------------------------------------------------------
    def replace_group(self, key: GroupingKey, new: Group | None) -> Group | None:
        """Store ``new`` under ``key`` (``None`` deletes); return the previous group."""
        old = self._groups.get(key)
        if old is new:
            return old
        old_families: Mapping[str, StoredFamily] = old.families if old is not None else {}
        new_families: Mapping[str, StoredFamily] = new.families if new is not None else {}
        # Render first: if rendering fails, nothing has been changed yet.
        added = [
            (stored, self._render(stored.family))
            for name, stored in new_families.items()
            if old_families.get(name) is not stored
        ]
        for name, stored in old_families.items():
            if new_families.get(name) is not stored:
                self._remove_family(key, stored)
        for stored, rendered in added:
            self._add_family(key, stored, rendered)
        if new is None:
            del self._groups[key]
            self._sorted_keys = None
        else:
            if old is None:
                self._sorted_keys = None
            self._groups[key] = new
        self.version += 1
        return old

    @staticmethod
    def _render(family: MetricFamily) -> list[tuple[tuple[object, ...], bytes]]:
        return [
            (metric_sort_key(m), render_metric(family.name, family.type, m)) for m in family.metrics
        ]

    def _add_family(
        self,
        key: GroupingKey,
        stored: StoredFamily,
        rendered: list[tuple[tuple[object, ...], bytes]],
    ) -> None:
        family = stored.family
        if not family.metrics:
            return
        name = family.name
        lines = self._families.get(name)
        if lines is None:
            lines = _FamilyLines(family.type)
            self._families[name] = lines
            self._names.add(name)
        elif lines.type != family.type and not lines.helps:
            lines.type = family.type
        lines.helps[key] = (stored.last_push, family.help)
        lines.block = None
        for metric, (sort_key, text) in zip(family.metrics, rendered, strict=True):
            lines.lines[(sort_key, key)] = text
            self._series[(name, metric.labels)] = key

    def _remove_family(self, key: GroupingKey, stored: StoredFamily) -> None:
        family = stored.family
        if not family.metrics:
            return
        name = family.name
        lines = self._families[name]
        lines.helps.pop(key, None)
        lines.block = None
        for metric in family.metrics:
            lines.lines.pop((metric_sort_key(metric), key), None)
            if self._series.get((name, metric.labels)) == key:
                del self._series[(name, metric.labels)]
        if not lines.helps:
            del self._families[name]
            self._names.remove(name)

    def __iter__(self) -> Iterator[Group]:
        return iter(self._groups.values())
