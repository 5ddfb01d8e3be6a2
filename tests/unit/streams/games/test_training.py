"""Fitting the budget's models: the moment tables and the decisive-moment model, on the bundled real Sunday."""

from __future__ import annotations

import gzip
import json

import pytest

from connectors.cli.main import main
from connectors.testing import SAMPLE_DATA
from streams.games import moment_rates
from streams.games import training as moment_training

SAMPLE = SAMPLE_DATA


@pytest.fixture(scope="module")
def sunday() -> list[dict]:
    with gzip.open(SAMPLE / "nfl_2018_week1_sunday.jsonl.gz", "rt") as fh:
        plays = [json.loads(line) for line in fh]
    return sorted(plays, key=lambda p: (p["game_id"], p["sequence"]))  # game after game, as the importer gives


def test_decisive_samples_label_the_scores_that_decided_games(sunday):
    x, y = moment_training.decisive_samples(sunday)
    assert len(x) == len(y) > 5 and all(len(row) == 3 and row[0] == 1.0 for row in x)
    assert 0 < sum(y) < len(y)  # some late go-ahead scores held, some did not
    # Rodgers to Cobb then the extra point (GB 24-23 with 2:13 left) is a positive: find it by its raw logit
    game = [p for p in sunday if p["game_id"] == "2018090912"]
    gx, gy = moment_training.decisive_samples(game)
    assert gy[-1] == 1 and gx[-1][2] == 0.0  # the last late score of the game decided it; not an equalizer


def test_both_tables_are_fitted_from_the_same_plays(sunday):
    table = moment_training.fit_table(sunday)
    assert table["games"] == len({p["game_id"] for p in sunday})
    grid = len(moment_rates.VALUE_GRID)
    assert len(table["decisive_pregame"]) == grid and len(table["decisive_table"]) == moment_rates.PHASES
    # decisive moments are late go-ahead scores and equalizers: far fewer than moments of any kind
    assert 0 < table["decisive_pregame"][0] < table["pregame"][0] / 2
    pregame = table["decisive_pregame"]
    assert pregame == sorted(pregame, reverse=True)


def test_the_shipped_tables_hold_the_decisive_counts():
    table = moment_rates.load("NFL")
    assert table["games"] > 2000 and len(table["decisive_pregame"]) == len(moment_rates.VALUE_GRID)
    assert 0.4 < table["decisive_pregame"][0] < 1.0  # about one decisive moment per game, less when decided early


def test_train_decisive_refuses_the_held_out_season(capsys):
    assert main(["train", "decisive", "--train-seasons", "2009-2019"]) != 0
    assert "held out" in capsys.readouterr().err


def test_confirmed_samples_are_the_held_moments_where_they_are_decided():
    from datetime import date

    from connectors.sources.simulation.basketball import simulate_nights
    from streams.games import confirmations

    plays = simulate_nights("NBA", None, date(2023, 11, 1), 3, 7, "full")[1]
    order = {gid: k for k, gid in enumerate(dict.fromkeys(p["game_id"] for p in plays))}
    plays = sorted(plays, key=lambda p: order[p["game_id"]])
    x, y = moment_training.confirmed_samples(plays)
    assert len(x) == len(y) > 20 and all(len(row) == len(confirmations.CONFIRMED_FEATURES) for row in x)
    assert 0 < sum(y) < len(y)
    assert all(0 <= row[-1] <= confirmations.CONFIRM_PLAYS for row in x)  # decided within the catch window
    # a moment whose period ended with it standing is almost always decisive; one still in play much less
    over = [label for row, label in zip(x, y, strict=True) if row[6] == 1.0]
    alive = [label for row, label in zip(x, y, strict=True) if row[6] == 0.0]
    assert over and alive and sum(over) / len(over) > sum(alive) / len(alive)
    model = moment_training.fit_confirmed(plays, plays)
    assert model["features"] == list(confirmations.CONFIRMED_FEATURES)
    assert model["validation"]["model"]["auc"] > model["validation"]["on_the_play"]["auc"]
