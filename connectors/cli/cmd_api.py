"""``wirereport api``: run the query and control API (uvicorn, the app imported by name)."""

from __future__ import annotations

import contextlib
import socket


def register(subparsers) -> None:
    p = subparsers.add_parser("api", help="run the HTTP API (read model over the state topics, admin commands)")
    p.add_argument("--port", type=int, help="port (default: WIREREPORT_API_PORT, 8000)")
    p.add_argument("--host", help="interface (default: WIREREPORT_API_HOST, 127.0.0.1)")
    p.set_defaults(func=run)


def run(args) -> int:
    import uvicorn

    from connectors.exceptions import InputError
    from streams.settings import get_settings

    settings = get_settings()
    host = args.host or settings.api_host
    port = settings.api_port if args.port is None else args.port
    if not 0 < port < 65536:
        raise InputError(f"bad --port {port}")
    try:  # one readable line instead of uvicorn's startup failure
        with socket.socket() as probe:
            probe.bind((host, port))
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another with --port") from None
    config = uvicorn.Config(
        "api.main:create_app",  # by name: connectors must not import api
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=3,
        log_config=None,  # keep our redacting log handler
    )

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.started:
                print(f"api ready: http://{host}:{port} (docs /docs, broker {settings.bootstrap})", flush=True)

    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled: a clean stop
        Server(config).run()
    print("api stopped", flush=True)
    return 0
