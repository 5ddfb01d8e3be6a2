"""Run an agent's step in-process: in-memory tables, collected outputs and dead letters, and crashes on demand.

Modelled on bytewax's ``TestingSource`` with ``ABORT``: the messages are processed in batches the way a worker
does (decode -> step -> outputs sent, then table writes, then the offset committed), and an abort marker makes
the "worker" die after a given message. Its memory (the step's caches, the batch's table changes) is thrown
away, and processing resumes from the last committed offset with the tables as last written, so recovery is
tested in milliseconds::

    harness = Harness(lambda: GamesStep(limit=17, tz="America/New_York"), {"plays": validate_play})
    harness.run([message("plays", play) for play in plays], abort_after=500)
    commands = harness.outputs_of("tweet-commands")
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.codec import get_codec
from streams.runtime.steps import Failure, Input, Output, Step, TableView, dead_letter_record, decode_inputs, run_step
from streams.topics import topic

Validate = Callable[[dict[str, Any]], None] | None


@dataclass(frozen=True)
class Message:
    """A raw message of a topic, as the broker would hand it to the worker."""

    topic: str
    value: bytes | None
    partition: int = 0
    key: bytes | None = None


@dataclass(frozen=True)
class Tick:
    """A timer firing between messages: ``record`` goes to the step as a ``Tick`` input in its own batch."""

    record: dict[str, Any] = field(default_factory=dict)


def message(topic_name: str, record: dict[str, Any], schema: str | None = None, partition: int = 0) -> Message:
    """``record`` encoded as a message of ``topic_name`` (its main schema unless ``schema`` is given)."""
    spec = topic(topic_name)
    value = get_codec().encode(schema or spec.schema, record)
    return Message(spec.name, value, partition, spec.key_of(record).encode())


class Harness:
    """An agent's step over a list of messages; see the module docstring.

    ``make_step`` builds the step (again after each abort: its caches are memory); ``validators`` names the
    topics the agent reads, with the validation its agent applies when decoding. ``tables`` holds the written
    table state, ``emitted`` every output sent (repeats after an abort included), ``dead_letters`` the
    DeadLetter records sent, ``committed`` how many messages are done.
    """

    def __init__(
        self,
        make_step: Callable[[], Step],
        validators: dict[str, Validate],
        *,
        batch_size: int = 100,
        agent: str = "harness",
        tables: dict[str, dict[str, Any]] | None = None,
    ):
        self.make_step = make_step
        self.validators = validators
        self.batch_size = batch_size
        self.agent = agent
        self.step = make_step()
        self.tables: dict[str, dict[str, Any]] = {name: {} for name in self.step.tables}
        for name, data in (tables or {}).items():
            self.tables[name] = dict(data)
        self.emitted: list[Output] = []
        self.dead_letters: list[dict[str, Any]] = []
        self.committed = 0
        self.aborts = 0
        self.codec = get_codec()

    def run(
        self,
        messages: Sequence[Message | Tick],
        *,
        abort_after: Iterable[int] = (),
        outputs_sent_before_abort: bool = True,
    ) -> Harness:
        """Process ``messages`` (from the last committed one on) to the end.

        ``abort_after``: positions ``k`` after whose message the worker dies once (before its batch is written);
        with ``outputs_sent_before_abort`` the outputs of what the dying batch had decided were already sent
        (the worst case of at-least-once: they are sent again after the restart, with the same ids).
        """
        aborts = sorted(set(abort_after))
        while self.committed < len(messages):
            start = self.committed
            batch = self._next_batch(messages, start)
            end = start + len(batch)
            abort = next((k for k in aborts if start <= k < end), None)
            if abort is not None:
                aborts.remove(abort)
                batch = batch[: abort - start + 1]
            outputs, letters, view = self._process(batch, start)
            if abort is not None:
                if outputs_sent_before_abort:
                    self.emitted.extend(outputs)
                self._restart()
                continue
            self.emitted.extend(outputs)
            self.dead_letters.extend(letters)
            for name, changes in view.changes.items():
                if name in self.tables:
                    self.tables[name].update((key, value) for key, (_, value) in changes.items())
            self.committed = end
        return self

    def outputs_of(self, topic_name: str) -> list[dict[str, Any]]:
        return [record for name, record in self.emitted if name == topic_name]

    def _next_batch(self, messages: Sequence[Message | Tick], start: int) -> list[Message | Tick]:
        if isinstance(messages[start], Tick):
            return [messages[start]]
        batch = list(itertools.takewhile(lambda m: isinstance(m, Message), messages[start : start + self.batch_size]))
        return batch

    def _process(self, batch: list[Message | Tick], start: int) -> tuple[list[Output], list[dict], TableView]:
        inputs: list[Input] = []
        failures: list[Failure] = []
        if isinstance(batch[0], Tick):
            inputs.append(Input("Tick", batch[0].record, -1, None))
        else:
            positioned = list(enumerate(batch, start))
            for name, run in itertools.groupby(positioned, key=lambda pm: pm[1].topic):
                if name not in self.validators:
                    raise ValueError(f"the agent does not read {name!r} (it reads {sorted(self.validators)})")
                raw = [(position, m.value, m.partition) for position, m in run]
                decoded, failed = decode_inputs(self.codec, raw, topic(name), self.validators[name])
                inputs += decoded
                failures += failed
            inputs.sort(key=lambda item: item.ref)  # back in message order across topics
        view = TableView(self.tables, self.step.scratch)
        outputs, step_failures = run_step(self.step, inputs, view)
        failures += step_failures
        letters = []
        for position, reason in sorted(failures, key=lambda f: -1 if f.ref is None else f.ref):
            if position is None:
                continue
            m = batch[position - start]
            letters.append(
                dead_letter_record(m.topic, m.partition, position, m.key, m.value, reason, self.agent, _now())
            )
        return outputs, letters, view

    def _restart(self) -> None:
        self.aborts += 1
        self.step = self.make_step()


def _now() -> datetime:
    return datetime.now(UTC)
