"""Load test: N concurrent customer sessions sending chat turns through the HTTP API, on loopback.

    .venv/bin/python benchmarks/load_test.py                       # starts `findesk serve` on a temp data dir
    .venv/bin/python benchmarks/load_test.py --url http://127.0.0.1:7860 --sessions 20 --seconds 60
    .venv/bin/python benchmarks/load_test.py --url http://a:7860 --url http://b:7860   # round-robin replicas
    .venv/bin/python benchmarks/load_test.py --replicas-compare --sessions 10 --seconds 30
        # one run, three set-ups, each started fresh: 1 replica on SQLite, 1 and 2 replicas on one PostgreSQL
        # (a throwaway cluster from Debian's postgresql, as in the tests)

Each session is one thread with its own session id that sends a question, waits for the whole reply
(POST /api/chat) and sends the next, until the time is up or it has sent --max-requests. With several
replicas, successive requests go round-robin to the next replica (the API keeps no state in a process,
so one conversation hops between replicas). Questions are real customer queries (Banking77 from
../shared/data when present, else a built-in list). It reports requests, errors (any non-200 or a reply
without a route), throughput and p50/p95/p99 latency; in --replicas-compare also `lost`: turns that were
answered 200 but whose customer message is not in the database afterwards.
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
from itertools import cycle
from pathlib import Path

import httpx
import sqlalchemy as sa

from retrieval.database import connect, database_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.postgres: the same throwaway PostgreSQL cluster the tests use
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


def start_server(data_dir: Path, database_url: str = "") -> tuple[subprocess.Popen[bytes], str]:
    """`findesk serve` on its own data folder (its index files); `database_url` empty: SQLite in that folder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    findesk = shutil.which("findesk", path=str(Path(sys.executable).parent)) or "findesk"
    cmd = [findesk, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    log = (data_dir / "serve.log").open("wb")  # a file, not a pipe: an unread pipe would block the server
    # Simulated customers come from one address and send the next turn as soon as a reply arrives: lift the
    # anonymous rate limits, which would otherwise measure themselves instead of the server.
    lifted = {"FINDESK_SECURITY__CHAT_TURNS_PER_ADDRESS": "1000000/minute",
              "FINDESK_SECURITY__CHAT_TURNS_PER_SESSION": "1000000/minute"}  # fmt: skip
    env = {**os.environ, **lifted, "FINDESK_DATABASE_URL": database_url}
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"findesk serve exited: {(data_dir / 'serve.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.terminate()
    raise SystemExit("findesk serve was not ready within 600 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=60)


Result = tuple[float, bool, str, str]  # seconds, ok, session id, question


def session_worker(urls: cycle[str], pool: list[str], stop_at: float, max_requests: int, out: list[Result],
                   lock: threading.Lock, seed: int) -> None:  # fmt: skip
    rng = random.Random(seed)
    conversation: dict[str, str] = {}  # the server opens it on the first turn; later turns send its token
    with httpx.Client(timeout=120) as client:
        for _ in range(max_requests):
            if time.monotonic() >= stop_at:
                break
            with lock:
                url = next(urls)  # round-robin over the replicas, request by request
            question = rng.choice(pool)
            started = time.perf_counter()
            try:
                data = {"text": question, **({"session_id": conversation["id"]} if conversation else {})}
                headers = {"X-Session-Token": conversation["token"]} if conversation else {}
                response = client.post(f"{url}/api/chat", data=data, headers=headers)
                ok = response.status_code == 200 and "route" in response.json()
                if ok and not conversation:
                    reply = response.json()
                    conversation = {"id": reply["session_id"], "token": reply["session_token"]}
            except (httpx.HTTPError, ValueError):
                ok = False
            with lock:
                out.append((time.perf_counter() - started, ok, conversation.get("id", ""), question))


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def run_load(urls: list[str], sessions: int, seconds: float, max_requests: int) -> tuple[list[Result], float]:
    pool = questions()
    for url in urls:
        httpx.post(f"{url}/api/chat", data={"text": pool[0]}, timeout=120)  # first turn loads lazy parts
    results: list[Result] = []
    lock = threading.Lock()
    targets = cycle(urls)
    stop_at = time.monotonic() + seconds
    started = time.perf_counter()
    threads = [
        threading.Thread(target=session_worker, args=(targets, pool, stop_at, max_requests, results, lock, i))
        for i in range(sessions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def figures_of(results: list[Result], wall: float, sessions: int) -> dict[str, object]:
    latencies = sorted(seconds * 1000 for seconds, *_ in results)
    return {
        "sessions": sessions,
        "seconds": round(wall, 1),
        "requests": len(results),
        "errors": sum(1 for _, ok, *_ in results if not ok),
        "requests_per_s": round(len(results) / wall, 2),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "cpus": os.cpu_count(),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }


def lost_turns(results: list[Result], url: str) -> int:
    """Turns answered 200 whose customer message is missing from the database (should be 0).

    Counted per conversation (stored customer messages vs turns answered), not by text: the store redacts
    anything that looks like personal data before writing it.
    """
    db = connect(url)
    try:
        with db.read() as conn:
            query = "SELECT session_id, COUNT(*) FROM conv_messages WHERE role = 'customer' GROUP BY session_id"
            stored = dict(conn.execute(sa.text(query)).all())
    finally:
        db.close()
    answered: dict[str, int] = {}
    for _, ok, session_id, _question in results:
        if ok:
            answered[session_id] = answered.get(session_id, 0) + 1
    return sum(max(0, n - stored.get(session_id, 0)) for session_id, n in answered.items())


def compare_replicas(sessions: int, seconds: float, max_requests: int) -> list[dict[str, object]]:
    """1 replica on SQLite, then 1 and 2 replicas on one PostgreSQL, each on fresh data folders."""
    from tests.postgres import Cluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed: scripts/setup.sh --test installs Debian's postgresql.")
    cluster = Cluster(bindir, durable=True)  # fsync on, like SQLite's synchronous=FULL: a fair comparison
    rows = []
    try:
        for engine, replicas in (("sqlite", 1), ("postgresql", 1), ("postgresql", 2)):
            root = Path(tempfile.mkdtemp(prefix="findesk-load-"))
            url = cluster.new_database() if engine == "postgresql" else ""
            print(f"starting {replicas} replica(s) on {engine}…", file=sys.stderr)
            servers: list[tuple[subprocess.Popen[bytes], str]] = []
            try:
                for n in range(replicas):
                    servers.append(start_server(root / f"replica-{n}", url))
                results, wall = run_load([u for _, u in servers], sessions, seconds, max_requests)
            finally:
                for server, _ in servers:
                    stop_server(server)
            db_url = url or f"sqlite:///{root / 'replica-0' / 'findesk.sqlite3'}"
            figures = {"engine": engine, "replicas": replicas, **figures_of(results, wall, sessions)}
            figures["lost"] = lost_turns(results, database_url(db_url, root))
            rows.append(figures)
            print(json.dumps(figures), file=sys.stderr)
            shutil.rmtree(root, ignore_errors=True)
    finally:
        cluster.destroy()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--url", action="append", help="A running FinDesk (repeat for replicas, round-robin); default: start one."
    )
    parser.add_argument("--replicas-compare", action="store_true", help="SQLite x1, PostgreSQL x1 and x2 in one run.")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=1000, help="Per session: the run is bounded twice.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = parser.parse_args()

    if args.replicas_compare:
        rows = compare_replicas(args.sessions, args.seconds, args.max_requests)
        if args.json:
            print(json.dumps(rows))
            return
        keys = ["engine", "replicas", "requests", "errors", "lost", "requests_per_s", "p50_ms", "p95_ms"]
        print("| " + " | ".join(keys) + " |")
        print("|" + "---|" * len(keys))
        for row in rows:
            print("| " + " | ".join(str(row[k]) for k in keys) + " |")
        return

    server = None
    data_dir = Path(tempfile.mkdtemp(prefix="findesk-load-"))
    urls = args.url
    try:
        if not urls:
            print("starting findesk serve (loads the default FAQ and models)…", file=sys.stderr)
            server, url = start_server(data_dir)
            urls = [url]
        results, wall = run_load(urls, args.sessions, args.seconds, args.max_requests)
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(data_dir, ignore_errors=True)

    figures = figures_of(results, wall, args.sessions)
    figures["replicas"] = len(urls)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
