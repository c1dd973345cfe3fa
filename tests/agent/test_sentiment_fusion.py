"""fuse(): a generator model's reading of the customer's tone mixed into the analyser's reading."""

from __future__ import annotations

import math

import pytest

from agent.errors import SentimentError
from agent.sentiment import fuse
from agent.types import Sentiment, SentimentLabel

NEG, NEU, POS = SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE


def test_without_a_reading_or_weight_the_base_is_returned_unchanged() -> None:
    base = Sentiment(NEU, 0.05, ("asks_for_human",), "offline:en")
    assert fuse(base, None, 0.3) is base
    assert fuse(base, Sentiment(NEG, -0.9, (), "vlm"), 0.0) is base


def test_weighted_score_cues_united_and_source_recorded() -> None:
    base = Sentiment(NEU, 0.0, ("asks_for_human",), "offline:en")
    reading = Sentiment(NEG, -0.8, ("shouting", "asks_for_human"), "vlm")
    fused = fuse(base, reading, 0.5)
    assert fused.score == pytest.approx(-0.4)
    assert fused.label is NEG  # the model saw an angry screenshot the text alone did not show
    assert fused.cues == ("asks_for_human", "shouting")
    assert fused.source == "offline:en+model:vlm"


def test_a_light_weight_cannot_flip_a_confident_base() -> None:
    base = Sentiment(NEG, -0.7, ("threatens_to_leave",), "offline:en")
    fused = fuse(base, Sentiment(POS, 0.9, (), "vlm"), 0.3)
    assert fused.score == pytest.approx(0.7 * -0.7 + 0.3 * 0.9)
    assert fused.label is NEG
    assert "threatens_to_leave" in fused.cues


def test_agreeing_labels_are_kept_even_when_the_average_is_mild() -> None:
    fused = fuse(Sentiment(POS, 0.12, (), "a"), Sentiment(POS, 0.1, (), "b"), 0.5)
    assert fused.label is POS


def test_untrusted_model_scores_are_clamped() -> None:
    fused = fuse(Sentiment(NEU, 0.0, (), "a"), Sentiment(NEG, -7.0, (), "b"), 1.0)
    assert fused.score == -1.0
    fused = fuse(Sentiment(NEU, 0.0, (), "a"), Sentiment(NEU, math.nan, (), "b"), 0.5)
    assert fused.score == 0.0 and fused.label is NEU


@pytest.mark.parametrize("weight", [-0.1, 1.5, math.nan])
def test_weight_outside_zero_one_is_refused(weight: float) -> None:
    with pytest.raises(SentimentError, match="between 0 and 1"):
        fuse(Sentiment(NEU, 0.0), Sentiment(NEG, -1.0), weight)
