"""Label selectors in PromQL's form."""

from __future__ import annotations

import pytest

from pushgate.core.errors import ConfigError
from pushgate.core.selector import EVERYTHING, parse_selector


def test_operators_and_anchoring() -> None:
    s = parse_selector('{job=~"ci-.*", branch!="main", env!~"prod|stage", team="a"}')
    assert s.matches({"job": "ci-shop", "branch": "dev", "env": "test", "team": "a"})
    assert not s.matches({"job": "x-ci-shop", "branch": "dev", "team": "a"})  # anchored
    assert not s.matches({"job": "ci-shop", "branch": "main", "team": "a"})
    assert not s.matches({"job": "ci-shop", "env": "prod", "team": "a"})
    assert str(s) == '{job=~"ci-.*", branch!="main", env!~"prod|stage", team="a"}'


def test_absent_labels_are_empty() -> None:
    assert parse_selector('{branch=""}').matches({"job": "a"})
    assert not parse_selector('{branch=~".+"}').matches({"job": "a"})


def test_braces_quotes_escapes_and_trailing_comma() -> None:
    s = parse_selector("job='a\\'b', x=\"q\\\"\\\\\",")
    assert s.matches({"job": "a'b", "x": 'q"\\'})
    assert parse_selector("{}") == EVERYTHING
    assert parse_selector("") == EVERYTHING
    assert EVERYTHING.matches({})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{job="a"', "does not close"),
        ("{job=a}", "cannot read 'job=a'"),
        ('{job=~"("}', "invalid regular expression"),
        ('{job=="a"}', "cannot read"),
        ('{j-b="a"}', "cannot read"),
        ('{job="\\q"}', "unknown escape"),
    ],
)
def test_errors_quote_the_input(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_selector(text)
