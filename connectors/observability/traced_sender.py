"""The publisher's posts in spans that continue their tweet command's trace (see ``TweetPublisher.trace``).

A command is stored in the outbox when consumed and posted later (at once, or after retries, or after a
restart): its trace context is kept in memory from the consume to the post, so a post after a restart starts a
new trace rather than none. The memory is bounded: the oldest contexts go first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

KEEP = 10_000


class TraceContexts:
    """``command_id -> headers`` carrying a trace context, the newest ``keep`` of them."""

    def __init__(self, keep: int = KEEP):
        self.keep = keep
        self._by_command: OrderedDict[str, Any] = OrderedDict()

    def remember(self, command_id: str, headers: Any) -> None:
        if not headers:
            return
        self._by_command[command_id] = headers
        self._by_command.move_to_end(command_id)
        while len(self._by_command) > self.keep:
            self._by_command.popitem(last=False)

    def take(self, command_id: str) -> Any:
        return self._by_command.pop(command_id, None)

    def __len__(self) -> int:
        return len(self._by_command)


class TracedSender:
    """A sender whose ``post`` runs in a client span, child of the command's trace when its context is known."""

    def __init__(self, sender: Any, tracing: Any, contexts: TraceContexts):
        self.sender = sender
        self.tracing = tracing
        self.contexts = contexts
        self.receipt_status = getattr(sender, "receipt_status", "posted")

    def post(self, pending: Any) -> Any:
        attributes = {"wirereport.command_id": pending.command_id, "wirereport.account": pending.account}
        play_id = pending.record.get("play_id") if isinstance(pending.record, dict) else None
        if play_id is not None:
            attributes["wirereport.play_id"] = str(play_id)
        headers = self.contexts.take(pending.command_id)
        with self.tracing.span("post tweet", headers=headers, attributes=attributes, kind="client"):
            return self.sender.post(pending)

    def close(self) -> None:
        close = getattr(self.sender, "close", None)
        if close is not None:
            close()
