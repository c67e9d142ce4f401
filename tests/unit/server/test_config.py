"""The config file: every section, and errors that name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushgate.core.errors import ConfigError
from pushgate.server.config import GatewayConfig, load_config, parse_config, parse_size

FULL = """\
expiry:
  default_ttl: 90d
  max_ttl: 1y
  rules:
    - match: '{job=~"ci-.*"}'
      ttl: 30d
    - match: '{job="release"}'
      ttl: never
retention:
  - by: [job, branch]
    keep: 20
  - match: '{job="nightly"}'
    by: [job]
    keep: 7
limits:
  max_body_bytes: 16MiB
  max_samples_per_push: 10_000
  max_series_per_group: 10000
  max_series_per_job: 200000
  max_series_total: 2000000
  max_labels_per_series: 32
  max_label_name_length: 128
  max_label_value_length: 1024
  push_rate:
    per_second: 0.5
    burst: 30
    overrides:
      - match: '{job=~"load-.*"}'
        per_second: 20
        burst: 200
"""


def test_a_full_config() -> None:
    config = parse_config(FULL, "pushgate.yml")
    retention = config.store.retention
    assert retention.default_ttl == 90 * 86400 and retention.max_ttl == 365 * 86400
    assert [r.ttl for r in retention.expiry] == [30 * 86400, None]
    assert [(r.by, r.keep) for r in retention.keep] == [(("job", "branch"), 20), (("job",), 7)]
    assert retention.keep[1].selector.matches({"job": "nightly"})
    limits = config.store.limits
    assert (limits.per_group, limits.per_job, limits.total) == (10000, 200000, 2000000)
    requests = config.requests
    assert requests.max_body_bytes == 16 * 1024 * 1024
    assert requests.max_samples_per_push == 10000
    assert requests.rate_for("load-x") is not None and requests.rate_for("load-x").burst == 200  # type: ignore[union-attr]
    assert requests.rate_for("other") == requests.push_rate


@pytest.mark.parametrize("text", ["", "# nothing\n", "{}\n"])
def test_an_empty_config_changes_nothing(text: str) -> None:
    assert parse_config(text) == GatewayConfig()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "expiry:\n  default: 3d\n",
            "c.yml:2: expiry: unknown key 'default'; known keys: default_ttl, max_ttl, rules",
        ),
        ("expiry:\n  rules:\n    - ttl: 3d\n", "c.yml:3: expiry.rules[0]: 'match' is missing"),
        (
            "expiry:\n  rules:\n    - match: '{job=a}'\n      ttl: 3d\n",
            "c.yml:3: expiry.rules[0].match: selector",
        ),
        (
            "expiry:\n  rules:\n    - match: '{}'\n      ttl: soon\n",
            "c.yml:4: expiry.rules[0].ttl: 'soon' is not a duration",
        ),
        ("retention:\n  by: [job]\n", "c.yml:2: retention: expected a list"),
        (
            "retention:\n  - by: [job]\n    keep: 0\n",
            "c.yml:3: retention[0].keep: must be at least 1, not 0",
        ),
        (
            "retention:\n  - by: [__x]\n    keep: 2\n",
            "c.yml:2: retention[0].by[0]: '__x' is not a label name",
        ),
        ("retention:\n  - by: job\n    keep: 2\n", "c.yml:2: retention[0].by: expected a list"),
        (
            "limits:\n  max_series_total: lots\n",
            "c.yml:2: limits.max_series_total: 'lots' is not a whole number",
        ),
        ("limits:\n  max_body_bytes: 1TB\n", "c.yml:2: limits.max_body_bytes: '1TB' is not a size"),
        (
            "limits:\n  push_rate: {per_second: 0, burst: 1}\n",
            "c.yml:2: limits.push_rate.per_second: must be a number above 0",
        ),
        (
            "limits:\n  push_rate:\n    per_second: 1\n    burst: 1\n    overrides:\n"
            "      - match: '{branch=\"x\"}'\n        per_second: 1\n        burst: 1\n",
            "c.yml:6: limits.push_rate.overrides[0].match: push rates are per job",
        ),
        ("limits: [1]\n", "c.yml:1: limits: expected a mapping"),
        ("- 1\n", "c.yml:1: expected a mapping with keys expiry, retention, limits"),
        ("expiry:\n  max_ttl: 1d\n  max_ttl: 2d\n", "c.yml:3: expiry: 'max_ttl' is given twice"),
        ("expiry: {default_ttl: [1]}\n", "c.yml:1: expiry.default_ttl: expected a single value"),
        ("expiry:\n  rules:\n  - match: '{}'\n     ttl: 1d\n", "c.yml:4: not valid YAML"),
    ],
)
def test_errors_name_the_line_and_the_key(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yml")
    assert str(info.value).startswith(error), str(info.value)


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the config file .*missing\.yml"):
        load_config(tmp_path / "missing.yml")


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 1048576), ("16MiB", 16 * 1024**2), ("500KB", 500_000), ("1 gib", 1024**3)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size
