"""Series limits the store enforces: per group, per job and in total.

A series here is what Prometheus counts after a scrape: one sample line of
the exposition. A counter, gauge or untyped metric is one series; a summary
is one per quantile plus ``_sum`` and ``_count``; a histogram one per bucket
(``+Inf`` included) plus ``_sum`` and ``_count``. Every group also holds its
two ``push_*`` gauges.

:class:`SeriesUsage` keeps the counts incrementally from the state's change
listener (a push costs what it changes), and :meth:`SeriesUsage.check`
refuses a write that would exceed a limit with a
:class:`~pushgate.core.errors.LimitError` before anything is applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pushgate.core.errors import LimitError
from pushgate.core.model import GroupingKey
from pushgate.store.contract import Group, StoredFamily
from pushgate.store.stored import family_samples as family_samples


def group_samples(group: Group) -> int:
    return sum(s.samples for s in group.families.values())


def job_of(key: GroupingKey) -> str:
    for name, value in key:
        if name == "job":
            return value
    return ""


def _render_key(key: GroupingKey) -> str:
    return "{" + ",".join(f'{n}="{v}"' for n, v in key) + "}"


@dataclass(frozen=True, slots=True)
class SeriesLimits:
    """Maximum series per group, per job and in the whole store (``None``: no limit)."""

    per_group: int | None = None
    per_job: int | None = None
    total: int | None = None


_NO_LIMITS = SeriesLimits()


class SeriesUsage:
    """Series counts per group, per job and in total, updated on every change."""

    def __init__(self) -> None:
        self.total = 0
        self.by_job: dict[str, int] = {}
        self._by_group: dict[GroupingKey, int] = {}

    @staticmethod
    def _delta(old: Mapping[str, StoredFamily], new: Mapping[str, StoredFamily]) -> int:
        delta = 0
        for name, stored in new.items():
            if old.get(name) is not stored:
                delta += stored.samples
        for name, stored in old.items():
            if new.get(name) is not stored:
                delta -= stored.samples
        return delta

    def group_replaced(self, key: GroupingKey, old: Group | None, new: Group | None) -> None:
        delta = self._delta(
            old.families if old is not None else {}, new.families if new is not None else {}
        )
        if not delta and (old is None) == (new is None):
            return
        job = job_of(key)
        self.total += delta
        job_count = self.by_job.get(job, 0) + delta
        if job_count:
            self.by_job[job] = job_count
        else:
            self.by_job.pop(job, None)
        if new is None:
            self._by_group.pop(key, None)
        else:
            self._by_group[key] = self._by_group.get(key, 0) + delta

    def of_group(self, key: GroupingKey) -> int:
        return self._by_group.get(key, 0)

    def check(
        self,
        key: GroupingKey,
        old: Group | None,
        new: Group | None,
        freed: Sequence[GroupingKey],
        limits: SeriesLimits,
    ) -> None:
        """Raise :class:`LimitError` if replacing ``old`` by ``new`` exceeds a limit.

        ``freed`` are groups the same write deletes (retention by count); their
        series are counted as gone.
        """
        if new is None or limits == _NO_LIMITS:
            return
        delta = self._delta(old.families if old is not None else {}, new.families)
        if delta <= 0:
            return  # a write that does not grow the store is always allowed
        after = self.of_group(key) + delta
        if limits.per_group is not None and after > limits.per_group:
            raise LimitError(
                f"the push would make group {_render_key(key)} hold {after} series, more than"
                f" max_series_per_group ({limits.per_group}); push fewer series per group or"
                " split them over more grouping keys; nothing was stored",
                reason="series_per_group",
                status=413,
            )
        job = job_of(key)
        if limits.per_job is not None:
            freed_here = sum(self.of_group(k) for k in freed if job_of(k) == job)
            now = self.by_job.get(job, 0)
            if now + delta - freed_here > limits.per_job:
                raise LimitError(
                    f"job {job!r} holds {now} series and the push adds {delta}, more than"
                    f" max_series_per_job ({limits.per_job}); delete old groups of this job"
                    " or ask the operator for a higher limit; nothing was stored",
                    reason="series_per_job",
                    status=429,
                )
        if limits.total is not None:
            freed_all = sum(self.of_group(k) for k in freed)
            if self.total + delta - freed_all > limits.total:
                raise LimitError(
                    f"the gateway holds {self.total} series and the push adds {delta}, more"
                    f" than max_series_total ({limits.total}); nothing was stored",
                    reason="series_total",
                    status=429,
                )
