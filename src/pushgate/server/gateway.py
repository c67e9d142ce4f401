"""What every request handler shares: settings, the store, own metrics."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from pushgate.core.model import MetricFamily
from pushgate.server.selfmetrics import SelfMetrics
from pushgate.server.settings import Settings
from pushgate.store.journaled import JournaledStore


@dataclass
class Gateway:
    """The running gateway's shared objects (one per process)."""

    settings: Settings
    store: JournaledStore
    metrics: SelfMetrics = field(default_factory=SelfMetrics)
    start_time: float = field(default_factory=time.time)
    quit_requested: asyncio.Event = field(default_factory=asyncio.Event)

    def own_families(self) -> list[MetricFamily]:
        return self.metrics.families()
