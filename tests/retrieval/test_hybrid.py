"""Hybrid ranking: how phrasing similarities combine per entry, and how BM25 is fused in."""

from __future__ import annotations

import pytest

from retrieval.config import RetrievalConfig
from retrieval.dense_channel import DenseChannel, has_chinese, plan_query
from retrieval.dense_index import DenseMatch
from retrieval.hybrid import ChannelHits, FusionOptions, rank_channels, rank_entries

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


def _two_channels(scale: float, offset: float) -> list[ChannelHits]:
    narrow = [DenseMatch("x", 0, 0.90), DenseMatch("y", 0, 0.88), DenseMatch("z", 0, 0.80)]
    wide = [DenseMatch("y", 0, 0.60), DenseMatch("x", 0, 0.50), DenseMatch("w", 0, 0.10)]
    rescaled = [DenseMatch(m.entry_id, m.phrasing, m.similarity * scale + offset) for m in wide]
    return [ChannelHits(narrow), ChannelHits(rescaled)]


def test_z_fusion_gives_channels_the_same_say_whatever_their_cosine_scale() -> None:
    options = FusionOptions(aggregation="max", fusion="z", lexical_weight=0.0)
    order = [r.entry_id for r in rank_channels(_two_channels(1.0, 0.0), [], options)]
    assert order == [r.entry_id for r in rank_channels(_two_channels(0.1, 0.85), [], options)]
    linear = FusionOptions(aggregation="max", fusion="linear", lexical_weight=0.0)
    assert [r.entry_id for r in rank_channels(_two_channels(0.1, 0.85), [], linear)] != [
        r.entry_id for r in rank_channels(_two_channels(1.0, 0.0), [], linear)
    ]  # summed raw cosines depend on how each model spreads its scores


def test_the_first_channel_is_the_anchor_and_weight_zero_changes_nothing() -> None:
    options = FusionOptions(aggregation="max", fusion="z", lexical_weight=0.0)
    channels = _two_channels(1.0, 0.0)
    ranked = {r.entry_id: r for r in rank_channels(channels, [], options)}
    assert ranked["x"].dense_score == 0.90 and ranked["x"].dense_rank == 1
    assert ranked["w"].dense_score is None and ranked["w"].dense_rank is None  # only the second channel found it
    alone = [r.entry_id for r in rank_channels(channels[:1], [], options)]
    muted = [ChannelHits(channels[0].matches), ChannelHits(channels[1].matches, weight=0.0)]
    assert [r.entry_id for r in rank_channels(muted, [], options)][:3] == alone


def test_plan_query_keeps_english_only_channels_out_of_chinese_queries() -> None:
    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

    channels = [
        DenseChannel(Named("en-model"), holds=bool, serves=lambda q: True, hnsw_min_vectors=10, role="primary"),
        DenseChannel(Named("zh-model"), holds=bool, serves=has_chinese, hnsw_min_vectors=10, role="zh"),
        DenseChannel(Named("use"), holds=bool, serves=lambda q: True, hnsw_min_vectors=10, role="multilingual"),
    ]
    config = RetrievalConfig(multilingual_weight=0.0, zh_multilingual_weight=0.5, zh_fusion="z", zh_lexical_weight=0.3)
    zh = plan_query(channels, config, "信用卡年费多少钱")
    assert (zh.language, zh.channels, zh.weights) == ("zh", (1, 2), (1.0, 0.5))
    assert (zh.fusion.fusion, zh.fusion.lexical_weight) == ("z", 0.3)
    en = plan_query(channels, config, "what is the annual card fee")
    assert (en.language, en.channels, en.weights) == ("en", (0,), (1.0,))  # weight 0: USE is not even embedded
    assert (en.fusion.fusion, en.fusion.lexical_weight) == (config.fusion, config.lexical_weight)
