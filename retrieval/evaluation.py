"""`findesk eval retrieval QUERIES.jsonl`: measure a knowledge base against labelled queries.

Each line is `{"query": "...", "expected_id": "..." | null}`; null means the FAQ has no answer and
"no good match" is the right result. Hit@k and MRR are computed over the
answerable queries from the ranked hits (whatever the confidence); no-answer precision and recall treat
"neither confident nor weak" as the prediction "the FAQ has no answer".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.errors import InvalidEvalFile
from retrieval.types import SearchResult

MAX_RANK = 5  # hit@5 is the deepest figure reported; search asks for this many hits


class Searcher(Protocol):
    def search(self, query: str, *, top_k: int | None = None) -> SearchResult: ...


@dataclass(frozen=True)
class EvalQuery:
    query: str
    expected_id: str | None


@dataclass(frozen=True)
class RetrievalEvalReport:
    n: int
    answerable: int
    unanswerable: int
    hit_at_1: float
    hit_at_3: float
    hit_at_5: float
    mrr: float
    no_answer_precision: float
    no_answer_recall: float
    latency_p50_ms: float
    latency_p95_ms: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def load_queries(path: Path) -> list[EvalQuery]:
    """Read and check the whole file; every bad line is listed in one error."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidEvalFile(f"Cannot read the queries file {path}: {error}") from error
    queries, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"line {number}: not valid JSON")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("query"), str) or not record["query"].strip():
            problems.append(f'line {number}: needs a non-empty "query" string')
            continue
        expected = record.get("expected_id")
        if expected is not None and not isinstance(expected, str):
            problems.append(f'line {number}: "expected_id" must be a string or null')
            continue
        queries.append(EvalQuery(record["query"], expected))
    if problems:
        raise InvalidEvalFile(
            f"{path} has {len(problems)} bad line(s); fix them and run again:\n" + "\n".join(problems[:50])
        )
    if not queries:
        raise InvalidEvalFile(
            f'{path} holds no queries: write one JSON object per line with "query" and "expected_id".'
        )
    return queries


def evaluate_retrieval(
    searcher: Searcher, queries: list[EvalQuery], progress: Callable[[int, int], None] | None = None
) -> RetrievalEvalReport:
    ranks, latencies, none_truth, none_predicted = [], [], [], []
    for done, item in enumerate(queries, start=1):
        started = time.perf_counter()
        result = searcher.search(item.query, top_k=MAX_RANK)
        latencies.append((time.perf_counter() - started) * 1e3)
        none_truth.append(item.expected_id is None)
        none_predicted.append(not result.confident and not result.weak)  # a weak match offers choices
        if item.expected_id is not None:
            ids = [hit.entry_id for hit in result.hits]
            ranks.append(ids.index(item.expected_id) + 1 if item.expected_id in ids else 0)
        if progress:
            progress(done, len(queries))
    rank_a = np.array(ranks, dtype=float)
    truth, predicted = np.array(none_truth), np.array(none_predicted)
    true_pos = float(np.sum(truth & predicted))

    def hit(k: int) -> float:
        return float(np.mean((rank_a >= 1) & (rank_a <= k))) if len(rank_a) else 0.0

    return RetrievalEvalReport(
        n=len(queries),
        answerable=len(ranks),
        unanswerable=int(truth.sum()),
        hit_at_1=hit(1),
        hit_at_3=hit(3),
        hit_at_5=hit(5),
        mrr=float(np.mean(np.where(rank_a > 0, 1.0 / np.maximum(rank_a, 1), 0.0))) if len(rank_a) else 0.0,
        no_answer_precision=true_pos / predicted.sum() if predicted.sum() else 0.0,
        no_answer_recall=true_pos / truth.sum() if truth.sum() else 0.0,
        latency_p50_ms=float(np.percentile(latencies, 50)),
        latency_p95_ms=float(np.percentile(latencies, 95)),
    )
