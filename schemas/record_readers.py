"""Decoders generated per record schema: the Avro binary body read straight from the message bytes.

fastavro's compiled reader pulls every field through a file object, a Python call per varint byte, and that
was the largest single cost of a play in the worker. A reader generated for one schema reads the bytes by
index, with the common one-byte varint inline, and builds the record dict in one expression.

The generated reader is only ever a fast path: it raises on anything it does not read exactly as fastavro
would (a short body, an index out of range, bad UTF-8), and the codec then decodes the value with fastavro,
whose result or error is the reference. Schemas with a type it does not know get no reader at all.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

RecordReader = Callable[[bytes, int], tuple[dict[str, Any], int]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z
_fromtimestamp = datetime.fromtimestamp
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


class _Unsupported(Exception):
    """The schema uses a type or logical type this generator does not read."""


def _timestamp_millis(millis: int) -> datetime:
    """fastavro's value for a timestamp-millis: the epoch plus that many milliseconds, exactly. Whole seconds
    (most record times) take ``fromtimestamp`` with an integer, which is exact and twice as fast; a float
    would round (bpo-36439), which is why fastavro adds a timedelta."""
    seconds, rest = divmod(millis, 1000)
    if rest == 0 and 0 <= seconds <= _LAST_SECOND:
        return _fromtimestamp(seconds, UTC)
    return _EPOCH + timedelta(microseconds=millis * 1000)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A zig-zag varint of two bytes or more at ``pos``: (value, position after it). The first bytes are
    unrolled: a record time takes six."""
    n = (data[pos] & 0x7F) | (data[pos + 1] & 0x7F) << 7
    if data[pos + 1] < 0x80:
        return (n >> 1) ^ -(n & 1), pos + 2
    n |= (data[pos + 2] & 0x7F) << 14
    if data[pos + 2] < 0x80:
        return (n >> 1) ^ -(n & 1), pos + 3
    n |= (data[pos + 3] & 0x7F) << 21
    if data[pos + 3] < 0x80:
        return (n >> 1) ^ -(n & 1), pos + 4
    n |= (data[pos + 4] & 0x7F) << 28
    if data[pos + 4] < 0x80:
        return (n >> 1) ^ -(n & 1), pos + 5
    n |= (data[pos + 5] & 0x7F) << 35
    if data[pos + 5] < 0x80:
        return (n >> 1) ^ -(n & 1), pos + 6
    pos += 6
    shift = 42
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            if n >> 64:  # not a 64-bit long: fastavro's reader wraps it, and its answer is the reference
                raise ValueError("varint longer than 64 bits")
            return (n >> 1) ^ -(n & 1), pos
        shift += 7


def compile_reader(schema: dict[str, Any]) -> RecordReader | None:
    """A reader ``(data, pos) -> (record, end)`` for a record ``schema`` (raw JSON form), or None if it uses a
    type this generator does not read."""
    generator = _Generator()
    try:
        entry = generator.record_function(schema, schema.get("namespace", ""))
    except _Unsupported:
        return None
    source = "\n".join(generator.lines)
    scope: dict[str, Any] = {
        "_varint": _varint,
        "_timestamp_millis": _timestamp_millis,
        "_unpack_float": struct.Struct("<f").unpack_from,
        "_unpack_double": struct.Struct("<d").unpack_from,
        **generator.constants,
    }
    code = compile(source, f"<avro reader {schema.get('name')}>", "exec")
    exec(code, scope)  # our own source, generated from the schema
    return scope[entry]


class _Generator:
    def __init__(self):
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.named: dict[str, dict[str, Any]] = {}
        self.functions: dict[str, str] = {}
        self._temp = 0

    def temp(self, stem: str) -> str:
        self._temp += 1
        return f"{stem}{self._temp}"

    def constant(self, value: Any) -> str:
        name = f"_C{len(self.constants)}"
        self.constants[name] = value
        return name

    def record_function(self, schema: dict[str, Any], namespace: str) -> str:
        full = _full_name(schema["name"], schema.get("namespace", namespace))
        if full in self.functions:
            return self.functions[full]
        self.named[full] = schema
        name = self.functions[full] = f"_read_{full.replace('.', '_')}"
        inner_namespace = full.rpartition(".")[0]
        body: list[str] = []
        values = []
        for field in schema["fields"]:
            var = self.temp("f")
            self.emit(body, 1, field["type"], var, inner_namespace)
            values.append(f"{field['name']!r}: {var}")
        self.lines += [
            f"def {name}(data, pos):",
            "    size = len(data)",
            *body,
            f"    return {{{', '.join(values)}}}, pos",
            "",
        ]
        return name

    def emit(self, out: list[str], depth: int, schema: Any, target: str, namespace: str) -> None:
        """Append code reading one ``schema`` value at ``pos`` into ``target`` and moving ``pos`` past it."""
        pad = "    " * depth
        if isinstance(schema, list):
            return self.emit_union(out, depth, schema, target, namespace)
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return self.emit_primitive(out, pad, schema, target)
            full = schema if "." in schema else _full_name(schema, namespace)
            if full not in self.named:
                raise _Unsupported(f"unknown named type {schema}")
            schema = self.named[full]
        kind = schema["type"]
        logical = schema.get("logicalType")
        if logical is not None:
            if logical != "timestamp-millis" or kind != "long":
                raise _Unsupported(f"logical type {logical}")
            self.emit_primitive(out, pad, "long", target)
            out.append(f"{pad}{target} = _timestamp_millis({target})")
            return None
        if kind in _PRIMITIVES:
            return self.emit_primitive(out, pad, kind, target)
        if kind == "record":
            function = self.record_function(schema, namespace)
            out.append(f"{pad}{target}, pos = {function}(data, pos)")
        elif kind == "enum":
            self.named[_full_name(schema["name"], schema.get("namespace", namespace))] = schema
            symbols = self.constant(tuple(schema["symbols"]))
            index = self.temp("i")
            self.emit_primitive(out, pad, "long", index)
            out.append(f"{pad}if not 0 <= {index} < {len(schema['symbols'])}:")
            out.append(f"{pad}    raise ValueError('enum index out of range')")
            out.append(f"{pad}{target} = {symbols}[{index}]")
        elif kind == "fixed":
            self.named[_full_name(schema["name"], schema.get("namespace", namespace))] = schema
            end = self.temp("e")
            out.append(f"{pad}{end} = pos + {int(schema['size'])}")
            out.append(f"{pad}if {end} > size:")
            out.append(f"{pad}    raise ValueError('body too short')")
            out.append(f"{pad}{target} = data[pos:{end}]")
            out.append(f"{pad}pos = {end}")
        elif kind in ("array", "map"):
            self.emit_blocks(out, depth, schema, target, namespace)
        else:
            raise _Unsupported(f"type {kind}")
        return None

    def emit_primitive(self, out: list[str], pad: str, kind: str, target: str) -> None:
        if kind == "null":
            out.append(f"{pad}{target} = None")
        elif kind == "boolean":
            out += [f"{pad}{target} = data[pos] != 0", f"{pad}pos += 1"]
        elif kind in ("int", "long"):
            byte = self.temp("b")
            out += [
                f"{pad}{byte} = data[pos]",
                f"{pad}if {byte} < 0x80:",
                f"{pad}    {target} = ({byte} >> 1) ^ -({byte} & 1)",
                f"{pad}    pos += 1",
                f"{pad}else:",
                f"{pad}    {target}, pos = _varint(data, pos)",
            ]
        elif kind in ("float", "double"):
            out += [f"{pad}{target} = _unpack_{kind}(data, pos)[0]", f"{pad}pos += {4 if kind == 'float' else 8}"]
        else:  # bytes or string: a length, then that many bytes
            length, end = self.temp("n"), self.temp("e")
            self.emit_primitive(out, pad, "long", length)
            out.append(f"{pad}{end} = pos + {length}")
            out.append(f"{pad}if {length} < 0 or {end} > size:")
            out.append(f"{pad}    raise ValueError('body too short')")
            value = f"data[pos:{end}]"
            out.append(f"{pad}{target} = {value}.decode()" if kind == "string" else f"{pad}{target} = {value}")
            out.append(f"{pad}pos = {end}")

    def emit_union(self, out: list[str], depth: int, branches: list[Any], target: str, namespace: str) -> None:
        pad = "    " * depth
        index = self.temp("u")
        self.emit_primitive(out, pad, "long", index)
        for i, branch in enumerate(branches):
            out.append(f"{pad}{'if' if i == 0 else 'elif'} {index} == {i}:")
            self.emit(out, depth + 1, branch, target, namespace)
        out += [f"{pad}else:", f"{pad}    raise ValueError('union index out of range')"]

    def emit_blocks(self, out: list[str], depth: int, schema: dict[str, Any], target: str, namespace: str) -> None:
        """Arrays and maps: blocks of ``count`` items (a negative count is followed by the block's byte size),
        ended by a zero count."""
        pad = "    " * depth
        count, item, key, skipped = self.temp("c"), self.temp("v"), self.temp("k"), self.temp("s")
        is_map = schema["type"] == "map"
        out.append(f"{pad}{target} = {{}}" if is_map else f"{pad}{target} = []")
        out.append(f"{pad}while True:")
        inner = pad + "    "
        self.emit_primitive(out, inner, "long", count)
        out += [f"{inner}if {count} == 0:", f"{inner}    break", f"{inner}if {count} < 0:"]
        out.append(f"{inner}    {count} = -{count}")
        self.emit_primitive(out, inner + "    ", "long", skipped)
        out.append(f"{inner}for _ in range({count}):")
        if is_map:
            self.emit_primitive(out, inner + "    ", "string", key)
        self.emit(out, depth + 2, schema["values" if is_map else "items"], item, namespace)
        out.append(f"{inner}    {target}[{key}] = {item}" if is_map else f"{inner}    {target}.append({item})")


def _full_name(name: str, namespace: str | None) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"
