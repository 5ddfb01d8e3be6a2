"""The generated record readers read every shipped schema exactly as fastavro does, and never accept a body
fastavro would read differently (the codec then asks fastavro)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import HEADER_SIZE, MAGIC, Codec
from schemas.exceptions import DecodeError
from schemas.record_readers import _timestamp_millis, compile_reader
from schemas.registry import SchemaRegistry

REGISTRY = SchemaRegistry.load()
LATEST = [(name, REGISTRY.latest(name)) for name in REGISTRY.names()]
MIN_MILLIS, MAX_MILLIS = -62135596800000, 253402300799999  # the years 1 to 9999: what a datetime holds


def _strategy(schema, named: dict, namespace: str = ""):
    """Records valid for ``schema`` (raw JSON form), for fastavro to write."""
    if isinstance(schema, list):
        return st.one_of([_strategy(branch, named, namespace) for branch in schema])
    if isinstance(schema, str):
        simple = {"null": st.none(), "boolean": st.booleans(), "string": st.text(max_size=20)}
        simple |= {"int": st.integers(-(2**31), 2**31 - 1), "long": st.integers(-(2**63), 2**63 - 1)}
        simple |= {"bytes": st.binary(max_size=20), "double": st.floats(allow_nan=False)}
        simple |= {"float": st.floats(width=32, allow_nan=False)}
        if schema in simple:
            return simple[schema]
        return named[schema if "." in schema else f"{namespace}.{schema}".lstrip(".")]
    kind = schema["type"]
    if schema.get("logicalType") == "timestamp-millis":
        return st.integers(MIN_MILLIS, MAX_MILLIS)
    full = f"{schema.get('namespace', namespace)}.{schema.get('name', '')}".lstrip(".")
    if kind == "record":
        inner = full.rpartition(".")[0]
        named[full] = st.deferred(lambda: records)
        records = st.fixed_dictionaries({f["name"]: _strategy(f["type"], named, inner) for f in schema["fields"]})
        return records
    if kind == "enum":
        named[full] = st.sampled_from(schema["symbols"])
        return named[full]
    if kind == "array":
        return st.lists(_strategy(schema["items"], named, namespace), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=5), _strategy(schema["values"], named, namespace), max_size=3)
    return _strategy(kind, named, namespace)


def _random_body(version, data) -> bytes:
    """The body fastavro writes for a random valid record of ``version``."""
    buf = BytesIO()
    schemaless_writer(buf, version.parsed, data.draw(_strategy(version.raw, {})))
    return buf.getvalue()


def _fastavro(version, body: bytes):
    return schemaless_reader(BytesIO(body), version.parsed, None)


def test_every_shipped_schema_gets_a_reader():
    missing = [name for name, version in LATEST if compile_reader(version.raw) is None]
    assert missing == []


@pytest.mark.parametrize(("name", "version"), LATEST, ids=[name for name, _ in LATEST])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_record_reads_back_as_fastavro_reads_it(name, version, data):
    body = _random_body(version, data)
    read, end = compile_reader(version.raw)(body, 0)
    assert end == len(body)
    assert read == _fastavro(version, body)


@pytest.mark.parametrize(("name", "version"), LATEST, ids=[name for name, _ in LATEST])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_damaged_body_decodes_to_what_fastavro_says_or_to_its_error(name, version, data):
    body = _random_body(version, data)
    cut = data.draw(st.integers(0, len(body)))
    damaged = body[:cut] + data.draw(st.binary(max_size=6)) + body[cut + data.draw(st.integers(0, 3)) :]
    value = MAGIC + version.fingerprint + bytes(damaged)
    try:
        expected = (name, _fastavro(version, bytes(damaged)))
    except Exception:
        expected = DecodeError
    codec = Codec(REGISTRY)
    for got in (codec.decode_many([value])[0], _decoded_or_error(codec, value)):
        if expected is DecodeError:
            assert isinstance(got, DecodeError)
        else:
            assert repr(got) == repr(expected)  # a damaged double may read as NaN, which equals nothing


def _decoded_or_error(codec: Codec, value: bytes):
    try:
        return codec.decode(value)
    except DecodeError as exc:
        return exc


@given(st.integers(MIN_MILLIS, MAX_MILLIS) | st.sampled_from([0, -1, 1, 999, 1000, -1000, MAX_MILLIS - 999]))
def test_timestamps_are_fastavros_values(millis):
    assert _timestamp_millis(millis) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=millis * 1000)
    assert _timestamp_millis(millis).tzinfo is UTC


def test_a_header_only_value_is_an_error_not_a_record():
    version = REGISTRY.latest("Play")
    assert isinstance(Codec(REGISTRY).decode_many([MAGIC + version.fingerprint])[0], DecodeError)
    assert len(MAGIC + version.fingerprint) == HEADER_SIZE
