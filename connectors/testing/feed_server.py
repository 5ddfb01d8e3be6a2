"""A local live feed for tests: serves recorded real games progressively over HTTP on a loopback port.

Each game's recorded final document is revealed play by play under the test's control (``reveal``), as the live
feed would have grown it; the server answers ``304 Not Modified`` to a conditional request when nothing changed
(``ETag``/``If-None-Match``, ``Last-Modified``/``If-Modified-Since``), and can inject a burst of errors, a
malformed body, and a corrected play. Documents are served at ``/{game_id}.json``::

    feed = RecordedFeed()
    feed.add_nfl_game("2018090900")
    with serving_feed(feed) as base_url:
        feed.reveal("2018090900", 40)
        ... poll f"{base_url}/2018090900.json" ...
"""

from __future__ import annotations

import bisect
import copy
import gzip
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from connectors.sources.importers import nfl
from connectors.testing.http_server import serving
from connectors.testing.records import SAMPLE_DATA

NBA_SAMPLE_GAME = SAMPLE_DATA / "nba_0020901030_playbyplayv2.json.gz"


def nfl_document(eid: str) -> dict[str, Any]:
    """The recorded final GameCenter document of an NFL game, as the live feed served it."""
    game = nfl.load_game(eid)
    if game is None:
        raise LookupError(f"the nflgame wheel has no gamecenter data for {eid}")
    return {eid: game, "nextupdate": 14}


def nfl_partial(document: dict[str, Any], eid: str, revealed: int) -> dict[str, Any]:
    """The document as it stood when only its first ``revealed`` plays were known (not final yet)."""
    game = document[eid]
    keys = nfl.play_keys(game)
    if revealed >= len(keys):
        return document
    shown = set(keys[:revealed])
    partial = copy.deepcopy(game)
    drives = {}
    for drive_key, drive in (game.get("drives") or {}).items():
        if not drive_key.isdigit():
            continue
        plays = {k: copy.deepcopy(p) for k, p in (drive.get("plays") or {}).items() if k in shown}
        if plays:
            drives[drive_key] = {**copy.deepcopy(drive), "plays": plays}
    drives["crntdrv"] = max((int(k) for k in drives), default=0)
    partial["drives"] = drives
    partial["scrsummary"] = {k: v for k, v in (game.get("scrsummary") or {}).items() if k in shown}
    partial["qtr"] = _plays_by_key(game)[keys[revealed - 1]].get("qtr") if revealed else "Pregame"
    return {eid: partial, "nextupdate": 14}


def _plays_by_key(game: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for drive_key, drive in (game.get("drives") or {}).items():
        if drive_key.isdigit():
            for key, play in (drive.get("plays") or {}).items():
                found.setdefault(key, play)
    return found


def nba_document(path: Path = NBA_SAMPLE_GAME) -> dict[str, Any]:
    """The recorded final playbyplayv2 document of an NBA game (default: the statsnba-playbyplay sample)."""
    with gzip.open(path, "rt") as fh:
        return json.load(fh)


def nba_partial(document: dict[str, Any], revealed: int) -> dict[str, Any]:
    """The document with only its first ``revealed`` PlayByPlay rows."""
    partial = copy.deepcopy(document)
    for result in partial["resultSets"]:
        if result["name"] == "PlayByPlay":
            result["rowSet"] = result["rowSet"][:revealed]
    return partial


def nba_game_id(document: dict[str, Any]) -> str:
    return str(document["parameters"]["GameID"])


def nba_play_count(document: dict[str, Any]) -> int:
    return len(next(r for r in document["resultSets"] if r["name"] == "PlayByPlay")["rowSet"])


@dataclass
class _Game:
    league: str
    final: dict[str, Any]
    total: int
    revealed: int = 0
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    corrections: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)


class RecordedFeed:
    """The games served and what the next answers inject; thread-safe (the server answers in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._games: dict[str, _Game] = {}
        self._errors: list[int] = []
        self._malformed = 0
        self.requests: list[tuple[str, int]] = []  # (path, status) of every request answered

    # -- games ---------------------------------------------------------------------------------------------
    def add_nfl_game(self, eid: str, game_id: str | None = None) -> str:
        """Serve a recorded NFL game, under another ``game_id`` if given (tests sharing a broker keep apart)."""
        recorded = nfl_document(eid)
        game_id = game_id or eid
        document = {game_id: recorded[eid], "nextupdate": recorded["nextupdate"]}
        self._add(game_id, _Game("NFL", document, len(nfl.play_keys(document[game_id]))))
        return game_id

    def add_nba_game(self, path: Path = NBA_SAMPLE_GAME) -> str:
        document = nba_document(path)
        game_id = nba_game_id(document)
        self._add(game_id, _Game("NBA", document, nba_play_count(document)))
        return game_id

    def _add(self, game_id: str, game: _Game) -> None:
        with self._lock:
            self._games[game_id] = game
            self._render(game_id, game)

    def total(self, game_id: str) -> int:
        return self._games[game_id].total

    def revealed(self, game_id: str) -> int:
        return self._games[game_id].revealed

    def reveal(self, game_id: str, count: int | None = None) -> None:
        """Show ``count`` plays in all (None: the whole game, final)."""
        with self._lock:
            game = self._games[game_id]
            game.revealed = game.total if count is None else min(count, game.total)
            self._render(game_id, game)

    def step(self, game_id: str, plays: int) -> None:
        """Show ``plays`` more plays."""
        self.reveal(game_id, self._games[game_id].revealed + plays)

    def correct(self, game_id: str, change: Callable[[dict[str, Any]], None]) -> None:
        """Change the served document from now on (``change`` edits the final document in place), as a feed
        does when a play is corrected after review."""
        with self._lock:
            game = self._games[game_id]
            change(game.final)
            self._render(game_id, game)

    def document(self, game_id: str) -> dict[str, Any]:
        """The document as currently served (a copy)."""
        with self._lock:
            return json.loads(self._games[game_id].body)

    def final_document(self, game_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._games[game_id].final)

    def _render(self, game_id: str, game: _Game) -> None:
        if game.league == "NFL":
            document = nfl_partial(game.final, game_id, game.revealed)
        else:
            document = nba_partial(game.final, game.revealed)
        body = json.dumps(document, separators=(",", ":")).encode()
        if body != game.body:
            game.body = body
            game.etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            game.last_modified = formatdate(usegmt=True)

    # -- injected failures -----------------------------------------------------------------------------------
    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status``."""
        with self._lock:
            self._errors.extend([status] * count)

    def malformed_next(self, count: int = 1) -> None:
        """Answer the next ``count`` requests with 200 and a truncated JSON body."""
        with self._lock:
            self._malformed += count

    def statuses(self) -> list[int]:
        with self._lock:
            return [status for _path, status in self.requests]

    # -- answering -------------------------------------------------------------------------------------------
    def answer(self, path: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            status, out_headers, body = self._answer(path, headers)
            self.requests.append((path, status))
            return status, out_headers, body

    def _answer(self, path: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        if self._errors:
            return self._errors.pop(0), {}, b"upstream trouble"
        game_id = path.strip("/").removesuffix(".json")
        game = self._games.get(game_id)
        if game is None:
            return 404, {}, b"no such game"
        if self._malformed:
            self._malformed -= 1
            return 200, {"Content-Type": "application/json"}, game.body[: len(game.body) // 2]
        validators = {"ETag": game.etag, "Last-Modified": game.last_modified}
        if_none_match = headers.get("If-None-Match")
        if if_none_match is not None:  # takes precedence over If-Modified-Since
            if if_none_match == game.etag:
                return 304, validators, b""
        elif headers.get("If-Modified-Since") == game.last_modified:
            return 304, validators, b""
        return 200, {"Content-Type": "application/json", **validators}, game.body


class _FeedHandler(BaseHTTPRequestHandler):
    feed: RecordedFeed

    def do_GET(self) -> None:
        status, headers, body = self.feed.answer(self.path, self.headers)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # quiet: tests read ``feed.requests``
        pass


def nfl_play_times(eid: str, document: dict[str, Any]) -> list[float]:
    """When each play of the game's document happened (epoch seconds, its record's ``occurred_at``), in play order.

    A play the importer gives no record of is taken to happen with the play before it."""
    info = next((g for g in nfl.load_schedule() if g["eid"] == eid), None)
    if info is None:
        raise LookupError(f"{eid} is not in the nflgame schedule")
    at = {r["play_id"]: _epoch(r["occurred_at"]) for r in nfl.game_plays(info, document[eid])}
    times, last = [], nfl.kickoff_utc(info).timestamp()
    for key in nfl.play_keys(document[eid]):
        last = at.get(key, last)
        times.append(last)
    return times


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class ReplayReveal:
    """Reveals each served game's plays when their recorded time comes, ``speed`` times faster than they were
    played; the hours when no game is on (between kickoffs, overnight) are skipped.

    ``times`` maps a served game id to its plays' times (:func:`nfl_play_times`); ``tick()`` reveals what is due
    now and says whether plays remain; ``run(stop)`` ticks until every game is final."""

    def __init__(
        self,
        feed: RecordedFeed,
        times: dict[str, list[float]],
        speed: float,
        clock: Callable[[], float] = time.monotonic,
        report: Callable[[str], None] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed {speed} is not above 0")
        self.feed, self.times, self.speed, self.clock = feed, times, speed, clock
        self.report = report or (lambda line: None)
        self.replay_start = min(t[0] for t in times.values() if t)
        self.started_at = clock()
        self.skipped = 0.0

    def replay_time(self) -> float:
        """The recorded moment the replay is at."""
        return self.replay_start + (self.clock() - self.started_at) * self.speed + self.skipped

    def tick(self) -> bool:
        now = self.replay_time()
        pending = {g: t for g, t in self.times.items() if self.feed.revealed(g) < len(t)}
        if pending and all(t[0] > now for t in pending.values()):  # no game on: go to the next kickoff
            self.skipped += min(t[0] for t in pending.values()) - now
            now = self.replay_time()
        for game_id, times in pending.items():
            count = bisect.bisect_right(times, now)
            if count > self.feed.revealed(game_id):
                self.feed.reveal(game_id, count)
                if count == len(times):
                    self.report(f"{game_id}: final ({count} plays)")
        return any(self.feed.revealed(g) < len(t) for g, t in self.times.items())

    def run(self, stop: threading.Event, every: float = 0.2) -> None:
        while self.tick() and not stop.wait(every):
            pass


@contextmanager
def serving_feed(feed: RecordedFeed, port: int = 0) -> Iterator[str]:
    """Serve ``feed`` on 127.0.0.1; yields the base URL (documents at ``{base}/{game_id}.json``)."""
    handler = type("BoundFeedHandler", (_FeedHandler,), {"feed": feed})
    with serving(handler, port) as base_url:
        yield base_url
