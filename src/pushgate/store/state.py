"""The in-memory state every backend serves reads from.

It holds the groups and what is derived from them, all kept up to date by the
one mutation, :meth:`State.replace_group`:

* the consistency index: family name -> type and group count, and the
  label names of the grouping keys in use, which find the groups that could
  expose a given series (see :meth:`State.series_owner`), so the push-time
  check costs O(the push), not O(the store);
* per family name, the groups' runs of lines, ordered for the exposition:
  each group's family is one run of rendered lines
  (:attr:`StoredFamily.text <pushgate.store.stored.StoredFamily.text>`)
  that knows the sort keys of its first and last metric, and the runs are
  kept sorted by their first key. When no two runs interleave (series of
  one group never sort between series of another; the normal case, as
  every series carries its group's labels) the family's series lines are
  the runs' lines one after the other; otherwise the family is merged
  metric by metric when it is read;
* the exposition body of the pushed families, cached between changes, and
  its gzip form in members per chunk of runs, so that a change compresses
  again only the chunk it touched.

The groups' families are stored compacted (lines instead of objects, see
:mod:`pushgate.store.stored`): new series at once, a re-push of the same
series once it is some seconds old (:meth:`State.compact_stale`), so that a
group pushed again and again is compared and rendered from its objects.

Undoing a change is replacing the group by its previous value, which is how
the store rolls back a batch whose commit failed.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter

from sortedcontainers import SortedDict, SortedList

from pushgate.core.model import GroupingKey, Labels, Metric, MetricFamily, MetricType
from pushgate.core.protobuf import delimited, family_header_pb, metric_records_pb
from pushgate.core.textformat import metric_sort_key, render_family_header, render_metric
from pushgate.store.contract import Group, StoredFamily
from pushgate.store.stored import parse_lines

_TEXT = attrgetter("text")
_KEY = itemgetter(0)


@dataclass
class _Runs:
    """All series of one family name across groups, one run per group."""

    type: MetricType
    #: How many groups have a non-empty family of this name.
    count: int = 0
    #: first sort key -> the stored family whose lines start with it. First
    #: keys are unique because series are: the consistency check never lets
    #: two groups expose the same series.
    runs: SortedDict = field(default_factory=SortedDict)
    #: How many neighbouring runs interleave (the first's last key sorts
    #: after the next one's first key).
    overlaps: int = 0
    #: While runs interleave: every metric's lines by its sort key, kept up
    #: to date with the runs (the per-series index a family whose series do
    #: not follow their groups needs); None otherwise.
    lines: SortedDict | None = None
    block: bytes | None = None
    block_gz: bytes | None = None
    #: The gzip body is made of members of about :data:`CHUNK_RUNS` entries
    #: (runs, or metrics while ``lines`` is used) each, so that a change
    #: recompresses only the chunk it touched. A chunk starts at the first
    #: entry and at every entry whose key is a chunk start (see
    #: _starts_chunk: chosen by the key, so chunks stay put while values
    #: change); ``bounds`` holds those keys, ``chunks_gz`` the members still
    #: valid, by first key ("" for the first chunk).
    bounds: SortedList = field(default_factory=SortedList)
    chunks_gz: dict[str, bytes] = field(default_factory=dict)
    #: The protobuf form, cached the same way: the family's length-delimited
    #: message, and the serialized metric records of each chunk.
    block_pb: bytes | None = None
    chunks_pb: dict[str, bytes] = field(default_factory=dict)
    #: Groups loaded at start-up whose runs are not placed yet (see
    #: State.load); placed on first use or by the warm-up after start.
    pending: list[StoredFamily] | None = None
    #: Runs taken from ``pending`` so far, sorted into ``runs`` at the end.
    staged: list[tuple[str, StoredFamily]] = field(default_factory=list)
    #: After a load, when the runs interleave: the runs whose metrics are not
    #: in ``lines`` yet (``lines`` is built at the end, from ``lines_staged``).
    unindexed: list[StoredFamily] | None = None
    lines_staged: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """Whether what a load left to do for this family is done."""
        return self.pending is None and self.unindexed is None

    #: Groups re-pushed with the same series whose family is not compacted
    #: yet, oldest re-push first: group key -> time.monotonic() of the push.
    stale: dict[GroupingKey, float] = field(default_factory=dict)

    def texts(self, keys: Iterable[str] | None = None) -> Iterator[bytes]:
        """The lines of the entries with ``keys`` (default: all), in order."""
        lines = self.lines
        if lines is not None:
            return map(lines.__getitem__, lines if keys is None else keys)
        runs = self.runs
        return map(_TEXT, map(runs.__getitem__, runs if keys is None else keys))

    def mapping(self) -> SortedDict:
        """The entries in use: ``lines`` if set, else ``runs``."""
        return self.runs if self.lines is None else self.lines

    def help(self) -> str | None:
        """The most recently pushed help (1.5.1 picks one at random per scrape)."""
        best: StoredFamily | None = None
        for candidate in dict.values(self.runs):
            if best is None or candidate.last_push > best.last_push:
                best = candidate
        return None if best is None else best.help


def gzip_member(data: bytes) -> bytes:
    """One gzip member of ``data`` (level 1: scrapes favour speed over size)."""
    return gzip.compress(data, compresslevel=1, mtime=0)


#: One entry in about this many starts a chunk of the gzip body.
CHUNK_RUNS = 256


def _starts_chunk(first_key: str) -> bool:
    """Whether a run starts a chunk of its family's gzip body (about one in
    :data:`CHUNK_RUNS`; a string's hash is fixed within a process, and
    chunks are never stored)."""
    return hash(first_key) % CHUNK_RUNS == 0


def _chunk_changed(runs: _Runs, key: str) -> None:
    """Drop the gzip member of the chunk that holds (or would hold) an entry."""
    bounds = runs.bounds
    i = bounds.bisect_right(key)
    start = bounds[i - 1] if i else ""
    runs.chunks_gz.pop(start, None)
    runs.chunks_pb.pop(start, None)


def _entries_added(runs: _Runs, keys: Iterable[str]) -> None:
    for key in keys:
        _chunk_changed(runs, key)
        if _starts_chunk(key):
            runs.bounds.add(key)


def _entries_removed(runs: _Runs, keys: Iterable[str]) -> None:
    for key in keys:
        if _starts_chunk(key):
            runs.bounds.discard(key)
            runs.chunks_gz.pop(key, None)
            runs.chunks_pb.pop(key, None)
        _chunk_changed(runs, key)


def _use(runs: _Runs, lines: SortedDict | None) -> None:
    """Switch the entries in use (see _Runs.lines); the chunks start afresh."""
    runs.lines = lines
    runs.bounds = SortedList(filter(_starts_chunk, runs.mapping()))
    runs.chunks_gz = {}
    runs.chunks_pb = {}
    runs.block = runs.block_gz = runs.block_pb = None


def _all_lines(runs: _Runs) -> SortedDict:
    entries: list[tuple[str, bytes]] = []
    for stored in dict.values(runs.runs):
        entries.extend(stored.entries())
    return SortedDict(entries)


def _chunks(
    runs: _Runs, cache: dict[str, bytes], make: Callable[[Iterator[str]], bytes]
) -> list[bytes]:
    """One piece per chunk of the entries in use (see _Runs.bounds): the one
    in ``cache``, or ``make(the chunk's keys)``, which is then kept there."""
    mapping = runs.mapping()
    starts = ["", *runs.bounds]
    pieces = []
    for i, start in enumerate(starts):
        piece = cache.get(start)
        if piece is None:
            end = starts[i + 1] if i + 1 < len(starts) else None
            piece = cache[start] = make(mapping.irange(start, end, inclusive=(True, False)))
        pieces.append(piece)
    return pieces


def _exposition_metrics(
    name: str, family_type: MetricType, families: Iterable[StoredFamily]
) -> tuple[Metric, ...]:
    """The metrics of consecutive runs, in exposition order. Runs held as
    lines are parsed together (one parse for neighbours), the others give
    their objects in the order of their lines."""
    metrics: list[Metric] = []
    texts: list[bytes] = []
    for stored in families:
        family = stored.held_family()
        if family is None:
            texts.append(stored.text)
            continue
        if texts:
            metrics.extend(parse_lines(name, family_type, b"".join(texts)))
            texts = []
        order = stored.order
        metrics.extend(family.metrics if order is None else (family.metrics[i] for i in order))
    if texts:
        metrics.extend(parse_lines(name, family_type, b"".join(texts)))
    return tuple(metrics)


def _overlap(before: StoredFamily, after: StoredFamily) -> int:
    """1 when run ``before`` ends after run ``after`` starts."""
    return 1 if before.last_key >= after.first_key else 0


#: Told of every change: the key, the previous group and the new one (None: deleted).
GroupListener = Callable[[GroupingKey, Group | None, Group | None], None]


class State:
    """Groups plus the indexes and caches derived from them (see module doc)."""

    def __init__(self, own_types: Mapping[str, MetricType] | None = None) -> None:
        self._groups: dict[GroupingKey, Group] = {}
        self._families: dict[str, _Runs] = {}
        self._names: SortedList = SortedList()
        self._own_types: Mapping[str, MetricType] = dict(own_types or {})
        self._sorted_keys: list[GroupingKey] | None = None
        self._listeners: list[GroupListener] = []
        self._unplaced: list[str] = []
        #: Names of the families with stale runs (see compact_stale).
        self._stale_names: set[str] = set()
        #: label names of the grouping keys in use -> how many groups have them.
        self._shapes: dict[tuple[str, ...], int] = {}
        #: series_owner() remembers the last writer's label names and the
        #: last family whose series it listed (its callers ask in a row).
        self._writer: tuple[GroupingKey, tuple[str, ...]] = ((), ())
        self._series: tuple[StoredFamily | None, frozenset[Labels]] = (None, frozenset())
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
        runs = self._families.get(name)
        if runs is None:
            return None
        return runs.type, runs.count

    def series_owner(self, name: str, labels: Labels, writer: GroupingKey) -> GroupingKey | None:
        """The group other than ``writer`` that exposes ``name{labels}``, if any.

        Every series of a group carries the group's labels (rules.sanitise),
        so the only group with label names ``N`` that can expose a series is
        the one whose key is the series' labels restricted to ``N``: one
        dictionary lookup per set of label names in use (usually one, the
        writer's own, which needs none), however large the store.
        """
        shapes = self._shapes
        if not shapes:
            return None
        if self._writer[0] is not writer:
            self._writer = (writer, tuple([n for n, _ in writer]))
        own = self._writer[1]
        if len(shapes) == 1 and own in shapes:
            return None
        values = dict(labels)
        for shape in shapes:
            if shape == own or not all(n in values for n in shape):
                continue
            candidate = tuple([(n, values[n]) for n in shape])
            group = self._groups.get(candidate)
            if group is None:
                continue
            stored = group.families.get(name)
            if stored is None or stored.empty:
                continue
            if self._series[0] is not stored:
                self._series = (stored, frozenset(m.labels for m in stored.family.metrics))
            if labels in self._series[1]:
                return candidate
        return None

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
        """The rendered block (HELP, TYPE, series) of one merged family.

        ``extra`` metrics (the gateway's own of the same name) are merged in
        exposition order; ``help_override`` replaces the pushed help.
        """
        runs = self._ready(name)
        if extra or help_override is not None:
            help_ = help_override if help_override is not None else runs.help()
            header = render_family_header(name, runs.type, help_)
            return header + self._body_with(name, runs, extra)
        if runs.block is None:
            runs.block = render_family_header(name, runs.type, runs.help()) + self._body(runs)
        return runs.block

    @staticmethod
    def _body(runs: _Runs) -> bytes:
        """The series lines of a family, in exposition order."""
        # Values by key lookups in C (the view's iterator is Python code).
        return b"".join(runs.texts())

    def _body_with(self, name: str, runs: _Runs, extra: Sequence[Metric]) -> bytes:
        """:meth:`_body` with ``extra`` metrics placed among the entries."""
        if not extra:
            return self._body(runs)
        mapping = runs.mapping()
        by_lines = runs.lines is not None
        placed: list[tuple[int, bytes]] = []
        for key, metric in sorted([(metric_sort_key(m), m) for m in extra], key=_KEY):
            i = mapping.bisect_left(key)
            if not by_lines and i > 0 and mapping.peekitem(i - 1)[1].last_key >= key:
                return self._merged_body(name, runs, extra)  # inside a run
            placed.append((i, render_metric(name, runs.type, metric)))
        texts = list(runs.texts())
        # Right to left, so that positions still hold (``placed`` is in key
        # order); an extra metric goes before a run it ties with, as the
        # sorted merge would put it.
        for i, text in reversed(placed):
            texts.insert(i, text)
        return b"".join(texts)

    @staticmethod
    def _merged_body(name: str, runs: _Runs, extra: Sequence[Metric]) -> bytes:
        """The series lines with ``extra`` metrics that fall inside a run: every
        metric, sorted (only for the gateway's own metrics with labels that a
        pushed family of the same name also has; O(family))."""
        family_type = runs.type
        items = [(metric_sort_key(m), render_metric(name, family_type, m)) for m in extra]
        for stored in dict.values(runs.runs):
            items.extend(stored.entries())
        items.sort(key=_KEY)
        return b"".join(text for _, text in items)

    def family_block_gz(self, name: str) -> bytes:
        """:meth:`family_block`, gzip-compressed: a member for the header and
        one per chunk of runs, each compressed again only when it changed."""
        runs = self._ready(name)
        if runs.block_gz is None:
            header = gzip_member(render_family_header(name, runs.type, runs.help()))

            def member(keys: Iterator[str]) -> bytes:
                text = b"".join(runs.texts(keys))
                return gzip_member(text) if text else b""

            runs.block_gz = header + b"".join(_chunks(runs, runs.chunks_gz, member))
        return runs.block_gz

    def family_delimited(self, name: str) -> bytes:
        """The pushed family as a length-delimited protobuf ``MetricFamily``.

        Made of the metric records of each chunk of runs (a message's
        repeated field is a run of records, see core/protobuf.py), each made
        again only when its chunk changed, as the gzip members are. Families
        whose runs interleave are encoded whole.
        """
        runs = self._ready(name)
        if runs.block_pb is None:
            header = family_header_pb(MetricFamily(name, runs.type, runs.help(), ()))
            if runs.lines is not None:
                body = header + metric_records_pb(self.merged_family(name))
            else:

                def records(keys: Iterator[str]) -> bytes:
                    stored = map(runs.runs.__getitem__, keys)
                    metrics = _exposition_metrics(name, runs.type, stored)
                    chunk = MetricFamily(name, runs.type, None, metrics)
                    return metric_records_pb(chunk) if metrics else b""

                body = header + b"".join(_chunks(runs, runs.chunks_pb, records))
            runs.block_pb = delimited(body)
        return runs.block_pb

    def merged_family(self, name: str) -> MetricFamily:
        runs = self._ready(name)
        metrics: list[tuple[str, Metric]] = []
        for stored in dict.values(runs.runs):
            metrics.extend((metric_sort_key(m), m) for m in stored.family.metrics)
        metrics.sort(key=_KEY)
        return MetricFamily(name, runs.type, runs.help(), tuple(m for _, m in metrics))

    def load(self, groups: Iterable[Group]) -> None:
        """Fill an empty state with ``groups`` at start-up, in bulk.

        The same result as :meth:`replace_group` for each group, but a
        family's runs are neither compacted nor sorted here: that happens the
        first time the family is needed (a scrape, a push to it) or in
        :meth:`warm_up`, so the gateway answers as soon as the groups are
        decoded.
        """
        if self._groups:
            raise RuntimeError("State.load() needs an empty state")
        for group in groups:
            key = group.key
            self._groups[key] = group
            self._add_shape(key)
            for name, stored in group.families.items():
                if stored.empty:
                    continue
                runs = self._families.get(name)
                if runs is None:
                    runs = self._families[name] = _Runs(stored.type, pending=[])
                    self._unplaced.append(name)
                runs.count += 1
                assert runs.pending is not None
                runs.pending.append(stored)
            for listener in self._listeners:
                listener(key, None, group)
        self._names = SortedList(self._families)
        self._sorted_keys = None
        self.version += 1

    def warm_up(self, budget: int = 500) -> bool:
        """Place about ``budget`` runs left unplaced by :meth:`load`.

        Returns False when nothing is left. Small steps, so that a caller on
        the event loop can serve requests between them.
        """
        while self._unplaced:
            runs = self._families.get(self._unplaced[-1])
            if runs is None or runs.ready:
                self._unplaced.pop()
                continue
            while runs.pending and budget > 0:
                self._stage(runs, runs.pending.pop())
                budget -= 1
            if runs.pending is not None and not runs.pending:
                self._finish(runs)
            while runs.unindexed and budget > 0:
                runs.lines_staged.extend(runs.unindexed.pop().entries())
                budget -= 1
            if runs.unindexed is not None and not runs.unindexed:
                self._index(runs)
            if runs.ready:
                self._unplaced.pop()
            if budget <= 0:
                return bool(self._unplaced)
        return False

    def _ready(self, name: str) -> _Runs:
        runs = self._families[name]
        if not runs.ready:
            self._materialize(runs)
        return runs

    def _materialize(self, runs: _Runs) -> None:
        """Do at once what :meth:`load` left to do for a family."""
        if runs.pending is not None:
            while runs.pending:
                self._stage(runs, runs.pending.pop())
            self._finish(runs)
        if runs.unindexed is not None:
            while runs.unindexed:
                runs.lines_staged.extend(runs.unindexed.pop().entries())
            self._index(runs)

    @staticmethod
    def _stage(runs: _Runs, stored: StoredFamily) -> None:
        stored.compact()
        runs.staged.append((stored.first_key, stored))

    @staticmethod
    def _finish(runs: _Runs) -> None:
        runs.staged.sort(key=_KEY)
        runs.runs = SortedDict(runs.staged)
        placed = [stored for _, stored in runs.staged]
        runs.overlaps = sum(map(_overlap, placed, placed[1:]))
        runs.staged = []
        runs.pending = None
        _use(runs, None)
        if runs.overlaps:  # the per-series index: built by _index, in steps
            runs.unindexed = placed
            runs.lines_staged = []

    @staticmethod
    def _index(runs: _Runs) -> None:
        _use(runs, SortedDict(runs.lines_staged))
        runs.unindexed = None
        runs.lines_staged = []

    # -- the one mutation --------------------------------------------------------
    def replace_group(self, key: GroupingKey, new: Group | None) -> Group | None:
        """Store ``new`` under ``key`` (``None`` deletes); return the previous group."""
        old = self._groups.get(key)
        if old is new:
            return old
        old_families: Mapping[str, StoredFamily] = old.families if old is not None else {}
        new_families: Mapping[str, StoredFamily] = new.families if new is not None else {}
        added: list[StoredFamily] = []
        updated: list[tuple[StoredFamily, StoredFamily]] = []
        for name, stored in new_families.items():
            previous = old_families.get(name)
            if previous is stored or stored.empty:
                continue
            if previous is not None and not previous.empty and previous.same_series(stored):
                updated.append((previous, stored))
            else:
                added.append(stored)
        # Render first: if rendering fails, nothing has been changed yet.
        for stored in added:
            stored.first_key  # noqa: B018 - renders the lines and finds the keys
        in_place = {stored.name for _, stored in updated}
        for name, stored in old_families.items():
            if new_families.get(name) is not stored and name not in in_place:
                self._remove_run(key, stored)
        now = time.monotonic()
        for previous, stored in updated:
            self._replace_run(key, previous, stored, now)
        for stored in added:
            self._add_run(key, stored)
        if new is None:
            del self._groups[key]
            self._sorted_keys = None
            self._remove_shape(key)
        else:
            if old is None:
                self._sorted_keys = None
                self._add_shape(key)
            self._groups[key] = new
        self.version += 1
        for listener in self._listeners:
            listener(key, old, new)
        # New series are compacted at once; a re-push of the same series is
        # left as it is for a while (see compact_stale): a group pushed again
        # soon is then compared and rendered without parsing its lines back.
        for stored in added:
            stored.compact()
        for _, stored in updated:
            stored.forget_basis()
        return old

    def compact_stale(self, older_than: float, budget: int = 2000) -> bool:
        """Compact about ``budget`` families re-pushed more than
        ``older_than`` seconds ago (see :mod:`pushgate.store.stored`).

        Returns True when some are left that are old enough. Small steps,
        so that a caller on the event loop can serve requests between them.
        """
        limit = time.monotonic() - older_than
        for name in list(self._stale_names):
            runs = self._families.get(name)
            if runs is None or not runs.stale:
                self._stale_names.discard(name)
                continue
            stale = runs.stale
            while stale and budget > 0:
                key, pushed = next(iter(stale.items()))
                if pushed > limit:
                    break
                del stale[key]
                self._groups[key].families[name].compact()
                budget -= 1
            if not stale:
                self._stale_names.discard(name)
            if budget <= 0:
                return True
        return False

    def _add_shape(self, key: GroupingKey) -> None:
        shape = tuple([n for n, _ in key])
        self._shapes[shape] = self._shapes.get(shape, 0) + 1

    def _remove_shape(self, key: GroupingKey) -> None:
        shape = tuple([n for n, _ in key])
        left = self._shapes[shape] - 1
        if left:
            self._shapes[shape] = left
        else:
            del self._shapes[shape]

    def _replace_run(
        self, key: GroupingKey, previous: StoredFamily, stored: StoredFamily, now: float
    ) -> None:
        """A re-push with the same series: the run keeps its place."""
        name = stored.name
        runs = self._ready(name)
        stale = runs.stale
        if stale.pop(key, None) is None:  # else to the end: the newest re-push
            self._stale_names.add(name)
        stale[key] = now
        first = previous.first_key
        # The key exists already: set the value only, past SortedDict's
        # membership test and insort (its values live in the dict itself).
        dict.__setitem__(runs.runs, first, stored)
        runs.block = runs.block_gz = runs.block_pb = None
        lines = runs.lines
        if lines is None:
            _chunk_changed(runs, first)
            return
        for sort_key, text in stored.entries():
            dict.__setitem__(lines, sort_key, text)
            _chunk_changed(runs, sort_key)

    def _add_run(self, key: GroupingKey, stored: StoredFamily) -> None:
        name = stored.name
        runs = self._families.get(name)
        if runs is None:
            runs = _Runs(stored.type)
            self._families[name] = runs
            self._names.add(name)
        elif not runs.ready:
            self._materialize(runs)
        elif runs.type != stored.type and not runs.count:
            runs.type = stored.type
        runs.count += 1
        runs.block = runs.block_gz = runs.block_pb = None
        mapping = runs.runs
        first = stored.first_key
        i = mapping.bisect_left(first)
        before = mapping.peekitem(i - 1)[1] if i > 0 else None
        after = mapping.peekitem(i)[1] if i < len(mapping) else None
        if before is not None and after is not None:
            runs.overlaps -= _overlap(before, after)
        if before is not None:
            runs.overlaps += _overlap(before, stored)
        if after is not None:
            runs.overlaps += _overlap(stored, after)
        mapping[first] = stored
        if runs.lines is not None:
            entries = stored.entries()
            runs.lines.update(entries)
            _entries_added(runs, [sort_key for sort_key, _ in entries])
        elif runs.overlaps:
            _use(runs, _all_lines(runs))
        else:
            _entries_added(runs, (first,))

    def _remove_run(self, key: GroupingKey, stored: StoredFamily) -> None:
        if stored.empty:
            return
        name = stored.name
        runs = self._ready(name)
        runs.count -= 1
        runs.stale.pop(key, None)
        runs.block = runs.block_gz = runs.block_pb = None
        mapping = runs.runs
        first = stored.first_key
        i = mapping.index(first)
        before = mapping.peekitem(i - 1)[1] if i > 0 else None
        after = mapping.peekitem(i + 1)[1] if i + 1 < len(mapping) else None
        if before is not None:
            runs.overlaps -= _overlap(before, stored)
        if after is not None:
            runs.overlaps -= _overlap(stored, after)
        if before is not None and after is not None:
            runs.overlaps += _overlap(before, after)
        del mapping[first]
        lines = runs.lines
        if lines is None:
            _entries_removed(runs, (first,))
        elif not runs.overlaps:
            _use(runs, None)
        else:
            keys = [sort_key for sort_key, _ in stored.entries()]
            for sort_key in keys:
                del lines[sort_key]
            _entries_removed(runs, keys)
        if not runs.count:
            del self._families[name]
            self._names.remove(name)

    def __iter__(self) -> Iterator[Group]:
        return iter(self._groups.values())
