"""What each console page shows, built from the read model through the caller's league filter (pure: no I/O).

Each builder returns the template's context; the same records reach the page later over the console's SSE
stream, so a value is formatted the same way on the server (filters below) and in the browser (console.js).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from jinja2 import Undefined

from api.deps import Visibility
from api.read_model import ReadModel
from connectors.auth.tokens import LEAGUES
from streams.runtime.feature_flags import FLAGS, SCALING_ACTIONS, TWEETS_ACTIONS, flag_id, normalized_value

STATUS_ORDER = {"live": 0, "scheduled": 1, "final": 2}
RECEIPT_STATUS = {  # the publisher's receipt status -> what the operator is told
    "posted": "posted",
    "failed": "failed",
    "dry_run": "dry run",
    "skipped_limit": "held",
    "duplicate": "held",
}
FEED_SIZE = 100
DASH = "\N{EN DASH}"  # what a page shows for a value not known
HISTORY_SIZE = 50
OBJECTS_SHOWN = 20  # overrides and events: the ones still in effect first, then the latest ended ones


# --- formatting (the same rules as console.js) ------------------------------------------------------------
def fmt_clock(game: dict[str, Any]) -> str:
    """``Q4 1:35`` (NFL quarters), ``OT 0:12``; a scheduled or final game says so instead."""
    status = game.get("status")
    if status == "final":
        return "Final"
    if status == "scheduled":
        return "Scheduled"
    period = int(game.get("period") or 0)
    seconds = max(0, int(game.get("clock_seconds") or 0))
    label = f"Q{period}" if period <= 4 else f"OT{period - 4 if period > 5 else ''}"
    return f"{label} {seconds // 60}:{seconds % 60:02d}"


def fmt_pct(value: Any, digits: int = 0) -> str:
    if value is None:
        return DASH
    return f"{fmt_fixed(float(value) * 100, digits)}%"  # an exact half rounds up, as toFixed does in console.js


def fmt_num(value: Any, digits: int = 1) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return fmt_fixed(value, digits)


def fmt_fixed(value: Any, digits: int) -> str:
    """``value`` with ``digits`` decimals, rounded as the browser's ``toLocaleString`` does (half away from zero, on
    the shortest decimal that reads back as the number: 0.205 gives 0.21), so a live update shows what was rendered."""
    exact = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    return f"{exact:,.{digits}f}"


def fmt_time(value: Any) -> str:
    """An ISO timestamp as ``HH:MM:SS`` UTC ."""
    if not value:
        return DASH
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC).strftime("%H:%M:%S")
    except ValueError:
        return str(value)[:19]


def epoch_ms(value: Any) -> int | None:
    if not value:
        return None
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def fmt(value: Any, format: str = "") -> str:
    """A record's field as a page shows it (``format``: num, num1, num2, pct, time, or none)."""
    if value is None or isinstance(value, Undefined):
        return DASH
    if format in ("num1", "num2"):  # fixed decimals: a column of measurements lines up on the point
        return fmt_fixed(value, int(format[-1]))
    if format in ("num", "pct", "time"):
        return {"num": fmt_num, "pct": fmt_pct, "time": fmt_time}[format](value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or DASH
    return str(value)


def fmt_watch(item: dict[str, Any]) -> str:
    """A game a budget is watching: ``NYJ @ DET · Q4 under 2:00, toss-up · 1.00 decisive ahead``."""
    closeness = f", {item['closeness']}" if item.get("closeness") else ""
    ahead = fmt(item.get("decisive_ahead"), "num2")
    return f"{item.get('matchup') or item.get('game_id')} · {item.get('stage')}{closeness} · {ahead} decisive ahead"


FILTERS = {"clock": fmt_clock, "pct": fmt_pct, "num": fmt_num, "time": fmt_time, "fmt": fmt, "watch": fmt_watch}


# --- pages -----------------------------------------------------------------------------------------------
def publish_status(receipt: dict[str, Any] | None) -> str:
    if receipt is None:
        return "decided"
    status = str(receipt.get("status") or "")
    return RECEIPT_STATUS.get(status, status or "decided")


def budget_row(budget: dict[str, Any]) -> dict[str, Any]:
    """A budget with its outlook's figures beside the record's (as console.js flattens a live one); without an
    outlook, what is left of the slate's budget."""
    limit, used = int(budget.get("limit") or 0), int(budget.get("used") or 0)
    return {**budget, "left": max(0, limit - used), **(budget.get("outlook") or {})}


def _tweet_marker(tweet: dict[str, Any]) -> dict[str, Any]:
    return {
        "command_id": tweet.get("command_id"),
        "at": epoch_ms(tweet.get("occurred_at")),
        "wp": tweet.get("win_prob_home"),
        "text": tweet.get("text"),
    }


def today(rm: ReadModel, visible: Visibility) -> dict[str, Any]:
    """The slate per league (live games first) with each game's win-probability line and tweets on it; the
    budget of each account; the latest tweets."""
    games = rm.keyed["games"].select(visible.keeps)
    games.sort(key=lambda g: (STATUS_ORDER.get(g.get("status"), 3), g.get("game_id")))
    slate: dict[str, list[dict[str, Any]]] = {}
    for game in games:
        slate.setdefault(str(game.get("league")), []).append(game)
    tweets_log = rm.logs["tweets"]
    lines = {}
    for game in games:
        game_id = str(game["game_id"])
        lines[game_id] = {
            "wp": [[epoch_ms(p["at"]), p["wp"]] for p in rm.win_prob.of(game_id)],
            "tweets": [_tweet_marker(t) for t in tweets_log.by_index(game_id) if visible.keeps(t)],
        }
    return {
        "slate": dict(sorted(slate.items())),
        "live": sum(g.get("status") == "live" for g in games),
        "lines": lines,
        "budgets": [budget_row(b) for b in rm.keyed["budgets"].select(visible.keeps)],
        "latest_tweets": tweets_log.recent(visible.keeps)[:10],
    }


def tweets(rm: ReadModel, visible: Visibility, account: str | None = None) -> dict[str, Any]:
    receipts = rm.keyed.get("tweet_receipts")
    feed = rm.logs["tweets"].recent(visible.where(account=account))[:FEED_SIZE]
    rows = []
    for tweet in feed:
        receipt = receipts.get(str(tweet.get("command_id"))) if receipts is not None else None
        rows.append({**tweet, "publish_status": publish_status(receipt), "receipt": receipt})
    accounts = {str(t.get("account")) for t in rm.logs["tweets"].recent(visible.keeps)}
    accounts |= {str(b.get("account")) for b in rm.keyed["budgets"].select(visible.keeps)}
    controls = rm.account_controls()
    return {
        "rows": rows,
        "accounts": sorted(accounts),
        "account": account,
        "account_rows": [
            {"account": lg, **account_status(controls.get(lg)), **flag_row(rm, TWEETS_ACTIONS, lg)}
            for lg in visible_leagues(visible)
        ],
    }


def account_status(control: dict[str, Any] | None) -> dict[str, Any]:
    """Whether an operator paused the publisher for an account (its latest pause or resume: ``control``), and that
    control's order (console.js applies a later one that comes live, in the same order as the read model)."""
    paused = control is not None and control.get("action") == "pause"
    order = f"{control.get('requested_at')}|{control.get('control_id')}" if control else ""
    return {"paused": paused, "publishing": "paused" if paused else "publishing", "control_order": order}


def scaling(rm: ReadModel, visible: Visibility) -> dict[str, Any]:
    """Per league: agents and the forecast now, and a line of workload, forecast and agents over the decisions."""
    states = {s["league"]: s for s in rm.keyed["scaling"].select(visible.keeps)}
    forecasts = {f["league"]: f for f in rm.keyed["forecasts"].select(visible.keeps)}
    history = rm.logs["scaling_history"].recent(visible.keeps)
    leagues = sorted(set(states) | set(forecasts) | {h["league"] for h in history})
    series: dict[str, dict[str, list]] = {lg: {"agents": [], "forecast": [], "workload": []} for lg in leagues}
    for decision in reversed(history[:500]):
        at = epoch_ms(decision.get("decided_at"))
        line = series[decision["league"]]
        line["agents"].append([at, decision.get("agents_after")])
        if decision.get("forecast") is not None:
            line["forecast"].append([at, decision.get("forecast")])
    for league, forecast in forecasts.items():
        at = epoch_ms(forecast.get("computed_at"))
        series[league]["workload"].append([at, forecast.get("workload")])
    now = datetime.now(UTC)
    overrides = [{**o, "status": override_status(o, now)} for o in rm.keyed["overrides"].select(visible.keeps)]
    events = [{**e, "status": event_status(e, now)} for e in rm.keyed["events"].select(visible.keeps)]
    return {
        "scaled_leagues": leagues,
        "states": states,
        "forecasts": forecasts,
        "series": series,
        "history": history[:HISTORY_SIZE],
        "overrides": in_effect_first(overrides, "created_at"),
        "events": in_effect_first(events, "starts_at"),
        "flags": [flag_row(rm, SCALING_ACTIONS, lg) for lg in visible_leagues(visible)],
    }


# --- overrides, events and flags: what an operator may cancel or switch ---------------------------------------
def override_status(override: dict[str, Any], now: datetime) -> str:
    """``cancelled``, ``active`` (until it expires) or ``expired``."""
    if override.get("cancelled"):
        return "cancelled"
    expires = epoch_ms(override.get("expires_at"))
    return "active" if expires is not None and expires > now.timestamp() * 1000 else "expired"


def event_status(event: dict[str, Any], now: datetime) -> str:
    """``cancelled``, ``upcoming`` (not started), ``active`` (started, not over) or ``ended``."""
    if event.get("cancelled"):
        return "cancelled"
    starts = epoch_ms(event.get("starts_at"))
    if starts is None:
        return "ended"
    at = now.timestamp() * 1000
    if starts > at:
        return "upcoming"
    return "active" if starts + float(event.get("duration_seconds") or 0) * 1000 > at else "ended"


def in_effect_first(records: list[dict[str, Any]], time_field: str) -> list[dict[str, Any]]:
    """Those still in effect first, then the others; newest first within each; at most ``OBJECTS_SHOWN``."""
    records = sorted(records, key=lambda r: str(r.get(time_field) or ""), reverse=True)
    records.sort(key=lambda r: r["status"] not in ("active", "upcoming"))
    return records[:OBJECTS_SHOWN]


def visible_leagues(visible: Visibility) -> list[str]:
    return sorted(lg for lg in LEAGUES if visible.principal.may_see(lg))


def flag_row(rm: ReadModel, name: str, league: str) -> dict[str, Any]:
    """Flag ``name`` as it applies to ``league``: its value, where the value comes from (the league's own flag,
    the flag of every league, or the default) and the value a switch would set."""
    view = rm.keyed.get("flags")
    own = view.get(flag_id(name, league)) if view is not None else None
    every = view.get(name) if view is not None else None
    record = own or every
    allowed = FLAGS[name][0]
    value = normalized_value(record["value"]) if record else allowed[0]
    source = "own" if own else "global" if every else "default"
    return {
        "flag_id": flag_id(name, league),
        "name": name,
        "league": league,
        "value": value,
        "source": source,
        "set_by": (record or {}).get("set_by"),
        "values": list(allowed),
        "next_value": next((v for v in allowed if v != value), allowed[0]),  # every flag has two values
    }


def health(rm: ReadModel, visible: Visibility) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    firing = rm.keyed["alerts"].select(visible.where(status="firing"))
    firing.sort(key=lambda a: a.get("at") or "", reverse=True)
    return {
        "servers": rm.keyed["servers"].select(visible.keeps),
        "alerts": firing,
        "silences": [
            {**s, "status": "active"}
            for s in rm.keyed["silences"].select(lambda s: visible.keeps(s) and str(s.get("ends_at", "")) > now)
        ],
        "breakers": rm.keyed["breakers"].select(visible.keeps),
    }


def deployments(rm: ReadModel, visible: Visibility) -> dict[str, Any]:
    items = rm.keyed["deployments"].select(visible.keeps)
    items.sort(key=lambda d: d.get("requested_at") or "", reverse=True)
    decisions = rm.logs["decisions"].recent(visible.keeps)
    return {
        "deployments": items,
        "decisions": decisions[:HISTORY_SIZE],
        "rollbacks": [d for d in decisions if d.get("action") == "rollback"][:HISTORY_SIZE],
    }


def dead_letters(rm: ReadModel) -> dict[str, Any]:
    """Counts and the latest dead letters with a short preview of their raw bytes (the caller checked the
    credential is an admin of every league: a raw record may belong to any league)."""
    return {"summary": rm.dead_letters.as_dict(), "letters": list(reversed(rm.dead_letter_previews))}
