"""The console's action buttons: each one is a form posted to ``/console/actions/{name}`` that runs the existing
API endpoint's function (same validation, same league checks, same deterministic command id, same Kafka ack).

Adding an action is one entry in ``ACTIONS`` and one ``action_form`` call in a template.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from api.models import DeploymentCreate, LeagueEventCreate, OverrideCreate, RollbackCreate, SilenceCreate
from api.routers import admin, deployments

FORM_ONLY = {"csrf_token", "idempotency_key"}  # fields of every action form that are not the command's


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


@dataclass(frozen=True)
class Action:
    label: str  # what the button says
    model: type[BaseModel]
    run: Callable[..., Awaitable[Any]]  # (body, state, principal, idempotency_key, fields) -> Accepted
    page: str  # the page to go back to
    fields: Callable[[Mapping[str, str]], dict[str, Any]] = plain
    path_fields: tuple[str, ...] = ()  # form fields that name the object acted on, not part of the body

    def body(self, form: Mapping[str, str]) -> tuple[BaseModel, dict[str, Any]]:
        """The validated request body and the path fields; ``ValidationError`` for bad input."""
        fields = self.fields(form)
        path = {name: fields.pop(name, "") for name in self.path_fields}
        return self.model.model_validate(fields), path


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


ACTIONS: dict[str, Action] = {
    "override": Action("Create override", OverrideCreate, _override, "scaling"),
    "event": Action("Announce event", LeagueEventCreate, _event, "scaling"),
    "silence": Action("Silence", SilenceCreate, _silence, "health", silence_fields),
    "deploy": Action("Request deployment", DeploymentCreate, _deploy, "deployments", deployment_fields),
    "rollback": Action("Roll back", RollbackCreate, _rollback, "deployments", path_fields=("deployment_id",)),
}


def describe_errors(exc: ValidationError) -> str:
    """One line per invalid field, as the operator typed it."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ())) or "form"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)
