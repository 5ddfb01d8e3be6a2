"""Console sessions: an opaque random id in an HttpOnly cookie, the principal and CSRF token kept in memory.

The cookie never holds the credential: it names a session that holds the principal the credential proved. A session
ends at logout, after ``lifetime`` seconds (or when the token it came from expires, if earlier), and is forgotten
first when more than ``max_sessions`` are open. A restarted API forgets every session (users sign in again).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from api.security import Principal

COOKIE = "wr_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
DEFAULT_LIFETIME = 8 * 3600  # one working day of a game day; then sign in again


@dataclass
class ConsoleSession:
    session_id: str
    principal: Principal
    csrf_token: str
    expires_at: float
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (level, message) shown once on the next page

    @property
    def can_act(self) -> bool:
        return self.principal.has_scope("admin")

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode(), self.csrf_token.encode())

    def flash(self, level: str, message: str) -> None:
        self.flashes = [*self.flashes[-4:], (level, message)]

    def take_flashes(self) -> list[tuple[str, str]]:
        flashes, self.flashes = self.flashes, []
        return flashes


class SessionStore:
    """Open sessions by id, bounded and expiring; ``clock`` is injectable for tests."""

    def __init__(
        self, lifetime: float = DEFAULT_LIFETIME, max_sessions: int = 10_000, clock: Callable[[], float] = time.time
    ):
        self.lifetime = lifetime
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: OrderedDict[str, ConsoleSession] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, principal: Principal, not_after: float | None = None) -> ConsoleSession:
        expires = self.clock() + self.lifetime
        if not_after is not None:
            expires = min(expires, not_after)
        session = ConsoleSession(secrets.token_urlsafe(32), principal, secrets.token_urlsafe(32), expires)
        self._sessions[session.session_id] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> ConsoleSession | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires_at <= self.clock():
            del self._sessions[session_id]
            return None
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def seconds_left(self, session: ConsoleSession) -> int:
        return max(0, int(session.expires_at - self.clock()))
