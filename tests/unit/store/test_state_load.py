"""State.load (lazy, bulk) gives exactly the state that writes one by one give."""

from __future__ import annotations

from pushgate.core.model import GroupingKey, Metric, MetricFamily
from pushgate.store.contract import Group, StoredFamily
from pushgate.store.rules import sanitise
from pushgate.store.state import State


def make_group(job: str, instance: str, values: dict[str, float], extra: str = "") -> Group:
    key: GroupingKey = (("instance", instance), ("job", job))
    families = [
        MetricFamily(
            "tests",
            "gauge",
            "Tests.",
            tuple(Metric((("status", s),), value=float(v)) for s, v in values.items()),
        ),
        MetricFamily("push_time_seconds", "gauge", "t", (Metric((), value=1.0),)),
    ]
    if extra:
        families.append(MetricFamily(extra, "counter", None, (Metric((), value=3.0),)))
    return Group(key, {f.name: StoredFamily(sanitise(f, key), 1.0) for f in families})


GROUPS = [
    make_group("a", "1", {"passed": 3, "failed": 1}),
    make_group("a", "2", {"passed": 5}, extra="runs_total"),
    make_group("b", "1", {"passed": 1, "skipped": 2, "error": 0}),
]


def built_one_by_one() -> State:
    state = State()
    for group in GROUPS:
        state.replace_group(group.key, group)
    return state


def snapshot(state: State) -> dict[str, object]:
    return {
        "blocks": {name: state.family_block(name) for name in state.family_names()},
        "owners": {
            # Asked for by a writer of other label names: every owner is found.
            (name, m.labels): state.series_owner(name, m.labels, (("job", "elsewhere"),))
            for g in GROUPS
            for name, s in g.families.items()
            for m in s.family.metrics
        },
        "types": {name: state.family_type(name) for name in state.family_names()},
    }


def test_lazy_load_equals_writes() -> None:
    loaded = State()
    loaded.load(GROUPS)
    assert snapshot(loaded) == snapshot(built_one_by_one())


def test_warm_up_renders_everything_and_changes_nothing() -> None:
    loaded = State()
    loaded.load(GROUPS)
    rounds = 0
    while loaded.warm_up(budget=2):  # tiny steps: families are rendered across calls
        rounds += 1
    assert rounds >= len(loaded.family_names())
    assert snapshot(loaded) == snapshot(built_one_by_one())


def test_writes_after_a_lazy_load() -> None:
    loaded = State()
    loaded.load(GROUPS)
    reference = built_one_by_one()
    # A re-push with the same series (updated in place), one with new series,
    # and a delete, each before the family was rendered.
    for state in (loaded, reference):
        state.replace_group(GROUPS[0].key, make_group("a", "1", {"passed": 4, "failed": 0}))
        state.replace_group(GROUPS[2].key, make_group("b", "1", {"passed": 9}))
        state.replace_group(GROUPS[1].key, None)
    assert snapshot(loaded) == snapshot(reference)
    assert "runs_total" not in loaded.family_names()


def test_writes_in_the_middle_of_the_warm_up() -> None:
    loaded = State()
    loaded.load(GROUPS)
    assert loaded.warm_up(budget=1)  # a family is now half rendered
    reference = built_one_by_one()
    for state in (loaded, reference):
        state.replace_group(GROUPS[0].key, make_group("a", "1", {"passed": 7, "failed": 2}))
        state.replace_group(GROUPS[1].key, make_group("a", "2", {"passed": 1}))
    while loaded.warm_up(budget=1):
        pass
    assert snapshot(loaded) == snapshot(reference)
