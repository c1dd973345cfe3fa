"""The model's own reading of the customer's tone, taken from the first line of its reply.

Model generators are asked (prompt rule 9) to begin with `TONE: negative|neutral|positive`: they see the
screenshot and the whole conversation, so their reading can catch what text features miss. The line is
cut out of the stream before the customer sees it. The extractive generator writes no such line, and a
model that forgets it loses nothing: the text passes through unchanged and there is simply no reading.
"""

from __future__ import annotations

import re

from agent.types import Sentiment, SentimentLabel

_TONE_LINE = re.compile(r"\s*(?:TONE|语气)\s*[:：]\s*(negative|neutral|positive)\b[^\n]*(?:\n+|$)", re.IGNORECASE)
_PREFIXES = ("tone", "语气")
_SCORES = {"negative": -0.7, "neutral": 0.0, "positive": 0.7}
MAX_HOLD = 48  # characters held back while deciding whether the reply starts with a tone line


class ToneSplitter:
    """Feed it the reply's deltas; it returns what the customer may see and keeps the tone reading."""

    def __init__(self) -> None:
        self._held = ""
        self._decided = False
        self.reading: Sentiment | None = None

    def feed(self, delta: str) -> str:
        if self._decided:
            return delta
        self._held += delta
        head = self._held.lstrip().lower()
        could_be_tone = any(p.startswith(head[: len(p)]) for p in _PREFIXES) if head else True
        if could_be_tone and "\n" not in self._held and len(self._held) < MAX_HOLD:
            return ""  # wait for the rest of the first line
        return self._decide()

    def flush(self) -> str:
        """The end of the stream: whatever is still held back."""
        return "" if self._decided else self._decide()

    def _decide(self) -> str:
        self._decided = True
        match = _TONE_LINE.match(self._held)
        if not match:
            return self._held
        label = match.group(1).lower()
        self.reading = Sentiment(SentimentLabel(label), _SCORES[label], (), "reply")
        return self._held[match.end() :]
