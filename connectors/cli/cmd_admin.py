"""``wirereport override|event|silence cancel ID`` and ``wirereport flag set|list``: the API's admin actions from a
terminal, produced with the edge producer (the Kafka credentials are the authorization here).

A cancellation looks the object up on its topic first (an unknown id is an error, as the API's 404) and produces
the same records as ``DELETE /v1/...`` (see :mod:`connectors.admin_records`), audited on ``audit-log``.
"""

from __future__ import annotations

import getpass
import json

from connectors.exceptions import InputError

LOOKUP_TIMEOUT = 3.0  # seconds without a message before a topic counts as read to its end


def _actor(args) -> str:
    return args.by or f"cli:{getpass.getuser()}"


def register(subparsers) -> None:
    for kind, what in (("override", "scaling override"), ("event", "league event"), ("silence", "alert silence")):
        p = subparsers.add_parser(kind, help=f"act on a {what}")
        sub = p.add_subparsers(dest=f"{kind}_action", metavar="ACTION")
        c = sub.add_parser("cancel", help=f"cancel a {what} now (audited)")
        c.add_argument("id", help=f"the {what}'s id (as answered by the API's POST)")
        c.add_argument("--reason", required=True, help="why (audited)")
        c.add_argument("--by", help="who (default cli:$USER)")
        c.set_defaults(func=run_cancel, kind=kind)
        p.set_defaults(func=lambda args, p=p: p.print_help() or 2)

    f = subparsers.add_parser("flag", help="feature flags the agents read at run time")
    fsub = f.add_subparsers(dest="flag_action", metavar="ACTION")
    s = fsub.add_parser("set", help="set a flag (scaling.actions on|forecast-only, tweets.actions on|off)")
    s.add_argument("name")
    s.add_argument("value")
    s.add_argument("--league", choices=("NFL", "NBA", "WNBA"), help="one league (default: every league)")
    s.add_argument("--reason", required=True, help="why (audited)")
    s.add_argument("--by", help="who (default cli:$USER)")
    s.set_defaults(func=run_flag_set)
    ls = fsub.add_parser("list", help="the flags set, as JSON lines")
    ls.set_defaults(func=run_flag_list)
    f.set_defaults(func=lambda args: f.print_help() or 2)


def find(bootstrap: str, topic_name: str, id_field: str, target_id: str) -> dict | None:
    """The latest record of ``topic_name`` whose ``id_field`` is ``target_id`` (read from the beginning)."""
    from connectors.kafka.edge import consume_records

    found = None
    for _, record in consume_records(bootstrap, topic_name, from_beginning=True, timeout=LOOKUP_TIMEOUT):
        if record.get(id_field) == target_id:
            found = record
    return found


def run_cancel(args) -> int:
    from datetime import UTC, datetime

    from connectors.admin_records import CANCELLABLE, audit_entry, cancellation
    from connectors.kafka.edge import EdgeProducer
    from streams.settings import get_settings

    bootstrap = get_settings().bootstrap
    topic_name, schema, id_field = CANCELLABLE[args.kind]
    original = find(bootstrap, topic_name, id_field, args.id)
    if original is None:
        raise InputError(f"no {args.kind} {args.id} on {topic_name}")
    if len(args.reason.strip()) < 3:
        raise InputError("--reason: say why in at least 3 characters")
    now = datetime.now(UTC)
    actor = _actor(args)
    original = {k: v for k, v in original.items() if k != "cancelled"}
    topic_name, schema, record = cancellation(args.kind, args.id, actor, args.reason, now, original=original)
    league = record.get("league") or record.get("matchers", {}).get("league")
    entry = audit_entry(f"{args.kind}.cancel", args.id, league, actor, args.reason, now)
    with EdgeProducer(bootstrap) as producer:
        producer.send(topic_name, record, schema=schema, validate=True)
        producer.send("audit-log", entry, validate=True)
    print(f"cancelled {args.kind} {args.id} (audit {entry['audit_id']})")
    return 0


def run_flag_set(args) -> int:
    from datetime import UTC, datetime

    from connectors.admin_records import audit_entry, feature_flag
    from connectors.kafka.edge import EdgeProducer
    from streams.runtime.feature_flags import flag_problem
    from streams.settings import get_settings

    problem = flag_problem(args.name, args.value, args.league)
    if problem is not None:
        raise InputError(problem)
    if len(args.reason.strip()) < 3:
        raise InputError("--reason: say why in at least 3 characters")
    now = datetime.now(UTC)
    actor = _actor(args)
    record = feature_flag(args.name, args.value, args.league, actor, args.reason, now)
    entry = audit_entry("flag.set", record["flag_id"], args.league, actor, args.reason, now, {"value": args.value})
    with EdgeProducer(get_settings().bootstrap) as producer:
        producer.send("feature-flags", record, validate=True)
        producer.send("audit-log", entry, validate=True)
    print(f"flag {record['flag_id']} = {args.value} (audit {entry['audit_id']})")
    return 0


def run_flag_list(args) -> int:
    from connectors.kafka.edge import consume_records
    from schemas.json_form import to_json
    from streams.settings import get_settings

    latest: dict[str, dict] = {}
    for name, record in consume_records(get_settings().bootstrap, "feature-flags", from_beginning=True, timeout=2.0):
        latest[record["flag_id"]] = to_json(name, record)
    for flag_key in sorted(latest):
        print(json.dumps(latest[flag_key], ensure_ascii=False))
    return 0
