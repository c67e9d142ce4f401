"""The gateway's own metrics, with the official names, types, labels and help.

``pushgateway_http_requests_total``, ``pushgateway_http_push_duration_seconds``
and ``pushgateway_http_push_size_bytes`` are kept here; ``process_*`` come
from prometheus_client's process collector; ``pushgateway_build_info`` is
constant. Their names and types also feed the store's consistency check (a
pushed family may not change the type of an own metric).
"""

from __future__ import annotations

import math
import platform
import time
from collections import deque
from collections.abc import Mapping

from prometheus_client import ProcessCollector
from prometheus_client.registry import CollectorRegistry

from pushgate import __version__
from pushgate.core.model import Metric, MetricFamily, MetricType

REQUESTS_HELP = "Total HTTP requests processed by the Pushgateway, excluding scrapes."
DURATION_HELP = "HTTP request duration for pushes to the Pushgateway."
SIZE_HELP = "HTTP request size for pushes to the Pushgateway."
BUILD_HELP = (
    "A metric with a constant '1' value labeled by version, revision, branch, goversion from"
    " which pushgateway was built, and the goos and goarch for the build."
)
OBJECTIVES = (0.1, 0.5, 0.9)
MAX_AGE_SECONDS = 600.0
MAX_WINDOW = 10_000

OWN_TYPES: Mapping[str, MetricType] = {
    "process_cpu_seconds_total": "counter",
    "process_max_fds": "gauge",
    "process_open_fds": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_start_time_seconds": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "pushgateway_build_info": "gauge",
    "pushgateway_http_push_duration_seconds": "summary",
    "pushgateway_http_push_size_bytes": "summary",
    "pushgateway_http_requests_total": "counter",
}


class _Window:
    """Observations of the last ten minutes, for the summaries' quantiles."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, float]] = deque(maxlen=MAX_WINDOW)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float, now: float) -> None:
        self.samples.append((now, value))
        self.count += 1
        self.sum += value

    def quantiles(self, now: float) -> tuple[tuple[float, float], ...]:
        while self.samples and self.samples[0][0] < now - MAX_AGE_SECONDS:
            self.samples.popleft()
        values = sorted(v for _, v in self.samples)
        if not values:
            return tuple((q, math.nan) for q in OBJECTIVES)
        return tuple((q, values[min(len(values) - 1, int(q * len(values)))]) for q in OBJECTIVES)


class SelfMetrics:
    """Counters and summaries the HTTP layer updates, rendered as model families."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        self.durations: dict[str, _Window] = {}
        self.sizes: dict[str, _Window] = {}
        registry = CollectorRegistry(auto_describe=False)
        self._process = ProcessCollector(registry=registry)
        self._build = Metric(
            labels=(
                ("branch", ""),
                ("goarch", platform.machine()),
                ("goos", platform.system().lower()),
                ("goversion", "python" + platform.python_version()),
                ("revision", ""),
                ("version", __version__),
            ),
            value=1.0,
        )

    def count_request(self, code: int, handler: str, method: str) -> None:
        k = (str(code), handler, method.lower())
        self.requests[k] = self.requests.get(k, 0) + 1

    def observe_push(self, method: str, seconds: float, size: int) -> None:
        now = time.time()
        m = method.lower()
        self.durations.setdefault(m, _Window()).observe(seconds, now)
        self.sizes.setdefault(m, _Window()).observe(float(size), now)

    def _summary(
        self, name: str, help_: str, windows: dict[str, _Window], now: float
    ) -> MetricFamily:
        metrics = tuple(
            Metric(
                labels=(("method", m),),
                sample_count=w.count,
                sample_sum=w.sum,
                quantiles=w.quantiles(now),
            )
            for m, w in sorted(windows.items())
        )
        return MetricFamily(name, "summary", help_, metrics)

    def families(self) -> list[MetricFamily]:
        """The own families, each with its official help; empty ones included."""
        now = time.time()
        out = [
            MetricFamily("pushgateway_build_info", "gauge", BUILD_HELP, (self._build,)),
            MetricFamily(
                "pushgateway_http_requests_total",
                "counter",
                REQUESTS_HELP,
                tuple(
                    Metric(labels=(("code", c), ("handler", h), ("method", m)), value=float(n))
                    for (c, h, m), n in sorted(self.requests.items())
                ),
            ),
            self._summary(
                "pushgateway_http_push_duration_seconds", DURATION_HELP, self.durations, now
            ),
            self._summary("pushgateway_http_push_size_bytes", SIZE_HELP, self.sizes, now),
        ]
        for collected in self._process.collect():
            for sample in collected.samples:
                t: MetricType = OWN_TYPES.get(sample.name, "gauge")
                out.append(
                    MetricFamily(
                        sample.name,
                        t,
                        collected.documentation,
                        (Metric(labels=(), value=float(sample.value)),),
                    )
                )
        return out
