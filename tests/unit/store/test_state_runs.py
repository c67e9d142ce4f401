"""The state's runs of lines, checked against a plain merge of every metric.

Each group's family is one run of lines placed by its first sort key. These
tests make groups whose series interleave (a label that sorts before the
grouping labels), the gateway's own metrics falling among or inside runs,
re-pushes, deletions and compaction in any order, and compare every block
with the one a metric-by-metric merge gives. They also compare
:meth:`State.series_owner` with a search of every group, for grouping keys of
several label-name sets.
"""

from __future__ import annotations

import gzip

from hypothesis import given, settings
from hypothesis import strategies as st

from pushgate.core.model import GroupingKey, Metric, MetricFamily
from pushgate.core.protobuf import render_delimited
from pushgate.core.textformat import metric_sort_key, render_family_header, render_metric
from pushgate.store.contract import Group, StoredFamily
from pushgate.store.rules import sanitise
from pushgate.store.state import State

KEYS: list[GroupingKey] = [
    (("instance", "1"), ("job", "j")),
    (("instance", "2"), ("job", "j")),
    (("instance", "3"), ("job", "j")),
    (("job", "j"),),
    (("branch", "main"), ("job", "j")),
]


def make_group(key: GroupingKey, spots: list[int], value: float, pushed_at: float) -> Group:
    """A group with a gauge whose ``a`` label (sorting before the grouping
    labels) takes the values ``spots``: runs of several groups interleave."""
    gauge = MetricFamily(
        "spot",
        "gauge",
        f"Spots at {pushed_at}.",
        tuple(Metric((("a", f"{s:02d}"),), value=value + s) for s in spots),
    )
    hist = MetricFamily(
        "lat",
        "histogram",
        None,
        (Metric((), sample_count=3, sample_sum=value, buckets=((1.0, 1), (float("inf"), 3))),),
    )
    return Group(key, {f.name: StoredFamily(sanitise(f, key), pushed_at) for f in (gauge, hist)})


def reference(
    groups: dict[GroupingKey, Group],
    name: str,
    extra: tuple[Metric, ...] = (),
    help_override: str | None = None,
) -> bytes:
    """The family's block from every metric, sorted (the official gateway's way)."""
    families = [
        g.families[name]
        for g in groups.values()
        if name in g.families and not g.families[name].empty
    ]
    newest = max(families, key=lambda s: s.last_push)
    items = [(metric_sort_key(m), render_metric(name, newest.type, m)) for m in extra]
    for stored in families:
        items.extend(
            (metric_sort_key(m), render_metric(name, stored.type, m)) for m in stored.family.metrics
        )
    items.sort(key=lambda kv: kv[0])
    help_ = newest.help if help_override is None else help_override
    return render_family_header(name, newest.type, help_) + b"".join(t for _, t in items)


steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=len(KEYS) - 1),
        st.none() | st.lists(st.integers(min_value=0, max_value=30), max_size=4, unique=True),
        st.sampled_from(["read", "compact", "nothing"]),
    ),
    max_size=25,
)
own_spots = st.lists(st.integers(min_value=0, max_value=30), max_size=2, unique=True)


@settings(max_examples=300)
@given(steps, own_spots)
def test_runs_give_the_blocks_of_a_full_merge(
    script: list[tuple[int, list[int] | None, str]], own: list[int]
) -> None:
    state = State()
    groups: dict[GroupingKey, Group] = {}
    for pushed_at, (i, spots, then) in enumerate(script):
        key = KEYS[i]
        taken = {
            m.labels
            for k, g in groups.items()
            if k != key
            for m in g.families["spot"].family.metrics
        }
        if spots is None:
            state.replace_group(key, None)
            groups.pop(key, None)
        else:
            group = make_group(key, sorted(spots), float(pushed_at), float(pushed_at))
            if any(m.labels in taken for m in group.families["spot"].family.metrics):
                continue  # the consistency check would refuse it
            state.replace_group(key, group)
            groups[key] = group
        if then == "compact":
            state.compact_stale(older_than=0.0)
        elif then == "read":
            for name in state.family_names():
                state.family_block(name)
                state.family_block_gz(name)
                state.family_delimited(name)
    extra = tuple(Metric((("a", f"{s:02d}"), ("job", "own")), 0.5) for s in own)
    for name in ("spot", "lat"):
        if not any(name in g.families and not g.families[name].empty for g in groups.values()):
            assert name not in state.family_names()
            continue
        block = state.family_block(name)
        assert block == reference(groups, name)
        assert gzip.decompress(state.family_block_gz(name)) == block
        assert state.family_delimited(name) == render_delimited([state.merged_family(name)])
        assert state.family_block(name, "own help", extra) == reference(
            groups, name, extra, "own help"
        )
        merged = state.merged_family(name)
        assert [metric_sort_key(m) for m in merged.metrics] == sorted(
            metric_sort_key(m)
            for g in groups.values()
            if name in g.families
            for m in g.families[name].family.metrics
        )


@settings(max_examples=200)
@given(steps)
def test_series_owner_finds_what_a_search_of_every_group_finds(
    script: list[tuple[int, list[int] | None, str]],
) -> None:
    state = State()
    for pushed_at, (i, spots, _) in enumerate(script):
        key = KEYS[i]
        new = None if spots is None else make_group(key, spots, 1.0, float(pushed_at))
        state.replace_group(key, new)
    series = {
        m.labels for g in state for m in g.families["spot"].family.metrics if "spot" in g.families
    }
    # Also series nobody has, with the labels of each kind of key.
    series |= {(("a", "07"), *key) for key in KEYS}
    for writer in KEYS:
        # A writer's series always carry its grouping labels (rules.sanitise).
        for labels in (ls for ls in series if set(writer) <= set(ls)):
            expected = [
                g.key
                for g in state
                if g.key != writer
                and any(m.labels == labels for m in g.families["spot"].family.metrics)
            ]
            assert state.series_owner("spot", labels, writer) in (expected or [None])


def test_stale_families_are_compacted_once_old_enough() -> None:
    state = State()
    key = KEYS[0]
    state.replace_group(key, make_group(key, [1, 2], 1.0, 1.0))
    assert state.group(key) is not None
    assert all(s.compacted for s in state.group(key).families.values())  # type: ignore[union-attr]
    again = make_group(key, [1, 2], 5.0, 2.0)
    state.replace_group(key, again)
    # The same series again: kept as objects for a while.
    assert not any(s.compacted for s in again.families.values())
    assert not state.compact_stale(older_than=3600.0)
    assert not any(s.compacted for s in again.families.values())
    while state.compact_stale(older_than=0.0, budget=1):
        pass
    assert all(s.compacted for s in again.families.values())
    assert b'spot{a="01",instance="1",job="j"} 6\n' in state.family_block("spot")


def test_interleaving_runs_are_counted_and_merged() -> None:
    state = State()
    groups = {}
    for key, spots in ((KEYS[0], [1, 3]), (KEYS[1], [2]), (KEYS[2], [5, 6])):
        groups[key] = make_group(key, spots, 1.0, 1.0)
        state.replace_group(key, groups[key])
    # Instance 1's run (01..03) encloses instance 2's (02); instance 3's is apart.
    assert state._families["spot"].overlaps == 1
    assert state._families["spot"].lines is not None
    assert state.family_block("spot") == reference(groups, "spot")
    assert b'a="02",instance="2"' in state.family_block("spot").split(b"\n")[3]
    state.replace_group(KEYS[1], None)
    del groups[KEYS[1]]
    assert state._families["spot"].overlaps == 0
    assert state._families["spot"].lines is None
    assert state.family_block("spot") == reference(groups, "spot")


def test_a_loaded_state_indexes_interleaving_runs_in_steps() -> None:
    """After a load, the per-series index of an interleaving family is built
    across warm-up steps; a write in between finishes it first."""
    spots = {KEYS[0]: [1, 3, 9], KEYS[1]: [2, 4], KEYS[2]: [5, 6], KEYS[3]: [7]}
    groups = {key: make_group(key, s, 1.0, 1.0) for key, s in spots.items()}
    reference_state = State()
    for key, group in groups.items():
        reference_state.replace_group(key, group)
    loaded = State()
    loaded.load(list(groups.values()))
    half_built = False
    while loaded.warm_up(budget=1):
        spot = loaded._families["spot"]
        if spot.unindexed and len(spot.unindexed) < len(spots) and not half_built:
            half_built = True  # a re-push while the index is half built
            again = make_group(KEYS[2], [5, 6], 2.0, 2.0)
            for state in (loaded, reference_state):
                state.replace_group(KEYS[2], again)
    assert half_built
    assert loaded._families["spot"].lines is not None
    for name in ("spot", "lat"):
        assert loaded.family_block(name) == reference_state.family_block(name)
        assert loaded.family_delimited(name) == reference_state.family_delimited(name)
