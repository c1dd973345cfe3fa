"""The sentiment interface, and the one way every backend turns class probabilities into a Sentiment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from agent.language import detect_language
from agent.sentiment.cues import push_for_cues
from agent.types import Sentiment, SentimentLabel

# Probability vectors are always in this order, in every backend and in classifier.npz.
CLASSES = (SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE)
LANGUAGES = ("en", "zh")  # what the shipped classifier and lexicons were built for


@runtime_checkable
class SentimentAnalyzer(Protocol):
    """Scores one customer message. Implementations load models lazily (first `score` or `warm_up`)."""

    name: str

    def score(self, text: str, language: str | None = None, *, history: Sequence[str] = ()) -> Sentiment:
        """Label, score in [-1, 1] and cues for `text`; `history` holds the customer's earlier messages."""
        ...

    def warm_up(self) -> None: ...


def resolve_language(text: str, language: str | None) -> str:
    """ "zh" or "en": the script of the text wins over the hint, which only breaks ties (emoji-only messages).

    A UI hint can be wrong (an English UI, a customer writing Chinese); the characters cannot. Languages
    other than English and Chinese are scored by the English path (their Latin script is closest).
    """
    hint = "zh" if language and language.lower().startswith("zh") else "en"
    return detect_language(text, default=hint)


def sentiment_from_probabilities(
    probabilities: np.ndarray, cues: Sequence[str], source: str, *, neutral_band: float | None = None
) -> Sentiment:
    """Apply the cues' push; score = P(positive) - P(negative); label = the most likely class, or, with
    `neutral_band`, whichever side of +/-band the score falls (how a lexicon's polarity is read)."""
    pushed = push_for_cues(np.asarray(probabilities, dtype=np.float64), cues)
    score = float(np.clip(pushed[2] - pushed[0], -1.0, 1.0))
    label = CLASSES[int(np.argmax(pushed))] if neutral_band is None else label_for_score(score, neutral_band)
    return Sentiment(label=label, score=round(score, 4), cues=tuple(cues), source=source)


def label_for_score(score: float, neutral_band: float) -> SentimentLabel:
    """Negative at or below -band, positive at or above +band, neutral in between."""
    if score <= -neutral_band:
        return SentimentLabel.NEGATIVE
    if score >= neutral_band:
        return SentimentLabel.POSITIVE
    return SentimentLabel.NEUTRAL


def polarity_probabilities(polarity: float) -> np.ndarray:
    """Class probabilities from a single polarity in [-1, 1] (a lexicon score, a model's own reading).

    Neutral keeps whatever the polarity does not claim; P(positive) - P(negative) is the polarity again.
    """
    polarity = float(np.clip(polarity, -1.0, 1.0))
    return np.array([max(-polarity, 0.0), 1.0 - abs(polarity), max(polarity, 0.0)])
