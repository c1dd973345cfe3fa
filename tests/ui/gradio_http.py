"""Raw calls to a mounted Gradio page's queue, as a script (or an attacker) would send them: no gradio_client."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class QueueResult:
    joined: httpx.Response  # the answer to POST queue/join
    events: list[dict[str, Any]]  # every server-sent event of the call, in order

    @property
    def completed(self) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("msg") == "process_completed"), None)

    @property
    def succeeded(self) -> bool:
        return bool(self.completed and self.completed.get("success"))

    @property
    def text(self) -> str:
        """Everything the server sent back, as one string to search."""
        return self.joined.text + json.dumps(self.events, ensure_ascii=False)


def fn_index(base: str, page: str, api_name: str, headers: dict[str, str] | None = None) -> int:
    """The index of the page's event handler named `api_name` (private ones included), from its config."""
    config = httpx.get(f"{base}/{page}/config", headers=headers).raise_for_status().json()
    for dep in config["dependencies"]:
        if dep.get("api_name") == api_name:
            return dep["id"]
    raise LookupError(f"{page} has no handler {api_name!r}")


def file_data(path: str, name: str | None = None) -> dict[str, Any]:
    """A Gradio FileData payload naming `path`, exactly as the browser's JavaScript client writes one."""
    return {"path": path, "orig_name": name or path.rsplit("/", 1)[-1], "meta": {"_type": "gradio.FileData"}}


def queue_call(
    base: str, page: str, api_name: str, data: list[Any], headers: dict[str, str] | None = None, timeout: float = 120
) -> QueueResult:
    """POST /<page>/gradio_api/queue/join, then read /queue/data until the call completes."""
    session = uuid.uuid4().hex[:11]
    body = {"data": data, "fn_index": fn_index(base, page, api_name, headers), "session_hash": session,
            "event_data": None, "trigger_id": None}  # fmt: skip
    joined = httpx.post(f"{base}/{page}/gradio_api/queue/join", json=body, headers=headers)
    events: list[dict[str, Any]] = []
    if joined.status_code != 200:
        return QueueResult(joined, events)
    url = f"{base}/{page}/gradio_api/queue/data"
    with httpx.stream("GET", url, params={"session_hash": session}, headers=headers, timeout=timeout) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            events.append(event)
            if event.get("msg") in ("process_completed", "close_stream", "unexpected_error"):
                break
    return QueueResult(joined, events)
