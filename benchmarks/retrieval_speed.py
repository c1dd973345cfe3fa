"""Speed of the knowledge base at 10,000 FAQ entries: import, search latency, edit visibility, index types.

Entries are built from real banking queries (../shared/data/banking77/train.csv): entry i has query i as
its question and query i+1 as its one alternate (20,000 phrasing vectors). Prints one JSON object;
`calibration_examples` > 0 means the calibrated decision, not the thresholds, decided the searches (on this
synthetic FAQ it is 0: held-out phrasings cannot find their entry, also when pairs share an intent).

    .venv/bin/python benchmarks/retrieval_speed.py [--entries 10000] [--queries 300] [--multilingual-weight 0.5]

`--multilingual-weight W` makes the USE channel (RetrievalConfig.multilingual_embedder) hold every entry and
vote on these English queries too: the cost of that channel at 10,000 entries (by default it votes on
Chinese queries only, and this English FAQ gives it nothing to hold).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.config import RetrievalConfig  # noqa: E402
from retrieval.dense_index import DenseIndex  # noqa: E402
from retrieval.knowledge_base import KnowledgeBase  # noqa: E402
from retrieval.types import FaqEntry  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77" / "train.csv"


def percentiles(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--multilingual-weight", type=float, default=0.0)
    args = parser.parse_args()
    texts = [r["text"] for r in csv.DictReader(DATA.open(encoding="utf-8"))]
    n = min(args.entries, len(texts))
    entries = [
        FaqEntry(id=f"q{i}", question=texts[i], alternates=(texts[(i + 1) % len(texts)],), answer=f"Answer {i}.")
        for i in range(n)
    ]
    out: dict = {"entries": n, "cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()}
    # English data: the zh channel holds nothing here. The calibration is refitted once, timed, before the
    # searches (so they run the calibrated decision); a long delay keeps edits below from refitting mid-run.
    config = RetrievalConfig(zh_embedder="", calibration_delay_s=3600, multilingual_weight=args.multilingual_weight)
    out["channels"] = config.embedder + (f" + {config.multilingual_embedder}" if args.multilingual_weight else "")
    with tempfile.TemporaryDirectory() as folder, KnowledgeBase.open(Path(folder), config) as kb:
        kb.search("warm up the model")  # model load is not part of the import figure
        started = time.perf_counter()
        with Progress(TextColumn("import"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
            task = bar.add_task("import", total=None)
            kb.import_entries(entries, actor="bench", progress=lambda d, t: bar.update(task, completed=d, total=t))
        out["import_s"] = round(time.perf_counter() - started, 1)
        status = kb.status()
        out["vectors"], out["index_type"] = status.vectors, status.index_type
        assert kb.calibrator is not None
        started = time.perf_counter()
        fitted = kb.calibrator.refit()
        out["calibration_refit_s"] = round(time.perf_counter() - started, 1)
        out["calibration_examples"] = sum(m.examples for m in fitted.languages.values()) if fitted else 0

        rng = np.random.default_rng(0)
        picks = rng.choice(len(texts), size=args.queries, replace=False)
        totals, search_only = [], []
        for i in picks.tolist():
            started = time.perf_counter()
            result = kb.search(texts[i])
            totals.append((time.perf_counter() - started) * 1e3)
            search_only.append(result.timings_ms["search"])
        out["search_total"] = percentiles(totals)
        out["search_without_embedding"] = percentiles(search_only)

        visible = []
        for k in range(20):
            target = f"q{int(rng.integers(n))}"
            question = f"Can I pay the zebra invoice number {k} with sea shells?"
            started = time.perf_counter()
            kb.update(target, actor="bench", question=question)
            hits = kb.search(question).hits
            visible.append((time.perf_counter() - started) * 1e3)
            assert hits[0].entry_id == target
        out["edit_visible"] = {**percentiles(visible), "max_ms": round(max(visible), 1)}

        primary = kb._channels[0].index
        ids = list(primary.entry_ids())
        hnsw = DenseIndex(primary.dim, hnsw_min_vectors=1)
        for entry_id in ids:
            hnsw.add(entry_id, primary.entry_vectors(entry_id))
        query_vectors = kb._channels[0].embedder.embed([texts[i] for i in picks.tolist()], kind="query")
        recall, flat_ms, hnsw_ms = [], [], []
        for vector in query_vectors:
            t0 = time.perf_counter()
            exact = primary.search(vector, 10)
            t1 = time.perf_counter()
            approx = hnsw.search(vector, 10)
            t2 = time.perf_counter()
            flat_ms.append((t1 - t0) * 1e3)
            hnsw_ms.append((t2 - t1) * 1e3)
            want = {(m.entry_id, m.phrasing) for m in exact}
            recall.append(len(want & {(m.entry_id, m.phrasing) for m in approx}) / len(want))
        out["faiss_flat"] = percentiles(flat_ms)
        out["faiss_hnsw"] = {**percentiles(hnsw_ms), "recall@10_vs_exact": round(float(np.mean(recall)), 4)}

        started = time.perf_counter()
        kb._lexical.set("q0", ["force a rebuild"])
        kb._lexical.search("rebuild", 1)
        out["bm25_rebuild_ms"] = round((time.perf_counter() - started) * 1e3, 1)
    out["load_avg_at_end"] = os.getloadavg()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
