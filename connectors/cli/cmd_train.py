"""``wirereport train wp / moments / decisive``: reproduce the fits of the shipped models.

Order matters when refitting everything: ``wp``, then ``decisive`` (it uses the WP model; for NBA/WNBA it also
fits the confirmed-moment model on it), then ``moments`` (its decisive table counts the models' probabilities). NBA and WNBA have no play-by-play seasons here:
``--league NBA --from-simulation`` learns from simulated full slates (``connectors/sources/simulation``), on the
seeds of ``--seeds`` (default 1-5; evaluation uses seeds from 1001 on, never trained on).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from connectors.exceptions import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="fit models from the bundled real data")
    targets = p.add_subparsers(dest="train_target", metavar="MODEL")
    wp = targets.add_parser("wp", help="win-probability model")
    wp.add_argument("--league", default="NFL", choices=["NFL"], help="NFL (NBA/WNBA use fixed Stern parameters)")
    wp.add_argument("--train-seasons", default="2009-2017", help="seasons to fit on (default 2009-2017)")
    wp.add_argument("--validate-season", type=int, default=2018, help="held-out season to score (default 2018)")
    wp.add_argument("--out", help="model file (default: the shipped streams/games/models/nfl_wp.json)")
    wp.set_defaults(func=run_wp)
    moments = targets.add_parser("moments", help="table of tweet-worthy moments still to come (for the budget)")
    moments.add_argument("--league", default="NFL", choices=["NFL", "NBA", "WNBA"])
    _simulation_arguments(moments)
    moments.add_argument("--train-seasons", default="2009-2017", help="seasons to learn from (default 2009-2017)")
    moments.add_argument("--out", help="table file (default: the shipped streams/games/models/nfl_moment_rates.json)")
    moments.set_defaults(func=run_moments)
    decisive = targets.add_parser("decisive", help="probability that a late score is a decisive moment")
    decisive.add_argument("--league", default="NFL", choices=["NFL", "NBA", "WNBA"])
    _simulation_arguments(decisive)
    decisive.add_argument("--train-seasons", default="2009-2017", help="seasons to fit on (default 2009-2017)")
    decisive.add_argument("--validate-season", type=int, default=2018, help="season to score (default 2018)")
    decisive.add_argument("--out", help="model file (default: the shipped streams/games/models/nfl_decisive.json)")
    decisive.set_defaults(func=run_decisive)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _simulation_arguments(p) -> None:
    p.add_argument(
        "--from-simulation", action="store_true", help="learn from simulated full slates (required for NBA/WNBA)"
    )
    p.add_argument("--seeds", default=f"{TRAIN_SEEDS[0]}-{TRAIN_SEEDS[-1]}", help="simulation seeds (default 1-5)")
    p.add_argument("--nights", type=int, default=TRAIN_NIGHTS, help="nights per seed (default 40)")


TRAIN_SEEDS = range(1, 6)
VALIDATION_SEED = 1001  # the first seed of the evaluation range: never trained on
TRAIN_NIGHTS = 40
FIRST_NIGHT = {"NBA": "2023-11-01", "WNBA": "2023-06-01"}


def simulated_plays(league: str, seeds: list[int], nights: int) -> list[dict]:
    """Full slates of simulated games, seed after seed, game after game (each game's plays in order)."""
    from datetime import date

    from connectors.sources.simulation.basketball import simulate_nights

    if any(seed >= VALIDATION_SEED for seed in seeds):
        raise InputError(f"seeds from {VALIDATION_SEED} on are kept for the evaluation; train on lower seeds")
    first = date.fromisoformat(FIRST_NIGHT[league])
    plays: list[dict] = []
    for seed in seeds:
        night_plays = simulate_nights(league, None, first, nights, seed, "full")[1]
        order = {gid: k for k, gid in enumerate(dict.fromkeys(p["game_id"] for p in night_plays))}
        plays += sorted(night_plays, key=lambda p: order[p["game_id"]])  # stable: each game's plays stay in order
    return plays


def _needs_simulation(args) -> bool:
    if args.league == "NFL":
        if args.from_simulation:
            raise InputError("--from-simulation: NFL models learn from the real seasons")
        return False
    if not args.from_simulation:
        raise InputError(f"{args.league} has no play-by-play seasons here: add --from-simulation")
    return True


def _seasons(text: str) -> list[int]:
    try:
        first, _, last = text.partition("-")
        return list(range(int(first), int(last or first) + 1))
    except ValueError:
        raise InputError(f"--train-seasons: expected YEAR or YEAR-YEAR, got {text!r}") from None


def run_wp(args) -> int:
    from connectors.sources.importers.nfl_seasons import season_plays
    from streams.games.win_probability import nfl
    from streams.games.win_probability.nfl_training import train

    seasons = _seasons(args.train_seasons)
    if 2019 in seasons or args.validate_season == 2019:
        raise InputError("2019 is held out of all tuning; train and validate on 2009-2018")
    print(f"importing seasons {seasons[0]}-{seasons[-1]} and {args.validate_season} ...", file=sys.stderr)
    train_plays = [p for s in seasons for p in season_plays(s)]
    validation_plays = season_plays(args.validate_season)
    model = train(train_plays, validation_plays)
    out = Path(args.out) if args.out else nfl.MODEL_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    ratings = model.pop("ratings_after_training")
    out.write_text(json.dumps(model, indent=1) + "\n")
    ratings_out = out.with_name("nfl_team_ratings.json")
    ratings_out.write_text(json.dumps(ratings, indent=1) + "\n")
    val = model["validation"]
    print(f"fitted on {model['train']['plays']} plays of {model['train']['games']} games; wrote {out}, {ratings_out}")
    print(
        f"{args.validate_season}: Brier {val['brier']:.4f} on {val['plays']} plays of {val['games']} games "
        f"(margin+time logistic: {val['baseline_margin_time_brier']:.4f})"
    )
    print("calibration (predicted vs observed home win rate per decile):")
    for row in val["calibration"]:
        if row["plays"]:
            print(
                f"  {row['bin']}: {row['plays']:6d} plays  predicted {row['predicted']:.3f}  observed {row['observed']:.3f}"
            )
    return 0


def run_moments(args) -> int:
    from streams.games import moment_rates
    from streams.games.training import fit_table

    if _needs_simulation(args):
        seeds = _seasons(args.seeds)
        print(f"simulating {args.league} seeds {seeds[0]}-{seeds[-1]}, {args.nights} nights each ...", file=sys.stderr)
        table = fit_table(simulated_plays(args.league, seeds, args.nights))
        table["source"] = f"simulated full slates, seeds {seeds[0]}-{seeds[-1]}, {args.nights} nights each"
    else:
        from connectors.sources.importers.nfl_seasons import season_plays

        seasons = _seasons(args.train_seasons)
        if 2019 in seasons or 2018 in seasons:
            raise InputError("2018 validates and 2019 is held out: learn the table from 2009-2017")
        print(f"importing seasons {seasons[0]}-{seasons[-1]} ...", file=sys.stderr)
        table = fit_table([p for s in seasons for p in season_plays(s)])
    out = Path(args.out) if args.out else moment_rates.MODELS / f"{args.league.lower()}_moment_rates.json"
    out.write_text(json.dumps(table) + "\n")
    grid = table["value_grid"]
    print(f"learned from {table['games']} games; wrote {out}")
    print(
        "expected moments per game at kick-off: "
        + ", ".join(
            f">={v:.2f}: {n:.2f}" for v, n in zip(grid, table["pregame"], strict=True) if v in (0.2, 0.4, 0.6, 0.8, 0.9)
        )
    )
    print(
        "expected decisive moments per game at kick-off: "
        + ", ".join(
            f">={v:.2f}: {n:.2f}"
            for v, n in zip(grid, table["decisive_pregame"], strict=True)
            if v in (0.1, 0.3, 0.5, 0.7, 0.9)
        )
    )
    return 0


def run_decisive(args) -> int:
    from streams.games import significance
    from streams.games.training import fit_decisive

    if _needs_simulation(args):
        seeds = _seasons(args.seeds)
        print(f"simulating {args.league} seeds {seeds[0]}-{seeds[-1]} and {VALIDATION_SEED} ...", file=sys.stderr)
        train_plays = simulated_plays(args.league, seeds, args.nights)
        held_out = _validation_plays(args.league, args.nights)
        model = fit_decisive(train_plays, held_out)
        model["source"] = f"simulated full slates, seeds {seeds[0]}-{seeds[-1]}; validated on seed {VALIDATION_SEED}"
        validated_on = f"seed {VALIDATION_SEED}"
    else:
        from connectors.sources.importers.nfl_seasons import season_plays

        seasons = _seasons(args.train_seasons)
        if 2019 in seasons or args.validate_season == 2019 or args.validate_season in seasons:
            raise InputError("2019 is held out: fit on seasons of 2009-2017 and validate on 2018")
        print(f"importing seasons {seasons[0]}-{seasons[-1]} and {args.validate_season} ...", file=sys.stderr)
        model = fit_decisive([p for s in seasons for p in season_plays(s)], season_plays(args.validate_season))
        validated_on = str(args.validate_season)
    out = Path(args.out) if args.out else significance.decisive_model_path(args.league)
    _write_logistic(model, out, "late go-ahead scores and equalizers", validated_on, "raw_rule", "raw rule")
    if args.league != "NFL" and args.out is None:
        _fit_confirmed(model["source"], train_plays, held_out)
    return 0


def _fit_confirmed(source: str, train_plays: list[dict], held_out: list[dict]) -> None:
    """The basketball confirmed-moment model (a held moment judged a few plays later), on the decisive model just
    written: its probability on the play is a feature."""
    from streams.games import confirmations, significance
    from streams.games.training import fit_confirmed

    significance.decisive_weights.cache_clear()
    model = fit_confirmed(train_plays, held_out)
    model["source"] = source
    out = confirmations.confirmed_model_path(model["league"])
    what = "held moments where they are decided"
    _write_logistic(model, out, what, f"seed {VALIDATION_SEED}", "on_the_play", "on the play")


def _write_logistic(model: dict, out: Path, what: str, validated_on: str, baseline: str, baseline_name: str) -> None:
    """Write a fitted logistic model and print its fit beside its baseline's."""
    out.write_text(json.dumps(model, indent=1) + "\n")
    val = model["validation"]
    print(f"fitted on {model['train']['samples']} {what}; wrote {out}")
    print(f"weights {dict(zip(model['features'], model['weights'], strict=True))}")
    print(
        f"{validated_on}: {val['samples']} samples; log loss {val['model']['log_loss']:.4f} "
        f"({baseline_name} {val[baseline]['log_loss']:.4f}), AUC {val['model']['auc']:.4f} "
        f"({baseline_name} {val[baseline]['auc']:.4f})"
    )


def _validation_plays(league: str, nights: int) -> list[dict]:
    """Full slates of the first evaluation seed (scored, never fitted)."""
    from datetime import date

    from connectors.sources.simulation.basketball import simulate_nights

    return simulate_nights(league, None, date.fromisoformat(FIRST_NIGHT[league]), nights, VALIDATION_SEED, "full")[1]
