"""Chinese 1-of-N paraphrase retrieval: which channel finds the same question asked in other words?

    .venv/bin/python benchmarks/zh_paraphrase.py [SET.jsonl] [--json]

A set file has one group per line, `{"group": "g001", "texts": ["...", "...", ...]}`: distinct customer
questions, each asked two or three ways (default: benchmarks/data/zh_paraphrase_bank.jsonl, 300 banking and
mobile-payment questions we wrote, never shipped). The first text of each group is indexed as one FAQ
question (N entries); every other text is a query whose right answer is its group's entry. Reported per
method: hit@1, hit@5 and MRR (a right entry ranked beyond what the method returns counts 0).

Methods, all built from the product's own classes so the figures follow product changes:
- `e5`, `minilm`: one DenseChannel each (multilingual-e5-small, all-MiniLM-L6-v2), ranked by
  `hybrid_search` with fusion "dense";
- `bm25`: the LexicalIndex (jieba tokens);
- `findesk`: a KnowledgeBase with the shipped retrieval settings (calibration off: this measures ranking)
  in a temporary data folder, searched through `KnowledgeBase.search`.

Each text is embedded once per model: the knowledge base is handed the same embedder objects, whose
`embed` is memoised for this run (same vectors; the e5 engine takes ~25 ms a text on our CPUs).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.config import RetrievalConfig  # noqa: E402
from retrieval.dense_channel import DenseChannel  # noqa: E402
from retrieval.embedders import Embedder  # noqa: E402
from retrieval.hybrid import hybrid_search  # noqa: E402
from retrieval.knowledge_base import KnowledgeBase  # noqa: E402
from retrieval.lexical_index import LexicalIndex  # noqa: E402
from retrieval.model_pack import E5_SMALL, MINILM  # noqa: E402
from retrieval.types import FaqEntry  # noqa: E402

DEFAULT_SET = Path(__file__).parent / "data" / "zh_paraphrase_bank.jsonl"
Ranker = Callable[[str], list[str]]  # query -> entry ids, best first


@dataclass(frozen=True)
class Task:
    entries: list[FaqEntry]  # one per group: its first text
    queries: list[tuple[str, str]]  # (text, id of the group's entry)


@dataclass(frozen=True)
class Scores:
    hit_at_1: float
    hit_at_5: float
    mrr: float


def load_task(path: Path) -> Task:
    entries: list[FaqEntry] = []
    queries: list[tuple[str, str]] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        group, texts = str(row["group"]), [str(t).strip() for t in row["texts"]]
        if group in seen or len(texts) < 2 or not all(texts):
            raise SystemExit(f"{path}:{number}: each group needs a new id and at least two non-empty texts")
        seen.add(group)
        # The answer is never searched (only phrasings are); the store just refuses an empty one.
        entries.append(FaqEntry(id=group, question=texts[0], answer=f"answer {group}", language="zh"))
        queries += [(text, group) for text in texts[1:]]
    return Task(entries, queries)


def score(task: Task, rank: Ranker) -> Scores:
    positions = []
    for text, expected in task.queries:
        ranked = rank(text)
        positions.append(ranked.index(expected) + 1 if expected in ranked else None)
    return Scores(
        hit_at_1=float(np.mean([p == 1 for p in positions])),
        hit_at_5=float(np.mean([p is not None and p <= 5 for p in positions])),
        mrr=float(np.mean([1 / p if p else 0.0 for p in positions])),
    )


def memoise(embedder: Embedder) -> None:
    """Make `embedder.embed` remember its vectors, so the channels here and the knowledge base (which share
    this object) embed each text once per kind."""
    embed = embedder.embed
    cache: dict[tuple[str, str], np.ndarray] = {}

    def cached(texts: Sequence[str], *, kind: str) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if (kind, t) not in cache]
        if missing:
            cache.update(zip([(kind, t) for t in missing], embed(missing, kind=kind), strict=True))
        if not texts:
            return embed(texts, kind=kind)
        return np.stack([cache[(kind, t)] for t in texts])

    embedder.embed = cached  # type: ignore[method-assign]


def dense_ranker(embedder: Embedder, task: Task, config: RetrievalConfig) -> Ranker:
    channel = DenseChannel(
        embedder,
        holds=lambda entry: True,
        serves=lambda query: True,
        hnsw_min_vectors=config.hnsw_min_vectors,
        role="primary",
    )
    channel.apply(task.entries, channel.embed_entries(task.entries, 256, lambda n: None), [])
    embedder.embed([q for q, _ in task.queries], kind="query")  # one batch; the ranker reads the memo
    options = config.model_copy(update={"fusion": "dense"}).fusion_options()
    empty = LexicalIndex()
    n = len(task.entries)

    def rank(query: str) -> list[str]:
        vector = embedder.embed([query], kind="query")[0]
        ranked = hybrid_search(channel.index, empty, query, vector, options, dense_candidates=n, lexical_candidates=n)
        return [r.entry_id for r in ranked]

    return rank


def bm25_ranker(task: Task) -> Ranker:
    index = LexicalIndex()
    for entry in task.entries:
        index.set(entry.id, entry.phrasings)
    n = len(task.entries)
    return lambda query: [entry_id for entry_id, _ in index.search(query, n)]


def run(path: Path) -> dict:
    started = time.perf_counter()
    task = load_task(path)
    config = RetrievalConfig(calibrate=False, persist_delay_s=0)  # the shipped ranking settings
    results: dict[str, Scores] = {}
    with tempfile.TemporaryDirectory() as folder, KnowledgeBase.open(Path(folder), config) as kb:
        embedders = kb.embedders
        for embedder in embedders.values():
            memoise(embedder)
        results["e5"] = score(task, dense_ranker(embedders[E5_SMALL], task, config))
        results["minilm"] = score(task, dense_ranker(embedders[MINILM], task, config))
        results["bm25"] = score(task, bm25_ranker(task))
        kb.import_entries(task.entries, actor="benchmark")
        n = len(task.entries)
        results["findesk"] = score(task, lambda q: [h.entry_id for h in kb.search(q, top_k=n).hits])
    return {
        "set": str(path),
        "groups": len(task.entries),
        "queries": len(task.queries),
        "methods": {name: asdict(s) for name, s in results.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("set", nargs="?", type=Path, default=DEFAULT_SET)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    report = run(args.set)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['set']}: 1-of-{report['groups']}, {report['queries']} queries, {report['seconds']} s")
    print(f"{'method':8} {'hit@1':>6} {'hit@5':>6} {'MRR':>6}")
    for name, s in report["methods"].items():
        print(f"{name:8} {s['hit_at_1']:6.3f} {s['hit_at_5']:6.3f} {s['mrr']:6.3f}")


if __name__ == "__main__":
    main()
