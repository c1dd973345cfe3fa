"""Answer generators alone: extractive reply time, and the OpenAI-compatible client's own overhead.

    .venv/bin/python benchmarks/generators.py [--runs 200] [--tokens 100]

- extractive: time to build a prompt from 5 real FAQ passages (retrieval/data/default_faq.jsonl), stream the
  reply and check its citations; p50/p95 over --runs replies, English and Chinese.
- openai: a chat-completions server on 127.0.0.1 (started here) streams --tokens deltas with no delay, so the
  figures are FinDesk's client cost (request build, PII redaction, HTTP, SSE parsing): time to first token and
  total, p50/p95. A real server adds its own model time on top.
- fallback: time from a server that refuses connections to the first word of the extractive answer, with the
  default retries (2) and backoff (0.5 s, doubling): what a customer waits when the model server is down.
No VLM figures: no real VLM weights exist on these machines (see ../shared/MODELS.md).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agent.citations import check_citations
from agent.generators import create_generator
from agent.generators.extractive import ExtractiveGenerator
from agent.generators.openai_server import OpenAIServerGenerator
from agent.prompts import build_prompt
from agent.settings import AgentConfig
from retrieval.types import Hit

FAQ = Path(__file__).resolve().parents[1] / "retrieval" / "data" / "default_faq.jsonl"


def faq_hits(language: str, n: int = 5) -> list[Hit]:
    rows = [json.loads(line) for line in FAQ.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [row for row in rows if row.get("language", "en") == language][:n]
    return [
        Hit(r["id"], r["question"], r["question"], r["answer"], r.get("category", ""), language, 1.0 - i * 0.05)
        for i, r in enumerate(rows)
    ]


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms"


def timed(runs: int, action: Callable[[], Any]) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def serve(tokens: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i in range(tokens):
                chunk = {"choices": [{"index": 0, "delta": {"content": f"word{i} "}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=100)
    args = parser.parse_args()

    extractive = ExtractiveGenerator()
    for language, message in (("en", "I lost my card"), ("zh", "我的卡丢了")):
        hits = faq_hits(language)

        def reply(hits: list[Hit] = hits, language: str = language, message: str = message) -> None:
            text = "".join(extractive.stream(build_prompt(message, hits, language=language)))
            check_citations(text, hits)

        print(f"extractive ({language}, {len(hits)} passages): {percentiles(timed(args.runs, reply))}")

    server = serve(args.tokens)
    config = AgentConfig(
        generator="openai", openai_base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", openai_model="bench"
    )
    client = OpenAIServerGenerator(config)
    prompt = build_prompt("My card 4111 1111 1111 1111 is lost", faq_hits("en"), language="en", image=b"\x89PNG" * 5000)
    first_token: list[float] = []

    def stream_reply() -> None:
        start = time.perf_counter()
        for i, _ in enumerate(client.stream(prompt)):
            if i == 0:
                first_token.append((time.perf_counter() - start) * 1000)

    list(client.stream(prompt))  # warm the connection pool, as a running server would be
    total = timed(min(args.runs, 100), stream_reply)
    print(f"openai client, time to first token: {percentiles(first_token)}")
    print(f"openai client, {args.tokens} deltas total: {percentiles(total)}")
    server.shutdown()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = create_generator(config.model_copy(update={"openai_base_url": f"http://127.0.0.1:{closed}/v1"}))
    start = time.perf_counter()
    next(iter(down.stream(prompt)))
    print(f"fallback when the server is down (2 retries, 0.5 s backoff): {(time.perf_counter() - start) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
