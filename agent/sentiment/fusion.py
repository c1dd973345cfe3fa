"""Fuse a generator model's own reading of the customer's tone into the analyser's reading.

When a VLM or server model writes the reply it sees the screenshot and the whole conversation, so its
sense of the customer's mood can catch what text features miss (an angry caption on a screenshot of a
declined payment). It is one opinion among two, weighted by `sentiment_fusion_weight`; the analyser's
cues always survive, because they come from rules a human can check.
"""

from __future__ import annotations

import math

from agent.errors import SentimentError
from agent.sentiment.base import label_for_score
from agent.types import Sentiment

# A fused score closer to zero than this is neutral. Matches where the analysers' own readings turn
# from neutral to a verdict (P(positive) - P(negative) of about +/-0.15 on the training data).
NEUTRAL_BAND = 0.15


def fuse(base: Sentiment, model_reading: Sentiment | None, weight: float) -> Sentiment:
    """(1 - weight) * base + weight * model reading, cues united; the base as is without a reading.

    When both agree on the label it is kept (the average of two negatives is negative even if mild);
    otherwise the label follows the fused score.
    """
    if not (isinstance(weight, int | float) and 0.0 <= weight <= 1.0):
        raise SentimentError(f"Sentiment fusion weight must be between 0 and 1, got {weight!r}.")
    if model_reading is None or weight == 0.0:
        return base
    reading = model_reading.score if math.isfinite(model_reading.score) else 0.0
    reading = min(max(reading, -1.0), 1.0)  # a model's self-reported score is untrusted: clamp it
    score = round((1.0 - weight) * base.score + weight * reading, 4)
    label = base.label if base.label == model_reading.label else label_for_score(score, NEUTRAL_BAND)
    cues = base.cues + tuple(c for c in model_reading.cues if c not in base.cues)
    source = f"{base.source}+model:{model_reading.source}" if model_reading.source else f"{base.source}+model"
    return Sentiment(label=label, score=score, cues=cues, source=source)
