"""``wirereport auth token|revoke|hash-key``: mint operator tokens, revoke them, hash API keys."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("auth", help="mint and revoke API tokens, hash API keys")
    sub = p.add_subparsers(dest="auth_command", metavar="ACTION")
    t = sub.add_parser("token", help="print a signed JWT (needs WIREREPORT_JWT_SECRET)")
    t.add_argument("--subject", required=True, help="who the token is for (an operator or service name)")
    t.add_argument("--scopes", default="read", help="comma-separated: read, admin, deploy:force, league:NFL|NBA|WNBA")
    t.add_argument(
        "--ttl", default="1h", help="lifetime: 90s, 15m, 1h, 7d (default 1h; at most WIREREPORT_MAX_TOKEN_TTL_SECONDS)"
    )
    t.set_defaults(func=run_token)
    r = sub.add_parser("revoke", help="revoke a token by its jti claim (the API refuses it from then on)")
    r.add_argument("jti", help="the token's jti claim")
    r.add_argument("--reason", default="", help="why (kept with the revocation)")
    r.add_argument("--by", default="cli", help="who revokes it (default: cli)")
    r.set_defaults(func=run_revoke)
    k = sub.add_parser("hash-key", help="print the WIREREPORT_API_KEYS entry (sha256) for an API key")
    k.add_argument("key", help="the API key (at least 16 characters)")
    k.add_argument("--name", help="print a full 'name:sha256:scopes' entry with this name")
    k.add_argument("--scopes", default="read", help="scopes of the entry (with --name), e.g. read,league:NFL")
    k.set_defaults(func=run_hash_key)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def run_token(args) -> int:
    from connectors.auth.tokens import mint_token, parse_ttl
    from streams.settings import get_settings

    settings = get_settings()
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    token = mint_token(
        secret,
        args.subject,
        args.scopes,
        ttl_seconds=parse_ttl(args.ttl),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        max_ttl_seconds=settings.max_token_ttl_seconds,
    )
    print(token)
    return 0


def run_revoke(args) -> int:
    from datetime import UTC, datetime

    from connectors.auth.tokens import revocation
    from connectors.kafka.admin import create_topics
    from connectors.kafka.edge import EdgeProducer
    from streams.settings import get_settings
    from streams.topics import topic

    settings = get_settings()
    record = revocation(args.jti, revoked_by=args.by, reason=args.reason, now=datetime.now(UTC))
    spec = topic("token-revocations")
    create_topics(settings.bootstrap, [spec])
    with EdgeProducer(settings.bootstrap) as producer:
        producer.send(spec.name, record, validate=True)
    print(f"revoked {record['jti']}")
    return 0


def run_hash_key(args) -> int:
    from connectors.auth.tokens import hash_key, parse_scopes

    digest = hash_key(args.key)
    if args.name:
        print(f"{args.name}:{digest}:{'+'.join(sorted(parse_scopes(args.scopes)))}")
    else:
        print(digest)
    return 0
