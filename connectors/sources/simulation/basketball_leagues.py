"""League parameters of the basketball simulator and the possession model derived from them.

The box-score rates are league averages per team per game from Basketball-Reference's "League Averages" pages
(basketball-reference.com/leagues/NBA_2023.html, .../wnba/years/2023.html):

| statistic (per team-game) | NBA 2022-23 | WNBA 2023 |
|---------------------------|-------------|-----------|
| points                    | 114.7       | 82.6      |
| FGA / FG%                 | 88.3 / .475 | 68.3 / .443 |
| 3PA / 3P%                 | 34.2 / .361 | 22.8 / .343 |
| FTA / FT%                 | 23.5 / .782 | 17.3 / .804 |
| offensive rebounds        | 10.4        | 8.1       |
| turnovers                 | 14.1        | 13.3      |
| pace (B-Ref, per 48 / 40) | 99.2        | 80.0      |

The WNBA row is less certain than the NBA row (see docs/basketball-simulator.md); its points match the 82.6 the
AP reported for the 2023 season in August 2023. Team strength, home court and the rule constants (game and
overtime length, shot clock, timeouts) are documented on each field.

The possession model works on *chances*: a chance ends in a turnover, a shooting-foul trip to the line or a field
goal attempt; an offensive rebound gives the same team a new chance (the possession continues). The table's
counts fix every rate: chances = FGA + foul trips + TOV, possessions = chances - ORB, so the simulated game
reproduces the table's attempts, makes and points per possession when the clock gives it the table's possessions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

# Constants not in the league-average tables: shares of the play-by-play, rounded, stated here once.
AND_ONE_RATE = 0.055  # and-one free throws per made field goal (about 2.3 a team-game in the NBA)
THREE_SHOT_TRIP_SHARE = 0.05  # share of shooting-foul trips that are three free throws (fouled on a three)
FREE_THROW_ORB_RATE = 0.14  # offensive rebound share after a missed last free throw
SECOND_CHANCE_SECONDS = 5.0  # mean game-clock seconds of a chance after an offensive rebound
# What the end-game rules add on top of the per-chance rates (measured on 2,000 simulated NBA games): free throws
# from intentional fouls and short hurried possessions. The table's totals include them, so the per-chance
# rates and the mean possession length are derived from the table minus these.
END_GAME_FREE_THROWS = 2.0  # per team-game
END_GAME_POSSESSIONS = 1.5  # per team-game


@dataclass(frozen=True)
class LeagueParameters:
    """One league's rules and published averages (all counts per team per game)."""

    league: str
    season: str
    source: str
    teams: tuple[tuple[str, str], ...]  # (code, nickname); codes as stats.nba.com spells them
    period_seconds: int  # NBA 4 x 12 min, WNBA 4 x 10 min
    points: float
    fga: float
    fg_pct: float
    fg3a: float
    fg3_pct: float
    fta: float
    ft_pct: float
    orb: float
    tov: float
    pace: float  # Basketball-Reference's pace (its own possession formula), for comparison only
    overtime_share: float  # published share of games going to overtime, for the minutes a game lasts on average
    home_advantage: float  # points per game
    rating_sd: float  # spread of team net ratings, points per 100 possessions (drawn per slate)
    timeouts_per_team: int  # per game
    overtime_timeouts: int  # added per team per overtime
    media_timeout_marks: tuple[int, ...]  # clock seconds: the first dead ball under each mark is a media timeout
    quarter_break_seconds: int
    halftime_seconds: int
    # Make-probability shift per point of lead (capped at 20): leads shrink in real games (starters rest, the
    # trailing team presses); without it the final margins are far wider than the ~11.6-point sd Stern measured.
    catch_up: float = 0.002
    periods: int = 4
    overtime_seconds: int = 300  # 5 minutes in both leagues
    shot_clock: float = 24.0
    offensive_rebound_shot_clock: float = 14.0
    intentional_foul_window: float = 60.0  # last minute of the 4th quarter or an overtime
    late_game_seconds: float = 120.0  # when the trailing team hurries and the leading team runs the clock

    @property
    def regulation_seconds(self) -> int:
        return self.periods * self.period_seconds

    def nickname(self, code: str) -> str:
        return dict(self.teams)[code]


@dataclass(frozen=True)
class PossessionModel:
    """Per-chance probabilities and mean chance lengths derived from a league's table."""

    turnover: float  # P(chance ends in a turnover)
    foul_trip: float  # P(chance ends in a shooting-foul trip to the line)
    three_share: float  # share of field goal attempts that are threes
    two_pct: float
    three_pct: float
    ft_pct: float
    orb_after_miss: float  # P(offensive rebound | missed field goal)
    possessions_per_game: float  # per team, as the table implies (FGA + trips + TOV - ORB)
    first_chance_seconds: float  # mean game-clock seconds of a possession's first chance
    points_per_made_fg_pct: float  # d(points per possession) / d(make probability): turns ratings into makes


@cache
def possession_model(params: LeagueParameters) -> PossessionModel:
    made = params.fga * params.fg_pct
    made3 = params.fg3a * params.fg3_pct
    fg2a = params.fga - params.fg3a
    and_one_fta = AND_ONE_RATE * made
    trips = (params.fta - END_GAME_FREE_THROWS - and_one_fta) / (2 + THREE_SHOT_TRIP_SHARE)
    chances = params.fga + trips + params.tov
    last_ft_misses = (trips + and_one_fta) * (1 - params.ft_pct)
    orb_after_miss = (params.orb - FREE_THROW_ORB_RATE * last_ft_misses) / (params.fga - made)
    possessions = params.fga + (params.fta - and_one_fta) / (2 + THREE_SHOT_TRIP_SHARE) + params.tov - params.orb
    minutes = params.regulation_seconds + params.overtime_share * params.overtime_seconds
    possessions_in_regulation = (possessions - END_GAME_POSSESSIONS) * params.regulation_seconds / minutes
    mean_possession_seconds = params.regulation_seconds / (2 * possessions_in_regulation)
    orb_per_possession = params.orb / possessions
    return PossessionModel(
        turnover=params.tov / chances,
        foul_trip=trips / chances,
        three_share=params.fg3a / params.fga,
        two_pct=(made - made3) / fg2a,
        three_pct=params.fg3_pct,
        ft_pct=params.ft_pct,
        orb_after_miss=orb_after_miss,
        possessions_per_game=possessions,
        first_chance_seconds=mean_possession_seconds - orb_per_possession * SECOND_CHANCE_SECONDS,
        points_per_made_fg_pct=(2 * fg2a + 3 * params.fg3a) / possessions,
    )


NBA_TEAMS = (
    ("ATL", "Hawks"), ("BOS", "Celtics"), ("BKN", "Nets"), ("CHA", "Hornets"), ("CHI", "Bulls"),
    ("CLE", "Cavaliers"), ("DAL", "Mavericks"), ("DEN", "Nuggets"), ("DET", "Pistons"), ("GSW", "Warriors"),
    ("HOU", "Rockets"), ("IND", "Pacers"), ("LAC", "Clippers"), ("LAL", "Lakers"), ("MEM", "Grizzlies"),
    ("MIA", "Heat"), ("MIL", "Bucks"), ("MIN", "Timberwolves"), ("NOP", "Pelicans"), ("NYK", "Knicks"),
    ("OKC", "Thunder"), ("ORL", "Magic"), ("PHI", "76ers"), ("PHX", "Suns"), ("POR", "Trail Blazers"),
    ("SAC", "Kings"), ("SAS", "Spurs"), ("TOR", "Raptors"), ("UTA", "Jazz"), ("WAS", "Wizards"),
)  # fmt: skip
WNBA_TEAMS = (
    ("ATL", "Dream"), ("CHI", "Sky"), ("CON", "Sun"), ("DAL", "Wings"), ("IND", "Fever"), ("LVA", "Aces"),
    ("LAS", "Sparks"), ("MIN", "Lynx"), ("NYL", "Liberty"), ("PHX", "Mercury"), ("SEA", "Storm"), ("WAS", "Mystics"),
)  # fmt: skip

NBA = LeagueParameters(
    league="NBA",
    season="2022-23",
    source="basketball-reference.com/leagues/NBA_2023.html (League Averages, per team game)",
    teams=NBA_TEAMS,
    period_seconds=720,
    points=114.7,
    fga=88.3,
    fg_pct=0.475,
    fg3a=34.2,
    fg3_pct=0.361,
    fta=23.5,
    ft_pct=0.782,
    orb=10.4,
    tov=14.1,
    pace=99.2,
    overtime_share=0.06,
    home_advantage=2.5,
    rating_sd=4.5,  # 2022-23 team net ratings ran from about -10 to +7 per 100 possessions
    timeouts_per_team=7,
    overtime_timeouts=2,
    media_timeout_marks=(419, 179),  # the NBA's mandatory timeouts under 7:00 and 3:00 of each quarter
    quarter_break_seconds=130,
    halftime_seconds=900,
)

WNBA = LeagueParameters(
    league="WNBA",
    season="2023",
    source="basketball-reference.com/wnba/years/2023.html (League Averages, per team game)",
    teams=WNBA_TEAMS,
    period_seconds=600,
    points=82.6,
    fga=68.3,
    fg_pct=0.443,
    fg3a=22.8,
    fg3_pct=0.343,
    fta=17.3,
    ft_pct=0.804,
    orb=8.1,
    tov=13.3,
    pace=80.0,
    overtime_share=0.05,
    home_advantage=2.0,
    rating_sd=7.0,  # 2023 net ratings ran from about -12 (Phoenix) to +14 (Las Vegas) per 100 possessions
    timeouts_per_team=4,
    overtime_timeouts=1,
    media_timeout_marks=(299,),  # the first dead ball under 5:00 of each quarter
    quarter_break_seconds=120,
    halftime_seconds=900,
)

LEAGUES = {"NBA": NBA, "WNBA": WNBA}


def league_parameters(league: str) -> LeagueParameters:
    try:
        return LEAGUES[league.upper()]
    except KeyError:
        raise ValueError(f"no basketball parameters for league {league!r}; one of {', '.join(LEAGUES)}") from None


_INITIALS = "ABCDEJKLMNRST"
_SURNAMES = (
    "Adams", "Allen", "Bailey", "Baker", "Banks", "Bell", "Brooks", "Brown", "Bryant", "Butler", "Carter", "Clark",
    "Cole", "Collins", "Cook", "Cooper", "Cruz", "Davis", "Diaz", "Dixon", "Douglas", "Edwards", "Ellis", "Evans",
    "Fisher", "Ford", "Foster", "Fox", "Gibson", "Gordon", "Graham", "Grant", "Gray", "Green", "Griffin", "Hall",
    "Harper", "Harris", "Hayes", "Henry", "Hill", "Holmes", "Howard", "Hughes", "Hunt", "Jackson", "James",
    "Jenkins", "Johnson", "Jones", "Jordan", "Kelly", "Kim", "King", "Knight", "Lane", "Lee", "Lewis", "Long",
    "Lopez", "Marsh", "Martin", "Mason", "Mills", "Moore", "Morgan", "Morris", "Murphy", "Myers", "Nash", "Nelson",
    "Owens", "Parker", "Patel", "Perry", "Powell", "Price", "Reed", "Reyes", "Rice", "Rivera", "Roberts", "Ross",
    "Russell", "Ryan", "Scott", "Shaw", "Simmons", "Smith", "Stone", "Sullivan", "Taylor", "Thomas", "Tucker",
    "Turner", "Walker", "Wallace", "Ward", "Warren", "Watson", "Wells", "West", "White", "Wood", "Young",
)  # fmt: skip
ROSTER_SIZE = 9


@cache
def rosters(league: str) -> dict[str, tuple[str, ...]]:
    """Invented names ("J.Doe") for each team, the same on every run and unique across the league."""
    params = league_parameters(league)
    rng = random.Random(f"rosters/{params.league}")
    taken: set[str] = set()
    result = {}
    for code, _nickname in params.teams:
        names: list[str] = []
        while len(names) < ROSTER_SIZE:
            name = f"{rng.choice(_INITIALS)}.{rng.choice(_SURNAMES)}"
            if name not in taken:
                taken.add(name)
                names.append(name)
        result[code] = tuple(names)
    return result
