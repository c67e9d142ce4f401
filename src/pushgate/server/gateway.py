"""What every request handler shares: settings, the store, own metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pushgate.core.model import GroupingKey, MetricFamily
from pushgate.server.auth import AccessControl
from pushgate.server.config import ConfigStatus
from pushgate.server.limits import REASONS, Limiter, configured_limits
from pushgate.server.selfmetrics import SelfMetrics, policy_families, store_stale_family
from pushgate.server.settings import Settings
from pushgate.store.contract import Group
from pushgate.store.journaled import JournaledStore


@dataclass
class Gateway:
    """The running gateway's shared objects (one per process)."""

    settings: Settings
    store: JournaledStore
    metrics: SelfMetrics = field(default_factory=SelfMetrics)
    start_time: float = field(default_factory=time.time)
    quit_requested: asyncio.Event = field(default_factory=asyncio.Event)
    #: Who may do what (``--web.config.file``); open to everyone without one.
    access: AccessControl = field(default_factory=AccessControl)
    #: grouping key -> (group, its /api/v1/metrics JSON): groups are immutable,
    #: so a group's JSON is rebuilt only when the group object changes.
    api_cache: dict[GroupingKey, tuple[Group, bytes]] = field(default_factory=dict)
    #: Request limits of the config file in force (``--config.file``), and its status.
    limits: Limiter = field(default_factory=Limiter)
    config: ConfigStatus = field(default_factory=ConfigStatus)
    #: The time a push is stamped with; the store's expiry clock is the same one.
    clock: Callable[[], float] = time.time

    def own_families(self) -> list[MetricFamily]:
        families = self.metrics.families()
        # Only a store shared through Redis can lag behind; a single-node
        # gateway keeps exactly the official families.
        stale = getattr(self.store, "stale", None)
        if isinstance(stale, bool):
            families.append(store_stale_family(stale))
        if self.config.path:  # without a config file: exactly the official families
            families.extend(self._policy_families())
        return families

    def _policy_families(self) -> list[MetricFamily]:
        usage = self.store.usage()
        rejections = dict.fromkeys(REASONS, 0)
        rejections.update(self.limits.rejections)
        for reason, n in usage.rejections.items():
            rejections[reason] = rejections.get(reason, 0) + n
        series = self.store.policy.limits
        limits = configured_limits(self.limits.limits) + [
            (f"max_series_{name}", float(value))
            for name, value in (
                ("per_group", series.per_group),
                ("per_job", series.per_job),
                ("total", series.total),
            )
            if value is not None
        ]
        return policy_families(
            usage,
            rejections,
            limits,
            self.config.last_reload_successful,
            self.config.last_success_time,
        )
