"""What a credential may do: actions on the groups that match a selector.

A :class:`Grant` allows some actions. ``push`` (PUT and POST) and
``delete`` apply to one group and may be limited by a selector over the
grouping key (``job="beast-mailbox-core", branch=~"feature/.*"``); ``read``
(scrape, JSON API, UI) and ``admin`` (wipe, quit) apply to the whole gateway
and so are never limited by a selector: the configuration refuses
``read``/``admin`` next to ``match``.

A :class:`GrantTemplate` is a grant whose matcher values name claims of an
OIDC token (``job="{repository_name}"``). :meth:`GrantTemplate.render` fills
them in: literally for ``=``/``!=``, regex-escaped for ``=~``/``!~``, so a
claim value can never widen a pattern (``acme/a.b`` gives ``a\\.b``). A
template whose claim is missing renders to no grant at all.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pushgate.core.errors import ConfigError
from pushgate.core.model import GroupingKey
from pushgate.core.selector import EVERYTHING, Matcher, Selector, parse_selector

Action = Literal["push", "delete", "read", "admin"]
ACTIONS: tuple[Action, ...] = ("push", "delete", "read", "admin")

#: Actions that concern one group and may be limited by a selector.
GROUP_ACTIONS: frozenset[Action] = frozenset({"push", "delete"})

#: ``{name}`` in a matcher value of a template: a claim of the token.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Grant:
    """``actions`` on every group that ``selector`` matches."""

    actions: frozenset[Action]
    selector: Selector = EVERYTHING

    def allows(self, action: Action, key: GroupingKey | None = None) -> bool:
        """Whether ``action`` is granted on ``key``.

        ``key`` is ``None`` for the gateway-wide actions, and when asking
        whether ``action`` is granted on any group at all.
        """
        if action not in self.actions:
            return False
        if key is None:
            return action in GROUP_ACTIONS or not self.selector.matchers
        return self.selector.matches(dict(key))

    def __str__(self) -> str:
        actions = ",".join(a for a in ACTIONS if a in self.actions)
        return actions if not self.selector.matchers else f"{actions} on {self.selector}"


#: Everything everywhere: a basic-auth user of the official format, or
#: everyone when no authentication is configured.
FULL_ACCESS = Grant(frozenset(ACTIONS))

#: What an anonymous client may do where reads are left open.
READ_ONLY = Grant(frozenset({"read"}))


def parse_actions(value: object, where: str) -> frozenset[Action]:
    """``[push, delete]`` (or ``"push, delete"``) as a set of actions."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ConfigError(f"{where}: actions must be a list of {', '.join(ACTIONS)}")
    actions: set[Action] = set()
    for item in items:
        text = str(item).strip()
        if text not in ACTIONS:
            raise ConfigError(
                f"{where}: unknown action {text!r}; use {', '.join(ACTIONS)}"
                " (push covers PUT and POST)"
            )
        actions.add(text)
    return frozenset(actions)


def parse_match(value: object, where: str) -> Selector:
    """A selector from ``'job="a", branch=~"f/.*"'`` or a list of matcher strings."""
    if value is None:
        return EVERYTHING
    if isinstance(value, list | tuple):
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: match must be matcher strings such as 'job=\"foo\"'")
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, str):
        text = value
    else:
        raise ConfigError(f"{where}: match must be a selector such as 'job=\"foo\"'")
    try:
        return parse_selector(text)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def check_scoping(actions: frozenset[Action], selector: Selector, where: str) -> None:
    """Refuse ``read``/``admin`` limited by a selector: they are gateway-wide."""
    wide = sorted(a for a in actions if a not in GROUP_ACTIONS)
    if selector.matchers and wide:
        raise ConfigError(
            f"{where}: {' and '.join(wide)} {'apply' if len(wide) > 1 else 'applies'} to the"
            " whole gateway and cannot be limited by match; give them in a grant of their own"
            " without match"
        )


@dataclass(frozen=True, slots=True)
class GrantTemplate:
    """A grant whose matcher values may name claims (see the module docstring)."""

    actions: frozenset[Action]
    selector: Selector = EVERYTHING

    @classmethod
    def parse(cls, actions: frozenset[Action], selector: Selector, where: str) -> GrantTemplate:
        check_scoping(actions, selector, where)
        for m in selector.matchers:
            if m.op in ("=~", "!~"):
                # The pattern with every placeholder filled must still compile.
                Matcher.from_parts(m.name, m.op, PLACEHOLDER.sub("x", m.value))
        return cls(actions, selector)

    def render(self, claims: Mapping[str, str]) -> Grant | None:
        """The grant for these claims, or ``None`` if a named claim is missing."""
        matchers: list[Matcher] = []
        for m in self.selector.matchers:
            regex = m.op in ("=~", "!~")
            missing = False

            def fill(found: re.Match[str], regex: bool = regex) -> str:
                nonlocal missing
                value = claims.get(found[1])
                if value is None:
                    missing = True
                    return ""
                return re.escape(value) if regex else value

            value = PLACEHOLDER.sub(fill, m.value)
            if missing:
                return None
            matchers.append(Matcher.from_parts(m.name, m.op, value))
        return Grant(self.actions, Selector(tuple(matchers)))
