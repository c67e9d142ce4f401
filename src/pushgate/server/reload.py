"""``PUT|POST /-/reload`` and SIGHUP: read the config file again and apply it.

A config is applied whole or not at all: a file that cannot be read or
validated is refused with the reason (file, line, key) and the config in
force stays. A valid one replaces the store's policy (in order with the
writes: every group is re-dated under the new expiry rules, and what the new
rules expire or retention no longer keeps is deleted in one commit) and the
request limits. The endpoint needs ``--web.enable-lifecycle``, as ``/-/quit``
does; the answers follow Prometheus' ``/-/reload``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from aiohttp import web

from pushgate.core.errors import ConfigError, StoreError
from pushgate.server.config import load_config
from pushgate.server.errors import text_error
from pushgate.server.gateway import Gateway

log = logging.getLogger("pushgate.server")


async def reload_config(gw: Gateway) -> int:
    """Apply the config file again; return how many groups the new rules deleted.

    Raises :class:`ConfigError` (nothing changed) or :class:`StoreError` (the
    rules are in force, but deleting what they expire must be retried: the
    sweep does it, and the groups stay hidden meanwhile).
    """
    status = gw.config
    if not status.path:
        raise ConfigError("pushgate was started without --config.file: there is nothing to reload")
    async with status.lock:
        try:
            config = load_config(status.path)
        except ConfigError:
            status.last_reload_successful = False
            raise
        gw.limits.configure(config.requests)
        status.last_reload_successful = True
        status.last_success_time = time.time()
        return await gw.store.configure(config.store)


async def handle_reload(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    if not gw.settings.enable_lifecycle:
        response = text_error(403, "Lifecycle API is not enabled.")
    else:
        try:
            deleted = await reload_config(gw)
        except ConfigError as e:
            log.error("config reload refused, the previous config stays in force: %s", e)
            response = text_error(500, f"failed to reload config: {e}")
        except StoreError as e:
            response = text_error(
                503, f"the new config is in force, but deleting what it expires failed: {e}"
            )
        else:
            log.info("config reloaded from %s (%d groups deleted)", gw.config.path, deleted)
            response = web.Response(
                text=f"config reloaded from {gw.config.path}; {deleted} group(s) deleted\n",
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
    gw.metrics.count_request(response.status, "reload", request.method)
    return response


async def reload_on_signal(gw: Gateway) -> None:
    """What SIGHUP does: reload, and log the outcome (there is no one to answer)."""
    try:
        deleted = await reload_config(gw)
    except (ConfigError, StoreError) as e:
        log.error("config reload on SIGHUP failed: %s", e)
    else:
        log.info("config reloaded on SIGHUP from %s (%d groups deleted)", gw.config.path, deleted)


def watch_sighup(gw: Gateway) -> None:
    """Reload on every SIGHUP until the event loop closes."""
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[None]] = set()  # referenced until done

    def on_signal() -> None:
        task = loop.create_task(reload_on_signal(gw), name="pushgate-reload")
        running.add(task)
        task.add_done_callback(running.discard)

    loop.add_signal_handler(signal.SIGHUP, on_signal)
