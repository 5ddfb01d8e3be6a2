"""The import direction of the house plan, read from the source with ``ast`` (nothing is imported).

schemas <- streams <- connectors <- api: ``schemas`` imports nothing of ours; ``streams`` imports only ``schemas`` and
itself; ``connectors`` never imports ``api``; ``api`` never imports an effector (it reads and commands through topics).
A streams domain (games, scaling, health, deployments) imports only the shared runtime (``streams.runtime``,
``streams.topics``, ``streams.settings``, ``streams.exceptions``), ``schemas`` and itself, so each domain can be read,
tested and moved on its own; ``streams.agents`` and ``streams.app`` wire the domains together, and the shared runtime
imports neither them nor a domain (it sits below both). Imports inside functions count too: a late import is still a
dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("schemas", "streams", "connectors", "api")
DOMAINS = ("games", "scaling", "health", "deployments")
SHARED_BY_DOMAINS = ("streams.runtime", "streams.topics", "streams.settings", "streams.exceptions", "schemas")


class Violation(NamedTuple):
    path: str
    line: int
    importer: str
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported} ({self.rule})"


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def imported_names(source: str, module: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """``(line, dotted name)`` of everything a module imports, at any depth; ``from a import b`` gives ``a.b``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                yield node.lineno, base if alias.name == "*" else f"{base}.{alias.name}"


def broken_rule(importer: str, imported: str) -> str | None:
    """The rule that ``importer`` importing ``imported`` breaks, or None when the import is allowed."""
    if not _within(imported, *OURS):
        return None
    if _within(importer, "schemas") and not _within(imported, "schemas"):
        return "schemas imports nothing of ours"
    if _within(importer, "streams"):
        if not _within(imported, "schemas", "streams"):
            return "streams imports only schemas and streams"
        domain = importer.split(".")[1] if importer.count(".") else None
        if domain in DOMAINS and not _within(imported, *SHARED_BY_DOMAINS, f"streams.{domain}"):
            return f"streams.{domain} imports only the shared runtime, schemas and itself"
        if _within(importer, *SHARED_BY_DOMAINS) and not _within(imported, *SHARED_BY_DOMAINS):
            return "the shared runtime imports no domain, no agent and not the app"
    if _within(importer, "connectors") and _within(imported, "api"):
        return "connectors never imports api"
    if _within(importer, "api") and _within(imported, "connectors.effectors"):
        return "api never imports an effector"
    return None


def check_module(source: str, module: str, path: str = "<source>", is_package: bool = False) -> list[Violation]:
    return [
        Violation(path, line, module, imported, rule)
        for line, imported in imported_names(source, module, is_package)
        if (rule := broken_rule(module, imported))
    ]


def our_modules() -> Iterator[tuple[Path, str]]:
    for top in OURS:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_our_code_follows_the_import_direction():
    violations = []
    modules = list(our_modules())
    assert len(modules) > 100  # the walk found the code
    for path, module in modules:
        source = path.read_text(encoding="utf-8")
        violations += check_module(source, module, str(path.relative_to(ROOT)), path.name == "__init__.py")
    assert not violations, "imports against the direction:\n" + "\n".join(map(str, violations))


# The checker itself, on synthetic modules.


@pytest.mark.parametrize(
    ("module", "source", "imported"),
    [
        ("schemas.codec", "import streams.topics", "streams.topics"),
        ("streams.runtime.codecs", "from connectors.kafka import edge", "connectors.kafka.edge"),
        ("streams.games.tweet_text", "def f():\n    from streams.scaling import policy\n", "streams.scaling.policy"),
        ("streams.health.rules", "from streams.agents import health", "streams.agents.health"),
        ("streams.games.play_decisions", "from streams import app", "streams.app"),
        (
            "streams.runtime.agent_context",
            "from streams.games.tweet_budget import to_record",
            "streams.games.tweet_budget.to_record",
        ),
        ("streams.topics", "import streams.agents", "streams.agents"),
        ("connectors.cli.cmd_api", "async def serve():\n    import api.main\n", "api.main"),
        (
            "api.routers.tweets",
            "from connectors.effectors.tweets.outbox import Outbox",
            "connectors.effectors.tweets.outbox.Outbox",
        ),
        ("streams.scaling.policy", "from ..health import rules", "streams.health.rules"),
    ],
)
def test_a_forbidden_import_is_reported(module, source, imported):
    [violation] = check_module(source, module)
    assert violation.imported == imported
    assert violation.line == source[: source.index("import")].count("\n") + 1


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("schemas.codec", "import json\nfrom schemas.registry import load"),
        (
            "streams.games.backtest",
            "from streams.games.play_decisions import decide\nfrom streams.runtime import codecs",
        ),
        ("streams.games.tweet_budget", "from streams.settings import get_settings\nfrom schemas.codec import encode"),
        ("streams.agents.games", "from streams.games import steps\nfrom streams.scaling import policy"),
        ("streams.app", "from streams.health import rules"),
        ("connectors.cli.main", "from connectors.effectors.tweets import publisher\nimport streams.app"),
        ("api.main", "from connectors.auth import tokens\nfrom streams.topics import topic"),
        ("streams.games", "from . import significance"),
    ],
)
def test_an_allowed_import_is_not_reported(module, source):
    assert check_module(source, module, is_package=module == "streams.games") == []
