"""The one JSON-lines module: what it writes reads back, gzip output is reproducible, bad lines are reported."""

from __future__ import annotations

import io

import pytest

from connectors.exceptions import InputError
from connectors.jsonl import read_jsonl, write_jsonl

RECORDS = [{"play_id": "1", "text": "Mahomes → Hill, Chiefs lead 7-0"}, {"play_id": "2", "score": [7, 0]}]


@pytest.mark.parametrize("name", ["plays.jsonl", "plays.jsonl.gz"])
def test_written_records_read_back_in_order_with_line_numbers(tmp_path, name):
    path = tmp_path / "out" / name  # the parent folder does not exist yet
    assert write_jsonl(path, RECORDS) == 2
    assert list(read_jsonl(path)) == [(1, RECORDS[0]), (2, RECORDS[1])]


def test_lines_are_compact_utf8_json(tmp_path):
    path = tmp_path / "plays.jsonl"
    write_jsonl(path, RECORDS[:1])
    assert path.read_text(encoding="utf-8") == '{"play_id":"1","text":"Mahomes → Hill, Chiefs lead 7-0"}\n'


def test_an_open_handle_is_written_and_left_open():
    out = io.StringIO()
    assert write_jsonl(out, iter(RECORDS)) == 2
    assert write_jsonl(out, []) == 0
    assert out.getvalue().splitlines() == [
        '{"play_id":"1","text":"Mahomes → Hill, Chiefs lead 7-0"}',
        '{"play_id":"2","score":[7,0]}',
    ]


def test_gzip_output_is_the_same_bytes_every_time(tmp_path):
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "b" / "a.jsonl.gz"
    write_jsonl(first, RECORDS)
    write_jsonl(second, RECORDS)
    assert first.read_bytes() == second.read_bytes()


def test_stdout_for_a_dash(capsys):
    assert write_jsonl("-", RECORDS[1:]) == 1
    assert capsys.readouterr().out == '{"play_id":"2","score":[7,0]}\n'


def test_a_bad_line_is_reported_with_its_number_and_reading_goes_on(tmp_path):
    path = tmp_path / "plays.jsonl"
    path.write_text('{"play_id": "1"}\n\n{"play_id": \n[1, 2]\n', encoding="utf-8")
    rows = list(read_jsonl(path))
    assert [number for number, _ in rows] == [1, 3, 4]
    assert rows[0][1] == {"play_id": "1"}
    assert isinstance(rows[1][1], ValueError) and "not valid JSON" in str(rows[1][1])
    assert rows[2][1] == [1, 2]


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(read_jsonl(tmp_path / "missing.jsonl"))
