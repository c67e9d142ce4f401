#!/usr/bin/env python3
"""The HTTP layer alone: aiohttp against Starlette on uvicorn and on granian.

Each candidate serves a do-nothing gateway: it reads the request body and
answers 200, for any method and path. gwbench's push scenario (16 clients,
50-sample bodies, ``--no-verify``) then measures pushes/s and server CPU per
request, aiohttp (A) beside each alternative (B) in the same run. What is
left over is the ceiling each layer puts on a Python gateway, and the CPU it
takes from the work a gateway does per push.

Not project dependencies; install them to run this::

    pip install 'uvicorn[standard]' starlette granian
    python bench/http_layers.py --gwbench PATH/gwbench.py

``python bench/http_layers.py serve NAME PORT`` runs one server (NAME:
aiohttp, uvicorn, granian).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from typing import Any


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def anything(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    methods = ["GET", "PUT", "POST", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", anything, methods=methods)])


def serve(name: str, port: int) -> None:
    if name == "aiohttp":
        import uvloop
        from aiohttp import web

        async def anything(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(status=200)

        application = web.Application()
        application.router.add_route("*", "/{tail:.*}", anything)
        uvloop.install()
        web.run_app(application, host="127.0.0.1", port=port, access_log=None, print=None)
    elif name == "uvicorn":
        import uvicorn

        uvicorn.run(
            starlette_app(),
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    elif name == "granian":
        from granian import Granian

        Granian(
            f"{os.path.abspath(__file__)}:starlette_factory",
            address="127.0.0.1",
            port=port,
            interface="asgi",
            workers=1,
            factory=True,
            log_enabled=False,
        ).serve()
    else:
        raise SystemExit(f"unknown server {name!r}: aiohttp, uvicorn or granian")


def starlette_factory() -> Any:
    """granian's factory target: the same Starlette app uvicorn serves."""
    return starlette_app()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--gwbench",
        default=os.environ.get("PUSHGATE_GWBENCH"),
        help="path of gwbench.py (or $PUSHGATE_GWBENCH)",
    )
    parser.add_argument("--port", type=int, default=29291)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("rest", nargs="*", help="'serve NAME PORT', or extra gwbench arguments")
    args = parser.parse_args(argv)
    if args.rest[:1] == ["serve"]:
        serve(args.rest[1], int(args.rest[2]))
        return 0
    if not args.gwbench or not os.path.exists(args.gwbench):
        parser.error("--gwbench PATH is required (the gwbench.py harness)")
    me = f"{shlex.quote(sys.executable)} {shlex.quote(os.path.abspath(__file__))} serve"
    code = 0
    for other in ("uvicorn", "granian"):
        cmd = [
            sys.executable,
            args.gwbench,
            "--scenario",
            "push",
            "--rounds",
            str(args.rounds),
            "--no-verify",
            "--port",
            str(args.port),
            "--pushes",
            "200000",
            "--duration",
            "10",
            "--start",
            f"{me} aiohttp {{port}}",
            "--vs",
            f"{me} {other} {{port}}",
            *args.rest,
        ]
        print("$", shlex.join(cmd), flush=True)
        code |= subprocess.call(cmd)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
