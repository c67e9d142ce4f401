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
from collections.abc import Mapping, Sequence

from prometheus_client import ProcessCollector
from prometheus_client.registry import CollectorRegistry

from pushgate import __version__
from pushgate.core.model import Metric, MetricFamily, MetricType
from pushgate.store.policy import StoreUsage

REQUESTS_HELP = "Total HTTP requests processed by the Pushgateway, excluding scrapes."
DURATION_HELP = "HTTP request duration for pushes to the Pushgateway."
SIZE_HELP = "HTTP request size for pushes to the Pushgateway."
BUILD_HELP = (
    "A metric with a constant '1' value labeled by version, revision, branch, goversion from"
    " which pushgateway was built, and the goos and goarch for the build."
)
STALE_HELP = (
    "1 while the gateway cannot reach its shared store (Redis) and serves the last"
    " state it knew; 0 when it is in sync."
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
    "pushgate_store_stale": "gauge",
    # Expiry, retention and limits (exposed when --config.file is given).
    "pushgate_limit_rejections_total": "counter",
    "pushgate_limit": "gauge",
    "pushgate_stored_groups": "gauge",
    "pushgate_stored_series": "gauge",
    "pushgate_job_series": "gauge",
    "pushgate_groups_expiring": "gauge",
    "pushgate_next_expiry_timestamp_seconds": "gauge",
    "pushgate_groups_expired_total": "counter",
    "pushgate_groups_retained_deleted_total": "counter",
    "pushgate_config_last_reload_successful": "gauge",
    "pushgate_config_last_reload_success_timestamp_seconds": "gauge",
}


def store_stale_family(stale: bool) -> MetricFamily:
    """``pushgate_store_stale``, exposed by replicas of a shared store only."""
    metric = Metric(labels=(), value=1.0 if stale else 0.0)
    return MetricFamily("pushgate_store_stale", "gauge", STALE_HELP, (metric,))


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
        durations = self.durations.get(m)
        if durations is None:
            durations = self.durations[m] = _Window()
            self.sizes[m] = _Window()
        durations.observe(seconds, now)
        self.sizes[m].observe(float(size), now)

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


def _gauge(
    name: str, help_: str, value: float, labels: tuple[tuple[str, str], ...] = ()
) -> MetricFamily:
    return MetricFamily(name, OWN_TYPES[name], help_, (Metric(labels=labels, value=float(value)),))


def policy_families(
    usage: StoreUsage,
    rejections: Mapping[str, int],
    limits: Sequence[tuple[str, float]],
    reload_successful: bool,
    reload_time: float,
) -> list[MetricFamily]:
    """Expiry, retention and limit metrics (docs/retention.md).

    ``rejections`` holds every reason, refused or not, so that each series
    exists from the start (``rate()`` needs the zero). ``limits`` are the
    configured limits by their config-file names.
    """
    out = [
        MetricFamily(
            "pushgate_limit_rejections_total",
            "counter",
            "Requests refused by a configured limit, by limit; nothing of them was stored.",
            tuple(
                Metric(labels=(("reason", reason),), value=float(n))
                for reason, n in sorted(rejections.items())
            ),
        ),
        MetricFamily(
            "pushgate_limit",
            "gauge",
            "Configured limits, by their name in the config file.",
            tuple(Metric(labels=(("limit", name),), value=v) for name, v in sorted(limits)),
        ),
        _gauge(
            "pushgate_stored_groups",
            "Groups stored (expired ones included until swept).",
            usage.groups,
        ),
        _gauge(
            "pushgate_stored_series",
            "Series stored, as Prometheus counts them after a scrape.",
            usage.series_total,
        ),
        MetricFamily(
            "pushgate_job_series",
            "gauge",
            "Series stored per pushed job (the label is pushed_job: a scrape with honor_labels"
            " would otherwise take it for the target's job).",
            tuple(
                Metric(labels=(("pushed_job", job),), value=float(n))
                for job, n in sorted(usage.series_by_job.items())
            ),
        ),
        _gauge(
            "pushgate_groups_expiring", "Groups that have an expiry time.", usage.groups_expiring
        ),
        _gauge(
            "pushgate_groups_expired_total",
            "Groups deleted because they expired.",
            usage.expired_total,
        ),
        _gauge(
            "pushgate_groups_retained_deleted_total",
            "Groups deleted by retention by count (newer groups of the same labels replaced them).",
            usage.retention_deleted_total,
        ),
        _gauge(
            "pushgate_config_last_reload_successful",
            "Whether the last config (re)load succeeded (1) or was refused (0).",
            1.0 if reload_successful else 0.0,
        ),
        _gauge(
            "pushgate_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config (re)load.",
            reload_time,
        ),
    ]
    if usage.next_expiry is not None:
        out.append(
            _gauge(
                "pushgate_next_expiry_timestamp_seconds",
                "Unix time at which the next group expires.",
                usage.next_expiry,
            )
        )
    return out
