"""The console's action buttons: each one is a form posted to ``/console/actions/{name}`` that runs the existing
API endpoint's function (same validation, same league checks, same deterministic ids, same audit, same Kafka ack).

Two kinds of action:

- a *page form* (create an override, request a deployment): one entry in ``ACTIONS`` and one ``action_form``
  call in a template;
- a *row action* (cancel an override, switch a flag): an entry with ``target`` set. Every page table of that
  target renders it on each row it ``applies`` to, through the ``row_actions`` macro, so adding one is only the
  entry here (and its runner: the endpoint function called with the row's id).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from api.models import (
    CancelBody,
    ControlCreate,
    DeploymentCreate,
    FlagSet,
    LeagueEventCreate,
    OverrideCreate,
    RollbackCreate,
    SilenceCreate,
)
from api.routers import accounts, admin, deployments, flags, tweets
from streams.runtime.feature_flags import SCALING_ACTIONS, TWEETS_ACTIONS

FORM_ONLY = {"csrf_token", "idempotency_key"}  # fields of every action form that are not the command's
CANCELLABLE_STATUS = ("active", "upcoming")  # an override, event or silence that still has an effect
FLAG_REASON = "switched in the console"  # a switch is one click: the reason is filled in, and may be edited


def plain(form: Mapping[str, str]) -> dict[str, Any]:
    """Form fields as the model's fields; an empty field means "not given" (the model's default)."""
    return {k: v.strip() for k, v in form.items() if k not in FORM_ONLY and v.strip() != ""}


def silence_fields(form: Mapping[str, str]) -> dict[str, Any]:
    """``matcher_<label>`` fields become the silence's label matchers."""
    fields = plain(form)
    matchers = {k.removeprefix("matcher_"): fields.pop(k) for k in list(fields) if k.startswith("matcher_")}
    return {**fields, "matchers": matchers}


def deployment_fields(form: Mapping[str, str]) -> dict[str, Any]:
    """Targets are typed as one line: separated by commas or spaces, the first is the canary."""
    fields = plain(form)
    fields["targets"] = [t for t in re.split(r"[\s,]+", fields.get("targets", "")) if t]
    return fields


def flag_fields(form: Mapping[str, str]) -> dict[str, Any]:
    """A flag switch names its league; an empty league is no league (the flag of every league)."""
    fields = plain(form)
    fields.setdefault("league", None)
    return fields


def always(_record: Mapping[str, Any]) -> bool:
    return True


def cancellable(record: Mapping[str, Any]) -> bool:
    return record.get("status") in CANCELLABLE_STATUS


def flag_row_fields(record: Mapping[str, Any]) -> dict[str, str]:
    """A switch sets the value the row does not have (an explicit value: a double click sets it twice, harmlessly)."""
    return {"league": str(record.get("league") or ""), "value": str(record.get("next_value") or "")}


def switch_button(record: Mapping[str, Any]) -> str:
    return f"Switch to {record.get('next_value')}"


@dataclass(frozen=True)
class Action:
    label: str  # what the button of a page form says; names the action in the flash message
    model: type[BaseModel]
    run: Callable[..., Awaitable[Any]]  # (body, state, principal, idempotency_key, path fields) -> Accepted
    page: str  # the page to go back to
    fields: Callable[[Mapping[str, str]], dict[str, Any]] = plain
    path_fields: tuple[str, ...] = ()  # form fields that name the object acted on, not part of the body
    # --- row actions ---
    target: str | None = None  # the kind of table row it is shown on (override, event, silence, flag, account, tweet)
    applies: Callable[[Mapping[str, Any]], bool] = always  # shown on this row (the row's record)?
    button: str | Callable[[Mapping[str, Any]], str] = ""  # the row button's text (the label if empty)
    row_fields: Callable[[Mapping[str, Any]], dict[str, str]] | None = None  # hidden fields (default: path fields)
    reason_default: str = ""  # a row action whose model takes a reason has a reason field, pre-filled with this

    def body(self, form: Mapping[str, str]) -> tuple[BaseModel, dict[str, Any]]:
        """The validated request body and the path fields; ``ValidationError`` for bad input."""
        fields = self.fields(form)
        path = {name: fields.pop(name, "") for name in self.path_fields}
        return self.model.model_validate(fields), path

    @property
    def asks_reason(self) -> bool:
        return "reason" in self.model.model_fields

    @property
    def needs_reason(self) -> bool:
        return self.asks_reason and self.model.model_fields["reason"].is_required()

    def button_for(self, record: Mapping[str, Any]) -> str:
        if callable(self.button):
            return self.button(record)
        return self.button or self.label

    def hidden_for(self, record: Mapping[str, Any]) -> dict[str, str]:
        """The hidden fields of the row's form: what the action acts on, from the row's record."""
        if self.row_fields is not None:
            return self.row_fields(record)
        return {name: str(record.get(name) or "") for name in self.path_fields}


async def _override(body, state, principal, key, _path):
    return await admin.create_override(body, state, principal, key)


async def _event(body, state, principal, key, _path):
    return await admin.create_event(body, state, principal, key)


async def _silence(body, state, principal, key, _path):
    return await admin.create_silence(body, state, principal, key)


async def _deploy(body, state, principal, key, _path):
    return await deployments.request_deployment(body, state, principal, key)


async def _rollback(body, state, principal, key, path):
    return await deployments.rollback_deployment(path["deployment_id"][:100], body, state, principal, key)


async def _cancel_override(body, state, principal, _key, path):
    return await admin.cancel_override(path["override_id"][:200], state, principal, None, body)


async def _cancel_event(body, state, principal, _key, path):
    return await admin.cancel_event(path["event_id"][:200], state, principal, None, body)


async def _cancel_silence(body, state, principal, _key, path):
    return await admin.cancel_silence(path["silence_id"][:200], state, principal, None, body)


def _set_flag(name: str) -> Callable[..., Awaitable[Any]]:
    """The runner of a switch of flag ``name`` (fixed by the action: a form cannot name another flag)."""

    async def run(body, state, principal, _key, _path):
        return await flags.set_flag(name, body, state, principal)

    return run


def _control(endpoint, action: str, id_field: str) -> Callable[..., Awaitable[Any]]:
    """The runner of a publisher control (retry / cancel a tweet, pause / resume an account) on one row's object."""

    async def run(body, state, principal, key, path):
        return await endpoint(path[id_field][:200], action, state, principal, body, key)

    return run


def _receipt_status(tweet: Mapping[str, Any]) -> str | None:
    """The publisher's own status of a tweet row (None: no receipt yet, still to be posted)."""
    receipt = tweet.get("receipt")
    return str(receipt.get("status")) if receipt else None


def _publisher(label: str, endpoint, action: str, id_field: str, target: str, applies) -> Action:
    return Action(
        label,
        ControlCreate,
        _control(endpoint, action, id_field),
        "tweets",
        path_fields=(id_field,),
        target=target,
        applies=applies,
        button=action.capitalize(),
    )


def _cancel(label: str, run, page: str, id_field: str, target: str) -> Action:
    return Action(
        label, CancelBody, run, page, path_fields=(id_field,), target=target, applies=cancellable, button="Cancel"
    )


def _switch(label: str, name: str, page: str, target: str) -> Action:
    return Action(
        label,
        FlagSet,
        _set_flag(name),
        page,
        flag_fields,
        target=target,
        button=switch_button,
        row_fields=flag_row_fields,
        reason_default=FLAG_REASON,
    )


ACTIONS: dict[str, Action] = {
    "override": Action("Create override", OverrideCreate, _override, "scaling"),
    "event": Action("Announce event", LeagueEventCreate, _event, "scaling"),
    "silence": Action("Silence", SilenceCreate, _silence, "health", silence_fields),
    "deploy": Action("Request deployment", DeploymentCreate, _deploy, "deployments", deployment_fields),
    "rollback": Action("Roll back", RollbackCreate, _rollback, "deployments", path_fields=("deployment_id",)),
    "cancel_override": _cancel("Cancel override", _cancel_override, "scaling", "override_id", "override"),
    "cancel_event": _cancel("Cancel event", _cancel_event, "scaling", "event_id", "event"),
    "cancel_silence": _cancel("Cancel silence", _cancel_silence, "health", "silence_id", "silence"),
    "scaling_flag": _switch("Set scaling.actions", SCALING_ACTIONS, "scaling", "scaling_flag"),
    "tweets_flag": _switch("Set tweets.actions", TWEETS_ACTIONS, "tweets", "account"),
    "tweet_retry": _publisher(
        "Retry tweet",
        tweets.control_tweet,
        "retry",
        "command_id",
        "tweet",
        lambda t: _receipt_status(t) in ("failed", "held"),
    ),
    "tweet_cancel": _publisher(
        "Cancel tweet",
        tweets.control_tweet,
        "cancel",
        "command_id",
        "tweet",
        lambda t: _receipt_status(t) in (None, "queued", "held"),
    ),
    "account_pause": _publisher(
        "Pause account", accounts.control_account, "pause", "account", "account", lambda a: not a.get("paused")
    ),
    "account_resume": _publisher(
        "Resume account", accounts.control_account, "resume", "account", "account", lambda a: bool(a.get("paused"))
    ),
}


def describe_errors(exc: ValidationError) -> str:
    """One line per invalid field, as the operator typed it."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ())) or "form"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)
