"""Where a stored series' memory goes, by structure.

Pushes ``--groups`` groups of gwbench's 20-sample payload (counters, gauges,
a histogram and a summary) through the real write path (parse, plan, state)
and lists the allocation sites of what is still alive afterwards, in bytes
per series (tracemalloc), with the process RSS growth for comparison.

    python bench/memory.py --groups 5000
    python bench/memory.py --groups 5000 --scrape   # with the scrape caches built
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from pathlib import Path

from pushgate.core.textformat import parse_text
from pushgate.store.contract import WriteRequest
from pushgate.store.rules import plan_write
from pushgate.store.state import State


def payload(samples: int, seq: int) -> bytes:
    """gwbench's body of ``samples`` samples (20: 4 counters, 4 gauges, a
    4-bucket histogram, a summary with 3 quantiles)."""
    lines = [
        "# HELP bench_jobs_processed_total Jobs processed, by worker.",
        "# TYPE bench_jobs_processed_total counter",
        f'bench_jobs_processed_total{{worker="0"}} {seq}',
    ]
    rest = samples - 7 - 5
    counters = (rest + 1) // 2
    lines += [
        f'bench_jobs_processed_total{{worker="{i}"}} {1000 + 17 * i}' for i in range(1, counters)
    ]
    lines += ["# HELP bench_queue_depth Current queue depth.", "# TYPE bench_queue_depth gauge"]
    lines += [f'bench_queue_depth{{queue="{i}"}} {i * 1.5}' for i in range(rest - counters)]
    lines += [
        "# HELP bench_request_duration_seconds Request latency.",
        "# TYPE bench_request_duration_seconds histogram",
    ]
    cumulative = 0
    for j, bound in enumerate([0.01, 0.1, 1, 10]):
        cumulative += 3 + j
        lines.append(f'bench_request_duration_seconds_bucket{{le="{bound}"}} {cumulative}')
    lines += [
        f'bench_request_duration_seconds_bucket{{le="+Inf"}} {cumulative + 2}',
        f"bench_request_duration_seconds_sum {(cumulative + 2) * 0.0421:.4f}",
        f"bench_request_duration_seconds_count {cumulative + 2}",
        "# HELP bench_response_size_bytes Response size.",
        "# TYPE bench_response_size_bytes summary",
        'bench_response_size_bytes{quantile="0.5"} 512',
        'bench_response_size_bytes{quantile="0.9"} 900',
        'bench_response_size_bytes{quantile="0.99"} 1000',
        "bench_response_size_bytes_sum 51200",
        "bench_response_size_bytes_count 100",
    ]
    return ("\n".join(lines) + "\n").encode()


def source(frame: tracemalloc.Frame) -> str:
    """Where an allocation happened: the file below ``pushgate/`` and its line."""
    path = Path(frame.filename)
    try:
        text = path.read_text().splitlines()[frame.lineno - 1].strip()
    except (OSError, IndexError):
        text = ""
    parts = path.parts
    short = "/".join(parts[parts.index("pushgate") + 1 :]) if "pushgate" in parts else path.name
    return f"{short}:{frame.lineno}  {text[:60]}"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fill(groups: int, samples: int, scrape: bool) -> State:
    """A state holding ``groups`` groups, each written as a push would be."""
    state = State()
    for i in range(groups):
        key = (("branch", "main"), ("instance", f"i{i}"), ("job", "bench"), ("version", "v1"))
        families = tuple(parse_text(payload(samples, i)))
        group = plan_write(WriteRequest(key, "put", families, time.time()), state)
        state.replace_group(key, group)
    if scrape:
        for name in state.family_names():
            state.family_block(name)
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=20, choices=[20])
    parser.add_argument("--scrape", action="store_true", help="build the scrape caches too")
    parser.add_argument("--top", type=int, default=15, help="allocation sites to list")
    args = parser.parse_args()
    # Untraced first, for the RSS growth; then again under tracemalloc.
    gc.collect()
    rss0 = rss_kib()
    state = fill(args.groups, args.samples, args.scrape)
    rss_growth = (rss_kib() - rss0) * 1024
    del state
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    started = time.perf_counter()
    state = fill(args.groups, args.samples, args.scrape)
    gc.collect()
    after = tracemalloc.take_snapshot()
    elapsed = time.perf_counter() - started
    tracemalloc.stop()
    series = args.groups * args.samples
    stats = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in stats)
    print(
        f"{args.groups} groups x {args.samples} samples = {series} series"
        f" ({elapsed:.1f} s with tracing)"
    )
    print(f"{'B/series':>8} {'share':>6}  allocated at")
    for stat in stats[: args.top]:
        share = stat.size_diff / total
        print(f"{stat.size_diff / series:8.0f} {share:6.0%}  {source(stat.traceback[0])}")
    print(f"{total / series:8.0f}   all   traced in total")
    print(f"{rss_growth / series:8.0f}         RSS growth of the untraced run")
    del state


if __name__ == "__main__":
    main()
