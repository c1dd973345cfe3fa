"""Load test: N concurrent customer sessions sending chat turns through the HTTP API, on loopback.

    .venv/bin/python benchmarks/load_test.py                       # starts `findesk serve` on a temp data dir
    .venv/bin/python benchmarks/load_test.py --url http://127.0.0.1:7860 --sessions 20 --seconds 60

Each session is one thread with its own session id that sends a question, waits for the whole reply
(POST /api/chat) and sends the next, until the time is up or it has sent --max-requests. Questions are
real customer queries (Banking77 from ../shared/data when present, else a built-in list). It reports
requests, errors (any non-200 or a reply without a route), throughput and p50/p95/p99 latency.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BANKING77 = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"
FALLBACK_QUESTIONS = [
    "I lost my debit card", "How do I activate my new card?", "My transfer hasn't arrived yet",
    "What is the maximum I can transfer per day?", "I forgot my password", "Is there a monthly account fee?",
    "Why was my card declined?", "How do I send money abroad?", "What does error E1001 mean?",
    "Can I talk to a real person?", "How do I download my statement?", "The ATM kept my card",
]  # fmt: skip


def questions(limit: int = 2000) -> list[str]:
    if BANKING77.exists():
        with BANKING77.open(encoding="utf-8") as f:
            rows = [row["text"] for row in csv.DictReader(f)]
        random.Random(7).shuffle(rows)
        return rows[:limit]
    return FALLBACK_QUESTIONS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    findesk = shutil.which("findesk", path=str(Path(sys.executable).parent)) or "findesk"
    cmd = [findesk, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    log = (data_dir / "serve.log").open("wb")  # a file, not a pipe: an unread pipe would block the server
    # Simulated customers come from one address and send the next turn as soon as a reply arrives: lift the
    # anonymous rate limits, which would otherwise measure themselves instead of the server.
    lifted = {"FINDESK_SECURITY__CHAT_TURNS_PER_ADDRESS": "1000000/minute",
              "FINDESK_SECURITY__CHAT_TURNS_PER_SESSION": "1000000/minute"}  # fmt: skip
    env = {**os.environ, **lifted}
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"findesk serve exited: {(data_dir / 'serve.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.terminate()
    raise SystemExit("findesk serve did not come up within 300 s")


def session_worker(url: str, pool: list[str], stop_at: float, max_requests: int, out: list[tuple[float, bool]],
                   lock: threading.Lock, seed: int) -> None:  # fmt: skip
    rng = random.Random(seed)
    conversation: dict[str, str] = {}  # the server opens it on the first turn; later turns send its token
    with httpx.Client(base_url=url, timeout=120) as client:
        for _ in range(max_requests):
            if time.monotonic() >= stop_at:
                break
            started = time.perf_counter()
            try:
                data = {"text": rng.choice(pool), **({"session_id": conversation["id"]} if conversation else {})}
                headers = {"X-Session-Token": conversation["token"]} if conversation else {}
                response = client.post("/api/chat", data=data, headers=headers)
                ok = response.status_code == 200 and "route" in response.json()
                if ok and not conversation:
                    reply = response.json()
                    conversation = {"id": reply["session_id"], "token": reply["session_token"]}
            except (httpx.HTTPError, ValueError):
                ok = False
            with lock:
                out.append((time.perf_counter() - started, ok))


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="A running FinDesk; default: start `findesk serve` on a temp data dir.")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=1000, help="Per session: the run is bounded twice.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = parser.parse_args()

    server = None
    data_dir = Path(tempfile.mkdtemp(prefix="findesk-load-"))
    url = args.url
    try:
        if url is None:
            print("starting findesk serve (loads the default FAQ and models)…", file=sys.stderr)
            server, url = start_server(data_dir)
        pool = questions()
        httpx.post(f"{url}/api/chat", data={"text": pool[0]}, timeout=120)  # first turn loads lazy parts
        results: list[tuple[float, bool]] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds
        started = time.perf_counter()
        threads = [
            threading.Thread(target=session_worker, args=(url, pool, stop_at, args.max_requests, results, lock, i))
            for i in range(args.sessions)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)

    latencies = sorted(seconds * 1000 for seconds, _ in results)
    figures = {
        "sessions": args.sessions,
        "seconds": round(wall, 1),
        "requests": len(results),
        "errors": sum(1 for _, ok in results if not ok),
        "requests_per_s": round(len(results) / wall, 2),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "cpus": os.cpu_count(),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
