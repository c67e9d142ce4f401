"""Request routing with the observable behaviour of the 1.5.1 gateway.

The Go gateway routes in two layers, and clients can see both:

1. Go's ``http.ServeMux`` percent-decodes the path, answers unclean paths
   (``//``, ``/./``, ``/../``) with ``301`` to the cleaned path for every
   method, and sends ``P/api/v1/...`` to a second router with that prefix
   stripped (``http.StripPrefix``); everything else goes to the main router.
2. ``julienschmidt/httprouter`` (v1.3.0, via ``prometheus/common/route``)
   matches the path in a radix tree per method, redirects a missing or extra
   trailing slash and a wrongly cased path (``301`` for GET, ``307``
   otherwise), answers ``405`` with ``Allow`` and automatic ``OPTIONS``.

Which trailing-slash redirects happen depends on how the radix tree happens
to be split (``PUT /metrics/job/`` redirects, ``PUT /metrics/job@base64/``
does not), so this module builds the same tree as httprouter instead of
approximating the rules. Routes must be given in the gateway's registration
order, which fixes the tree's shape. Every behaviour here is pinned against
the real binary by ``tests/integration/test_router_go.py``.

Pure: no I/O and no aiohttp; the HTTP layer turns a :data:`Resolution` into a
response.
"""

from __future__ import annotations

import enum
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pushgate.core.memo import BoundedMemo

#: Where 1.5.1 mounts its JSON API router (below the route prefix).
API_MOUNT = "/api/v1"


@dataclass(frozen=True, slots=True)
class Route:
    """One route: ``pattern`` uses httprouter syntax.

    ``:name`` matches one non-empty segment; ``*name`` (last, after a ``/``)
    matches the rest of the path including its leading ``/``. ``prefixed``
    is false only for the route 1.5.1 registers outside the route prefix
    (``GET /-/quit``, spec 7.2).
    """

    method: str
    pattern: str
    name: str
    prefixed: bool = True


#: Router.resolve's memo: how many answers, for targets of at most how many characters.
_MEMO_ENTRIES = 4096
_MEMO_LONGEST = 512


@dataclass(frozen=True, slots=True)
class Match:
    """The route ``name`` matched; ``params`` holds its decoded wildcards."""

    name: str
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class Redirect:
    """Answer ``status`` (301 or 307) with this ``Location``."""

    status: int
    location: str


@dataclass(frozen=True, slots=True)
class NotFound:
    """404 ``404 page not found``."""


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    """405 ``Method Not Allowed`` with this ``Allow`` header."""

    allow: str


@dataclass(frozen=True, slots=True)
class Options:
    """200 with an empty body and this ``Allow`` header (none when empty)."""

    allow: str


@dataclass(frozen=True, slots=True)
class BadRequest:
    """The request target is malformed; Go answers 400 and closes."""

    message: str


Resolution = Match | Redirect | NotFound | MethodNotAllowed | Options | BadRequest


# --- URL decoding and encoding, as Go's net/url does it for paths ----------

_HEX = frozenset(b"0123456789abcdefABCDEF")

# Bytes Go's url.URL.EscapedPath leaves alone (RFC 3986 unreserved plus the
# sub-delimiters Go allows in paths); everything else becomes %XX.
_PATH_SAFE = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~$&+,/:;=@"
)


# Go refuses control characters anywhere in the request target, and a space
# would split the request line; both are 400 before any routing.
_FORBIDDEN_IN_TARGET = re.compile(r"[\x00-\x20\x7f]")


def _unescape_path(raw: bytes) -> bytes | None:
    """Go's path unescaping: ``%XX`` -> byte, ``+`` stays; ``None`` if malformed."""
    if b"%" not in raw:
        return raw
    out = bytearray()
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte == 0x25:  # '%'
            if i + 2 >= len(raw) or raw[i + 1] not in _HEX or raw[i + 2] not in _HEX:
                return None
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(byte)
            i += 1
    return bytes(out)


def _escape_path(path: bytes) -> str:
    return "".join(chr(b) if b in _PATH_SAFE else f"%{b:02X}" for b in path)


def _is_clean(path: bytes) -> bool:
    return not (
        b"//" in path or b"/./" in path or b"/../" in path or path.endswith((b"/.", b"/.."))
    )


def _clean_path(path: bytes) -> bytes:
    """Go's ServeMux ``cleanPath``: ``path.Clean`` keeping a trailing slash."""
    if not path:
        return b"/"
    if not path.startswith(b"/"):
        path = b"/" + path
    if _is_clean(path):
        return path
    cleaned = posixpath.normpath(path)
    # normpath keeps a leading '//' (POSIX allows it to be special); Go does not.
    cleaned = b"/" + cleaned.lstrip(b"/")
    if path.endswith(b"/") and cleaned != b"/":
        cleaned += b"/"
    return cleaned


def _to_str(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _location(path: bytes, raw_query: str) -> str:
    return _escape_path(path) + (f"?{raw_query}" if raw_query else "")


# --- the httprouter radix tree ---------------------------------------------


class _Kind(enum.Enum):
    STATIC = enum.auto()
    ROOT = enum.auto()
    PARAM = enum.auto()
    CATCH_ALL = enum.auto()


class _Node:
    """A node of the per-method radix tree.

    ``indices`` holds the first byte of each static child, in the order of
    ``children``. A node with ``wild_child`` has exactly one child, a
    parameter or catch-all node. A catch-all hangs below an empty-path
    catch-all node indexed by ``/``, so ``/static`` can see that
    ``/static/*filepath`` exists (trailing-slash redirect).
    """

    __slots__ = ("children", "indices", "kind", "path", "route", "wild_child")

    def __init__(self, path: bytes = b"", kind: _Kind = _Kind.STATIC) -> None:
        self.path = path
        self.kind = kind
        self.wild_child = False
        self.indices = b""
        self.children: list[_Node] = []
        self.route: Route | None = None


def _wildcard_end(path: bytes, start: int, full: bytes) -> int:
    end = start + 1
    while end < len(path) and path[end] != 0x2F:
        if path[end] in b":*":
            raise ValueError(f"only one wildcard per path segment is allowed in {full!r}")
        end += 1
    return end


def _insert_wildcards(n: _Node, path: bytes, full: bytes, route: Route) -> None:
    """Hang ``path`` (with any wildcards) below the childless node ``n``."""
    offset = 0
    start = 0
    while True:
        found = [i for i in (path.find(b":", start), path.find(b"*", start)) if i >= 0]
        if not found:
            break
        i = min(found)
        end = _wildcard_end(path, i, full)
        if n.children:
            raise ValueError(f"wildcard in {full!r} conflicts with existing routes")
        if end - i < 2:
            raise ValueError(f"wildcards must be named in {full!r}")
        if path[i] == 0x3A:  # ':'
            if i > 0:
                n.path = path[offset:i]
                offset = i
            param = _Node(kind=_Kind.PARAM)
            n.children = [param]
            n.wild_child = True
            n = param
            if end < len(path):
                param.path = path[offset:end]
                offset = end
                rest = _Node()
                param.children = [rest]
                n = rest
            start = end
            continue
        if end != len(path):
            raise ValueError(f"a catch-all must end the route, in {full!r}")
        if n.path.endswith(b"/"):
            raise ValueError(f"catch-all in {full!r} conflicts with an existing route")
        if i == 0 or path[i - 1] != 0x2F:
            raise ValueError(f"a catch-all must follow a '/', in {full!r}")
        n.path = path[offset : i - 1]
        holder = _Node(kind=_Kind.CATCH_ALL)
        holder.wild_child = True
        n.children = [holder]
        n.indices = b"/"
        leaf = _Node(path[i - 1 :], _Kind.CATCH_ALL)
        leaf.route = route
        holder.children = [leaf]
        return
    n.path = path[offset:]
    n.route = route


def _add(root: _Node, path: bytes, route: Route) -> None:
    """Insert ``path``; raises ``ValueError`` where httprouter panics."""
    full = path
    if not root.path and not root.children:
        _insert_wildcards(root, path, full, route)
        root.kind = _Kind.ROOT
        return
    n = root
    while True:
        common = 0
        limit = min(len(path), len(n.path))
        while common < limit and path[common] == n.path[common]:
            common += 1
        if common < len(n.path):
            # Split the edge: the old node's tail becomes its only child.
            tail = _Node(n.path[common:])
            tail.wild_child, tail.indices = n.wild_child, n.indices
            tail.children, tail.route = n.children, n.route
            n.children = [tail]
            n.indices = n.path[common : common + 1]
            n.path = path[:common]
            n.route = None
            n.wild_child = False
        if common == len(path):
            if n.route is not None:
                raise ValueError(f"a route is already registered for {full!r}")
            n.route = route
            return
        path = path[common:]
        if n.wild_child:
            n = n.children[0]
            same_wildcard = (
                path.startswith(n.path)
                and n.kind is not _Kind.CATCH_ALL
                and (len(n.path) >= len(path) or path[len(n.path)] == 0x2F)
            )
            if not same_wildcard:
                raise ValueError(f"{full!r} conflicts with wildcard {n.path!r}")
            continue
        first = path[0]
        if n.kind is _Kind.PARAM and first == 0x2F and len(n.children) == 1:
            n = n.children[0]
            continue
        index = n.indices.find(first)
        if index >= 0:
            n = n.children[index]
            continue
        if first not in b":*":
            child = _Node()
            n.indices += bytes([first])
            n.children.append(child)
            n = child
        _insert_wildcards(n, path, full, route)
        return


@dataclass(frozen=True, slots=True)
class _Lookup:
    route: Route | None
    params: tuple[tuple[bytes, bytes], ...]
    # httprouter's "trailing slash redirect" recommendation.
    tsr: bool


def _lookup(root: _Node, path: bytes) -> _Lookup:
    n = root
    params: list[tuple[bytes, bytes]] = []

    def miss(tsr: bool) -> _Lookup:
        return _Lookup(None, tuple(params), tsr)

    while True:
        if len(path) > len(n.path) and path.startswith(n.path):
            path = path[len(n.path) :]
            if not n.wild_child:
                index = n.indices.find(path[0])
                if index >= 0:
                    n = n.children[index]
                    continue
                return miss(path == b"/" and n.route is not None)
            n = n.children[0]
            if n.kind is _Kind.CATCH_ALL:
                params.append((n.path[2:], path))
                return _Lookup(n.route, tuple(params), False)
            end = path.find(b"/")
            end = len(path) if end < 0 else end
            params.append((n.path[1:], path[:end]))
            if end < len(path):
                if n.children:
                    path = path[end:]
                    n = n.children[0]
                    continue
                return miss(len(path) == end + 1)
            if n.route is not None:
                return _Lookup(n.route, tuple(params), False)
            if len(n.children) == 1:
                child = n.children[0]
                return miss(child.path == b"/" and child.route is not None)
            return miss(False)
        if path == n.path:
            if n.route is not None:
                return _Lookup(n.route, tuple(params), False)
            # Quirk: a bare "/" before a parameter recommends dropping the
            # slash even though that path has no route either, hence
            # `PUT /metrics/job/` -> 307 /metrics/job -> 404 (spec 1).
            if path == b"/" and n.wild_child and n.kind is not _Kind.ROOT:
                return miss(True)
            index = n.indices.find(b"/")
            if index >= 0:
                child = n.children[index]
                return miss(
                    (len(child.path) == 1 and child.route is not None)
                    or (child.kind is _Kind.CATCH_ALL and child.children[0].route is not None)
                )
            return miss(False)
        return miss(
            path == b"/"
            or (
                len(n.path) == len(path) + 1
                and n.path[len(path)] == 0x2F
                and path == n.path[:-1]
                and n.route is not None
            )
        )


def _ascii_variants(byte: int) -> tuple[int, ...]:
    lower = bytes([byte]).lower()[0]
    upper = bytes([byte]).upper()[0]
    return (lower,) if lower == upper else (lower, upper)


def _find_case_insensitive(n: _Node, path: bytes, fixed: bytes) -> bytes | None:
    """httprouter's ``findCaseInsensitivePath`` with trailing-slash fixing.

    Route patterns are ASCII, so only ASCII letters fold. Go's rune handling
    would also map a few exotic runes (Kelvin sign, dotted capital I) to an
    index byte but then fails to match the rest of the node, so the results
    agree in practice.
    """
    while len(path) >= len(n.path) and path[1 : len(n.path)].lower() == n.path[1:].lower():
        path = path[len(n.path) :]
        fixed += n.path
        if not path:
            if n.route is not None:
                return fixed
            index = n.indices.find(b"/")
            if index >= 0:
                child = n.children[index]
                if (len(child.path) == 1 and child.route is not None) or (
                    child.kind is _Kind.CATCH_ALL and child.children[0].route is not None
                ):
                    return fixed + b"/"
            return None
        if not n.wild_child:
            variants = _ascii_variants(path[0]) if path[0] < 0x80 else ()
            # The lower-case child is searched first (recursively), then
            # the upper-case one, as in Go.
            next_node: _Node | None = None
            for number, variant in enumerate(variants):
                index = n.indices.find(variant)
                if index < 0:
                    continue
                if number == 0:
                    result = _find_case_insensitive(n.children[index], path, fixed)
                    if result is not None:
                        return result
                else:
                    next_node = n.children[index]
            if next_node is not None:
                n = next_node
                continue
            return fixed if path == b"/" and n.route is not None else None
        n = n.children[0]
        if n.kind is _Kind.CATCH_ALL:
            return fixed + path
        end = path.find(b"/")
        end = len(path) if end < 0 else end
        fixed += path[:end]
        if end < len(path):
            if n.children:
                n = n.children[0]
                path = path[end:]
                continue
            return fixed if len(path) == end + 1 else None
        if n.route is not None:
            return fixed
        if len(n.children) == 1:
            child = n.children[0]
            if child.path == b"/" and child.route is not None:
                return fixed + b"/"
        return None
    if path == b"/":
        return fixed
    if (
        len(path) + 1 == len(n.path)
        and n.path[len(path)] == 0x2F
        and path[1:].lower() == n.path[1 : len(path)].lower()
        and n.route is not None
    ):
        return fixed + n.path
    return None


class _MethodTrees:
    """One httprouter instance: a radix tree per method."""

    def __init__(self) -> None:
        self.trees: dict[str, _Node] = {}

    def add(self, method: str, path: bytes, route: Route) -> None:
        _add(self.trees.setdefault(method, _Node()), path, route)

    def _allowed(self, path: bytes, method: str) -> str:
        methods = [
            other
            for other, root in self.trees.items()
            if other not in (method, "OPTIONS") and _lookup(root, path).route is not None
        ]
        if not methods:
            return ""
        return ", ".join(sorted([*methods, "OPTIONS"]))

    def serve(self, method: str, path: bytes, raw_query: str) -> Resolution:
        root = self.trees.get(method)
        if root is not None:
            found = _lookup(root, path)
            if found.route is not None:
                params = {_to_str(k): _to_str(v) for k, v in found.params}
                return Match(found.route.name, params)
            if method != "CONNECT" and path != b"/":
                # 307 keeps the method and body; only GET may become 301.
                status = 301 if method == "GET" else 307
                if found.tsr:
                    other = path[:-1] if len(path) > 1 and path.endswith(b"/") else path + b"/"
                    return Redirect(status, _location(other, raw_query))
                fixed = _find_case_insensitive(root, _clean_path(path), b"")
                if fixed is not None:
                    return Redirect(status, _location(fixed, raw_query))
        # A path no other method knows either is a 404, for OPTIONS too.
        allow = self._allowed(path, method)
        if not allow:
            return NotFound()
        return Options(allow) if method == "OPTIONS" else MethodNotAllowed(allow)


class Router:
    """The gateway's routing: ServeMux cleaning, the API mount, httprouter.

    ``prefix`` is the effective route prefix (``""`` or e.g. ``"/pg"``,
    spec 8.1); it is put in front of every route with ``prefixed`` set and
    in front of the API mount. Routes whose pattern starts with
    :data:`API_MOUNT` + ``/`` go to the API router, which sees them with
    the mount stripped (``OPTIONS /api/v1/*path`` becomes ``/*path``); the
    mount exists even without API routes, as in the gateway. Raises ``ValueError`` for route sets httprouter refuses at start-up.
    """

    def __init__(self, routes: Sequence[Route], prefix: str = "") -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"route prefix must be empty or /name, got {prefix!r}")
        self._mount = (prefix + API_MOUNT).encode("ascii")
        self._memo: BoundedMemo[tuple[str, str, str], Resolution] = BoundedMemo(
            lambda request: self._resolve(*request),
            entries=_MEMO_ENTRIES,
            keep=lambda request, _: len(request[1]) + len(request[2]) <= _MEMO_LONGEST,
        )
        self._main = _MethodTrees()
        self._api = _MethodTrees()
        for route in routes:
            if not route.pattern.startswith("/") or not route.pattern.isascii():
                raise ValueError(f"route pattern must be an ASCII path: {route.pattern!r}")
            if route.pattern.startswith(API_MOUNT + "/"):
                self._api.add(route.method, route.pattern[len(API_MOUNT) :].encode(), route)
            else:
                full = (prefix if route.prefixed else "") + route.pattern
                self._main.add(route.method, full.encode("ascii"), route)

    def resolve(self, method: str, raw_path: str, raw_query: str = "") -> Resolution:
        """Route one request.

        ``raw_path`` is the request path as sent (still percent-encoded);
        ``raw_query`` is the query string without ``?`` (``""``: none; Go's
        echo of a bare trailing ``?`` in some redirects is not reproduced).

        Answers are remembered (a bounded memo): pushers address the same
        groups again and again. Resolutions are frozen; their ``params`` are
        shared between requests and must be treated as read-only.
        """
        return self._memo((method, raw_path, raw_query))

    def _resolve(self, method: str, raw_path: str, raw_query: str) -> Resolution:
        if raw_path == "*":
            # Go answers "OPTIONS *" itself (200, no Allow) and refuses the
            # asterisk form for any other method.
            if method == "OPTIONS":
                return Options("")
            return BadRequest(f"invalid request target {raw_path!r} for {method}")
        if _FORBIDDEN_IN_TARGET.search(raw_path) or _FORBIDDEN_IN_TARGET.search(raw_query):
            return BadRequest(f"control character or space in request target {raw_path!r}")
        if not raw_path.startswith("/"):
            return BadRequest(f"invalid URI for request: {raw_path!r}")
        try:
            raw = raw_path.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return BadRequest(f"request path is not encodable: {raw_path!r}")
        decoded = _unescape_path(raw)
        if decoded is None:
            return BadRequest(f"invalid URL escape in {raw_path!r}")

        # ServeMux: the API mount pattern "P/api/v1/" makes "P/api/v1"
        # redirect to it; then unclean paths redirect to their clean form.
        cleaned = _clean_path(decoded)
        if cleaned == self._mount:
            return Redirect(301, _location(cleaned + b"/", raw_query))
        if cleaned != decoded:
            return Redirect(301, _location(cleaned, raw_query))

        if decoded.startswith(self._mount + b"/"):
            # http.StripPrefix also strips the raw (escaped) path, which Go
            # keeps only when it differs from the default escaping. If that
            # raw path does not start with the mount (`/%61pi/v1/status`),
            # StripPrefix answers 404.
            go_raw_path = raw if _escape_path(decoded).encode("ascii") != raw else b""
            if go_raw_path and not go_raw_path.startswith(self._mount):
                return NotFound()
            # Quirk kept: redirects from the API router lack the mount, so
            # `GET /api/v1/status/` -> 301 `/status` (pinned in
            # test_router_go.py).
            return self._api.serve(method, decoded[len(self._mount) :], raw_query)
        return self._main.serve(method, decoded, raw_query)
