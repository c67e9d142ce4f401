"""The web UI: groups by job and branch, each group's page, a CI overview.

Server-rendered HTML (no JavaScript needed to list, filter and read), with
``static/ui.js`` adding delete and wipe buttons, copy buttons and the trend
charts (uPlot, shipped in ``static/vendor``). See ``docs/ui.md``.

Modules: :mod:`.handlers` (HTTP), one module per page (:mod:`.listing`,
:mod:`.detail`, :mod:`.ci`, :mod:`.status`), the shared frame
(:mod:`.layout`, :mod:`.components`), and pure helpers (:mod:`.markup`,
:mod:`.query`, :mod:`.times`, :mod:`.assets`).
"""

from __future__ import annotations

from pushgate.server.ui.handlers import (
    handle_ci,
    handle_group,
    handle_group_base64,
    handle_index,
    handle_static,
)

__all__ = [
    "handle_ci",
    "handle_group",
    "handle_group_base64",
    "handle_index",
    "handle_static",
]
