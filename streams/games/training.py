"""Fitting the moment-rate tables and the decisive-moment model from past games (pure: plays in, model out).

NFL models learn from the real seasons; NBA and WNBA ones from simulated seasons (``connectors/sources/simulation``):
the functions only see Play records, whatever made them.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

import numpy as np
from scipy.stats import rankdata

from streams.games import confirmations, moment_rates, team_ratings
from streams.games.game_state import final_in_record
from streams.games.play_decisions import assess, mark_tweeted, new_game_state, same_moment
from streams.games.significance import decisive_feature_names, decisive_features
from streams.games.slates import iso
from streams.games.win_probability import fitting
from streams.games.win_probability.nfl_training import game_results


def game_moments(plays: Sequence[dict[str, Any]], strength: float = 0.0) -> list[tuple[int, int, float, float]]:
    """(phase, closeness, moment value or 0, decisive probability or 0) per play of one game, moments grouped
    as the decisions do."""
    out: list[tuple[int, int, float, float]] = []
    if not plays:
        return out
    if plays[0]["league"] != "NFL":
        return _basketball_moments(plays, strength)
    game = new_game_state(plays[0], strength)
    for play in plays:
        wp, sig, pending = assess(play, game)
        covered = not sig["should_tweet"] or same_moment(game, sig, play)
        _advance(game, play, wp, pending)
        if not covered:
            mark_tweeted(game, sig, play)
        league = play["league"]
        ph = moment_rates.phase(league, play["period"], play["clock_seconds"])
        moment = (0.0, 0.0) if covered else (sig["value"], sig["decisive"])
        out.append((ph, moment_rates.closeness(wp), *moment))
    return out


def basketball_replay(plays: Sequence[dict[str, Any]], strength: float = 0.0):
    """Each play of one basketball game as the decisions see it: yields ``(play, wp, step, ended, plays_seen,
    moment)``, where ``step`` is what the play does with the game's held moments (``confirmations.step``) and
    ``moment`` the (value, decisive probability) of the moment judged at the play, or None."""
    game = new_game_state(plays[0], strength)
    ended = False
    for play in plays:
        wp, sig, pending = assess(play, game)
        # basketball ends only on the record itself (the NFL-only arguments do not matter here)
        ended = ended or final_in_record(
            play, game["home_score"], game["away_score"], late=False, try_to_come=False, overtime_seconds=0
        )
        plays_seen = game["plays_seen"] + 1
        step = confirmations.step(game, play, sig, wp, plays_seen, ended, iso(play["occurred_at"]))
        told_play, told_sig, _ = step.subject
        covered = not told_sig["should_tweet"] or same_moment(game, told_sig, told_play)
        yield play, wp, step, ended, plays_seen, None if covered else (told_sig["value"], told_sig["decisive"])
        _advance(game, play, wp, pending)
        game["held"] = step.held
        if not covered:
            mark_tweeted(game, told_sig, told_play)


def _basketball_moments(plays: Sequence[dict[str, Any]], strength: float) -> list[tuple[int, int, float, float]]:
    """``game_moments`` of a basketball game: its moments where the decisions judge them (held moments at their
    confirmation, with the confirmed probability)."""
    out: list[tuple[int, int, float, float]] = []
    for play, wp, _, _, _, moment in basketball_replay(plays, strength):
        ph = moment_rates.phase(play["league"], play["period"], play["clock_seconds"])
        out.append((ph, moment_rates.closeness(wp), *(moment or (0.0, 0.0))))
    return out


def confirmed_samples(plays: Sequence[dict[str, Any]]) -> tuple[list[tuple[float, ...]], list[int]]:
    """Features and labels of every held basketball moment where it is decided. Label 1 when a tweet at that
    play catches a decisive moment (one of it and the CATCH_WINDOW plays before it in its game is one)."""
    from streams.games.evaluation import CATCH_WINDOW, by_game, decisive_moments

    decisive = {m["index"] for m in decisive_moments(plays)}
    strength, _ = team_ratings.replay(game_results(plays), plays[0]["league"] if plays else "NBA")
    x: list[tuple[float, ...]] = []
    y: list[int] = []
    for game_id, idx in by_game(plays).items():
        replay = basketball_replay([plays[i] for i in idx], strength.get(game_id, 0.0))
        for k, (play, _, step, ended, plays_seen, _) in enumerate(replay):
            if step.decided is not None:
                x.append(confirmations.confirmed_features(step.decided, play, plays_seen, ended))
                y.append(int(any(j in decisive for j in idx[max(0, k - CATCH_WINDOW) : k + 1])))
    return x, y


def fit_confirmed(train_plays: Sequence[dict[str, Any]], validation_plays: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The confirmed-moment model of a basketball league (logistic), scored on the validation plays beside the
    probability the moments had on their plays."""
    features = confirmations.CONFIRMED_FEATURES
    return _fit_logistic(confirmed_samples, features, train_plays, validation_plays, "on_the_play")


def fit_table(plays: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The moment-rate table from plays given game after game (each game's plays in order)."""
    strength, _ = team_ratings.replay(game_results(plays), plays[0]["league"] if plays else "NFL")
    games = (
        game_moments(list(game), strength.get(gid, 0.0)) for gid, game in groupby(plays, key=lambda p: p["game_id"])
    )
    return moment_rates.fit_with_decisive(games)


def decisive_samples(plays: Sequence[dict[str, Any]]) -> tuple[list[tuple[float, ...]], list[int]]:
    """Features and labels of every late go-ahead score and equalizer (the plays with a raw decisive value).

    Label 1 when tweeting the play catches a decisive moment (it is one, or one of the CATCH_WINDOW plays
    before it in its game is), as the evaluation counts it.
    """
    from streams.games.evaluation import CATCH_WINDOW, by_game, decisive_moments

    decisive = {m["index"] for m in decisive_moments(plays)}
    league = plays[0]["league"] if plays else "NFL"
    strength, _ = team_ratings.replay(game_results(plays), league)
    x: list[tuple[float, ...]] = []
    y: list[int] = []
    for game_id, idx in by_game(plays).items():
        game = new_game_state(plays[idx[0]], strength.get(game_id, 0.0))
        for k, i in enumerate(idx):
            play = plays[i]
            wp, sig, pending = assess(play, game)
            if sig["decisive_raw"] > 0 and sig["should_tweet"]:
                x.append(decisive_features(sig["decisive_raw"], sig["tie"], league, sig["minutes_left"]))
                y.append(int(any(j in decisive for j in idx[max(0, k - CATCH_WINDOW) : k + 1])))
            _advance(game, play, wp, pending)
    return x, y


def _scores(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Log loss and ROC AUC (rank form) of probabilities ``p`` for labels ``y``."""
    q = np.clip(p, 1e-6, 1 - 1e-6)
    ranks = rankdata(p)
    pos = int(y.sum())
    neg = len(y) - pos
    auc = (ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg) if pos and neg else float("nan")
    return {"log_loss": round(float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))), 5), "auc": round(auc, 4)}


def fit_decisive(train_plays: Sequence[dict[str, Any]], validation_plays: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The decisive-moment model (logistic on the league's decisive features), scored on the validation plays
    beside the raw rule it recalibrates."""
    features = decisive_feature_names(train_plays[0]["league"] if train_plays else "NFL")
    return _fit_logistic(decisive_samples, features, train_plays, validation_plays, "raw_rule")


def _fit_logistic(samples, features, train_plays, validation_plays, baseline: str) -> dict[str, Any]:
    """A logistic model on ``samples(plays)`` (features, labels), scored on the validation plays beside
    ``baseline``: the probability whose logit is the second feature (what the model recalibrates)."""
    x, y = samples(train_plays)
    weights = fitting.fit_logistic(np.array(x), np.array(y, dtype=float), 1e-5)
    model: dict[str, Any] = {
        "league": train_plays[0]["league"] if train_plays else "NFL",
        "kind": "logistic",
        "features": list(features),
        "weights": [round(float(w), 6) for w in weights],
        "train": {"samples": len(y), "positives": int(sum(y))},
    }
    if validation_plays:
        vx, vy = samples(validation_plays)
        vx_a, vy_a = np.array(vx), np.array(vy, dtype=float)
        fitted = 1.0 / (1.0 + np.exp(-(vx_a @ weights)))
        base = 1.0 / (1.0 + np.exp(-vx_a[:, 1]))
        model["validation"] = {"samples": len(vy), "model": _scores(fitted, vy_a), baseline: _scores(base, vy_a)}
    return model


def _advance(game: dict[str, Any], play: dict[str, Any], wp: float, pending: Any) -> None:
    """Move a training replay's game state past ``play`` (the fields ``assess`` reads)."""
    game.update(
        home_score=play["home_score"],
        away_score=play["away_score"],
        win_prob_home=wp,
        pending=pending,
        plays_seen=game["plays_seen"] + 1,
    )
