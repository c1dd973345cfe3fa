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

That rule is for English queries. Chinese queries are ranked by e5 (plus Google's multilingual USE, which
votes) with fusion "z": each dense channel's scores become per-query z-scores over its candidates, plus
0.5 x BM25 / best BM25. e5's cosines crowd into ~0.8-0.95, so the English rule's 0.1 x BM25 outvoted e5
and ranked a neighbour sharing a product word (提现, 花呗) above the paraphrase: hit@1 on our Chinese
1-of-300 paraphrase set 0.243 -> 0.418 (benchmarks/retrieval.md, choices made on DEV halves with
benchmarks/ranking_fusion.py). On English DEV sets USE and z-fusion lowered hit@1, so English is unchanged.
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
    fusion: str = "rrf"  # "rrf", "linear", "z" (per-channel z-scores) or "dense" (no lexical)
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


@dataclass(frozen=True)
class ChannelHits:
    """One dense channel's answer to one query: its nearest phrasings, entry centroid similarities (for
    max_centroid) and its weight in the fusion."""

    matches: Sequence[DenseMatch]
    centroids: Mapping[str, float] | None = None
    weight: float = 1.0


def rank_entries(
    matches: Sequence[DenseMatch],
    lexical: Sequence[tuple[str, float]],
    options: FusionOptions,
    centroid_sims: Mapping[str, float] | None = None,
) -> list[RankedEntry]:
    """One dense channel and BM25, fused."""
    return rank_channels([ChannelHits(matches, centroid_sims)], lexical, options)


def _channel_scores(scores: dict[str, float], options: FusionOptions) -> tuple[dict[str, float], float]:
    """A channel's ranking scores put on the fusion's scale, and the value an entry it did not retrieve gets.

    "z": (score - mean) / std over the channel's candidates for this query. Channels differ in scale
    (e5's cosines crowd into 0.75-0.95, MiniLM's and USE's spread over 0.1-0.9), so raw cosines summed
    let the widest-spread channel decide; z-scores give each channel the same say.
    """
    if options.fusion == "z":
        values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        std = float(values.std()) or 1.0
        mean = float(values.mean())
        z = {e: (v - mean) / std for e, v in scores.items()}
        return z, min(z.values())
    if options.fusion == "rrf":
        order = sorted(scores, key=lambda e: -scores[e])
        return {e: 1.0 / (options.rrf_k + n) for n, e in enumerate(order, start=1)}, 0.0
    return scores, 0.0


def rank_channels(
    channels: Sequence[ChannelHits], lexical: Sequence[tuple[str, float]], options: FusionOptions
) -> list[RankedEntry]:
    """Dense channels and BM25 fused into one ranking. The first channel is the anchor: its aggregated
    cosine is each entry's `dense_score` (what thresholds and calibration signals read) and its order the
    `dense_rank`; the others only move entries up or down."""
    per_channel = [aggregate_dense(ch.matches, options, ch.centroids) for ch in channels]
    anchor = per_channel[0]
    dense_order = sorted(anchor, key=lambda e: -anchor[e][2])
    dense_rank = {entry_id: n for n, entry_id in enumerate(dense_order, start=1)}
    lexical_score = dict(lexical)
    lexical_rank = {entry_id: n for n, (entry_id, _) in enumerate(lexical, start=1)}
    top_lexical = lexical[0][1] if lexical else 1.0
    pool: set[str] = set().union(*per_channel)
    if options.fusion != "dense":
        pool |= set(lexical_score)
    fused = dict.fromkeys(pool, 0.0)
    for channel, dense in zip(channels, per_channel, strict=True):
        if not dense:
            continue
        scaled, missing = _channel_scores({e: v[2] for e, v in dense.items()}, options)
        for entry_id in pool:
            fused[entry_id] += channel.weight * scaled.get(entry_id, missing)
    for entry_id in pool:
        if options.fusion == "rrf":
            l_rank = lexical_rank.get(entry_id)
            fused[entry_id] += options.lexical_weight / (options.rrf_k + l_rank) if l_rank else 0.0
        elif options.fusion in ("linear", "z"):
            fused[entry_id] += options.lexical_weight * lexical_score.get(entry_id, 0.0) / max(top_lexical, 1e-9)
    ranked = sorted(fused, key=lambda e: (-fused[e], dense_rank.get(e, 1 << 30)))
    return [
        RankedEntry(
            entry_id=e,
            score=fused[e],
            dense_score=anchor[e][0] if e in anchor else None,
            dense_rank=dense_rank.get(e),
            matched_phrasing=anchor[e][1] if e in anchor else None,
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
    return fused_search(
        [(dense, vector, 1.0)],
        lexical,
        query,
        options,
        dense_candidates=dense_candidates,
        lexical_candidates=lexical_candidates,
    )


def fused_search(
    channels: Sequence[tuple[DenseIndex, np.ndarray, float]],
    lexical: LexicalIndex,
    query: str,
    options: FusionOptions,
    *,
    dense_candidates: int,
    lexical_candidates: int,
) -> list[RankedEntry]:
    """Several dense channels ((index, the query's unit vector in that channel, weight); anchor first) and
    BM25 for one query, fused and ranked."""
    hits = []
    for index, vector, weight in channels:
        matches = index.search(vector, dense_candidates)
        centroids = None
        if options.aggregation == "max_centroid":
            centroids = index.centroid_similarities(vector, {m.entry_id for m in matches})
        hits.append(ChannelHits(matches, centroids, weight))
    keyword = lexical.search(query, lexical_candidates) if options.fusion != "dense" else []
    return rank_channels(hits, keyword, options)
