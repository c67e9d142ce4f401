"""The in-memory state every backend serves reads from.

It holds the groups and three derived structures, all kept up to date by the
one mutation, :meth:`State.replace_group`:

* the consistency index (family name -> type and group count; series ->
  owning group) that makes the push-time check incremental;
* per family name, the rendered text lines of every series across all groups,
  kept sorted in the exposition order (client_golang's metric order), so a
  scrape only re-joins the families that changed since the last scrape; a
  re-push of the same series only marks its lines stale, and they are
  rendered when next read;
* the exposition body of the pushed families, cached between changes, and
  its gzip form in members per chunk of lines, so that a change compresses
  again only the chunks it touched.

Undoing a change is replacing the group by its previous value, which is how
the store rolls back a batch whose commit failed.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sortedcontainers import SortedDict, SortedList

from pushgate.core.floats import format_float
from pushgate.core.model import PLAIN_TYPES, GroupingKey, Labels, Metric, MetricFamily, MetricType
from pushgate.core.textformat import metric_sort_key, render_family_header, render_metric
from pushgate.store.contract import Group, StoredFamily
from pushgate.store.rules import same_series


@dataclass
class _FamilyLines:
    """All series of one family name across groups, in exposition order."""

    type: MetricType
    #: sort key (textformat.metric_sort_key) -> the rendered lines of one
    #: metric. Sort keys are unique within a family because series are: the
    #: consistency check never lets two groups expose the same series.
    lines: SortedDict = field(default_factory=SortedDict)
    #: group key -> that group's stored family, for its last push time and its
    #: help: the most recently pushed help wins (1.5.1 picks one at random per
    #: scrape). The stored family itself, so an entry costs no new objects.
    helps: dict[GroupingKey, StoredFamily] = field(default_factory=dict)
    #: series (labels) -> the group that exposes it: the duplicate-series index.
    #: Keyed by the Metric's own labels tuple, so an entry costs no new tuple.
    owners: dict[Labels, GroupingKey] = field(default_factory=dict)
    #: group key -> the keys of that group's lines in ``lines``, in metric order.
    keys: dict[GroupingKey, list[str]] = field(default_factory=dict)
    block: bytes | None = None
    block_gz: bytes | None = None
    #: The gzip body is made of members of about 1,000 lines each, so that a
    #: change recompresses only the chunks it touched. A chunk starts at the
    #: family's first line and at every line whose key is a chunk start (see
    #: _starts_chunk: chosen by the key, so chunks stay put while values
    #: change); ``bounds`` holds those keys, ``chunks_gz`` the members still
    #: valid, by first key ("" for the first chunk).
    bounds: SortedList = field(default_factory=SortedList)
    chunks_gz: dict[str, bytes] = field(default_factory=dict)
    #: Groups loaded at start-up whose lines are not rendered yet (see
    #: State.load); rendered on first use or by the warm-up after start.
    pending: list[tuple[GroupingKey, StoredFamily]] | None = None
    #: Groups re-pushed with the same series since the lines were last read:
    #: their keys in ``lines`` are right, their values are rendered from these
    #: families when the lines are next needed (a scrape), not on every push.
    stale: dict[GroupingKey, StoredFamily] = field(default_factory=dict)
    #: Lines rendered from ``pending`` so far, sorted into ``lines`` at the end.
    staged: list[tuple[str, bytes]] = field(default_factory=list)

    def help(self) -> str | None:
        best: StoredFamily | None = None
        for candidate in self.helps.values():
            if best is None or candidate.last_push > best.last_push:
                best = candidate
        return None if best is None else best.family.help


def gzip_member(data: bytes) -> bytes:
    """One gzip member of ``data`` (level 1: scrapes favour speed over size)."""
    return gzip.compress(data, compresslevel=1, mtime=0)


#: One line key in about this many starts a chunk of the gzip body.
CHUNK_LINES = 1024


def _starts_chunk(line_key: str) -> bool:
    """Whether a line starts a chunk of its family's gzip body (about one in
    :data:`CHUNK_LINES`; a string's hash is fixed within a process, and
    chunks are never stored)."""
    return hash(line_key) % CHUNK_LINES == 0


def _chunk_changed(lines: _FamilyLines, line_key: str) -> None:
    """Drop the gzip member of the chunk that holds (or would hold) ``line_key``."""
    bounds = lines.bounds
    i = bounds.bisect_right(line_key)
    lines.chunks_gz.pop(bounds[i - 1] if i else "", None)


#: Told of every change: the key, the previous group and the new one (None: deleted).
GroupListener = Callable[[GroupingKey, Group | None, Group | None], None]


class State:
    """Groups plus the indexes and caches derived from them (see module doc)."""

    def __init__(self, own_types: Mapping[str, MetricType] | None = None) -> None:
        self._groups: dict[GroupingKey, Group] = {}
        self._families: dict[str, _FamilyLines] = {}
        self._names: SortedList = SortedList()
        self._own_types: Mapping[str, MetricType] = dict(own_types or {})
        self._sorted_keys: list[GroupingKey] | None = None
        self._listeners: list[GroupListener] = []
        self._unrendered: list[str] = []
        self.version = 0

    def add_listener(self, listener: GroupListener) -> None:
        """Call ``listener(key, old, new)`` after every change, undo included.

        For indexes kept outside the state (expiry, retention, series counts:
        :mod:`pushgate.store.policy`), so that they follow every mutation.
        """
        self._listeners.append(listener)

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
        lines = self._families.get(name)
        if lines is None:
            return None
        if lines.pending is not None:
            self._materialize(lines)
        return lines.owners.get(labels)

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
        lines = self._ready(name)
        if lines.stale:
            self._refresh(lines)
        if extra or help_override is not None:
            help_ = help_override if help_override is not None else lines.help()
            body = [render_metric(name, lines.type, m) for m in extra]
            merged = sorted(
                [(metric_sort_key(m), b) for m, b in zip(extra, body, strict=True)]
                + list(lines.lines.items()),
                key=lambda kv: kv[0],
            )
            return render_family_header(name, lines.type, help_) + b"".join(v for _, v in merged)
        if lines.block is None:
            # Values by key lookups in C (the view's iterator is Python code).
            mapping = lines.lines
            lines.block = render_family_header(name, lines.type, lines.help()) + b"".join(
                map(mapping.__getitem__, mapping)
            )
        return lines.block

    def family_block_gz(self, name: str) -> bytes:
        """:meth:`family_block`, gzip-compressed: a member for the header and
        one per chunk of lines, each compressed again only when it changed."""
        lines = self._ready(name)
        if lines.stale:
            self._refresh(lines)
        if lines.block_gz is None:
            mapping = lines.lines
            starts = ["", *lines.bounds]
            members = [gzip_member(render_family_header(name, lines.type, lines.help()))]
            for i, start in enumerate(starts):
                member = lines.chunks_gz.get(start)
                if member is None:
                    end = starts[i + 1] if i + 1 < len(starts) else None
                    keys = mapping.irange(start, end, inclusive=(True, False))
                    text = b"".join(map(mapping.__getitem__, keys))
                    member = lines.chunks_gz[start] = gzip_member(text) if text else b""
                members.append(member)
            lines.block_gz = b"".join(members)
        return lines.block_gz

    def merged_family(self, name: str) -> MetricFamily:
        lines = self._families[name]
        metrics: list[tuple[object, Metric]] = []
        for group_key in lines.helps:
            stored = self._groups[group_key].families[name]
            metrics.extend((metric_sort_key(m), m) for m in stored.family.metrics)
        metrics.sort(key=lambda km: km[0])  # type: ignore[arg-type,return-value]
        return MetricFamily(name, lines.type, lines.help(), tuple(m for _, m in metrics))

    def load(self, groups: Iterable[Group]) -> None:
        """Fill an empty state with ``groups`` at start-up, in bulk.

        The same result as :meth:`replace_group` for each group, but a
        family's lines are neither rendered nor sorted here: that happens the
        first time the family is needed (a scrape, a push to it) or in
        :meth:`warm_up`, so the gateway answers as soon as the groups are
        decoded (start-up time was dominated by rendering).
        """
        if self._groups:
            raise RuntimeError("State.load() needs an empty state")
        for group in groups:
            key = group.key
            self._groups[key] = group
            for name, stored in group.families.items():
                family = stored.family
                if not family.metrics:
                    continue
                lines = self._families.get(name)
                if lines is None:
                    lines = self._families[name] = _FamilyLines(family.type, pending=[])
                    self._unrendered.append(name)
                lines.helps[key] = stored
                assert lines.pending is not None
                lines.pending.append((key, stored))
            for listener in self._listeners:
                listener(key, None, group)
        self._names = SortedList(self._families)
        self._sorted_keys = None
        self.version += 1

    def warm_up(self, budget: int = 2000) -> bool:
        """Render about ``budget`` lines left unrendered by :meth:`load`.

        Returns False when nothing is left. Small steps, so that a caller on
        the event loop can serve requests between them.
        """
        while self._unrendered:
            lines = self._families.get(self._unrendered[-1])
            if lines is None or lines.pending is None:
                self._unrendered.pop()
                continue
            while lines.pending and budget > 0:
                key, stored = lines.pending.pop()
                budget -= self._stage(lines, key, stored)
            if not lines.pending:
                self._finish(lines)
                self._unrendered.pop()
            if budget <= 0:
                return bool(self._unrendered)
        return False

    def _ready(self, name: str) -> _FamilyLines:
        lines = self._families[name]
        if lines.pending is not None:
            self._materialize(lines)
        return lines

    def _materialize(self, lines: _FamilyLines) -> None:
        """Render and index at once what :meth:`load` left pending."""
        assert lines.pending is not None
        while lines.pending:
            key, stored = lines.pending.pop()
            self._stage(lines, key, stored)
        self._finish(lines)

    def _stage(self, lines: _FamilyLines, key: GroupingKey, stored: StoredFamily) -> int:
        family = stored.family
        line_keys: list[str] = []
        for metric, (line_key, text) in zip(family.metrics, self._render(family), strict=True):
            lines.staged.append((line_key, text))
            line_keys.append(line_key)
            lines.owners[metric.labels] = key
        lines.keys[key] = line_keys
        return len(line_keys)

    @staticmethod
    def _finish(lines: _FamilyLines) -> None:
        lines.lines = SortedDict(lines.staged)
        lines.staged = []
        lines.pending = None
        lines.block = lines.block_gz = None
        lines.bounds = SortedList(filter(_starts_chunk, lines.lines))
        lines.chunks_gz = {}

    # -- the one mutation --------------------------------------------------------
    def replace_group(self, key: GroupingKey, new: Group | None) -> Group | None:
        """Store ``new`` under ``key`` (``None`` deletes); return the previous group."""
        old = self._groups.get(key)
        if old is new:
            return old
        old_families: Mapping[str, StoredFamily] = old.families if old is not None else {}
        new_families: Mapping[str, StoredFamily] = new.families if new is not None else {}
        # Render first: if rendering fails, nothing has been changed yet.
        added: list[tuple[StoredFamily, list[tuple[str, bytes]]]] = []
        updated: list[StoredFamily] = []
        for name, stored in new_families.items():
            previous = old_families.get(name)
            if previous is stored:
                continue
            if previous is not None and same_series(previous.family, stored.family):
                updated.append(stored)
            else:
                added.append((stored, self._render(stored.family)))
        in_place = {stored.family.name for stored in updated}
        for name, stored in old_families.items():
            if new_families.get(name) is not stored and name not in in_place:
                self._remove_family(key, stored)
        for stored in updated:
            self._update_family(key, stored)
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
        for listener in self._listeners:
            listener(key, old, new)
        return old

    def _update_family(self, key: GroupingKey, stored: StoredFamily) -> None:
        """A re-push with the same series: new values, rendered when next read."""
        lines = self._ready(stored.family.name)
        lines.stale[key] = stored
        lines.helps[key] = stored
        lines.block = lines.block_gz = None

    def _refresh(self, lines: _FamilyLines) -> None:
        """Render the values of the groups re-pushed since the lines were read.

        The label part of a line depends only on the labels, which are
        unchanged, so it is cut from the stored line instead of rendered again.
        """
        mapping = lines.lines
        get = mapping.__getitem__
        # Every key exists already: set the value only, past SortedDict's
        # membership test and insort (its values live in the dict itself).
        set_value = dict.__setitem__
        for key, stored in lines.stale.items():
            family = stored.family
            line_keys = lines.keys[key]
            for line_key in line_keys:
                _chunk_changed(lines, line_key)
            if family.type not in PLAIN_TYPES:
                # Several lines per metric: rendered afresh (same sort keys).
                for line_key, metric in zip(line_keys, family.metrics, strict=True):
                    set_value(mapping, line_key, render_metric(family.name, family.type, metric))
                continue
            for line_key, metric in zip(line_keys, family.metrics, strict=True):
                old = get(line_key)
                text = old[: old.rindex(b" ") + 1] + format_float(metric.value).encode() + b"\n"
                set_value(mapping, line_key, text)
        lines.stale.clear()

    @staticmethod
    def _render(family: MetricFamily) -> list[tuple[str, bytes]]:
        return [
            (metric_sort_key(m), render_metric(family.name, family.type, m)) for m in family.metrics
        ]

    def _add_family(
        self,
        key: GroupingKey,
        stored: StoredFamily,
        rendered: list[tuple[str, bytes]],
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
        elif lines.pending is not None:
            self._materialize(lines)
        elif lines.type != family.type and not lines.helps:
            lines.type = family.type
        lines.helps[key] = stored
        lines.block = lines.block_gz = None
        line_keys: list[str] = []
        for metric, (line_key, text) in zip(family.metrics, rendered, strict=True):
            _chunk_changed(lines, line_key)
            if _starts_chunk(line_key):
                lines.bounds.add(line_key)
            lines.lines[line_key] = text
            line_keys.append(line_key)
            lines.owners[metric.labels] = key
        lines.keys[key] = line_keys

    def _remove_family(self, key: GroupingKey, stored: StoredFamily) -> None:
        family = stored.family
        if not family.metrics:
            return
        name = family.name
        lines = self._ready(name)
        lines.helps.pop(key, None)
        lines.stale.pop(key, None)
        lines.block = lines.block_gz = None
        for line_key in lines.keys.pop(key, ()):
            lines.lines.pop(line_key, None)
            if _starts_chunk(line_key):
                lines.bounds.discard(line_key)
                lines.chunks_gz.pop(line_key, None)
            _chunk_changed(lines, line_key)
        for metric in family.metrics:
            if lines.owners.get(metric.labels) == key:
                del lines.owners[metric.labels]
        if not lines.helps:
            del self._families[name]
            self._names.remove(name)

    def __iter__(self) -> Iterator[Group]:
        return iter(self._groups.values())
