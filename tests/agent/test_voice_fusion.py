"""fuse_voice(): an agitated voice makes calm words read as upset; a calm voice changes nothing."""

from __future__ import annotations

import pytest

from agent.errors import SentimentError
from agent.policy import History, decide
from agent.sentiment import AGITATED_VOICE, fuse_voice
from agent.settings import AgentConfig
from agent.types import Route, Sentiment, SentimentLabel, VoiceTone
from retrieval.types import Hit, SearchResult
from speech.types import VoiceFeatures

FEATURES = VoiceFeatures(voiced_s=1.5, pitch_st=2.0, pitch_range_st=4.0, level_db=-30.0, tilt_db=-13.0, rate_per_s=4.5)
CALM_WORDS = Sentiment(SentimentLabel.NEUTRAL, 0.0, (), "offline:en")
AGITATED = VoiceTone(0.8, ("raised_loudness", "raised_pitch"), 3, FEATURES)
USUAL = VoiceTone(0.1, (), 3, FEATURES)


def fused(text: Sentiment, tone: VoiceTone | None, weight: float = 0.5) -> Sentiment:
    return fuse_voice(text, tone, weight=weight, agitated_at=0.5)


def test_calm_words_in_an_agitated_voice_read_as_upset() -> None:
    upset = fused(CALM_WORDS, AGITATED)
    assert upset.label is SentimentLabel.NEGATIVE and upset.score == pytest.approx(-0.4)
    assert upset.cues == (AGITATED_VOICE,) and upset.source == "offline:en+voice"


def test_a_usual_voice_or_no_voice_leaves_the_words_reading() -> None:
    assert fused(CALM_WORDS, USUAL) is CALM_WORDS
    assert fused(CALM_WORDS, None) is CALM_WORDS
    assert fused(CALM_WORDS, AGITATED, weight=0.0) is CALM_WORDS


def test_an_agitated_voice_never_makes_words_read_happier() -> None:
    angry_words = Sentiment(SentimentLabel.NEGATIVE, -0.95, ("profanity",), "offline:en")
    result = fused(angry_words, VoiceTone(0.55, (), 2, FEATURES))
    assert result.score == -0.95 and result.label is SentimentLabel.NEGATIVE
    assert result.cues == ("profanity", AGITATED_VOICE)


def test_the_weight_is_checked() -> None:
    with pytest.raises(SentimentError, match="between 0 and 1"):
        fused(CALM_WORDS, AGITATED, weight=1.5)


def test_the_policy_names_the_agitated_voice_in_its_handoff_reason() -> None:
    config = AgentConfig()
    answered = SearchResult("q", [Hit("x", "q", "q", "a", "cards", "en", 0.9)], True, 0.5, "top score 0.9")
    earlier = History(sentiments=(Sentiment(SentimentLabel.NEGATIVE, -0.5, (), "offline:en"),))
    words_only = decide("can you check my payment", answered, CALM_WORDS, earlier, config)
    with_voice = decide("can you check my payment", answered, fused(CALM_WORDS, AGITATED), earlier, config)
    assert words_only.route is Route.ANSWER
    assert with_voice.route is Route.HANDOFF and "agitated voice" in with_voice.reason
