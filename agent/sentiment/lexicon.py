"""Lexicon readings: VADER for English, snownlp for Chinese; and the `lexicon` backend built on them.

Both lexicons load once per process and are shared by every analyser: snownlp takes about 9 s to load its
model on a 2-core machine, so it must never load per call or per analyser.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from agent.errors import SentimentError
from agent.sentiment.base import polarity_probabilities, resolve_language, sentiment_from_probabilities
from agent.sentiment.cues import detect_cues
from agent.sentiment.text import check_text, normalise
from agent.types import Sentiment

# VADER's documented reading of its compound score: beyond +/-0.05 is a verdict. Used for snownlp too.
NEUTRAL_BAND = 0.05

_lock = threading.Lock()
_vader: Any = None
_snownlp: Any = None


def _load_vader() -> Any:
    global _vader
    with _lock:
        if _vader is None:
            try:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
            except ImportError as error:
                raise SentimentError("VADER is not installed: run `pip install vaderSentiment`.") from error
            _vader = SentimentIntensityAnalyzer()
    return _vader


def _load_snownlp() -> Any:
    global _snownlp
    with _lock:
        if _snownlp is None:
            try:
                from snownlp import SnowNLP
            except ImportError as error:
                raise SentimentError("snownlp is not installed: run `pip install snownlp`.") from error
            SnowNLP("预热").sentiments  # noqa: B018 - the first call loads the ~9 s Bayes model; pay it here
            _snownlp = SnowNLP
    return _snownlp


def vader_features(text: str) -> tuple[float, float, float, float]:
    """VADER's (negative, neutral, positive, compound) for one normalised message."""
    scores = _load_vader().polarity_scores(text)
    return scores["neg"], scores["neu"], scores["pos"], scores["compound"]


def snownlp_polarity(text: str) -> float:
    """snownlp's P(positive) rescaled to [-1, 1]; 0 for text it cannot read."""
    if not text.strip():
        return 0.0
    return 2.0 * float(_load_snownlp()(text).sentiments) - 1.0


def polarity(text: str, language: str) -> float:
    """The lexicon polarity in [-1, 1] for a normalised message in "en" or "zh"."""
    return snownlp_polarity(text) if language == "zh" else vader_features(text)[3]


class LexiconSentimentAnalyzer:
    """VADER or snownlp plus cues: no embeddings, no torch; the light fallback (`sentiment_analyzer=lexicon`)."""

    name = "lexicon"

    def warm_up(self) -> None:
        _load_vader()
        _load_snownlp()

    def score(self, text: str, language: str | None = None, *, history: Sequence[str] = ()) -> Sentiment:
        raw = check_text(text)
        clean = normalise(raw)
        lang = resolve_language(clean, language)
        cues = detect_cues(raw, history)
        lexicon = "snownlp" if lang == "zh" else "vader"
        return sentiment_from_probabilities(
            polarity_probabilities(polarity(clean, lang)), cues, f"lexicon:{lexicon}+cues", neutral_band=NEUTRAL_BAND
        )
