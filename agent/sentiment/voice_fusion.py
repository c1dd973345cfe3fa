"""Fuse the customer's voice tone (agent/voice_tone.py) into the sentiment of their words.

A customer who says calm words in an agitated voice, or shouts, is upset; the words alone read neutral.
Agitation (arousal) is not valence, though: a calm or usual voice says nothing about whether the words are
content or angry, so only an agitated voice (agitation >= `voice_agitated_at`) moves the reading:

    score = (1 - voice_tone_weight) * text score + voice_tone_weight * (-agitation)

With the default weight 0.5, neutral words in a clearly agitated voice (agitation 0.6+) reach -0.3, the
policy's `negative_score`, and the cue "agitated_voice" makes the policy treat the turn as upset.
"""

from __future__ import annotations

from agent.errors import SentimentError
from agent.sentiment.base import label_for_score
from agent.sentiment.fusion import NEUTRAL_BAND
from agent.types import Sentiment, SentimentLabel, VoiceTone

AGITATED_VOICE = "agitated_voice"  # the cue the policy and the agent desk see


def fuse_voice(text: Sentiment, tone: VoiceTone | None, *, weight: float, agitated_at: float) -> Sentiment:
    """The text's reading pulled towards negative by an agitated voice; unchanged for a calm one or none."""
    if not 0.0 <= weight <= 1.0:
        raise SentimentError(f"Voice tone weight must be between 0 and 1, got {weight!r}.")
    if tone is None or weight == 0.0 or tone.agitation < agitated_at:
        return text
    score = round((1.0 - weight) * text.score - weight * tone.agitation, 4)
    # Negative words stay negative: a mild average of two upset signals is still upset.
    label = SentimentLabel.NEGATIVE if text.label is SentimentLabel.NEGATIVE else label_for_score(score, NEUTRAL_BAND)
    cues = text.cues if AGITATED_VOICE in text.cues else (*text.cues, AGITATED_VOICE)
    return Sentiment(label=label, score=min(score, text.score), cues=cues, source=f"{text.source}+voice")
