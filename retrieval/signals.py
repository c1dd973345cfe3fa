"""What one search tells about whether its top entry answers the query: the calibration's inputs.

Ranking scores alone cannot tell "a paraphrase of entry X" from "a question about something near X that
the FAQ does not cover" ("信用卡年费多少钱" lands on card limits with a high similarity: same words,
other topic). The strongest sign of the second case is a rare content word of the query (年费, top-up,
闪退) that appears nowhere in the top entry's phrasings or answer, so besides the scores the signals
weigh the query's words by how rare they are in this FAQ (IDF over entries).

Every signal is scale-free or on the cosine scale, so a model fitted on one FAQ's held-out phrasings
(retrieval/calibration_fit.py) reads searches of the same FAQ the same way.

A raw cosine also means different things per entry: some entries sit in a crowd of neighbours (card
declined / card frozen / card broken) and attract every message about their corner, near-miss or not.
`centroid_margin` measures the query against the top entry's own neighbourhood: its cosine with the
entry's centroid minus the highest cosine any other topic's phrasing has with that centroid. Above 0
the query is closer to the entry than every neighbour's phrasing. On the English DEV messages it raised
the precision of the shipped default (0.909 -> 0.942 at the same coverage) and the best coverage at
precision 0.92 (0.104 -> 0.157); benchmarks/retrieval.md, "Neighbourhood signal".
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.dense_channel import has_chinese
from retrieval.dense_index import DenseIndex
from retrieval.hybrid import RankedEntry
from retrieval.lexical_index import tokenize
from retrieval.types import FaqEntry

FEATURES = (
    "dense",  # the top entry's aggregated cosine
    "dense_margin",  # ... minus the best cosine of another topic
    "fused_margin",  # fused score of the top entry minus the next topic's
    "bm25_share",  # the top entry's BM25 over the query's best BM25 (0 when BM25 did not find it)
    "bm25_agrees",  # BM25 ranks the top entry first
    "dense_agrees",  # the dense channel alone ranks it first
    "bm25_strength",  # log(1 + best BM25 score): how much the query's words meet the FAQ at all
    "matched_idf",  # IDF-weighted share of the query's words found in the top entry's text
    "unmatched_idf",  # the rarest query word missing from the top entry (IDF / log N); 0 if none
    "unknown_words",  # share of the query's words that no entry uses
    "length",  # log(1 + words in the query)
    "centroid_margin",  # cos(query, top entry's centroid) - max cos(another topic's phrasing, that centroid)
)
NEIGHBOUR_SEARCH = 32  # phrasings fetched around a centroid to find the nearest one of another topic


def entry_text(entry: FaqEntry) -> str:
    return "\n".join((*entry.phrasings, entry.answer)).lower()


@functools.lru_cache(maxsize=65536)
def text_tokens(text: str) -> frozenset[str]:
    """The distinct BM25 tokens of a text, cached: refits tokenise the same phrasings and answers again."""
    return frozenset(tokenize(text))


def entry_tokens(entry: FaqEntry) -> frozenset[str]:
    return frozenset().union(*(text_tokens(t.lower()) for t in (*entry.phrasings, entry.answer)))


@dataclass(frozen=True)
class Vocabulary:
    """Document frequency of every token over entries (phrasings + answer): what makes a word rare here."""

    document_frequency: dict[str, int]
    entries: int

    @classmethod
    def build(cls, entries: Iterable[FaqEntry]) -> Vocabulary:
        frequency: Counter[str] = Counter()
        count = 0
        for entry in entries:
            frequency.update(entry_tokens(entry))
            count += 1
        return cls(dict(frequency), count)

    def idf(self, token: str) -> float:
        """Smoothed IDF divided by its largest possible value, so 1.0 means "no entry uses this word"."""
        n = max(self.entries, 1)
        return math.log((n + 1) / (self.document_frequency.get(token, 0) + 1)) / math.log(n + 1)


class EntryWords:
    """Tokens and lowercased text of entries, cached by (id, version): the top entry is read per search."""

    def __init__(self, limit: int = 4096) -> None:
        self._cache: dict[tuple[str, int], tuple[frozenset[str], str]] = {}
        self._limit = limit

    def get(self, entry: FaqEntry) -> tuple[frozenset[str], str]:
        key = (entry.id, entry.version)
        found = self._cache.get(key)
        if found is None:
            found = (entry_tokens(entry), entry_text(entry))
            if len(self._cache) >= self._limit:
                self._cache.clear()
            self._cache[key] = found
        return found


def _topic(entry: FaqEntry | None, entry_id: str) -> str:
    if entry is None:
        return entry_id
    return next((tag for tag in entry.tags if tag.startswith("pair:")), entry_id)


@dataclass(frozen=True)
class AnchorSearch:
    """The anchor channel's index (the one whose cosine is `dense_score`) and the query's vector in it."""

    index: DenseIndex
    vector: np.ndarray


def centroid_margin(anchor: AnchorSearch, entry_id: str, topic: str, entries: dict[str, FaqEntry]) -> float:
    """cos(query, the entry's centroid) minus the highest cosine of another topic's phrasing with that
    centroid (0 when the anchor channel does not hold the entry: a keyword-only match)."""
    centroid = anchor.index.centroid(entry_id)
    if centroid is None:
        return 0.0
    query_cos = float(np.dot(centroid, anchor.vector))
    k = NEIGHBOUR_SEARCH
    while True:
        matches = anchor.index.search(centroid, k)
        for match in matches:
            if _topic(entries.get(match.entry_id), match.entry_id) != topic:
                return query_cos - match.similarity
        if len(matches) < k:  # no other topic in the index at all
            return query_cos
        k *= 4


def signals(
    query: str,
    ranked: Sequence[RankedEntry],
    entries: dict[str, FaqEntry],
    vocabulary: Vocabulary,
    words: EntryWords,
    anchor: AnchorSearch,
) -> np.ndarray:
    """The FEATURES of one search (ranked: its full fused ranking, best first; anchor: the index it searched
    and the query's vector); zeros when nothing matched."""
    out = np.zeros(len(FEATURES), dtype=np.float64)
    query_tokens = list(dict.fromkeys(tokenize(query)))
    out[10] = math.log1p(len(query_tokens))
    if not ranked or ranked[0].entry_id not in entries:
        out[9] = 1.0
        return out
    top = ranked[0]
    top_topic = _topic(entries.get(top.entry_id), top.entry_id)
    others = [r for r in ranked[1:] if _topic(entries.get(r.entry_id), r.entry_id) != top_topic]
    dense = top.dense_score or 0.0
    out[0] = dense
    other_dense = max((r.dense_score for r in others if r.dense_score is not None), default=0.0)
    out[1] = dense - other_dense
    out[2] = top.score - (others[0].score if others else 0.0)
    best_bm25 = max((r.lexical_score or 0.0 for r in ranked), default=0.0)
    out[3] = (top.lexical_score or 0.0) / best_bm25 if best_bm25 > 0 else 0.0
    out[4] = float(top.lexical_rank == 1)
    out[5] = float(top.dense_rank == 1)
    out[6] = math.log1p(best_bm25)
    tokens, text = words.get(entries[top.entry_id])
    idf = [vocabulary.idf(t) for t in query_tokens]
    found = [t in tokens or (has_chinese(t) and t in text) for t in query_tokens]
    total = sum(idf)
    out[7] = sum(w for w, f in zip(idf, found, strict=True) if f) / total if total > 0 else 1.0
    out[8] = max((w for w, f in zip(idf, found, strict=True) if not f), default=0.0)
    out[9] = (
        sum(t not in vocabulary.document_frequency for t in query_tokens) / len(query_tokens) if query_tokens else 1.0
    )
    out[11] = centroid_margin(anchor, top.entry_id, top_topic, entries)
    return out
