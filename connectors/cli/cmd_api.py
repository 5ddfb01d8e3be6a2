"""``wirereport api``: run the query and control API (uvicorn, the app imported by name)."""

from __future__ import annotations

import contextlib
import socket


def register(subparsers) -> None:
    p = subparsers.add_parser("api", help="run the HTTP API (read model over the state topics, admin commands)")
    p.add_argument("--port", type=int, help="port (default: WIREREPORT_API_PORT, 8000)")
    p.add_argument("--host", help="interface (default: WIREREPORT_API_HOST, 127.0.0.1)")
    p.set_defaults(func=run)


def header_timeout_protocol(seconds: float):
    """uvicorn's h11 protocol with a deadline for a request's head: uvicorn has none, so a client that trickles
    its headers (or opens a connection and says nothing) would hold a socket forever. The deadline starts when
    the connection opens and again after each response; the connection is closed if no head arrived by then."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        _head_timer = None
        _waiting_after = None  # the request cycle that was current when the deadline was armed

        def _arm(self) -> None:
            self._disarm()
            self._waiting_after = self.cycle
            self._head_timer = self.loop.call_later(seconds, self._head_timeout)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if self.cycle is self._waiting_after and not self.transport.is_closing():
                if self.conn.our_state not in (h11.ERROR, h11.CLOSED):
                    self.conn.send(h11.ConnectionClosed())
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not self._waiting_after:  # a new request's head arrived in time
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

    return HeaderTimeoutProtocol


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
        timeout_keep_alive=settings.api_timeout_keep_alive,
        limit_concurrency=settings.api_max_concurrency,
        http=header_timeout_protocol(settings.api_request_timeout),  # the body's deadline is the app's
        h11_max_incomplete_event_size=16 * 1024,  # request head size
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
