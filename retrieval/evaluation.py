"""`findesk eval retrieval QUERIES.jsonl`: measure a knowledge base against labelled queries.

Each line is `{"query": "...", "expected_id": "..." | null, "also_ok": ["...", ...]}`; null means the FAQ
has no answer and "no good match" is the right result; `also_ok` (optional) lists other entries that
answer it too. An entry and its translation (entries sharing a `pair:` tag) count as the same answer.

Two kinds of figures:
- ranking, over the answerable queries, whatever the decision: hit@1/3/5 (a right entry within the top
  k) and MRR;
- what the customer experiences, from each search's route (answer / clarify / no_answer):
  `answer_precision`   confident answers citing a right entry / all confident answers (a confident answer
                       to an unanswerable query is wrong);
  `answer_coverage`    answerable queries answered confidently and right / answerable queries;
  `unanswerable_answered`  unanswerable queries answered confidently / unanswerable queries;
  `clarify_rate`       answerable queries sent to "did you mean" / answerable queries;
  `clarify_contains_right`  of those, the share whose choices (the first CLARIFY_CHOICES topics) hold a
                       right entry;
  `no_answer_rate`     answerable queries that got "no good match" / answerable queries.
Each ratio with an empty denominator is 0.0. No-answer precision and recall (older figures) treat
"neither confident nor weak" as the prediction "the FAQ has no answer".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.errors import InvalidEvalFile
from retrieval.types import Hit, SearchResult

MAX_RANK = 5  # hit@5 is the deepest figure reported; search asks for this many hits
CLARIFY_CHOICES = 3  # the agent offers this many distinct topics in "did you mean" (agent/pipeline.py)


class Searcher(Protocol):
    def search(self, query: str, *, top_k: int | None = None) -> SearchResult: ...


@dataclass(frozen=True)
class EvalQuery:
    query: str
    expected_id: str | None
    also_ok: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.expected_id is not None


@dataclass(frozen=True)
class QueryOutcome:
    """One query's result, as `--per-query` writes it."""

    query: str
    expected_id: str | None
    route: str
    probability: float | None
    rank: int  # 1-based rank of the first right entry, 0 if none in the hits
    in_choices: bool  # a right entry is among the topics "did you mean" would offer
    top: list[tuple[str, float]]  # (entry id, fused score) of the hits


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
    answer_precision: float
    answer_coverage: float
    unanswerable_answered: float
    clarify_rate: float
    clarify_contains_right: float
    no_answer_rate: float
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
        also_ok = record.get("also_ok", [])
        if not isinstance(also_ok, list) or not all(isinstance(i, str) for i in also_ok):
            problems.append(f'line {number}: "also_ok" must be a list of entry id strings')
            continue
        if also_ok and expected is None:
            problems.append(f'line {number}: "also_ok" needs an "expected_id" (null means no entry answers it)')
            continue
        queries.append(EvalQuery(record["query"], expected, tuple(also_ok)))
    if problems:
        raise InvalidEvalFile(
            f"{path} has {len(problems)} bad line(s); fix them and run again:\n" + "\n".join(problems[:50])
        )
    if not queries:
        raise InvalidEvalFile(
            f'{path} holds no queries: write one JSON object per line with "query" and "expected_id".'
        )
    return queries


def pair_topics(entries: Sequence[tuple[str, Sequence[str]]]) -> dict[str, str]:
    """entry id -> topic: its `pair:` tag when it has one (shared with its translation), else its own id."""
    return {entry_id: next((t for t in tags if t.startswith("pair:")), entry_id) for entry_id, tags in entries}


def _topic(hit: Hit) -> str:
    return next((tag for tag in hit.tags if tag.startswith("pair:")), hit.entry_id)


def _choices(hits: Sequence[Hit]) -> list[Hit]:
    """The distinct topics "did you mean" offers, best first (as agent.policy.distinct_topics counts them)."""
    seen: set[str] = set()
    out = []
    for hit in hits:
        if _topic(hit) not in seen:
            seen.add(_topic(hit))
            out.append(hit)
    return out[:CLARIFY_CHOICES]


def outcome(item: EvalQuery, result: SearchResult, topics: Mapping[str, str]) -> QueryOutcome:
    right_ids = {i for i in (item.expected_id, *item.also_ok) if i is not None}
    right_topics = {topics.get(i, i) for i in right_ids}

    def right(hit: Hit) -> bool:
        return hit.entry_id in right_ids or _topic(hit) in right_topics

    rank = next((n for n, hit in enumerate(result.hits, start=1) if right(hit)), 0)
    return QueryOutcome(
        query=item.query,
        expected_id=item.expected_id,
        route=result.route,
        probability=result.probability,
        rank=rank,
        in_choices=any(right(hit) for hit in _choices(result.hits)),
        top=[(hit.entry_id, round(hit.score, 4)) for hit in result.hits],
    )


def evaluate_retrieval(
    searcher: Searcher,
    queries: list[EvalQuery],
    progress: Callable[[int, int], None] | None = None,
    *,
    topics: Mapping[str, str] | None = None,
    per_query: list[QueryOutcome] | None = None,
) -> RetrievalEvalReport:
    """Search every query and compute the report; `topics` (from `pair_topics`) makes an expected entry's
    translation count as right; `per_query`, when given, receives every query's outcome."""
    topics = topics or {}
    outcomes, latencies = [], []
    for done, item in enumerate(queries, start=1):
        started = time.perf_counter()
        result = searcher.search(item.query, top_k=MAX_RANK)
        latencies.append((time.perf_counter() - started) * 1e3)
        found = outcome(item, result, topics)
        outcomes.append(found)
        if progress:
            progress(done, len(queries))
    if per_query is not None:
        per_query.extend(outcomes)
    return _report(queries, outcomes, latencies)


def _report(queries: list[EvalQuery], outcomes: list[QueryOutcome], latencies: list[float]) -> RetrievalEvalReport:
    answerable = np.array([q.answerable for q in queries])
    route = np.array([o.route for o in outcomes])
    rank = np.array([o.rank for o in outcomes], dtype=float)
    in_choices = np.array([o.in_choices for o in outcomes])
    answered, clarified, refused = route == "answer", route == "clarify", route == "no_answer"
    right_answer = answered & answerable & (rank == 1)
    rank_a = rank[answerable]

    def share(numerator: np.ndarray, denominator: np.ndarray) -> float:
        total = float(np.sum(denominator))
        return float(np.sum(numerator & denominator)) / total if total else 0.0

    def hit(k: int) -> float:
        return float(np.mean((rank_a >= 1) & (rank_a <= k))) if len(rank_a) else 0.0

    return RetrievalEvalReport(
        n=len(queries),
        answerable=int(answerable.sum()),
        unanswerable=int((~answerable).sum()),
        hit_at_1=hit(1),
        hit_at_3=hit(3),
        hit_at_5=hit(5),
        mrr=float(np.mean(np.where(rank_a > 0, 1.0 / np.maximum(rank_a, 1), 0.0))) if len(rank_a) else 0.0,
        no_answer_precision=share(~answerable, refused),
        no_answer_recall=share(refused, ~answerable),
        answer_precision=share(right_answer, answered),
        answer_coverage=share(right_answer, answerable),
        unanswerable_answered=share(answered, ~answerable),
        clarify_rate=share(clarified, answerable),
        clarify_contains_right=share(in_choices, clarified & answerable),
        no_answer_rate=share(refused, answerable),
        latency_p50_ms=float(np.percentile(latencies, 50)),
        latency_p95_ms=float(np.percentile(latencies, 95)),
    )
