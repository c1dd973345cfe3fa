"""The OpenAI-compatible generator against a chat-completions server started on 127.0.0.1 by the test.

The server speaks the real streaming protocol (`text/event-stream`, `data: {...choices[0].delta.content...}`
events, `data: [DONE]`) and records each request. What this does NOT prove: that a particular server (vLLM,
Ollama, llama.cpp, a hosted API) accepts every field we send or formats its events exactly like this one, nor
anything about answer quality; it proves the request we build, our event parsing, retries, timeouts, key
handling, PII redaction and the extractive fallback.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agent.errors import GeneratorError
from agent.generators import create_generator
from agent.generators.fallback import FALLBACK_NOTE, INTERRUPTED_NOTE
from agent.generators.openai_server import OpenAIServerGenerator, sse_deltas
from agent.prompts import SYSTEM_PROMPTS, ChatTurn, build_prompt
from agent.settings import AgentConfig
from retrieval.types import Hit

PNG = b"\x89PNG\r\n\x1a\n" + b"fake-but-opaque-bytes"  # sent verbatim as a data URL; the server does not decode it
PASSAGE = Hit("lost-en", "My card is lost", "My card is lost", "Freeze it in the app under Cards.", "cards", "en", 0.9)
TOKENS = ["Freeze ", "your card ", "in the app", " [1]."]
CARD = "4111 1111 1111 1111"
# llama.cpp server's answer to an image for a model loaded without a vision projector (tools/server, 2025-2026).
LLAMA_CPP_NO_IMAGES = "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"


class ChatServer:
    """A minimal chat-completions server. `script` lists how to answer successive requests; the last repeats."""

    def __init__(self) -> None:
        self.script: list[str] = ["ok"]
        self.requests: list[dict[str, Any]] = []
        self.required_key: str | None = None
        self.tokens = TOKENS  # what a successful reply streams
        self.text_only = False  # refuse image input the way llama.cpp's server does without a vision projector
        self.release = threading.Event()  # ends a "hang" early at teardown
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                if not owner._authorised(self):
                    return
                self._json(200, {"object": "list", "data": [{"id": "test-vlm", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if not owner._authorised(self):
                    return
                behaviour = owner.script[min(len(owner.requests) - 1, len(owner.script) - 1)]
                if owner.text_only and "image_url" in json.dumps(body):
                    self._json(500, {"error": {"code": 500, "message": LLAMA_CPP_NO_IMAGES, "type": "server_error"}})
                elif behaviour == "500":
                    self._json(500, {"error": {"message": "CUDA out of memory", "type": "server_error"}})
                elif behaviour == "hang":
                    owner.release.wait(5)  # accepted the connection, never answers in time
                elif behaviour == "cut":
                    self._events(owner.tokens[:2], finish=False)  # the connection drops mid-reply
                else:
                    self._events(owner.tokens, finish=True)

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _events(self, tokens: list[str], finish: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                chunks: list[dict[str, Any]] = [{"delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
                chunks += [{"delta": {"content": token}, "finish_reason": None} for token in tokens]
                if finish:
                    chunks.append({"delta": {}, "finish_reason": "stop"})
                for choice in chunks:
                    event = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "test-vlm"}
                    event["choices"] = [{"index": 0, **choice}]
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                if finish:
                    self.wfile.write(b"data: [DONE]\n\n")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        if self.required_key is None or handler.headers.get("Authorization") == f"Bearer {self.required_key}":
            return True
        handler._json(401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}})  # type: ignore[attr-defined]
        return False


@pytest.fixture
def server() -> Iterator[ChatServer]:
    chat = ChatServer()
    thread = threading.Thread(target=chat.httpd.serve_forever, daemon=True)
    thread.start()
    yield chat
    chat.release.set()
    chat.httpd.shutdown()
    chat.httpd.server_close()


def config(server: ChatServer, **overrides: Any) -> AgentConfig:
    values: dict[str, Any] = {
        "generator": "openai",
        "openai_base_url": server.base_url,
        "openai_model": "test-vlm",
        "openai_api_key_env": "FINDESK_TEST_OPENAI_KEY",
        "openai_retry_backoff_s": 0.01,
        "generation_timeout_s": 5.0,
    }
    return AgentConfig(**(values | overrides))


def prompt(message: str = "I lost my card", image: bytes | None = PNG) -> Any:
    history = [ChatTurn("user", "hello"), ChatTurn("assistant", "Hi, how can I help?")]
    return build_prompt(message, [PASSAGE], language="en", history=history, ocr_text="Card ending 1111", image=image)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_streams_deltas_and_sends_a_complete_request(server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINDESK_TEST_OPENAI_KEY", "sk-test-123")
    server.required_key = "sk-test-123"
    generator = OpenAIServerGenerator(config(server))
    stream = generator.stream(prompt(f"I lost my card {CARD}, call me on +44 7700 900123"))
    assert list(stream) == TOKENS
    assert stream.answered_by == "openai:test-vlm"

    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test-123"
    body = request["body"]
    assert body["model"] == "test-vlm" and body["stream"] is True and body["max_tokens"] == 400
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert body["messages"][0]["content"] == SYSTEM_PROMPTS["en"]
    text_part, image_part = body["messages"][-1]["content"]
    assert text_part["type"] == "text" and "[1] (entry lost-en)" in text_part["text"]
    assert "<<<SCREENSHOT TEXT" in text_part["text"]
    assert image_part == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
    }
    # PII never leaves the machine: the card number and phone number are redacted before sending.
    sent = json.dumps(body, ensure_ascii=False)
    assert CARD not in sent and CARD.replace(" ", "") not in sent and "7700 900123" not in sent
    assert "I lost my card" in sent


def test_retries_a_500_then_streams(server: ChatServer) -> None:
    server.script = ["500", "ok"]
    assert "".join(OpenAIServerGenerator(config(server)).stream(prompt())) == "".join(TOKENS)
    assert len(server.requests) == 2


def test_gives_up_after_the_configured_retries(server: ChatServer) -> None:
    server.script = ["500"]
    with pytest.raises(GeneratorError, match="after 3 attempt"):
        list(OpenAIServerGenerator(config(server, openai_max_retries=2)).stream(prompt(image=None)))
    assert len(server.requests) == 3  # with a screenshot, one more: the same turn without it (see below)


def test_connection_refused_is_retried_then_explained() -> None:
    cfg = AgentConfig(
        generator="openai", openai_base_url=closed_port_url(), openai_model="m", openai_retry_backoff_s=0.01
    )
    with pytest.raises(GeneratorError, match=r"failed after 3 attempt\(s\)"):
        list(OpenAIServerGenerator(cfg).stream(prompt()))
    with pytest.raises(GeneratorError, match="Cannot reach the model server"):
        OpenAIServerGenerator(cfg).warm_up()


def test_missing_or_wrong_key_says_which_variable(server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.required_key = "sk-right"
    monkeypatch.delenv("FINDESK_TEST_OPENAI_KEY", raising=False)
    generator = OpenAIServerGenerator(config(server))
    with pytest.raises(GeneratorError, match="requires an API key: put it in the environment variable FINDESK_TEST"):
        list(generator.stream(prompt()))
    monkeypatch.setenv("FINDESK_TEST_OPENAI_KEY", "sk-wrong")  # read at use, no restart needed
    with pytest.raises(GeneratorError, match="rejected the API key in FINDESK_TEST_OPENAI_KEY"):
        generator.warm_up()
    monkeypatch.setenv("FINDESK_TEST_OPENAI_KEY", "sk-right")
    generator.warm_up()


def test_images_stay_local_when_sending_is_off(server: ChatServer) -> None:
    generator = OpenAIServerGenerator(config(server, openai_send_images=False))
    assert generator.supports_images is False
    list(generator.stream(prompt()))
    user = server.requests[0]["body"]["messages"][-1]["content"]
    assert isinstance(user, str) and "base64" not in json.dumps(server.requests[0]["body"])


def test_silent_server_times_out(server: ChatServer) -> None:
    server.script = ["hang"]
    with pytest.raises(GeneratorError, match="went quiet"):
        list(OpenAIServerGenerator(config(server, generation_timeout_s=0.3)).stream(prompt()))
    assert len(server.requests) == 1  # a slow server is not hammered with retries


def test_hang_falls_back_to_the_extractive_answer(server: ChatServer) -> None:
    server.script = ["hang"]
    generator = create_generator(config(server, generation_timeout_s=0.5))
    stream = generator.stream(prompt())
    text = "".join(stream)
    assert text.startswith(FALLBACK_NOTE["en"])
    assert "Freeze it in the app under Cards. [1]" in text
    assert stream.answered_by == "extractive"
    assert stream.fallback_reason is not None and "openai:test-vlm failed" in stream.fallback_reason


def test_drop_after_tokens_appends_a_note_instead_of_repeating(server: ChatServer) -> None:
    server.script = ["cut"]
    stream = create_generator(config(server)).stream(prompt())
    text = "".join(stream)
    assert text == "".join(TOKENS[:2]) + INTERRUPTED_NOTE["en"]
    assert stream.answered_by == "openai:test-vlm" and "stopped mid-reply" in (stream.fallback_reason or "")
    assert len(server.requests) == 1  # no retry once the customer has seen text


def test_event_parsing_edge_cases() -> None:
    lines = [": keep-alive", "", 'data:{"choices":[{"delta":{"content":"a"}}]}', "event: ping", "data: [DONE]", "x"]
    assert list(sse_deltas(lines)) == ["a"]
    with pytest.raises(GeneratorError, match="error mid-stream: overloaded"):
        list(sse_deltas(['data: {"error": {"message": "overloaded"}}']))
    with pytest.raises(GeneratorError, match="malformed"):
        list(sse_deltas(["data: {not json"]))
    with pytest.raises(GeneratorError, match="ended before"):
        list(sse_deltas(['data: {"choices":[{"delta":{"content":"a"}}]}']))


def test_a_text_only_server_gets_the_turn_without_the_image_and_is_remembered(
    server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    """llama.cpp without a vision projector answers an image with HTTP 500: the same turn is sent again at once
    without it (the OCR text is still in the prompt), and later turns go text-only from the start."""
    server.text_only = True
    generator = create_generator(config(server))
    stream = generator.stream(prompt())
    assert "".join(stream) == "".join(TOKENS) and stream.fallback_reason is None
    first, second = server.requests
    assert "image_url" in json.dumps(first["body"]) and "image_url" not in json.dumps(second["body"])
    assert "Card ending 1111" in second["body"]["messages"][-1]["content"]  # the screenshot's text still goes
    assert generator.supports_images is False
    assert [r.message for r in caplog.records if "takes no images" in r.message]

    assert "".join(generator.stream(prompt())) == "".join(TOKENS)
    assert len(server.requests) == 3 and "image_url" not in json.dumps(server.requests[2]["body"])


def test_a_failure_that_is_not_about_the_image_is_not_taken_for_a_text_only_server(server: ChatServer) -> None:
    server.script = ["500"]  # fails with or without the image
    generator = OpenAIServerGenerator(config(server, openai_max_retries=1))
    with pytest.raises(GeneratorError, match="failed after 2 attempt"):
        list(generator.stream(prompt()))
    assert generator.supports_images is True
