"""The publisher's post continues its command's trace; the remembered contexts are bounded."""

from __future__ import annotations

from types import SimpleNamespace

from connectors.observability.traced_sender import TraceContexts, TracedSender
from connectors.observability.tracing import in_memory_tracing


class Sender:
    receipt_status = "dry_run"

    def __init__(self):
        self.posted = []

    def post(self, pending):
        self.posted.append(pending.command_id)
        return SimpleNamespace(tweet_id="t1")


def pending(command_id: str) -> SimpleNamespace:
    return SimpleNamespace(command_id=command_id, account="nfl-main", record={"play_id": "p1"}, text="TD")


def test_a_post_is_a_span_of_its_commands_trace():
    worker, worker_spans = in_memory_tracing("worker")
    with worker.span("step"):
        headers = worker.inject()
    tracing, spans = in_memory_tracing("publisher")
    contexts = TraceContexts()
    contexts.remember("c1", headers)
    sender = TracedSender(Sender(), tracing, contexts)
    assert sender.receipt_status == "dry_run"
    assert sender.post(pending("c1")).tweet_id == "t1"
    assert sender.post(pending("c2")).tweet_id == "t1"  # no context known: a trace of its own
    post, other = spans.get_finished_spans()
    step = worker_spans.get_finished_spans()[0]
    assert (post.name, post.context.trace_id, post.parent.span_id) == (
        "post tweet",
        step.context.trace_id,
        step.context.span_id,
    )
    assert post.attributes["wirereport.command_id"] == "c1" and post.attributes["wirereport.play_id"] == "p1"
    assert other.parent is None
    assert len(contexts) == 0  # taken once posted


def test_contexts_keep_the_newest_only():
    contexts = TraceContexts(keep=2)
    for cid in ("a", "b", "c"):
        contexts.remember(cid, [("traceparent", cid.encode())])
    contexts.remember("d", None)  # no headers: nothing to remember
    assert (contexts.take("a"), contexts.take("b"), contexts.take("c")) == (
        None,
        [("traceparent", b"b")],
        [("traceparent", b"c")],
    )
    assert len(contexts) == 0
