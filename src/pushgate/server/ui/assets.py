"""The files under ``pushgate/server/static``, read once and served from memory.

Asset links carry ``?v=<hash of the content>``, so a browser may keep a file
as long as it likes: a changed file gets a new URL.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import mimetypes
from dataclasses import dataclass
from functools import cache

#: Content types by extension, fixed here rather than read from the host's
#: ``/etc/mime.types`` (spec 7.4: the official gateway did the same in 0.9.0).
_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    version: str


@cache
def load_asset(name: str) -> Asset | None:
    """The static file ``name`` (a ``/``-separated relative path), or ``None``."""
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") for p in parts):
        return None
    resource = importlib.resources.files("pushgate.server").joinpath("static", *parts)
    if not resource.is_file():
        return None
    body = resource.read_bytes()
    suffix = "." + parts[-1].rpartition(".")[2] if "." in parts[-1] else ""
    content_type = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Asset(body, content_type, hashlib.sha256(body).hexdigest()[:12])


@cache
def load_template(name: str) -> str:
    """The text of ``pushgate/server/templates/<name>``."""
    resource = importlib.resources.files("pushgate.server").joinpath("templates", name)
    return resource.read_text(encoding="utf-8")


def asset_url(base: str, name: str) -> str:
    """The versioned URL of static file ``name`` under the UI base path."""
    asset = load_asset(name)
    version = f"?v={asset.version}" if asset is not None else ""
    return f"{base}/static/{name}{version}"
