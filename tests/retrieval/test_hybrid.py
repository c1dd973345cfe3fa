"""Hybrid ranking: how phrasing similarities combine per entry, and how BM25 is fused in."""

from __future__ import annotations

import pytest

from retrieval.dense_index import DenseMatch
from retrieval.hybrid import FusionOptions, rank_entries

MATCHES = [
    DenseMatch("a", 2, 0.80),  # a: one very close phrasing
    DenseMatch("b", 0, 0.78),  # b: several close phrasings
    DenseMatch("b", 1, 0.77),
    DenseMatch("b", 3, 0.76),
    DenseMatch("a", 0, 0.40),
    DenseMatch("c", 0, 0.30),
]


def test_max_takes_the_best_phrasing() -> None:
    ranked = rank_entries(MATCHES, [], FusionOptions(aggregation="max", fusion="dense"))
    assert [r.entry_id for r in ranked] == ["a", "b", "c"]
    assert ranked[0].dense_score == pytest.approx(0.80) and ranked[0].matched_phrasing == 2


def test_top_m_mean_rewards_entries_with_several_close_phrasings() -> None:
    ranked = rank_entries(MATCHES, [], FusionOptions(aggregation="max_topm", top_m=3, topm_weight=0.5, fusion="dense"))
    assert ranked[0].entry_id == "b"
    assert ranked[0].dense_score == pytest.approx((0.78 + 0.5 * (0.78 + 0.77 + 0.76) / 3) / 1.5)


def test_centroid_weight_blends_in_the_entry_centroid() -> None:
    options = FusionOptions(aggregation="max_centroid", centroid_weight=0.5, fusion="dense")
    ranked = rank_entries(MATCHES, [], options, centroid_sims={"a": 0.2, "b": 0.7, "c": 0.3})
    assert [r.entry_id for r in ranked][:2] == ["b", "a"]
    assert ranked[0].dense_score == pytest.approx(0.74)


def test_linear_fusion_lets_bm25_break_a_near_tie_and_reports_both_ranks() -> None:
    lexical = [("c", 12.0), ("b", 3.0)]
    dense_only = rank_entries(MATCHES, lexical, FusionOptions(aggregation="max", fusion="dense"))
    assert dense_only[0].entry_id == "a" and dense_only[0].lexical_rank is None
    fused = rank_entries(MATCHES, lexical, FusionOptions(aggregation="max", fusion="linear", lexical_weight=0.2))
    assert fused[0].entry_id == "b"  # 0.78 + 0.2 * 3/12 > 0.80
    assert (fused[0].dense_rank, fused[0].lexical_rank) == (2, 2)


def test_rrf_and_keyword_only_hits() -> None:
    fused = rank_entries(MATCHES, [("d", 5.0)], FusionOptions(aggregation="max", fusion="rrf", lexical_weight=1.0))
    d = next(r for r in fused if r.entry_id == "d")
    assert d.dense_score is None and d.lexical_rank == 1
    with pytest.raises(ValueError, match="unknown aggregation"):
        rank_entries(MATCHES, [], FusionOptions(aggregation="mean-of-everything"))
