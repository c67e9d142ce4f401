"""The config file (``--config.file``): expiry, retention and limits.

One YAML file, read at start and on every reload (``/-/reload``, SIGHUP).
Every section and key is optional; an empty file keeps everything forever
with no limits, as the official gateway does. Errors name the file, the
line and the key, and say what is expected::

    expiry:
      default_ttl: 90d            # groups no rule matches; "never" keeps them
      max_ttl: 365d               # cap on a TTL asked by the pusher
      rules:                      # first match wins
        - match: '{job=~"ci-.*"}'
          ttl: 30d
        - match: '{job="release"}'
          ttl: never
    retention:                    # keep the newest N groups per label values
      - match: '{job=~".+"}'      # optional: which groups the rule covers
        by: [job, branch]
        keep: 20
    limits:
      max_body_bytes: 16MiB
      max_samples_per_push: 10000
      max_series_per_group: 10000
      max_series_per_job: 200000
      max_series_total: 2000000
      max_labels_per_series: 32
      max_label_name_length: 128
      max_label_value_length: 1024
      push_rate:                  # per job: a token bucket
        per_second: 1
        burst: 30
        overrides:
          - match: '{job="load-test"}'
            per_second: 20
            burst: 200

The full description, with what each limit answers: docs/retention.md.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml

from pushgate.core.duration import parse_duration
from pushgate.core.errors import ConfigError
from pushgate.core.names import is_reserved_label_name, is_valid_label_name
from pushgate.core.selector import EVERYTHING, Selector, parse_selector
from pushgate.server.limits import RateLimit, RateRule, RequestLimits
from pushgate.store.limits import SeriesLimits
from pushgate.store.policy import StorePolicy
from pushgate.store.retention import ExpiryRule, KeepRule, RetentionPolicy

T = TypeVar("T")

_SIZE = re.compile(r"(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?", re.IGNORECASE)
_SIZE_FACTORS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the config file sets: the store's policy and the request limits."""

    store: StorePolicy = field(default_factory=StorePolicy)
    requests: RequestLimits = field(default_factory=RequestLimits)


class _Reader:
    """Typed access to a YAML node tree, with errors that name the line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, node: yaml.Node, path: str, message: str) -> ConfigError:
        line = node.start_mark.line + 1
        where = f"{path}: " if path else ""
        return ConfigError(f"{self.source}:{line}: {where}{message}")

    def mapping(
        self, node: yaml.Node, path: str, known: tuple[str, ...]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, path, f"expected a mapping with keys {', '.join(known)}")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(key_node, path, "keys must be plain names")
            name = str(key_node.value)
            if name in out:
                raise self.error(key_node, path, f"{name!r} is given twice")
            if name not in known:
                raise self.error(
                    key_node, path, f"unknown key {name!r}; known keys: {', '.join(known)}"
                )
            out[name] = (key_node, value_node)
        return out

    def sequence(self, node: yaml.Node, path: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, path, "expected a list (lines starting with '- ')")
        return list(node.value)

    def scalar(self, node: yaml.Node, path: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, path, "expected a single value, not a list or mapping")
        return str(node.value).strip()

    def parsed(self, node: yaml.Node, path: str, parse: Callable[[str], T]) -> T:
        text = self.scalar(node, path)
        try:
            return parse(text)
        except ConfigError as e:
            raise self.error(node, path, str(e)) from None

    def count(self, node: yaml.Node, path: str, minimum: int = 1) -> int:
        text = self.scalar(node, path)
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise self.error(node, path, f"{text!r} is not a whole number") from None
        if value < minimum:
            raise self.error(node, path, f"must be at least {minimum}, not {value}")
        return value

    def number(self, node: yaml.Node, path: str) -> float:
        text = self.scalar(node, path)
        try:
            value = float(text)
        except ValueError:
            raise self.error(node, path, f"{text!r} is not a number") from None
        if not value > 0 or value == float("inf"):
            raise self.error(node, path, f"must be a number above 0, not {text}")
        return value


def _ttl(text: str) -> float | None:
    if text.lower() == "never":
        return None
    return parse_duration(text)


def parse_size(text: str) -> int:
    """Bytes in ``16MiB``, ``1MB``, ``1048576`` (KB/MB/GB: 1000s; KiB/MiB/GiB: 1024s)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"{text!r} is not a size; write e.g. 16MiB, 500KB or 1048576")
    value = int(match[1]) * _SIZE_FACTORS[(match[2] or "b").lower()]
    if value <= 0:
        raise ConfigError(f"{text!r}: a size must be more than zero")
    return value


def _expiry(
    r: _Reader, node: yaml.Node
) -> tuple[tuple[ExpiryRule, ...], float | None, float | None]:
    keys = r.mapping(node, "expiry", ("default_ttl", "max_ttl", "rules"))
    default = (
        r.parsed(keys["default_ttl"][1], "expiry.default_ttl", _ttl)
        if "default_ttl" in keys
        else None
    )
    max_ttl = r.parsed(keys["max_ttl"][1], "expiry.max_ttl", _ttl) if "max_ttl" in keys else None
    rules: list[ExpiryRule] = []
    if "rules" in keys:
        for i, item in enumerate(r.sequence(keys["rules"][1], "expiry.rules")):
            path = f"expiry.rules[{i}]"
            rule = r.mapping(item, path, ("match", "ttl"))
            for needed in ("match", "ttl"):
                if needed not in rule:
                    raise r.error(item, path, f"{needed!r} is missing")
            selector = r.parsed(rule["match"][1], path + ".match", parse_selector)
            rules.append(ExpiryRule(selector, r.parsed(rule["ttl"][1], path + ".ttl", _ttl)))
    return tuple(rules), default, max_ttl


def _label_name(r: _Reader, node: yaml.Node, path: str) -> str:
    name = r.scalar(node, path)
    if not is_valid_label_name(name) or is_reserved_label_name(name):
        raise r.error(node, path, f"{name!r} is not a label name")
    return name


def _retention(r: _Reader, node: yaml.Node) -> tuple[KeepRule, ...]:
    rules: list[KeepRule] = []
    for i, item in enumerate(r.sequence(node, "retention")):
        path = f"retention[{i}]"
        rule = r.mapping(item, path, ("match", "by", "keep"))
        for needed in ("by", "keep"):
            if needed not in rule:
                raise r.error(item, path, f"{needed!r} is missing")
        by_node = rule["by"][1]
        by_items = r.sequence(by_node, path + ".by")
        if not by_items:
            raise r.error(by_node, path + ".by", "name at least one label, e.g. [job, branch]")
        by = tuple(_label_name(r, n, f"{path}.by[{j}]") for j, n in enumerate(by_items))
        selector: Selector = EVERYTHING
        if "match" in rule:
            selector = r.parsed(rule["match"][1], path + ".match", parse_selector)
        rules.append(KeepRule(by, r.count(rule["keep"][1], path + ".keep"), selector))
    return tuple(rules)


def _rate(
    r: _Reader, node: yaml.Node, path: str, known: tuple[str, ...]
) -> tuple[RateLimit, dict[str, tuple[yaml.Node, yaml.Node]]]:
    keys = r.mapping(node, path, known)
    for needed in ("per_second", "burst"):
        if needed not in keys:
            raise r.error(node, path, f"{needed!r} is missing")
    rate = RateLimit(
        r.number(keys["per_second"][1], path + ".per_second"),
        r.count(keys["burst"][1], path + ".burst"),
    )
    return rate, keys


_SERIES_KEYS = {
    "max_series_per_group": "per_group",
    "max_series_per_job": "per_job",
    "max_series_total": "total",
}
_REQUEST_COUNTS = (
    "max_samples_per_push",
    "max_labels_per_series",
    "max_label_name_length",
    "max_label_value_length",
)


def _limits(r: _Reader, node: yaml.Node) -> tuple[SeriesLimits, RequestLimits]:
    known = ("max_body_bytes", *_REQUEST_COUNTS, *_SERIES_KEYS, "push_rate")
    keys = r.mapping(node, "limits", known)
    series = {
        field_name: r.count(keys[key][1], f"limits.{key}")
        for key, field_name in _SERIES_KEYS.items()
        if key in keys
    }
    counts = {key: r.count(keys[key][1], f"limits.{key}") for key in _REQUEST_COUNTS if key in keys}
    body = (
        r.parsed(keys["max_body_bytes"][1], "limits.max_body_bytes", parse_size)
        if "max_body_bytes" in keys
        else None
    )
    rate: RateLimit | None = None
    rules: list[RateRule] = []
    if "push_rate" in keys:
        rate, rate_keys = _rate(
            r, keys["push_rate"][1], "limits.push_rate", ("per_second", "burst", "overrides")
        )
        if "overrides" in rate_keys:
            for i, item in enumerate(
                r.sequence(rate_keys["overrides"][1], "limits.push_rate.overrides")
            ):
                path = f"limits.push_rate.overrides[{i}]"
                override, override_keys = _rate(r, item, path, ("match", "per_second", "burst"))
                if "match" not in override_keys:
                    raise r.error(item, path, "'match' is missing")
                selector = r.parsed(override_keys["match"][1], path + ".match", parse_selector)
                if any(m.name != "job" for m in selector.matchers):
                    raise r.error(
                        override_keys["match"][1],
                        path + ".match",
                        "push rates are per job: match on the job label only",
                    )
                rules.append(RateRule(selector, override))
    requests = RequestLimits(
        max_body_bytes=body, push_rate=rate, push_rate_rules=tuple(rules), **counts
    )
    return SeriesLimits(**series), requests


def parse_config(text: str, source: str = "<config>") -> GatewayConfig:
    """A :class:`GatewayConfig` from YAML text; :class:`ConfigError` names the line."""
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{line}: not valid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML: {e}") from None
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""):
        return GatewayConfig()
    keys = reader.mapping(root, "", ("expiry", "retention", "limits"))
    expiry: tuple[ExpiryRule, ...] = ()
    default_ttl = max_ttl = None
    if "expiry" in keys:
        expiry, default_ttl, max_ttl = _expiry(reader, keys["expiry"][1])
    keep = _retention(reader, keys["retention"][1]) if "retention" in keys else ()
    series, requests = SeriesLimits(), RequestLimits()
    if "limits" in keys:
        series, requests = _limits(reader, keys["limits"][1])
    retention = RetentionPolicy(expiry, default_ttl, max_ttl, keep)
    return GatewayConfig(StorePolicy(retention, series), requests)


@dataclass
class ConfigStatus:
    """Which config file is in force and how its last (re)load went."""

    path: str = ""
    last_reload_successful: bool = True
    last_success_time: float = 0.0
    #: Reloads (HTTP and SIGHUP) run one at a time.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)


def load_config(path: str | Path) -> GatewayConfig:
    """The config file at ``path``; :class:`ConfigError` if unreadable or invalid."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ConfigError(f"cannot read the config file {str(path)!r}: {reason}") from None
    return parse_config(text, str(path))
