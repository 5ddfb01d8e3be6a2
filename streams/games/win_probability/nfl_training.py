"""Reproducible fit of the NFL win-probability model (pure: plays in, model dict out)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from streams.games import team_ratings
from streams.games.win_probability import fitting, nfl

L2 = 1e-5
BASELINE_FEATURES = ("intercept", "margin_g", "hours_left")  # a logistic model on margin and time alone


def game_results(plays: Sequence[dict[str, Any]]) -> list[tuple[str, str, str, str, int, int]]:
    """(game_id, day, home, away, home final, away final) per game, ordered by each game's first play."""
    first: dict[str, dict[str, Any]] = {}
    last: dict[str, dict[str, Any]] = {}
    for p in plays:
        gid = p["game_id"]
        if gid not in first or p["occurred_at"] < first[gid]["occurred_at"]:
            first[gid] = p
        if gid not in last or p["sequence"] >= last[gid]["sequence"]:
            last[gid] = p
    order = sorted(first, key=lambda gid: (first[gid]["occurred_at"], gid))
    return [
        (gid, str(first[gid]["occurred_at"])[:10], first[gid]["home_team"], first[gid]["away_team"],
         last[gid]["home_score"], last[gid]["away_score"])
        for gid in order
    ]  # fmt: skip


def train(train_plays: Sequence[dict[str, Any]], validation_plays: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Fit on ``train_plays``, score on ``validation_plays``; returns the model file's content.

    Team strength comes from Elo ratings replayed over the games in time order (each game sees only
    earlier results); ``model["ratings_after_training"]`` holds the ratings after the training games.
    """
    strength, after_training = team_ratings.replay(game_results(train_plays), "NFL")
    val_strength, _ = team_ratings.replay(game_results(validation_plays), "NFL", after_training)
    strength.update(val_strength)

    def feats(p: dict[str, Any]) -> list[float]:
        return nfl.play_features(p, strength.get(p["game_id"], 0.0))

    train_outcomes = fitting.game_outcomes(train_plays)
    x, y = fitting.design_matrix(train_plays, train_outcomes, feats)
    weights = fitting.fit_logistic(x, y, L2)
    model: dict[str, Any] = {
        "league": "NFL",
        "kind": "logistic",
        "features": list(nfl.FEATURE_NAMES),
        "weights": [round(float(w), 8) for w in weights],
        "time_offset_hours": nfl.TIME_OFFSET,
        "l2": L2,
        "train": {"plays": len(y), "games": len(train_outcomes)},
        "ratings_after_training": {
            "season": after_training["season"],
            "ratings": {t: round(r, 2) for t, r in sorted(after_training["ratings"].items())},
        },
    }
    if validation_plays:
        model["validation"] = evaluate(tuple(model["weights"]), validation_plays, strength)
        cols = [nfl.FEATURE_NAMES.index(n) for n in BASELINE_FEATURES]
        base_w = fitting.fit_logistic(x[:, cols], y, L2)
        vx, vy = fitting.design_matrix(validation_plays, fitting.game_outcomes(validation_plays), feats)
        base_p = 1.0 / (1.0 + np.exp(-(vx[:, cols] @ base_w)))
        model["validation"]["baseline_margin_time_brier"] = round(fitting.brier(base_p, vy), 5)
    return model


def evaluate(
    weights: tuple[float, ...], plays: Sequence[dict[str, Any]], strength: dict[str, float] | None = None
) -> dict[str, Any]:
    """Brier score and calibration deciles of the model on ``plays`` (labels from each game's final score)."""
    strength = strength or {}
    outcomes = fitting.game_outcomes(plays)
    labelled = [p for p in plays if p["game_id"] in outcomes]
    predictions = [nfl.win_prob_home(p, weights, strength.get(p["game_id"], 0.0)) for p in labelled]
    labels = [outcomes[p["game_id"]] for p in labelled]
    return {
        "plays": len(labelled),
        "games": len(outcomes),
        "brier": round(fitting.brier(predictions, labels), 5),
        "calibration": fitting.calibration(predictions, labels),
    }
