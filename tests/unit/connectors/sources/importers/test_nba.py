"""The NBA importer: the bundled converted game and the spreadsheet-mangled scores of the source CSV."""

from __future__ import annotations

import itertools
import json

from connectors.sources.importers.nba import _score
from connectors.testing import SAMPLE_DATA
from schemas.codec import get_codec
from schemas.json_form import from_json

SAMPLE = SAMPLE_DATA


def test_mangled_scores_are_undone():
    assert _score("0 - 2") == (0, 2)
    assert _score("2-May") == (2, 5)
    assert _score("Apr-13") == (4, 13)


def test_bundled_game_is_valid_and_ends_77_71():
    plays = [json.loads(line) for line in (SAMPLE / "nba_0020901030.jsonl").read_text().splitlines()]
    codec = get_codec()
    for play in plays:
        codec.encode("Play", from_json("Play", play))
    last = plays[-1]
    assert (last["home_team"], last["home_score"], last["away_team"], last["away_score"]) == ("MIA", 77, "CHA", 71)
    assert last["event_type"] == "game_end"
    times = [p["occurred_at"] for p in plays]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(
        b["home_score"] >= a["home_score"] and b["away_score"] >= a["away_score"] for a, b in itertools.pairwise(plays)
    )
