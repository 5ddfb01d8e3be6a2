"""Feed adapters: a live, growing document gives exactly the importer's records of the final file for the plays
both see; the play not yet followed is held back; malformed documents are refused with a reason."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from connectors.sources.feeds.base import FeedGame, MalformedFeed
from connectors.sources.feeds.nba_playbyplayv2 import NbaPlaybyplayV2Adapter
from connectors.sources.feeds.nfl_gamecenter import NflGamecenterAdapter, _season
from connectors.sources.importers import nfl
from connectors.testing import SAMPLE_DATA
from connectors.testing.feed_server import nba_document, nba_partial, nba_play_count, nfl_document, nfl_partial

EID = "2018090900"  # BUF at BAL, 2018 week 1


def _body(document) -> bytes:
    return json.dumps(document).encode()


@pytest.fixture(scope="module")
def nfl_game():
    info = next(g for g in nfl.select_games(2018, 1) if g["eid"] == EID)
    game = FeedGame(
        "NFL", EID, info["home"], info["away"], nfl.kickoff_utc(info), nfl.season_of(info), info["season_type"]
    )
    return game, nfl_document(EID), nfl.game_plays(info, nfl.load_game(EID))


@pytest.fixture(scope="module")
def nba_game():
    plays = [json.loads(line) for line in (SAMPLE_DATA / "nba_0020901030.jsonl").read_text().splitlines()]
    game = FeedGame("NBA", "0020901030", "MIA", "CHA", datetime.fromisoformat("2010-03-13T00:41:00+00:00"))
    return game, nba_document(), plays


def test_nfl_partial_documents_give_the_importer_records_of_the_plays_seen(nfl_game):
    game, document, imported = nfl_game
    adapter = NflGamecenterAdapter()
    total = len(nfl.play_keys(document[EID]))
    previous = 0
    for revealed in range(0, total, 9):
        snapshot = adapter.convert(_body(nfl_partial(document, EID, revealed)), game)
        assert snapshot.plays == imported[: len(snapshot.plays)]
        assert not snapshot.final
        assert len(snapshot.plays) >= previous  # what was settled stays settled
        previous = len(snapshot.plays)
        seen = {p["play_id"] for p in snapshot.plays}
        if revealed:
            assert nfl.play_keys(document[EID])[revealed - 1] not in seen  # the last play waits for the next snap
    final = adapter.convert(_body(document), game)
    assert final.final and final.plays == imported
    assert final.schedule == {
        "league": "NFL",
        "game_id": EID,
        "home_team": "BAL",
        "away_team": "BUF",
        "scheduled_start": "2018-09-09T17:00:00Z",
    }


def test_nfl_touchdown_waits_until_its_try_is_known(nfl_game):
    game, document, imported = nfl_game
    adapter = NflGamecenterAdapter()
    keys = nfl.play_keys(document[EID])
    touchdown = next(p for p in imported if p["event_type"] == "score" and p["home_score"] + p["away_score"] >= 6)
    index = keys.index(touchdown["play_id"])
    shortly_after = adapter.convert(_body(nfl_partial(document, EID, index + 2)), game)
    assert touchdown["play_id"] not in {p["play_id"] for p in shortly_after.plays}
    notes = {
        k: p.get("note") for d in document[EID]["drives"].values() if isinstance(d, dict) for k, p in d["plays"].items()
    }
    after_kickoff = next(i for i in range(index + 1, len(keys)) if notes[keys[i]] == "KICKOFF")
    settled = adapter.convert(_body(nfl_partial(document, EID, after_kickoff + 1)), game)
    assert touchdown in settled.plays


def test_nfl_malformed_documents_are_refused(nfl_game):
    game, document, _imported = nfl_game
    adapter = NflGamecenterAdapter()
    body = _body(document)
    with pytest.raises(MalformedFeed, match="not JSON"):
        adapter.convert(body[: len(body) // 2], game)
    with pytest.raises(MalformedFeed, match="no game 2018090900"):
        adapter.convert(_body({"2018090901": document[EID]}), game)
    broken = json.loads(body)
    broken[EID]["drives"]["1"]["plays"] = ["not", "an", "object"]
    with pytest.raises(MalformedFeed, match="drive 1"):
        adapter.convert(_body(broken), game)
    swapped = FeedGame("NFL", EID, "BUF", "BAL", game.scheduled_start, 2018, "REG")
    with pytest.raises(MalformedFeed, match="home team is BAL"):
        adapter.convert(body, swapped)


def test_nfl_season_of_a_scheduled_game_file_entry():
    """The season decides overtime length; January games are the previous season's playoffs."""
    kickoff = datetime.fromisoformat("2019-01-13T18:05:00+00:00")
    assert _season(FeedGame("NFL", "2019011300", "NE", "LAC", kickoff)) == (2018, "POST")
    assert _season(
        FeedGame("NFL", "2018090900", "BAL", "BUF", datetime.fromisoformat("2018-09-09T17:00:00+00:00"))
    ) == (
        2018,
        "REG",
    )


def test_nba_partial_documents_give_the_importer_records_of_the_rows_seen(nba_game):
    game, document, imported = nba_game
    adapter = NbaPlaybyplayV2Adapter()
    total = nba_play_count(document)
    for revealed in [*range(0, total, 23), total - 1]:
        snapshot = adapter.convert(_body(nba_partial(document, revealed)), game)
        assert snapshot.plays == imported[: len(snapshot.plays)]
        assert not snapshot.final
    assert adapter.convert(_body(nba_partial(document, 1)), game).plays == []  # teams unknown yet
    final = adapter.convert(_body(document), game)
    assert final.final and final.plays == imported
    assert final.plays[-1]["event_type"] == "game_end"
    schedule = json.loads((SAMPLE_DATA / "nba_0020901030_schedule.jsonl").read_text())
    assert final.schedule == schedule


def test_nba_period_end_waits_for_the_next_period(nba_game):
    game, document, imported = nba_game
    adapter = NbaPlaybyplayV2Adapter()
    first_end = next(i for i, p in enumerate(imported) if p["event_type"] == "period_end")
    held = adapter.convert(_body(nba_partial(document, first_end + 1)), game)
    assert len(held.plays) == first_end  # the quarter's end could still be the game's
    released = adapter.convert(_body(nba_partial(document, first_end + 2)), game)
    assert released.plays[first_end]["event_type"] == "period_end"
    assert released.plays == imported[: first_end + 2]


def test_nba_malformed_documents_are_refused(nba_game):
    game, document, _imported = nba_game
    adapter = NbaPlaybyplayV2Adapter()
    with pytest.raises(MalformedFeed, match="no resultSets"):
        adapter.convert(b'{"resource": "playbyplay"}', game)
    short_row = json.loads(_body(document))
    short_row["resultSets"][0]["rowSet"][5] = short_row["resultSets"][0]["rowSet"][5][:3]
    with pytest.raises(MalformedFeed, match="row 6"):
        adapter.convert(_body(short_row), game)
    other = FeedGame("NBA", "0020900001", "MIA", "CHA", game.scheduled_start)
    with pytest.raises(MalformedFeed, match="of game 0020901030"):
        adapter.convert(_body(document), other)
    bad_score = json.loads(_body(document))
    headers = bad_score["resultSets"][0]["headers"]
    row = next(r for r in bad_score["resultSets"][0]["rowSet"] if r[headers.index("SCORE")])
    row[headers.index("SCORE")] = "ten - two"
    with pytest.raises(MalformedFeed, match="unreadable score"):
        adapter.convert(_body(bad_score), game)
