"""``wirereport tweets retry|cancel`` and ``wirereport account pause|resume`` produce PublisherControl records on
the real broker; the command's account is looked up from its receipt; bad input is one error line."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from connectors.cli.main import main
from connectors.kafka.edge import EdgeProducer, consume_records


def controls(bootstrap: str, control_id: str) -> list[dict]:
    return [
        r for _, r in consume_records(bootstrap, "publisher-controls", timeout=1.5) if r["control_id"] == control_id
    ]


def sent_control_id(out: str) -> str:
    return out.split("control ", 1)[1].split()[0]


def test_pause_and_resume_an_account(settings_env, capsys):
    assert main(["account", "pause", "NFL", "--reason", "bad night", "--by", "ops"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pause account NFL: control control-")
    [record] = controls(settings_env.bootstrap, sent_control_id(out))
    assert (record["action"], record["account"], record["command_id"]) == ("pause", "NFL", None)
    assert (record["requested_by"], record["reason"]) == ("ops", "bad night")
    assert main(["account", "resume", "NFL"]) == 0
    [record] = controls(settings_env.bootstrap, sent_control_id(capsys.readouterr().out))
    assert record["action"] == "resume" and record["requested_by"].startswith("cli:")


def test_retry_finds_the_commands_account_on_its_receipt(settings_env, capsys):
    command_id = f"cmd-{uuid.uuid4().hex}"
    receipt = {
        "command_id": command_id,
        "account": "WNBA",
        "status": "failed",
        "tweet_id": None,
        "attempts": 8,
        "detail": "X API answered 500",
        "at": datetime.now(UTC),
    }
    with EdgeProducer(settings_env.bootstrap) as producer:
        producer.send("tweet-receipts", receipt)
    assert main(["tweets", "retry", command_id, "--reason", "X is back"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"retry {command_id} (account WNBA): control control-")
    [record] = controls(settings_env.bootstrap, sent_control_id(out))
    assert (record["action"], record["account"], record["command_id"]) == ("retry", "WNBA", command_id)
    assert main(["tweets", "cancel", "some-command", "--account", "NBA"]) == 0
    [record] = controls(settings_env.bootstrap, sent_control_id(capsys.readouterr().out))
    assert (record["action"], record["account"], record["command_id"]) == ("cancel", "NBA", "some-command")


def test_an_unknown_command_or_a_bad_account_is_one_error_line(settings_env, capsys):
    assert main(["tweets", "cancel", f"nobody-{uuid.uuid4().hex}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "is on neither tweet-receipts nor tweet-commands; give --account" in err and "\n" not in err
    assert main(["account", "pause", "no such account"]) == 2
    assert "must be 1-64 letters, digits" in capsys.readouterr().err
