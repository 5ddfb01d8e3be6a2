"""Every schema version shipped in ``schemas/avro`` (``Name.vN.avsc``), parsed once and fingerprinted."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.exceptions import UnknownSchema

_FILE_NAME = re.compile(r"^(?P<name>[A-Za-z]+)\.v(?P<version>\d+)\.avsc$")


@dataclass(frozen=True)
class SchemaVersion:
    """One released version of one record schema."""

    name: str
    version: int
    raw: dict[str, Any]
    parsed: Any
    fingerprint: bytes  # CRC-64-AVRO of the canonical form, little-endian, as single-object encoding wants

    @classmethod
    def from_raw(cls, name: str, version: int, raw: dict[str, Any]) -> SchemaVersion:
        """Parse and fingerprint a schema given as JSON."""
        fp = int(fingerprint(to_parsing_canonical_form(raw), "CRC-64-AVRO"), 16).to_bytes(8, "little")
        return cls(name, version, raw, parse_schema(raw), fp)


class SchemaRegistry:
    """All schema versions, by name and by fingerprint."""

    def __init__(self, versions: list[SchemaVersion]):
        self._by_name: dict[str, list[SchemaVersion]] = {}
        for v in sorted(versions, key=lambda v: (v.name, v.version)):
            self._by_name.setdefault(v.name, []).append(v)
        self._by_fingerprint = {v.fingerprint: v for v in versions}

    @classmethod
    def load(cls) -> SchemaRegistry:
        """Read every ``.avsc`` file shipped in the ``schemas.avro`` folder."""
        versions = []
        for entry in sorted((Path(__file__).parent / "avro").iterdir()):
            match = _FILE_NAME.match(entry.name)
            if not match:
                continue
            raw = json.loads(entry.read_text())
            versions.append(SchemaVersion.from_raw(match["name"], int(match["version"]), raw))
        return cls(versions)

    def with_versions(self, *more: SchemaVersion) -> SchemaRegistry:
        """A registry holding these versions and ``more``."""
        return SchemaRegistry([*self._by_fingerprint.values(), *more])

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def versions(self, name: str) -> list[SchemaVersion]:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownSchema(f"unknown schema {name!r}; known: {', '.join(self.names())}") from None

    def latest(self, name: str) -> SchemaVersion:
        return self.versions(name)[-1]

    def by_fingerprint(self, fp: bytes) -> SchemaVersion | None:
        return self._by_fingerprint.get(fp)
