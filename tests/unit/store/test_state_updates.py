"""Re-pushes with the same series update lines when they are next read.

Whatever the order of re-pushes, replacements, deletions and reads, the
blocks a state serves equal those of a state built from scratch with the
final groups.
"""

from __future__ import annotations

import gzip

from hypothesis import given, settings
from hypothesis import strategies as st

from pushgate.core.model import GroupingKey, Metric, MetricFamily
from pushgate.core.protobuf import render_delimited
from pushgate.store.contract import Group, StoredFamily
from pushgate.store.rules import sanitise
from pushgate.store.state import State


def group(instance: str, value: float, shape: int, pushed_at: float = 1.0) -> Group:
    key: GroupingKey = (("instance", instance), ("job", "j"))
    statuses = ["passed", "failed", "skipped"][: 1 + shape % 3]
    families = [
        MetricFamily(
            "tests",
            "gauge",
            f"Tests ({shape}).",
            tuple(Metric((("status", s),), value=value + i) for i, s in enumerate(statuses)),
        ),
        MetricFamily(
            "latency",
            "histogram",
            None,
            (
                Metric(
                    (),
                    sample_count=int(value) % 7,
                    sample_sum=value,
                    buckets=((0.5, int(value) % 3), (float("inf"), int(value) % 7)),
                ),
            ),
        ),
        MetricFamily(
            "size",
            "summary",
            None,
            (Metric((), sample_count=2, sample_sum=value, quantiles=((0.5, value),)),),
        ),
    ]
    return Group(key, {f.name: StoredFamily(sanitise(f, key), pushed_at) for f in families})


def blocks(state: State) -> dict[str, bytes]:
    """Each family's block; its gzip form must always decompress to it, and
    its cached protobuf form must be the encoding of the merged family."""
    out = {}
    for name in state.family_names():
        out[name] = state.family_block(name)
        assert gzip.decompress(state.family_block_gz(name)) == out[name], name
        assert state.family_delimited(name) == render_delimited([state.merged_family(name)])
    return out


steps = st.lists(
    st.tuples(
        st.sampled_from(["1", "2", "3"]),
        st.none() | st.floats(min_value=0, max_value=1e9, allow_nan=False),
        st.integers(min_value=0, max_value=5),
        st.booleans(),
    ),
    max_size=30,
)


@settings(max_examples=200)
@given(steps)
def test_lazily_updated_lines_equal_a_fresh_render(
    script: list[tuple[str, float | None, int, bool]],
) -> None:
    state = State()
    final: dict[GroupingKey, Group] = {}
    # Each push is later than the one before (the newest HELP wins).
    for pushed_at, (instance, value, shape, read) in enumerate(script):
        new = None if value is None else group(instance, value, shape, float(pushed_at))
        key: GroupingKey = (("instance", instance), ("job", "j"))
        state.replace_group(key, new)
        if new is None:
            final.pop(key, None)
        else:
            final[key] = new
        if read:
            blocks(state)
    fresh = State()
    for key, g in final.items():
        fresh.replace_group(key, g)
    assert blocks(state) == blocks(fresh)


def test_a_re_push_shows_its_new_values_at_the_next_read() -> None:
    state = State()
    first = group("1", 1.0, 0)
    state.replace_group(first.key, first)
    assert b'tests{instance="1",job="j",status="passed"} 1\n' in state.family_block("tests")
    again = group("1", 42.0, 0)
    state.replace_group(again.key, again)
    assert b'tests{instance="1",job="j",status="passed"} 42\n' in state.family_block("tests")
    assert b'latency_sum{instance="1",job="j"} 42\n' in state.family_block("latency")


def test_sanitised_labels_depend_on_the_key_and_are_shared() -> None:
    family = MetricFamily("m", "gauge", None, (Metric((("instance", "body"), ("a", "1")), 1.0),))
    first = sanitise(family, (("job", "x"),))
    second = sanitise(family, (("instance", "url"), ("job", "y")))
    assert first.metrics[0].labels == (("a", "1"), ("instance", "body"), ("job", "x"))
    assert second.metrics[0].labels == (("a", "1"), ("instance", "url"), ("job", "y"))
    # The same label set under the same key is the very same tuple again.
    assert sanitise(family, (("job", "x"),)).metrics[0].labels is first.metrics[0].labels


def test_sanitise_remembers_a_bounded_number_of_label_sets() -> None:
    from pushgate.store import rules

    key = (("job", "bounded"),)
    for i in range(3 * rules._MEMO_PER_KEY):
        sanitise(MetricFamily("m", "gauge", None, (Metric((("i", str(i)),), 1.0),)), key)
    assert len(rules._SANITISED) <= rules._MEMO_KEYS
    assert all(len(memo) <= rules._MEMO_PER_KEY + 1 for memo in rules._SANITISED.values())


def test_gzip_chunks_follow_many_changes_in_a_large_family() -> None:
    """Enough series for many chunks; pushes, replacements and deletions in
    between gzip reads must leave the gzip body equal to the text."""
    from pushgate.store import state as state_module

    state = State()
    groups = 300  # 3 series each: ~900 lines, several chunks with small chunks
    original = state_module.CHUNK_RUNS
    state_module.CHUNK_RUNS = 16
    try:
        for i in range(groups):
            g = group(str(i), float(i), 2, float(i))
            state.replace_group(g.key, g)
        blocks(state)
        assert len(state._families["tests"].bounds) > 5
        for step in range(groups, 3 * groups, 7):
            i = step % groups
            key: GroupingKey = (("instance", str(i)), ("job", "j"))
            if step % 3 == 0:
                state.replace_group(key, None)
            else:
                g = group(str(i), float(step), step % 5, float(step))
                state.replace_group(key, g)
            if step % 4 == 0:
                blocks(state)
        blocks(state)
    finally:
        state_module.CHUNK_RUNS = original


def test_gzip_chunks_of_a_loaded_state() -> None:
    from pushgate.store import state as state_module

    original = state_module.CHUNK_RUNS
    state_module.CHUNK_RUNS = 16
    try:
        loaded = State()
        loaded.load([group(str(i), float(i), 2, float(i)) for i in range(200)])
        blocks(loaded)
        assert len(loaded._families["tests"].bounds) > 5
        for i in range(0, 200, 9):
            g = group(str(i), 1000.0 + i, 2, 1000.0 + i)  # same series: updated in place
            loaded.replace_group(g.key, g)
        blocks(loaded)
    finally:
        state_module.CHUNK_RUNS = original
