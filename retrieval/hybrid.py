"""Hybrid ranking: FAISS phrasing matches + BM25 entry matches -> one ranked list of FAQ entries.

The default rule (RetrievalConfig: aggregation="max_centroid", centroid_weight=0.5, fusion="linear",
lexical_weight=0.1):

    dense(entry) = 0.5 * max_p cos(query, phrasing p) + 0.5 * cos(query, unit mean of the entry's phrasings)
    score(entry) = dense(entry) + 0.1 * bm25(entry) / max_e bm25(e)

FAISS returns the 100 nearest phrasing vectors; entries owning one of them are the dense candidates, and
their centroid similarity is computed exactly. `dense` stays on the cosine scale, so the no-good-match
threshold reads it directly (knowledge_base.decide). The best phrasing alone is brittle (one stray
alternate wins); the centroid alone blurs entries with varied alternates; half of each was best.

Measured with benchmarks/retrieval_banking77.py (all-MiniLM-L6-v2, 77 intents, seed 0; DEV = pool
queries not used as alternates, used for choosing; TEST = 20% held out, reported), hit@1 with k=10:

    rule                                   DEV     TEST
    max (plain max-sim)                    0.812   0.805
    mean of top-3 phrasings                0.819   0.828
    max + 0.5 * mean(top-3)                0.823   0.824
    kNN vote over 20 phrasings (tau 0.05)  0.824   0.831
    max_centroid                           0.833   0.838
    max + RRF(BM25, weight 0.3)            0.813   0.806
    max + 0.2 * normalised BM25            0.835   0.825
    max_centroid + 0.1 * normalised BM25   0.847   0.842   <- default
    (mean-centring, PCA/LDA whitening, pseudo-relevance feedback, an e5 ensemble: no gain on DEV)

RRF throws away how far apart the scores are and did not help here; a small score-normalised BM25 term
did. All training queries as alternates: 0.910 TEST; intent name only (zero-shot): 0.598 TEST.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.dense_index import DenseIndex, DenseMatch
from retrieval.lexical_index import LexicalIndex


@dataclass(frozen=True)
class FusionOptions:
    aggregation: str = "max_topm"  # how an entry's phrasing similarities become one dense score
    top_m: int = 3
    topm_weight: float = 0.5  # dense = (s1 + w * mean(s1..sm)) / (1 + w)
    knn_tau: float = 0.05
    centroid_weight: float = 0.5  # max_centroid: dense = (1 - w) * s1 + w * cos(query, entry centroid)
    fusion: str = "rrf"  # "rrf", "linear" or "dense" (no lexical)
    lexical_weight: float = 0.3  # RRF weight of the BM25 rank (dense has weight 1)
    rrf_k: int = 60


@dataclass(frozen=True)
class RankedEntry:
    entry_id: str
    score: float  # fused; only its order means something across queries for RRF
    dense_score: float | None  # aggregated cosine, on the cosine scale: what the confidence threshold reads
    dense_rank: int | None
    matched_phrasing: int | None  # the phrasing with the highest similarity
    lexical_score: float | None
    lexical_rank: int | None


def aggregate_dense(
    matches: Sequence[DenseMatch], options: FusionOptions, centroid_sims: Mapping[str, float] | None = None
) -> dict[str, tuple[float, int, float]]:
    """entry id -> (dense score on the cosine scale, best phrasing, ranking score) from retrieved phrasings.

    Phrasings that FAISS did not return count as the lowest similarity it did return: an upper bound
    that only touches entries far down the list.
    """
    per_entry: dict[str, list[float]] = defaultdict(list)
    best_phrasing: dict[str, int] = {}
    for match in matches:  # best first
        if match.entry_id not in best_phrasing:
            best_phrasing[match.entry_id] = match.phrasing
        per_entry[match.entry_id].append(match.similarity)
    floor = matches[-1].similarity if matches else 0.0
    out: dict[str, tuple[float, int, float]] = {}
    for entry_id, sims in per_entry.items():
        best = sims[0]
        top = (sims + [floor] * options.top_m)[: options.top_m]
        mean_top = sum(top) / len(top)
        if options.aggregation == "max":
            dense = best
            ranking = best
        elif options.aggregation == "max_topm":
            dense = (best + options.topm_weight * mean_top) / (1 + options.topm_weight)
            ranking = dense
        elif options.aggregation == "max_centroid":
            centroid = (centroid_sims or {}).get(entry_id, best)
            dense = (1 - options.centroid_weight) * best + options.centroid_weight * centroid
            ranking = dense
        elif options.aggregation == "knn":
            dense = best
            ranking = sum(math.exp((s - 1.0) / options.knn_tau) for s in sims)
        else:
            raise ValueError(f"unknown aggregation {options.aggregation!r}: use max, max_topm, max_centroid or knn")
        out[entry_id] = (dense, best_phrasing[entry_id], ranking)
    return out


def rank_entries(
    matches: Sequence[DenseMatch],
    lexical: Sequence[tuple[str, float]],
    options: FusionOptions,
    centroid_sims: Mapping[str, float] | None = None,
) -> list[RankedEntry]:
    dense = aggregate_dense(matches, options, centroid_sims)
    dense_order = sorted(dense, key=lambda e: -dense[e][2])
    dense_rank = {entry_id: n for n, entry_id in enumerate(dense_order, start=1)}
    lexical_score = dict(lexical)
    lexical_rank = {entry_id: n for n, (entry_id, _) in enumerate(lexical, start=1)}
    top_lexical = lexical[0][1] if lexical else 1.0
    fused: dict[str, float] = {}
    for entry_id in set(dense) | (set(lexical_score) if options.fusion != "dense" else set()):
        d_rank, l_rank = dense_rank.get(entry_id), lexical_rank.get(entry_id)
        if options.fusion == "rrf":
            score = (1.0 / (options.rrf_k + d_rank) if d_rank else 0.0) + (
                options.lexical_weight / (options.rrf_k + l_rank) if l_rank else 0.0
            )
        elif options.fusion == "linear":
            score = (dense[entry_id][2] if entry_id in dense else 0.0) + options.lexical_weight * lexical_score.get(
                entry_id, 0.0
            ) / max(top_lexical, 1e-9)
        else:
            score = dense[entry_id][2]
        fused[entry_id] = score
    ranked = sorted(fused, key=lambda e: (-fused[e], dense_rank.get(e, 1 << 30)))
    return [
        RankedEntry(
            entry_id=e,
            score=fused[e],
            dense_score=dense[e][0] if e in dense else None,
            dense_rank=dense_rank.get(e),
            matched_phrasing=dense[e][1] if e in dense else None,
            lexical_score=lexical_score.get(e),
            lexical_rank=lexical_rank.get(e),
        )
        for e in ranked
    ]


def hybrid_search(
    dense: DenseIndex,
    lexical: LexicalIndex,
    query: str,
    vector: np.ndarray,
    options: FusionOptions,
    *,
    dense_candidates: int,
    lexical_candidates: int,
) -> list[RankedEntry]:
    """Both retrievers for one query (its text and its unit vector), fused and ranked."""
    matches = dense.search(vector, dense_candidates)
    keyword = lexical.search(query, lexical_candidates) if options.fusion != "dense" else []
    centroids = None
    if options.aggregation == "max_centroid":
        centroids = dense.centroid_similarities(vector, {m.entry_id for m in matches})
    return rank_entries(matches, keyword, options, centroids)
