"""Tweet text per style: score, teams, time and what happened, in a few human-sounding variants (pure)."""

from __future__ import annotations

import re
import zlib
from typing import Any

MAX_LENGTH = 280

TEAM_NAMES = {
    # NFL
    "ARI": "Cardinals", "ATL": "Falcons", "BAL": "Ravens", "BUF": "Bills", "CAR": "Panthers", "CHI": "Bears",
    "CIN": "Bengals", "CLE": "Browns", "DAL": "Cowboys", "DEN": "Broncos", "DET": "Lions", "GB": "Packers",
    "HOU": "Texans", "IND": "Colts", "JAC": "Jaguars", "JAX": "Jaguars", "KC": "Chiefs", "LA": "Rams",
    "STL": "Rams", "LAC": "Chargers", "SD": "Chargers", "MIA": "Dolphins", "MIN": "Vikings", "NE": "Patriots",
    "NO": "Saints", "NYG": "Giants", "NYJ": "Jets", "OAK": "Raiders", "LV": "Raiders", "PHI": "Eagles",
    "PIT": "Steelers", "SEA": "Seahawks", "SF": "49ers", "TB": "Buccaneers", "TEN": "Titans", "WAS": "Washington",
}  # fmt: skip
NBA_TEAM_NAMES = {
    "ATL": "Hawks", "BOS": "Celtics", "BKN": "Nets", "NJN": "Nets", "CHA": "Hornets", "CHI": "Bulls",
    "CLE": "Cavaliers", "DAL": "Mavericks", "DEN": "Nuggets", "DET": "Pistons", "GSW": "Warriors",
    "HOU": "Rockets", "IND": "Pacers", "LAC": "Clippers", "LAL": "Lakers", "MEM": "Grizzlies", "MIA": "Heat",
    "MIL": "Bucks", "MIN": "Timberwolves", "NOP": "Pelicans", "NOH": "Hornets", "NYK": "Knicks",
    "OKC": "Thunder", "ORL": "Magic", "PHI": "76ers", "PHX": "Suns", "POR": "Trail Blazers", "SAC": "Kings",
    "SAS": "Spurs", "TOR": "Raptors", "UTA": "Jazz", "WAS": "Wizards",
}  # fmt: skip

SINGULAR_NAMES = frozenset({"Washington"})  # names that take no article ("Washington", not "the Washington")

_CLOCK_PREFIX = re.compile(r"^\(\s*\d*:\d\d\)\s*")
_FORMATION = re.compile(r"^\((?:Shotgun|No Huddle(?:, Shotgun)?|Punt formation|Field Goal formation|Run formation|"
                        r"Pass formation|Kick formation)\)\s*", re.IGNORECASE)  # fmt: skip
_NOISE = re.compile(r"\s*(?:\[[^\]]*\]|Center-\S+|Holder-\S+)", re.IGNORECASE)
_KEY_EVENT = re.compile(r"touchdown|field goal|extra point|INTERCEPTED|FUMBLES|SAFETY|TWO-POINT|blocked", re.I)
_REPORTED = re.compile(r"^(?:\S+(?:,| and)\s+)*\S+ reported in as eligible\.\s*", re.IGNORECASE)


def team_name(league: str, code: str) -> str:
    names = TEAM_NAMES if league == "NFL" else NBA_TEAM_NAMES
    return names.get(code, code)


def _clean(description: str) -> str:
    """The description without clock stamps, formations and officials' detail (all its sentences)."""
    text = description.strip()
    for _ in range(3):
        text = _CLOCK_PREFIX.sub("", text)
        text = _FORMATION.sub("", text)
        text = _REPORTED.sub("", text)
    text = _NOISE.sub("", text)
    text = re.sub(r"\bTOUCHDOWN\b", "touchdown", text)
    text = re.sub(r"\bGOOD\b", "good", text)
    return re.sub(r"\s{2,}", " ", text).strip().rstrip(".,; ")


def what_happened(description: str) -> str:
    """The play's description, cleaned, up to its key sentence (the score, turnover or kick)."""
    text = _clean(description)
    sentences = re.split(r"(?<=[a-z0-9)])\. (?=[A-Z])", text)
    key = next((k for k, s in enumerate(sentences[:3]) if _KEY_EVENT.search(s)), 0)
    text = ". ".join(sentences[: key + 1])
    return text[:140].rstrip(".,; ") if len(text) > 140 else text


_NAME = r"(?P<{}>[A-Z][A-Za-z'.-]*\.[A-Za-z'.-]+)"
# (pattern, headline) pairs for the common scoring plays, tried in order on the cleaned description
_HEADLINES = tuple(
    (re.compile(pattern.format(p=_NAME.format("p"), r=_NAME.format("r")), re.IGNORECASE), text)
    for pattern, text in (
        (r"\bkicks\b[^.]*?[.,]\s*{p}[^.]*? for (?P<y>\d+) yards?, touchdown", "{p} takes the kickoff {y} yards for a touchdown"),
        (r"\bpunts\b[^.]*?[.,]\s*{p}[^.]*? for (?P<y>\d+) yards?, touchdown", "{p} takes the punt back {y} yards for a touchdown"),
        (r"INTERCEPTED by {p}.*? for (?P<y>\d+) yards?, touchdown", "{p} picks it off and takes it {y} yards for a touchdown"),
        (r"^{p} pass\b.*?\bto {r}.*? for (?P<y>\d+) yards?, touchdown", "{p} finds {r} for a {y}-yard touchdown"),
        (r"^{p} (?!pass\b)[^.]*? for (?P<y>\d+) yards?, touchdown", "{p} runs {y} yards for a touchdown"),
        (r"^{p} (?P<y>\d+) yard field goal is good", "{p} hits a {y}-yard field goal"),
        (r"^{p} extra point is good", "{p} adds the extra point"),
        (r"^{p} (?P<y>\d+) yard field goal is No Good, (?P<how>[A-Za-z ]+)", "{p} misses a {y}-yard field goal ({how})"),
        (r"^{p} (?P<y>\d+) yard field goal is BLOCKED \({r}\)", "{r} blocks {p}'s {y}-yard field goal"),
        (r"TWO-POINT CONVERSION ATTEMPT\. {p} (?:rushes|scrambles|up the middle|left|right)", "{p} runs in the two-point conversion"),
        (r"TWO-POINT CONVERSION ATTEMPT\. {p} pass\b.*?\bto {r}", "{p} hits {r} for the two-point conversion"),
    )
)  # fmt: skip


def headline(description: str) -> str:
    """What happened, outcome first ("J.Grant takes the kickoff 102 yards for a touchdown"), for the common
    scoring plays; otherwise the cleaned description (``what_happened``)."""
    text = _clean(description)
    for pattern, template in _HEADLINES:
        match = pattern.search(text)
        if match:
            line = template.format(**{k: (v.lower() if k == "how" else v) for k, v in match.groupdict().items()})
            line = re.sub(r"\bruns 1 yards for a touchdown", "runs it in from a yard out", line)
            line = re.sub(r"\b1 yards\b", "1 yard", line)
            return re.sub(r"\ba (8\d*|11|18)-yard", r"an \1-yard", line)
    return what_happened(description)


def time_phrase(league: str, period: int, clock_seconds: int, final: bool = False) -> str:
    """'with 2:07 left in the 4th', 'in overtime', 'at the end of the 3rd'."""
    if final:
        return "final" + (" in overtime" if period > 4 else "")
    minutes, seconds = divmod(max(clock_seconds, 0), 60)
    clock = f"{minutes}:{seconds:02d}" if minutes else f"0:{seconds:02d}"
    if period > 4:
        name = "overtime" if period == 5 else f"overtime {period - 4}"
        return f"with {clock} left in {name}" if clock_seconds > 0 else f"in {name}"
    ordinal = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th"}[period]
    if clock_seconds <= 0:
        return f"at the end of the {ordinal}"
    return f"with {clock} left in the {ordinal}"


TEMPLATES = {
    "walk_off": (
        "{leader_name} take the lead {time}! {what}. {leader} {lead_score}, {trailer} {trail_score}.",
        "Huge. {what} and {the_leader} lead {lead_score}-{trail_score} {time}.",
    ),
    "go_ahead": (
        "{leader_name} go ahead {lead_score}-{trail_score} {time}. {what}.",
        "{what}: {leader} lead {lead_score}-{trail_score} {time}.",
    ),
    "lead_change": (
        "Lead change! {what}. {leader} {lead_score}, {trailer} {trail_score} {time}.",
        "{The_leader} take it back: {lead_score}-{trail_score} {time}. {what}.",
    ),
    "equalizer": (
        "All square. {what}. {away} {away_score}, {home} {home_score} {time}.",
        "Tied at {home_score} {time}! {what}.",
    ),
    "final": (
        "Final: {winner} {win_score}, {loser} {lose_score}{ot}.",
        "That's it: {the_winner} beat {the_loser} {win_score}-{lose_score}{ot}.",
    ),
    "big_swing": (
        "Big swing in {away} at {home}: {what}. {score_line} {time}.",
        "{what}. {score_line} {time}, and {the_favourite} are now {favourite_pct}% to win.",
    ),
    "update": ("{what}. {score_line} {time}.",),
}
TIED_FINAL = ("Final: {away} {away_score}, {home} {home_score}. A tie after overtime.",)


def render(play: dict[str, Any], style: str, win_prob_home: float) -> str:
    """The tweet for ``play`` in ``style`` (variant chosen deterministically from the play's id)."""
    league = play["league"]
    home_code, away_code = play["home_team"], play["away_team"]
    hs, as_ = play["home_score"], play["away_score"]
    home, away = team_name(league, home_code), team_name(league, away_code)
    leader_is_home = hs >= as_
    final = play.get("event_type") == "game_end"
    fav_home = win_prob_home >= 0.5
    fields = {
        "home": home,
        "away": away,
        "home_score": hs,
        "away_score": as_,
        "leader": home if leader_is_home else away,
        "leader_name": home if leader_is_home else away,
        "trailer": away if leader_is_home else home,
        "lead_score": max(hs, as_),
        "trail_score": min(hs, as_),
        "winner": home if hs > as_ else away,
        "winner_name": home if hs > as_ else away,
        "loser": away if hs > as_ else home,
        "loser_name": away if hs > as_ else home,
        "win_score": max(hs, as_),
        "lose_score": min(hs, as_),
        "ot": " in overtime" if play["period"] > 4 else "",
        "score_line": f"{away} {as_}, {home} {hs}",
        "time": time_phrase(league, play["period"], play["clock_seconds"], final),
        "what": headline(play.get("description") or "") or "What a play",
        "favourite_name": home if fav_home else away,
        "favourite_pct": round(100 * (win_prob_home if fav_home else 1 - win_prob_home)),
    }
    for key in ("leader", "winner", "loser", "favourite"):
        name = fields[key if key != "favourite" else "favourite_name"]
        fields[f"the_{key}"] = name if name in SINGULAR_NAMES else f"the {name}"
    fields["The_leader"] = fields["the_leader"][0].upper() + fields["the_leader"][1:]
    variants = TIED_FINAL if style == "final" and hs == as_ else TEMPLATES.get(style, TEMPLATES["update"])
    variant = variants[zlib.crc32(f"{play['game_id']}:{play['play_id']}".encode()) % len(variants)]
    text = variant.format(**fields)
    text = text[0].upper() + text[1:]
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1].rstrip() + "…"
