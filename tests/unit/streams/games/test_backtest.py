"""The plays backtest on the bundled real Sunday: the contract, determinism, the budget, the CLI."""

from __future__ import annotations

import gzip
import json

import pytest

from connectors.cli.main import main
from connectors.testing import SAMPLE_DATA
from streams.games import backtest as plays_backtest
from streams.games import evaluation as plays_evaluation

SAMPLE = SAMPLE_DATA
PLAYS = SAMPLE / "nfl_2018_week1_sunday.jsonl.gz"
SCHEDULE = SAMPLE / "nfl_2018_week1_schedule.jsonl"


@pytest.fixture(scope="module")
def sunday():
    with gzip.open(PLAYS, "rt") as fh:
        plays = [json.loads(line) for line in fh]
    schedule = [json.loads(line) for line in SCHEDULE.read_text().splitlines()]
    return plays, schedule


def test_one_line_per_play_deterministic_and_within_budget(sunday):
    plays, schedule = sunday
    first = list(plays_backtest.run(plays, schedule, 17))
    second = list(plays_backtest.run(plays, schedule, 17))
    assert first == second and len(first) == len(plays)
    assert [(d["game_id"], d["play_id"]) for d in first] == [(p["game_id"], p["play_id"]) for p in plays]
    assert sum(d["tweet"] for d in first) <= 17
    line = plays_backtest.output_line(first[0])
    assert list(line) == ["game_id", "play_id", "win_prob_home", "significance", "tweet", "urgency", "style", "text"]
    assert all((d["text"] is None) != d["tweet"] for d in first)


def test_each_league_account_decides_on_its_own(sunday):
    """Interleaved with the NBA sample game, the NFL plays get the decisions they get alone, and so do the NBA plays:
    each league's account keeps its own budget and game states (the record the games agent keeps)."""
    plays, schedule = sunday
    nba = [json.loads(line) for line in (SAMPLE / "nba_0020901030.jsonl").read_text().splitlines()]
    nba_schedule = [json.loads(line) for line in (SAMPLE / "nba_0020901030_schedule.jsonl").read_text().splitlines()]
    mixed = [p for pair in zip(plays, nba, strict=False) for p in pair] + plays[len(nba) :]
    assert len(mixed) == len(plays) + len(nba)
    together = list(plays_backtest.run(mixed, schedule + nba_schedule, 17))
    assert [d for d in together if d["game_id"] != "0020901030"] == list(plays_backtest.run(plays, schedule, 17))
    nba_alone = list(plays_backtest.run(nba, nba_schedule, 17))
    assert [d for d in together if d["game_id"] == "0020901030"] == nba_alone
    assert {d["command"]["account"] for d in together if d["tweet"]} == {"NFL", "NBA"}
    # the one-game night keeps its budget for the 4th quarter: one tweet, the go-ahead for good at 8:52 in the 4th,
    # told once three more plays confirmed it (the decision of play 435 carries the tweet about play 430)
    assert [(d["play_id"], d["command"]["play_id"]) for d in nba_alone if d["tweet"]] == [("435", "430")]
    assert "go ahead 62-61 with 8:52 left in the 4th" in next(d["text"] for d in nba_alone if d["tweet"])


def test_strictly_online(sunday):
    """Decisions on a prefix of the input equal the first decisions on the whole input."""
    plays, schedule = sunday
    whole = list(plays_backtest.run(plays, schedule, 6))
    half = list(plays_backtest.run(plays[: len(plays) // 2], schedule, 6))
    assert half == whole[: len(half)]


def test_decisive_moments_of_the_sunday(sunday):
    plays, schedule = sunday
    moments = plays_evaluation.decisive_moments(plays)
    kinds = {(m["game_id"], m["kind"]) for m in moments}
    assert ("2018090912", "go_ahead_for_good") in kinds  # GB 24-23 with 2:13 left
    assert ("2018090901", "equalizer_forcing_overtime") in kinds  # PIT-CLE tied 21-21 with 1:58 left
    decisions = list(plays_backtest.run(plays, schedule, 17))
    summary = plays_evaluation.summarize(
        plays, [d["tweet"] for d in decisions], [d["win_prob_home"] for d in decisions]
    )
    assert summary["decisive_caught"] == summary["decisive_moments"] == len(moments)
    assert summary["garbage_share"] <= 0.05


def test_cli_writes_the_contract_and_reports_bad_lines(tmp_path, capsys):
    bad_input = tmp_path / "plays.jsonl"
    with gzip.open(PLAYS, "rt") as fh:
        lines = [next(fh) for _ in range(50)]
    bad_input.write_text("".join(lines) + "not json\n" + json.dumps({"league": "NFL"}) + "\n")
    out = tmp_path / "decisions.jsonl"
    code = main(["backtest", "plays", "--input", str(bad_input), "--budget", "3", "--out", str(out)])
    assert code == 3
    assert len(out.read_text().splitlines()) == 50
    err = capsys.readouterr().err
    assert "2 invalid input line(s)" in err and "backtest plays: 50 plays" in err
    assert main(["backtest", "plays", "--input", str(tmp_path / "missing.jsonl"), "--out", str(out)]) == 2


def test_baseline_counts_a_touchdown_and_its_try_once_and_the_oracle_bounds_it(sunday):
    plays, _ = sunday
    moments = plays_evaluation.decisive_moments(plays)
    base = plays_evaluation.baseline_tweets(plays, 1000)
    # GB 24-23: the touchdown ties 23-23, the extra point wins it; the rule tweets the score once, on the try
    td = next(i for i, p in enumerate(plays) if p["game_id"] == "2018090912" and p["play_id"] == "3584") - 1
    assert (plays[td]["home_score"], plays[td]["away_score"]) == (23, 23)
    assert not base[td] and base[td + 1]
    assert sum(base) == plays_evaluation.late_scores(plays)  # one tweet per late score
    assert sum(plays_evaluation.caught(plays, base, moments)) == len(moments)  # unlimited: every moment caught
    limited = plays_evaluation.baseline_tweets(plays, 17)
    assert sum(limited) == 17 and limited[: limited.index(True)] == base[: limited.index(True)]
    # the oracle knows the moments: at N a day it catches min(moments, N) of the day's moments
    assert plays_evaluation.oracle_caught_share(plays, moments, 1000) == 1.0
    assert plays_evaluation.oracle_caught_share(plays, moments, 2) == round(2 / len(moments), 4)


def test_a_missed_decisive_moment_is_diagnosed(sunday):
    """At 6 a day the Sunday's 5 decisive moments cost 5 tweets: the Bengals' go-ahead extra point with 11:07 left
    (decisive probability 0.32, the day's 6th candidate) is passed over and a tweet is left unused: timing."""
    plays, schedule = sunday
    decisions = list(plays_backtest.run(plays, schedule, 6))
    unlimited = list(plays_backtest.run(plays, schedule, 10**6))
    misses = plays_evaluation.miss_diagnosis(plays, decisions, unlimited, 6)
    assert [(m["game_id"], m["kind"], m["period"], m["clock_seconds"]) for m in misses] == [
        ("2018090902", "go_ahead_for_good", 4, 667)
    ]
    miss = misses[0]
    assert (miss["day"], miss["day_moments"], miss["day_tweets"], miss["day_unused"]) == ("2018-09-09", 5, 5, 1)
    assert miss["day_tweets_on_moments"] == 4 and miss["decisive"] == pytest.approx(0.32, abs=0.005)
    assert (miss["rank"], miss["day_candidates"], miss["hindsight_caught"]) == (6, 6, True)
    # the gap: no day has more moments than the budget, the hindsight ranking catches all 5, online 4
    assert plays_evaluation.gap_split(5, 5, 5, 4) == {"forced": 0, "ranking": 0, "timing": 1}
    # at 2 a day the policy keeps its last tweet for a game-winner that never comes and its first catches nothing:
    # every moment is missed, with a tweet left over; the hindsight ranking catches the top two
    tight = list(plays_backtest.run(plays, schedule, 2))
    rows = plays_evaluation.miss_diagnosis(plays, tight, unlimited, 2)
    assert len(rows) == 5 and {(r["day_tweets"], r["day_unused"], r["day_tweets_on_moments"]) for r in rows} == {
        (1, 1, 0)
    }
    assert sorted(r["rank"] for r in rows if r["hindsight_caught"]) == [1, 2]
