"""all-MiniLM-L6-v2 in torch vs ONNX Runtime: one-query latency, batch throughput, and whether vectors agree.

Queries and phrasings are real banking queries (../shared/data/banking77/train.csv). Prints one JSON object.

    .venv/bin/python benchmarks/embedder_backends.py [--queries 200] [--phrasings 2048]
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

from retrieval.embedders import load_embedder  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77" / "train.csv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--phrasings", type=int, default=2048)
    args = parser.parse_args()
    texts = [r["text"] for r in csv.DictReader(DATA.open(encoding="utf-8"))]
    rng = np.random.default_rng(0)
    queries = [texts[i] for i in rng.choice(len(texts), size=args.queries, replace=False)]
    phrasings = texts[: args.phrasings]
    out: dict = {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()}
    vectors = {}
    for backend in ("torch", "onnx"):
        embedder = load_embedder("all-MiniLM-L6-v2", backend=backend)
        started = time.perf_counter()
        embedder.warm_up()
        load_s = time.perf_counter() - started
        for query in queries[:10]:
            embedder.embed([query], kind="query")
        latencies = []
        for query in queries:
            started = time.perf_counter()
            embedder.embed([query], kind="query")
            latencies.append((time.perf_counter() - started) * 1e3)
        started = time.perf_counter()
        for at in range(0, len(phrasings), 256):  # the knowledge base embeds 256 phrasings per call
            embedder.embed(phrasings[at : at + 256], kind="passage")
        per_phrasing = (time.perf_counter() - started) * 1e3 / len(phrasings)
        vectors[backend] = embedder.embed(phrasings[:512], kind="passage")
        out[backend] = {
            "runs_on": embedder.runs_on,  # type: ignore[attr-defined]
            "load_s": round(load_s, 1),
            "query_p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "query_p95_ms": round(float(np.percentile(latencies, 95)), 2),
            "phrasing_ms": round(per_phrasing, 2),
        }
    cosines = np.sum(vectors["torch"] * vectors["onnx"], axis=1)
    out["cosine_torch_vs_onnx"] = {"min": round(float(cosines.min()), 7), "mean": round(float(cosines.mean()), 7)}
    out["load_avg_at_end"] = os.getloadavg()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
