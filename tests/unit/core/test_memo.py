"""BoundedMemo keeps what it may, never more than it may, and never errors."""

from __future__ import annotations

import pytest

from pushgate.core.memo import BoundedMemo


def test_values_are_remembered_within_the_bounds() -> None:
    made: list[str] = []

    def make(key: str) -> str:
        made.append(key)
        if key == "bad":
            raise ValueError(key)
        return key * 2

    memo = BoundedMemo(make, entries=3, keep=lambda key, value: len(value) <= 10)
    assert memo("ab") == "abab" and memo("ab") == "abab"
    assert made == ["ab"]  # the second call was remembered
    long_key = "x" * 20
    assert memo(long_key) == long_key * 2 and memo(long_key) == long_key * 2
    assert made.count(long_key) == 2  # not kept: made each time
    for _ in range(2):
        with pytest.raises(ValueError):
            memo("bad")
    assert made.count("bad") == 2  # errors are not remembered
    for key in "cdefg":
        memo(key)
    assert len(memo.values) <= 3
