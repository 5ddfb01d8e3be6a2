"""A TLS and SASL front for the embedded broker, so client security settings are tested over real connections.

The bundled Tansu build cannot serve TLS (it refuses ``--cert`` together with ``--key`` and ignores ``--cert``
alone), and with ``--authentication`` it offers SCRAM only to users it cannot be given (``tansu user create`` is
refused as unauthenticated, and its storage lives in memory). The front listens where clients connect,
terminates TLS with Python's ``ssl`` module, answers the Kafka SASL exchange itself (PLAIN, SCRAM-SHA-256,
SCRAM-SHA-512 through ``scramp``), and then relays the bytes to Tansu's plaintext listener unchanged. Before a
client has authenticated only ``ApiVersions`` (relayed to Tansu), ``SaslHandshake`` and ``SaslAuthenticate``
are answered; any other request closes the connection, as a Kafka broker does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED = 33, 58
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class AuthenticationFailed(Exception):
    """The client's credentials are wrong; the message goes back to it in the SaslAuthenticate response."""


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


def _write_frame(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(struct.pack(">i", len(payload)) + payload)


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _body_start(frame: bytes, flexible: bool) -> int:
    """Offset of the request body: after api key, version, correlation id, client id (and tagged fields)."""
    (client_id_len,) = struct.unpack_from(">h", frame, 8)
    pos = 10 + max(client_id_len, 0)
    if flexible:
        count, pos = _uvarint(frame, pos)
        for _ in range(count):
            _, pos = _uvarint(frame, pos)
            size, pos = _uvarint(frame, pos)
            pos += size
    return pos


class _PlainSession:
    def __init__(self, users: Mapping[str, str]):
        self.users = users

    def step(self, data: bytes) -> tuple[bytes, bool]:
        _authzid, username, password = data.decode().split("\0")
        if self.users.get(username) != password:
            raise AuthenticationFailed(f"Authentication failed: invalid credentials for user {username}")
        return b"", True


class _ScramSession:
    def __init__(self, mechanism: str, users: Mapping[str, str]):
        from scramp import ScramMechanism

        scram = ScramMechanism(mechanism)
        self.server = scram.make_server(lambda username: scram.make_auth_info(self._password(users, username)))
        self.first = True

    @staticmethod
    def _password(users: Mapping[str, str], username: str) -> str:
        if username not in users:
            raise AuthenticationFailed(f"Authentication failed: unknown user {username}")
        return users[username]

    def step(self, data: bytes) -> tuple[bytes, bool]:
        from scramp import ScramException

        try:
            if self.first:
                self.first = False
                self.server.set_client_first(data.decode())
                return self.server.get_server_first().encode(), False
            self.server.set_client_final(data.decode())
            return self.server.get_server_final().encode(), True
        except ScramException as exc:
            raise AuthenticationFailed(f"Authentication failed during SCRAM: {exc}") from None


def _handshake_response(correlation_id: int, error: int) -> bytes:
    names = b"".join(struct.pack(">h", len(m)) + m.encode() for m in MECHANISMS)
    return struct.pack(">ihi", correlation_id, error, len(MECHANISMS)) + names


def _compact(data: bytes | None) -> bytes:
    """A flexible-version (compact) bytes or nullable string: unsigned varint of length + 1, then the bytes."""
    if data is None:
        return b"\x00"
    out, n = bytearray(), len(data) + 1
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + data


def _authenticate_response(correlation_id: int, version: int, error: int, message: str | None, data: bytes) -> bytes:
    text = None if message is None else message.encode()
    if version >= 2:  # flexible: response header and body end with empty tagged fields
        return (
            struct.pack(">ibh", correlation_id, 0, error) + _compact(text) + _compact(data) + struct.pack(">qb", 0, 0)
        )
    string = struct.pack(">h", -1) if text is None else struct.pack(">h", len(text)) + text
    body = struct.pack(">ih", correlation_id, error) + string + struct.pack(">i", len(data)) + data
    return body + (struct.pack(">q", 0) if version >= 1 else b"")


class KafkaFront:
    """Listens on ``host:port`` with optional TLS and SASL users, relaying to a plaintext broker at ``upstream``."""

    def __init__(
        self,
        upstream: tuple[str, int],
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        users: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
    ):
        self.upstream = upstream
        self.host, self.port = host, port
        self.tls = tls
        self.users = dict(users) if users is not None else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> KafkaFront:
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls)
            )
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="kafka-front", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError(f"kafka front did not start on {self.bootstrap}")
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return

        async def close() -> None:
            # Closing every connection ends each relay by itself (no task is cancelled mid-read).
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if others:
                await asyncio.wait(others, timeout=2)

        asyncio.run_coroutine_threadsafe(close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> KafkaFront:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers.update((writer, up_writer))
        try:
            # the client or the broker going away ends the connection: the other side is closed below too
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                if self.users is None or await self._authenticate(reader, writer, up_reader, up_writer):
                    await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                with contextlib.suppress(Exception):
                    w.close()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _authenticate(self, reader, writer, up_reader, up_writer) -> bool:
        """Answer the SASL exchange; True once the client is authenticated, False to close the connection."""
        assert self.users is not None
        session: _PlainSession | _ScramSession | None = None
        while True:
            frame = await _read_frame(reader)
            api_key, version, correlation_id = struct.unpack_from(">hhi", frame)
            if api_key == API_VERSIONS:
                _write_frame(up_writer, frame)
                _write_frame(writer, await _read_frame(up_reader))
            elif api_key == SASL_HANDSHAKE:
                pos = _body_start(frame, flexible=False)
                (size,) = struct.unpack_from(">h", frame, pos)
                mechanism = frame[pos + 2 : pos + 2 + size].decode()
                known = mechanism in MECHANISMS
                _write_frame(writer, _handshake_response(correlation_id, 0 if known else UNSUPPORTED_SASL_MECHANISM))
                if not known:
                    return False
                session = _PlainSession(self.users) if mechanism == "PLAIN" else _ScramSession(mechanism, self.users)
            elif api_key == SASL_AUTHENTICATE and session is not None:
                pos = _body_start(frame, flexible=version >= 2)
                if version >= 2:
                    size, pos = _uvarint(frame, pos)
                    data = frame[pos : pos + size - 1]
                else:
                    (size,) = struct.unpack_from(">i", frame, pos)
                    data = frame[pos + 4 : pos + 4 + size]
                try:
                    answer, done = session.step(data)
                except AuthenticationFailed as exc:
                    log.info("kafka front: %s", exc)
                    reply = _authenticate_response(correlation_id, version, SASL_AUTHENTICATION_FAILED, str(exc), b"")
                    _write_frame(writer, reply)
                    await writer.drain()
                    return False
                _write_frame(writer, _authenticate_response(correlation_id, version, 0, None, answer))
                if done:
                    await writer.drain()
                    return True
            else:
                return False  # not authenticated: a broker closes the connection
            await writer.drain()
