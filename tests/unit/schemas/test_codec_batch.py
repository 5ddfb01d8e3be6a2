"""``Codec.decode_many``: the same results as ``Codec.decode`` value by value, bad values named one by one."""

from __future__ import annotations

import gzip
import json

from connectors.testing import SAMPLE_DATA
from schemas.codec import Codec
from schemas.exceptions import DecodeError
from schemas.json_form import from_json
from schemas.registry import SchemaRegistry, SchemaVersion

SAMPLE = SAMPLE_DATA / "nfl_2018_week1_sunday.jsonl.gz"


def real_plays(count: int) -> list[dict]:
    with gzip.open(SAMPLE, "rt") as fh:
        return [from_json("Play", json.loads(line)) for line, _ in zip(fh, range(count), strict=False)]


def test_a_batch_of_real_plays_decodes_exactly_as_one_by_one():
    codec = Codec()
    plays = real_plays(500)
    values = [codec.encode("Play", p) for p in plays]
    batch = codec.decode_many(values, ("Play",))
    assert batch == [codec.decode(v, ("Play",)) for v in values]
    assert [record for _, record in batch] == plays


def test_bad_values_are_errors_in_place_and_their_neighbours_still_decode():
    codec = Codec()
    plays = real_plays(8)
    good = [codec.encode("Play", p) for p in plays]
    schedule = codec.encode(
        "ScheduledGame",
        {
            "league": "NFL",
            "game_id": "g",
            "home_team": "NE",
            "away_team": "HOU",
            "scheduled_start": plays[0]["occurred_at"],
        },
    )
    values = [good[0], good[1][:-4], None, b"garbage", good[2] + b"\x00", schedule, good[3], good[4]]
    out = codec.decode_many(values, ("Play",))
    assert out[0] == ("Play", plays[0])
    assert isinstance(out[1], DecodeError) and "corrupt Play" in str(out[1])
    assert isinstance(out[2], DecodeError) and "empty message" in str(out[2])
    assert isinstance(out[3], DecodeError) and "magic" in str(out[3])
    assert out[4] == codec.decode(values[4])  # trailing bytes: exactly what decode() makes of them
    assert isinstance(out[5], DecodeError) and "not allowed" in str(out[5])
    assert out[6:] == [("Play", plays[3]), ("Play", plays[4])]
    assert codec.decode_many([schedule, good[0]]) == [codec.decode(schedule), ("Play", plays[0])]


def test_old_writer_versions_in_a_batch_are_resolved_to_the_latest_reader():
    base = SchemaRegistry.load()
    v1 = base.latest("Play")
    raw_v2 = json.loads(json.dumps(v1.raw))
    raw_v2["fields"].append({"name": "venue", "type": "string", "default": "unknown"})
    v2 = SchemaVersion.from_raw("Play", v1.version + 1, raw_v2)
    new_codec = Codec(base.with_versions(v2))
    plays = real_plays(3)
    old_values = [Codec(base).encode("Play", p) for p in plays]
    new_values = [new_codec.encode("Play", {**p, "venue": "Gillette"}) for p in plays]
    out = new_codec.decode_many(old_values + new_values)
    assert [r["venue"] for _, r in out] == ["unknown"] * 3 + ["Gillette"] * 3
    assert [r["play_id"] for _, r in out] == [p["play_id"] for p in plays] * 2
