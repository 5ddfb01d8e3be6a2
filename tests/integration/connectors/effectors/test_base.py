"""The effector base on the real embedded broker: dead letters, positions committed with the state only after
``handle`` succeeded, restarts that repeat nothing committed, and transient errors retried, never skipped."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from connectors.effectors.base import Effector, Positions, Record, TransientError
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import running_broker, tweet_command, wait_until
from schemas.codec import get_codec

TOPIC = "tweet-commands"


@pytest.fixture
def own_broker():
    """A broker of the test's own: the topic holds only this test's records."""
    with running_broker() as bootstrap:
        yield bootstrap


def command(label: str, **fields) -> dict:
    """A TweetCommand told apart by its ``play_id``."""
    return tweet_command("TEST", label, datetime(2018, 9, 9, 20, tzinfo=UTC), **fields)


PARTITION = 0


class Recording(Effector):
    """Keeps its durable state in ``store`` (which outlives the instance, as a file would): the ids carried out
    and the positions, written together in ``commit``. ``fail(record)`` may raise to simulate failures."""

    name = "test-effector"
    topics = (TOPIC,)
    retry_initial_seconds = 0.01
    retry_max_seconds = 0.05

    def __init__(self, bootstrap: str, store: dict, fail=lambda record: None):
        super().__init__(bootstrap)
        self.store = store
        self.fail = fail
        self.carried_out: list[str] = []  # since the last commit
        self.attempts: list[str] = []
        self.retries: list[tuple[str, int, float]] = []

    def start_positions(self) -> Positions:
        return dict(self.store["positions"])

    def invalid_reason(self, schema: str, value: dict) -> str | None:
        return None if value["text"] else f"TweetCommand {value['play_id']} has no text"

    def handle(self, records: list[Record]) -> None:
        for i, record in enumerate(records):
            cid = record.value["play_id"]
            self.attempts.append(cid)
            try:
                self.fail(record)
            except TransientError as exc:
                raise TransientError(str(exc), done=i) from exc
            self.carried_out.append(cid)

    def commit(self, positions: Positions) -> None:
        self.store["done"] += self.carried_out
        self.store["positions"] = {**self.store["positions"], **positions}
        self.carried_out = []

    def on_retry(self, record: Record, error: TransientError, attempt: int, delay: float) -> None:
        self.retries.append((record.value["play_id"], attempt, delay))


def new_store() -> dict:
    return {"done": [], "positions": {}}


def produce(bootstrap: str, *records: dict | bytes) -> None:
    """Records (encoded) or raw bytes, in this order, to one partition."""
    codec = get_codec()
    with EdgeProducer(bootstrap) as producer:
        for r in records:
            value = r if isinstance(r, bytes) else codec.encode("TweetCommand", r)
            producer.send_raw(TOPIC, b"TEST", value, partition=PARTITION)


def step_until(effector: Effector, predicate) -> None:
    wait_until(lambda: effector.step() >= 0 and predicate(), timeout=20, interval=0)


def test_bad_records_are_dead_lettered_with_their_origin_and_the_loop_goes_on(own_broker):
    produce(own_broker, command("a"), b"\x00garbage", command("bad", text=""), command("b"))
    store = new_store()
    effector = Recording(own_broker, store)
    step_until(effector, lambda: store["done"] == ["a", "b"])
    effector.close()
    assert store["positions"] == {(TOPIC, PARTITION): 4}  # past the dead letters too
    assert effector.dead_letters == 2
    letters = sorted((r for _, r in consume_records(own_broker, "dead-letters", timeout=1)), key=lambda r: r["offset"])
    assert [(r["source_topic"], r["partition"], r["offset"], r["agent"]) for r in letters] == [
        (TOPIC, PARTITION, 1, "test-effector"),
        (TOPIC, PARTITION, 2, "test-effector"),
    ]
    assert letters[0]["value"] == b"\x00garbage" and letters[0]["key"] == b"TEST"
    assert letters[0]["reason"].startswith("undecodable TweetCommand: ")
    assert letters[1]["reason"] == "TweetCommand bad has no text"


def test_positions_are_committed_with_the_state_only_after_handle_succeeded(own_broker):
    produce(own_broker, command("a"), command("b"))
    store = new_store()

    def crash_on_b(record):
        if record.value["play_id"] == "b":
            raise RuntimeError("crash while carrying out b")

    crashing = Recording(own_broker, store, fail=crash_on_b)
    with pytest.raises(RuntimeError, match="crash while carrying out b"):
        step_until(crashing, lambda: False)
    crashing.close()
    assert "b" in crashing.attempts and "b" not in store["done"]
    # nothing of the failed round is committed: the positions stop exactly after the ids stored with them
    assert store["positions"].get((TOPIC, PARTITION), 0) == len(store["done"]) <= 1

    restarted = Recording(own_broker, store)
    step_until(restarted, lambda: store["done"] == ["a", "b"])
    restarted.close()
    assert store["positions"] == {(TOPIC, PARTITION): 2}


def test_a_restart_resumes_after_the_last_committed_record_and_repeats_nothing(own_broker):
    produce(own_broker, command("a"), command("b"))
    store = new_store()
    first = Recording(own_broker, store)
    step_until(first, lambda: store["done"] == ["a", "b"])
    first.close()

    produce(own_broker, command("c"))
    second = Recording(own_broker, store)
    step_until(second, lambda: "c" in store["done"])
    second.step(timeout=0.5)  # nothing more comes
    second.close()
    assert second.attempts == ["c"]
    assert store["done"] == ["a", "b", "c"]
    assert store["positions"] == {(TOPIC, PARTITION): 3}


def test_a_transient_error_is_retried_from_the_failing_record_never_skipped(own_broker):
    produce(own_broker, command("a"), command("b"), command("c"))
    store = new_store()
    failures = {"b": 2}

    def flaky(record):
        cid = record.value["play_id"]
        if failures.get(cid, 0) > 0:
            failures[cid] -= 1
            raise TransientError(f"{cid}: service unavailable")

    effector = Recording(own_broker, store, fail=flaky)
    step_until(effector, lambda: store["done"] == ["a", "b", "c"])
    effector.close()
    assert effector.attempts.count("a") == 1 and effector.attempts.count("c") == 1
    assert effector.attempts.count("b") == 3
    assert effector.retries == [("b", 1, 0.01), ("b", 2, 0.02)]  # capped exponential backoff
    assert store["positions"] == {(TOPIC, PARTITION): 3}


def test_stopped_while_retrying_commits_up_to_the_failing_record(own_broker):
    produce(own_broker, command("a"), command("b"), command("c"))
    store = new_store()

    def down_for_b(record):
        if record.value["play_id"] == "b":
            raise TransientError("b: service unavailable")

    effector = Recording(own_broker, store, fail=down_for_b)
    stop = threading.Event()
    thread = threading.Thread(target=effector.run, args=(stop,), daemon=True)
    thread.start()
    wait_until(lambda: len(effector.retries) >= 3, timeout=20)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert store["done"] == ["a"] and store["positions"] == {(TOPIC, PARTITION): 1}  # b is not skipped

    restarted = Recording(own_broker, store)
    step_until(restarted, lambda: store["done"] == ["a", "b", "c"])
    restarted.close()
    assert restarted.attempts == ["b", "c"]
