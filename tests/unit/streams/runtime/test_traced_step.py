"""A step run with tracing: the same outputs and failures as without, a span per record continuing the record's
trace, and each record's outputs carrying that span's context."""

from __future__ import annotations

from types import SimpleNamespace

from opentelemetry import trace

from connectors.observability.tracing import extract_context, in_memory_tracing
from streams.runtime.steps import Input, TableView, run_step
from streams.runtime.traced_step import run_step_traced


class CountingStep:
    """Counts plays per game; a play of game "bad" raises; each play outputs a command, the batch a summary."""

    tables = ("counts",)
    scratch = ()

    def apply(self, item, view):
        game = item.record["game_id"]
        if game == "bad":
            raise ValueError("bad play")
        count = (view.get("counts", game) or 0) + 1
        return [("counts", game, item.partition, count)], [("tweet-commands", {"game_id": game, "n": count})]

    def finish(self, view):
        return (), [("game-state", {"games": sorted(view.changes["counts"])})]


def event(headers=None) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(headers=headers))


def items(producer_headers) -> list[Input]:
    return [
        Input("Play", {"game_id": "g1", "play_id": "p1"}, 0, event(producer_headers)),
        Input("Play", {"game_id": "bad", "play_id": "p2"}, 0, event()),
        Input("Play", {"game_id": "g1", "play_id": "p3"}, 0, event()),
    ]


def test_traced_run_gives_the_outputs_and_failures_of_the_plain_run():
    producer, produced = in_memory_tracing("producer")
    with producer.span("produce plays", kind="producer"):
        headers = producer.inject()
    tracing, spans = in_memory_tracing("worker")
    plain_outputs, plain_failures = run_step(CountingStep(), items(headers), TableView({"counts": {}}))
    traced, failures = run_step_traced(CountingStep(), items(headers), TableView({"counts": {}}), tracing, "step")
    assert [(name, record) for name, record, _ in traced] == plain_outputs
    assert [f.reason for f in failures] == [f.reason for f in plain_failures] == ["ValueError: bad play"]

    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == ["step", "step", "step"]
    root = produced.get_finished_spans()[0].context.trace_id
    assert finished[0].context.trace_id == root  # continued from the record's headers
    assert finished[0].attributes["wirereport.play_id"] == "p1"
    assert finished[1].attributes["wirereport.dead_letter"] is True
    assert finished[2].context.trace_id != root  # no context in its headers: a trace of its own

    first, _, summary = traced
    carried = trace.get_current_span(extract_context(first[2])).get_span_context()
    assert (carried.trace_id, carried.span_id) == (root, finished[0].context.span_id)
    assert summary[2] is None  # the batch's own output belongs to no record


def test_untraced_inputs_without_events_still_run():
    tracing, spans = in_memory_tracing("worker")
    traced, failures = run_step_traced(
        CountingStep(), [Input("Play", {"game_id": "g1"}, 0, None)], TableView({"counts": {}}), tracing, "step"
    )
    assert [name for name, _, _ in traced] == ["tweet-commands", "game-state"] and failures == []
    assert len(spans.get_finished_spans()) == 1
