"""What one more dense channel (the USE vote) adds to a search at 10,000 entries, in wall and CPU time.

    .venv/bin/python benchmarks/channel_cost.py [--entries 10000] [--queries 300]

The same synthetic FAQ as benchmarks/retrieval_speed.py (entry i: banking77 message i as its question,
message i+1 as its alternate; 20,000 phrasing vectors), embedded with USE only (cheap: ~0.6 ms a text),
so this runs in a minute where the full speed benchmark takes ~10 (MiniLM import). Per query it times:
the USE query embedding; `fused_search` with one channel (z-fusion + BM25, what a search does besides
embedding); and with the same channel twice (anchor + a 0.5-weight vote): the difference is the cost of one
more channel. CPU time (`time.thread_time`) is reported beside wall time because the shared machine's load
inflates wall time several-fold; CPU time is what the work costs on an idle core.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.config import RetrievalConfig  # noqa: E402
from retrieval.dense_index import DenseIndex  # noqa: E402
from retrieval.embedders import load_embedder  # noqa: E402
from retrieval.hybrid import fused_search  # noqa: E402
from retrieval.lexical_index import LexicalIndex  # noqa: E402
from retrieval.model_pack import USE_M3  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77" / "train.csv"


def percentiles(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2)}


def timed(fn) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.thread_time()
    result = fn()
    return (time.perf_counter() - wall) * 1e3, (time.thread_time() - cpu) * 1e3, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    texts = [r["text"] for r in csv.DictReader(DATA.open(encoding="utf-8"))]
    n = min(args.entries, len(texts))
    out: dict = {"entries": n, "cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()}
    embedder = load_embedder(USE_M3)
    started = time.perf_counter()
    vectors = embedder.embed(texts, kind="passage")
    out["use_embed_per_text_ms"] = round((time.perf_counter() - started) * 1e3 / len(texts), 3)
    index, lexical = DenseIndex(embedder.dim), LexicalIndex()
    for i in range(n):
        j = (i + 1) % len(texts)
        index.add(f"q{i}", np.stack([vectors[i], vectors[j]]))
        lexical.set(f"q{i}", [texts[i], texts[j]])
    out["vectors"] = index.vectors
    config = RetrievalConfig()
    options = config.fusion_options("zh")  # z-fusion + 0.5 x BM25
    search = {"dense_candidates": config.dense_candidates, "lexical_candidates": config.lexical_candidates}
    lexical.search("warm up", 1)
    picks = np.random.default_rng(0).choice(len(texts), size=args.queries, replace=False)
    rows: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in ("embed", "one", "two")}
    for i in picks.tolist():
        query = texts[i]
        wall, cpu, vector = timed(lambda q=query: embedder.embed([q], kind="query")[0])
        rows["embed"][0].append(wall)
        rows["embed"][1].append(cpu)
        for key, channels in (("one", [(index, vector, 1.0)]), ("two", [(index, vector, 1.0), (index, vector, 0.5)])):
            wall, cpu, _ = timed(lambda c=channels, q=query: fused_search(c, lexical, q, options, **search))
            rows[key][0].append(wall)
            rows[key][1].append(cpu)
    names = {"embed": "use_query_embedding", "one": "search_one_channel", "two": "search_two_channels"}
    for key, (wall, cpu) in rows.items():
        out[names[key]] = {"wall": percentiles(wall), "cpu": percentiles(cpu)}
    out["load_avg_at_end"] = os.getloadavg()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
