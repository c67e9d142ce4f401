"""Bodies of a repeated shape, pushed to pushgate and to the live Go 1.5.1.

The corpus pushes each body once, so pushgate parses it in full; a pusher
that repeats its body shape gets it filled from the shape cache
(core/textshape.py) from the third push on. Here every body template is
pushed again and again with other values, valid and invalid, to both
gateways, and after each push the answer (status and message) and the
exposition of the pushed families must be the same.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.differential.diff_harness import Config
from tests.differential.diff_pool import (
    GO_BINARY,
    GatewayPool,
    go_argv,
    pushgate_serve_argv,
    require_binary,
)

pytestmark = pytest.mark.integration

#: Body templates: ``{}`` is where the values go, one per placeholder.
TEMPLATES = {
    "plain": (
        "# HELP shape_jobs_total Jobs.\n# TYPE shape_jobs_total counter\n"
        'shape_jobs_total{{worker="0"}} {}\nshape_jobs_total{{worker="1"}} {}\n'
        "# TYPE shape_depth gauge\nshape_depth {}\nshape_free {}\n"
    ),
    "histogram": (
        "# TYPE shape_latency histogram\n"
        'shape_latency_bucket{{le="0.5"}} {}\nshape_latency_bucket{{le="+Inf"}} {}\n'
        "shape_latency_sum {}\nshape_latency_count {}\n"
    ),
    "summary": (
        "# HELP shape_size Sizes.\n# TYPE shape_size summary\n"
        'shape_size{{quantile="0.5"}} {}\nshape_size{{quantile="0.9"}} {}\n'
        "shape_size_sum {}\nshape_size_count {}\n"
    ),
}

#: Value rounds: the first two teach the shape, the rest are filled from it
#: (or, for values the fast path may not take, parsed in full).
ROUNDS = [
    ("1", "2", "3", "4"),
    ("5", "6", "7.5", "8"),
    ("9", "10.25", "1e6", "12"),
    ("NaN", "+Inf", "-Inf", "0"),
    ("-0", "1e-7", "123456789", ".5"),
    ("-3", "3.", "1E3", "+4"),
    ("1e999", "1", "1", "1"),  # out of range: Go's error
    ("+NaN", "1", "1", "1"),  # not a value for Go
    ("0x10", "1", "1", "1"),
    ("1_0", "1", "1", "1"),
    ("2", "3", "4", "5"),
]


def _push(port: int, path: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _exposed(port: int) -> list[str]:
    """The pushed families' lines (the push_* times differ between gateways)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return [
        line
        for line in text.splitlines()
        if line.startswith(("shape_", "# HELP shape_", "# TYPE shape_"))
    ]


@pytest.fixture(scope="module")
def pools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayPool, GatewayPool]]:
    require_binary(GO_BINARY)
    go = GatewayPool(go_argv, tmp_path_factory.mktemp("go-shapes"))
    ours = GatewayPool(pushgate_serve_argv, tmp_path_factory.mktemp("pushgate-shapes"))
    yield go, ours
    go.close()
    ours.close()


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_repeated_shapes_answer_as_go_does(
    template: str, pools: tuple[GatewayPool, GatewayPool]
) -> None:
    go_pool, our_pool = pools
    config = Config()
    path = f"/metrics/job/shapes/instance/{template}"
    with go_pool.acquire(config) as go, our_pool.acquire(config) as ours:
        for number, values in enumerate(ROUNDS):
            body = TEMPLATES[template].format(*values).encode()
            go_answer = _push(go.port, path, body)
            our_answer = _push(ours.port, path, body)
            assert our_answer == go_answer, f"round {number} {values}: answers differ"
            assert _exposed(ours.port) == _exposed(go.port), f"round {number} {values}"
