"""A model generator with the extractive answer behind it, so a customer always gets a reply.

`FallbackGenerator(primary)` streams the primary's text. If the primary raises, or gives no token within
`first_token_timeout_s`, the failure is logged and the customer gets the extractive answer, introduced as a
direct FAQ answer. If it fails (or stalls that long) after text has been shown, the text is kept and a short
note is appended: repeating the answer extractively would show it twice.

Which generator answered is on the returned stream: `stream.answered_by` is the primary's name, or
"extractive" after a fallback, and `stream.fallback_reason` says why (None when nothing went wrong). See
agent/generators/base.py for how the pipeline reads them.

The primary runs in a worker thread so that the wait for its first token can time out even when the backend
blocks (a model still loading, a server that accepted the connection and went quiet). An abandoned primary is
closed as soon as it yields again; one that never yields again ends by its own timeouts.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

from agent.errors import AgentError
from agent.generators.base import GenerationStream, Generator
from agent.generators.extractive import ExtractiveGenerator
from agent.prompts import Prompt

log = logging.getLogger(__name__)

FALLBACK_NOTE = {
    "en": "(Direct FAQ answer: our answer assistant is unavailable right now.)\n\n",
    "zh": "（以下为常见问题原文答案：智能回答助手暂时不可用。）\n\n",
}
INTERRUPTED_NOTE = {
    "en": "\n\n(This reply was cut short. Please ask again, or ask to speak with a member of our team.)",
    "zh": "\n\n（回答被中断。请重新提问，或要求转接人工客服。）",
}


class FallbackGenerator:
    """Streams `primary`; falls back to `fallback` (extractive) when the primary fails before its first token."""

    def __init__(
        self, primary: Generator, fallback: Generator | None = None, *, first_token_timeout_s: float = 60.0
    ) -> None:
        if first_token_timeout_s <= 0:
            raise ValueError("first_token_timeout_s must be positive")
        self.primary = primary
        self.fallback = fallback if fallback is not None else ExtractiveGenerator()
        self.first_token_timeout_s = first_token_timeout_s
        self.name = primary.name
        self.warm_up_error: str | None = None  # shown by the UI / doctor when the model could not be loaded

    @property
    def supports_images(self) -> bool:
        return self.primary.supports_images  # a server found to be text-only turns this off at run time

    def warm_up(self) -> None:
        """Load the primary; a failure is logged and remembered, not raised: the fallback still answers."""
        self.fallback.warm_up()
        try:
            self.primary.warm_up()
            self.warm_up_error = None
        except Exception as e:
            self.warm_up_error = str(e)
            log.warning(
                "generator %s failed to warm up; answers will fall back to %s: %s", self.name, self.fallback.name, e
            )

    def stream(self, prompt: Prompt) -> GenerationStream:
        def deltas() -> Iterator[str]:
            yield from self._run(prompt, result)

        result = GenerationStream(deltas(), answered_by=self.primary.name)
        return result

    def _run(self, prompt: Prompt, result: GenerationStream) -> Iterator[str]:
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        abandon = threading.Event()
        worker = threading.Thread(
            target=_pump, args=(self.primary, prompt, events, abandon), name="findesk-generate", daemon=True
        )
        worker.start()
        started = False
        try:
            while True:
                try:
                    kind, value = events.get(timeout=self.first_token_timeout_s)
                except queue.Empty:
                    kind, value = "error", TimeoutError(f"no text within {self.first_token_timeout_s:g} s")
                if kind == "delta":
                    started = True
                    yield value
                elif kind == "done":
                    return
                elif started:
                    result.fallback_reason = f"{self.primary.name} stopped mid-reply: {_describe(value)}"
                    log.warning("%s", result.fallback_reason, exc_info=_exc_info(value))
                    yield INTERRUPTED_NOTE[prompt.language]
                    return
                else:
                    result.fallback_reason = f"{self.primary.name} failed: {_describe(value)}"
                    log.warning(
                        "%s; answering with %s", result.fallback_reason, self.fallback.name, exc_info=_exc_info(value)
                    )
                    result.answered_by = self.fallback.name
                    yield FALLBACK_NOTE[prompt.language]
                    yield from self.fallback.stream(prompt)
                    return
        finally:
            abandon.set()


def _pump(primary: Generator, prompt: Prompt, events: queue.Queue[tuple[str, Any]], abandon: threading.Event) -> None:
    """Worker thread: move the primary's deltas into the queue until it ends, fails or is abandoned."""
    stream: GenerationStream | None = None
    try:
        stream = primary.stream(prompt)
        for delta in stream:
            if abandon.is_set():
                return
            events.put(("delta", delta))
        events.put(("done", None))
    except Exception as e:
        events.put(("error", e))
    finally:
        if stream is not None:
            stream.close()  # stops a model still generating for a reader that has gone


def _describe(error: object) -> str:
    return f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)


def _exc_info(error: object) -> BaseException | None:
    # Our own errors (GeneratorError, timeouts) are expected and their message says enough; anything else is a
    # bug in a backend and deserves its traceback in the log.
    if isinstance(error, AgentError | TimeoutError) or not isinstance(error, BaseException):
        return None
    return error
