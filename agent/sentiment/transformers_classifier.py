"""Any transformers text-classification model as the analyser (`sentiment_model`: hub id or folder).

Labels are mapped by name (negative/neutral/positive, NEG/NEU/POS, "1 star".."5 stars") or, for models
that only say LABEL_0..LABEL_n, by position (2 labels: negative, positive; 3: negative, neutral,
positive, the convention of the common sentiment checkpoints). Cues are added as for every backend.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from agent.errors import SentimentError
from agent.sentiment.base import sentiment_from_probabilities
from agent.sentiment.cues import detect_cues
from agent.sentiment.text import check_text, normalise
from agent.types import Sentiment, SentimentLabel

_BY_POSITION = {2: (0, 2), 3: (0, 1, 2)}  # class index (negative, neutral, positive) per model label index
_STARS = re.compile(r"^([1-5])\s*stars?$")


def label_index(name: str, position: int, num_labels: int) -> int:
    """Which of (negative, neutral, positive) a model label means; SentimentError when it cannot tell."""
    lowered = name.strip().lower()
    for index, label in enumerate((SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE)):
        if lowered in (str(label), str(label)[:3]):
            return index
    stars = _STARS.match(lowered)
    if stars:
        return 0 if int(stars.group(1)) <= 2 else 1 if stars.group(1) == "3" else 2
    if re.fullmatch(r"label_\d+", lowered) and num_labels in _BY_POSITION:
        return _BY_POSITION[num_labels][position]
    raise SentimentError(
        f"Cannot tell what the sentiment model's label {name!r} means: name the labels negative/neutral/positive "
        "in the model's config.json (id2label), or use a 2- or 3-label model."
    )


class TransformersSentimentAnalyzer:
    """`pipeline("text-classification")` loaded on first use; label mapping checked at load time."""

    name = "transformers"

    def __init__(self, model: str, *, device: str = "cpu") -> None:
        if not model:
            raise SentimentError(
                "The transformers sentiment analyser needs a model: set FINDESK_AGENT__SENTIMENT_MODEL to a hub id "
                "or a local folder."
            )
        self.model = model
        self.device = device
        self._pipeline: Any = None
        self._columns: dict[str, int] = {}
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._pipeline is not None:
                return
            try:
                from transformers import pipeline
            except ImportError as error:
                raise SentimentError("transformers is not installed: run `pip install transformers`.") from error
            try:
                classifier = pipeline("text-classification", model=self.model, device=self.device)
            except (OSError, ValueError) as error:
                raise SentimentError(
                    f"Could not load sentiment model {self.model!r} ({error}). Give a local folder or a hub id "
                    "that is reachable (model hubs are offline here)."
                ) from error
            id2label = classifier.model.config.id2label
            if not id2label:
                raise SentimentError(
                    f"Sentiment model {self.model!r} has no labels (id2label) in its config.json: "
                    "use a text-classification model."
                )
            self._columns = {name: label_index(name, int(i), len(id2label)) for i, name in id2label.items()}
            self._pipeline = classifier

    def score(self, text: str, language: str | None = None, *, history: Sequence[str] = ()) -> Sentiment:
        raw = check_text(text)
        clean = normalise(raw)
        cues = detect_cues(raw, history)
        if not clean:
            return sentiment_from_probabilities(np.array([0.0, 1.0, 0.0]), cues, f"transformers:{self.model}+cues")
        self.warm_up()
        outputs = self._pipeline(clean, top_k=None, truncation=True)
        probabilities = np.zeros(3)
        for item in outputs:
            probabilities[self._columns[item["label"]]] += float(item["score"])
        # A 2-label model has no neutral column; a sigmoid (multi-label) head need not sum to 1.
        probabilities /= max(probabilities.sum(), 1e-9)
        return sentiment_from_probabilities(probabilities, cues, f"transformers:{self.model}+cues")
