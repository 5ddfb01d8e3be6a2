"""Every schema version can read data written by its predecessor (BACKWARD), checked with Apache avro."""

from __future__ import annotations

import json

import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from avro.schema import parse

from schemas.registry import SchemaRegistry
from streams.topics import TOPICS

REGISTRY = SchemaRegistry.load()
PAIRS = [
    (name, older, newer)
    for name in REGISTRY.names()
    for older, newer in zip(REGISTRY.versions(name), REGISTRY.versions(name)[1:], strict=False)
]


@pytest.mark.parametrize("name", REGISTRY.names())
def test_each_schema_parses_with_apache_avro(name):
    for version in REGISTRY.versions(name):
        assert parse(json.dumps(version.raw)).name == name


def test_each_new_version_reads_the_previous_one():
    """Runs over every (vN, vN+1) pair in the repo; a schema break fails CI."""
    checker = ReaderWriterCompatibilityChecker()
    for name, older, newer in PAIRS:
        result = checker.get_compatibility(reader=parse(json.dumps(newer.raw)), writer=parse(json.dumps(older.raw)))
        assert result.compatibility is SchemaCompatibilityType.compatible, (name, newer.version, result.messages)


def test_the_checker_catches_a_breaking_change():
    play = REGISTRY.latest("Play").raw
    broken = json.loads(json.dumps(play))
    broken["fields"].append({"name": "venue", "type": "string"})  # new field without a default
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        reader=parse(json.dumps(broken)), writer=parse(json.dumps(play))
    )
    assert result.compatibility is SchemaCompatibilityType.incompatible


def test_versions_are_numbered_without_gaps():
    for name in REGISTRY.names():
        assert [v.version for v in REGISTRY.versions(name)] == list(range(1, len(REGISTRY.versions(name)) + 1))


def test_every_topic_schema_exists():
    for spec in TOPICS.values():
        for schema in spec.value_schemas:
            assert REGISTRY.versions(schema), f"{spec.name}: schema {schema} missing"
