"""``wirereport auth token|hash-key``: mint operator tokens and hash API keys for ``WIREREPORT_API_KEYS``."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("auth", help="mint API tokens and hash API keys")
    sub = p.add_subparsers(dest="auth_command", metavar="ACTION")
    t = sub.add_parser("token", help="print a signed JWT (needs WIREREPORT_JWT_SECRET)")
    t.add_argument("--subject", required=True, help="who the token is for (an operator or service name)")
    t.add_argument("--scopes", default="read", help="comma-separated: read, admin, league:NFL|NBA|WNBA")
    t.add_argument("--ttl", default="1h", help="lifetime: 90s, 15m, 1h, 7d (default 1h)")
    t.set_defaults(func=run_token)
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
    )
    print(token)
    return 0


def run_hash_key(args) -> int:
    from connectors.auth.tokens import hash_key, parse_scopes

    digest = hash_key(args.key)
    if args.name:
        print(f"{args.name}:{digest}:{'+'.join(sorted(parse_scopes(args.scopes)))}")
    else:
        print(digest)
    return 0
