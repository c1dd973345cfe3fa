"""Replies from any OpenAI-compatible chat-completions server: vLLM, Ollama, llama.cpp server, hosted APIs.

This is how FinDesk scales past one machine: put vLLM replicas behind a load balancer and point
FINDESK_AGENT__OPENAI_BASE_URL at it. Requests stream (`"stream": true`, server-sent events); the screenshot
goes as a `data:image/png;base64,...` image part unless `openai_send_images` is off.

Privacy: the customer's words, the conversation history and the screenshot's text are PII-redacted
(agent.pii.redact) before they leave this machine. FAQ passages and rules are sent as they are (they are the
bank's own text, and redacting, say, a hotline number would break the answer). The screenshot's pixels cannot
be redacted: turn `openai_send_images` off for servers outside your network.

Text-only servers: a request with a screenshot that the server refuses (llama.cpp's HTTP 500 "image input is
not supported", vLLM's 400 "not a multimodal model", llama-cpp-python's HTTP 500 or empty stream when a text
model's chat template cannot render the image part) is sent again at once without the image. If that one is
accepted, the server is remembered as text-only (`supports_images` turns False, one warning in the log) and
later turns send text only. The model still reads the screenshot's quoted OCR text: it is in the prompt either
way.

Failures: connection errors (a pooled connection the server dropped included), 429 and 5xx are retried
(`openai_max_retries`, exponential backoff) only before the first token arrived; after that a retry would repeat
text the customer has already seen. A server that accepts the connection and goes quiet raises after
`generation_timeout_s` (httpx read timeout).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import httpx

from agent.errors import GeneratorError
from agent.generators.base import GenerationStream
from agent.pii import redact
from agent.prompts import ChatTurn, Prompt
from agent.settings import AgentConfig

log = logging.getLogger(__name__)


class _Retryable(Exception):
    """A response worth trying again (overloaded or crashed server)."""


class _ImageRefused(Exception):
    """A request with an image failed: ask again with text only."""


# Statuses that say nothing about the request's content: auth, unknown model, rate limit, overloaded gateways.
_NOT_ABOUT_THE_IMAGE = frozenset({401, 403, 404, 429, 502, 503, 504})


def redact_prompt(prompt: Prompt) -> Prompt:
    """The prompt with PII removed from everything the customer supplied."""
    return replace(
        prompt,
        message=redact(prompt.message).text,
        history=tuple(ChatTurn(turn.role, redact(turn.text).text) for turn in prompt.history),
        screenshot_text=redact(prompt.screenshot_text).text,
    )


def chat_request(prompt: Prompt, model: str, max_tokens: int, *, send_image: bool) -> dict[str, Any]:
    """The chat-completions request body (the prompt is sent as given: redact it first)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": prompt.system}]
    messages += [{"role": turn.role, "content": turn.text} for turn in prompt.history]
    user: str | list[dict[str, Any]] = prompt.user_text()
    if send_image and prompt.image:
        data_url = "data:image/png;base64," + base64.b64encode(prompt.image).decode("ascii")
        user = [{"type": "text", "text": user}, {"type": "image_url", "image_url": {"url": data_url}}]
    messages.append({"role": "user", "content": user})
    # temperature 0: replies should be reproducible and stay close to the passages.
    return {"model": model, "messages": messages, "stream": True, "max_tokens": max_tokens, "temperature": 0}


def sse_deltas(lines: Iterable[str]) -> Iterator[str]:
    """Text deltas from a chat-completions event stream (`data: {...}` lines, ended by `data: [DONE]`).

    A stream that ends with neither `[DONE]` nor a `finish_reason` was cut off (server crash, proxy timeout):
    that raises, so the customer is told the reply is incomplete.
    """
    finished = False
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, `: keep-alive` comments, `event:` lines
        payload = line[len("data:") :].strip()
        if payload == "[DONE]":
            return
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError as e:
            raise GeneratorError(f"The model server sent a malformed stream event: {payload[:200]!r}") from e
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise GeneratorError(f"The model server reported an error mid-stream: {message}")
        for choice in chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                yield content
            finished = finished or bool(choice.get("finish_reason"))
    if not finished:
        raise GeneratorError("The model server's stream ended before the reply was finished.")


class OpenAIServerGenerator:
    """Streams a reply from an OpenAI-compatible `/chat/completions` endpoint."""

    def __init__(self, config: AgentConfig) -> None:
        if not config.openai_model:
            raise GeneratorError(
                "The 'openai' generator needs a model name: set FINDESK_AGENT__OPENAI_MODEL "
                "(e.g. the name vLLM serves, or an Ollama tag such as 'qwen2.5vl:3b')."
            )
        self.base_url = config.openai_base_url.rstrip("/")
        self.model = config.openai_model
        self.api_key_env = config.openai_api_key_env
        self.max_tokens = config.max_new_tokens
        self.max_retries = config.openai_max_retries
        self.backoff_s = config.openai_retry_backoff_s
        self.supports_images = config.openai_send_images
        self.name = f"openai:{self.model}"
        self._timeout = httpx.Timeout(
            connect=config.openai_connect_timeout_s,
            read=config.generation_timeout_s,  # longest silence between two stream events
            write=config.generation_timeout_s,
            pool=config.openai_connect_timeout_s,
        )
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def _http(self) -> httpx.Client:
        # One pooled client for all conversations (httpx.Client is thread-safe); made on first use.
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout)
            return self._client

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env, "")  # resolved per request: keys can be rotated without restart
        return {"Authorization": f"Bearer {key}"} if key else {}

    def warm_up(self) -> None:
        """Check that the server answers and accepts our key (GET /models); loads nothing."""
        try:
            response = self._http().get(f"{self.base_url}/models", headers=self._headers())
        except httpx.HTTPError as e:
            raise GeneratorError(
                f"Cannot reach the model server at {self.base_url}: {e}. "
                "Start it, or fix FINDESK_AGENT__OPENAI_BASE_URL."
            ) from e
        if response.status_code >= 400:
            self._raise_for_status(response)

    def stream(self, prompt: Prompt) -> GenerationStream:
        return GenerationStream(self._deltas(prompt), answered_by=self.name)

    def _deltas(self, prompt: Prompt) -> Iterator[str]:
        redacted = redact_prompt(prompt)
        send_image = self.supports_images and prompt.image is not None
        body = chat_request(redacted, self.model, self.max_tokens, send_image=send_image)
        url = f"{self.base_url}/chat/completions"
        attempt = 0
        refused: _ImageRefused | None = None
        while True:
            started = False
            try:
                with self._http().stream("POST", url, json=body, headers=self._headers()) as response:
                    if response.status_code >= 400:
                        response.read()
                        if send_image and response.status_code not in _NOT_ABOUT_THE_IMAGE:
                            raise _ImageRefused(f"HTTP {response.status_code}: {response.text[:300]}")
                        self._raise_for_status(response)
                    if refused is not None:
                        log.warning("model server %s takes no images (%s): sending text only", self.base_url, refused)
                        self.supports_images = False
                        refused = None
                    try:
                        for delta in sse_deltas(response.iter_lines()):
                            started = True
                            yield delta
                    except GeneratorError as e:
                        # llama-cpp-python accepts a streamed request (200) and then fails to render the image part
                        # in a text model's chat template: the stream ends before any text.
                        if send_image and not started:
                            raise _ImageRefused(f"the stream ended before any text: {e}") from e
                        raise
                return
            except _ImageRefused as e:
                refused, send_image = e, False  # remembered only if the text-only request is accepted
                body = chat_request(redacted, self.model, self.max_tokens, send_image=False)
            except (
                _Retryable,
                httpx.ConnectError,
                httpx.ConnectTimeout,
                httpx.PoolTimeout,
                httpx.ReadError,  # a kept-alive connection the server closed: only before the first token
                httpx.RemoteProtocolError,
            ) as e:
                if started:
                    raise GeneratorError(f"The connection to the model server at {self.base_url} broke: {e}") from e
                if attempt >= self.max_retries:
                    raise GeneratorError(
                        f"The model server at {self.base_url} failed after {attempt + 1} attempt(s): {e}"
                    ) from e
                delay = self.backoff_s * 2**attempt
                log.info("model server %s: %s; retrying in %.2f s", self.base_url, e, delay)
                time.sleep(delay)
                attempt += 1
            except httpx.TimeoutException as e:
                raise GeneratorError(
                    f"The model server at {self.base_url} went quiet for more than {self._timeout.read:g} s "
                    "(FINDESK_AGENT__GENERATION_TIMEOUT_S)."
                ) from e
            except httpx.HTTPError as e:
                raise GeneratorError(f"The connection to the model server at {self.base_url} broke: {e}") from e

    def _raise_for_status(self, response: httpx.Response) -> None:
        status, detail = response.status_code, response.text[:300]
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}: {detail}")
        if status in (401, 403):
            if not os.environ.get(self.api_key_env):
                raise GeneratorError(
                    f"The model server at {self.base_url} requires an API key: put it in the environment variable "
                    f"{self.api_key_env} (FINDESK_AGENT__OPENAI_API_KEY_ENV names another variable)."
                )
            raise GeneratorError(
                f"The model server at {self.base_url} rejected the API key in {self.api_key_env} (HTTP {status})."
            )
        if status == 404:
            raise GeneratorError(
                f"The model server at {self.base_url} does not know model {self.model!r} or the endpoint (HTTP 404): "
                "check FINDESK_AGENT__OPENAI_MODEL and that the base URL ends in /v1."
            )
        raise GeneratorError(f"The model server at {self.base_url} refused the request (HTTP {status}): {detail}")


def describe(config: AgentConfig) -> dict[str, Any]:
    return {
        "generator": "openai",
        "model": config.openai_model or None,
        "base_url": config.openai_base_url,
        "api_key_env": config.openai_api_key_env,
        "api_key_set": bool(os.environ.get(config.openai_api_key_env)),  # never the key itself
        "supports_images": config.openai_send_images,
        "ready": bool(config.openai_model),
        "detail": "OpenAI-compatible server (not contacted by describe)"
        + ("" if config.openai_model else "; FINDESK_AGENT__OPENAI_MODEL is not set"),
    }
