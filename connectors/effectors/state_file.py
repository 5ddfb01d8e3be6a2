"""A JSON state file written atomically: the durable store of effectors whose state is small (the supervisor,
the deployment agent and the deployment runner keep their positions in it with the rest of their state)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class JsonStateFile:
    """``path`` holds one JSON object; :meth:`save` replaces it whole (a crash leaves the old or the new one)."""

    def __init__(self, path: Path):
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> dict[str, Any]:
        """The saved object, or ``{}`` when there is no file yet."""
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)
