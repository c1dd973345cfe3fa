"""Feature vectors for the classifier: a sentence embedding, then lexicon readings.

English uses all-MiniLM-L6-v2 (fast, English-only) and VADER; Chinese uses multilingual-e5-small and
snownlp. The embedders come from retrieval's registry, so the weights are the same sha256-verified
offline-pack files the FAQ search uses, and a caller can hand in the knowledge base's own instances.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agent.errors import SentimentError
from agent.sentiment.lexicon import snownlp_polarity, vader_features
from retrieval.embedders import Embedder, load_embedder
from retrieval.errors import RetrievalError
from retrieval.model_pack import E5_SMALL, MINILM


@dataclass(frozen=True)
class FeatureSpec:
    embedder: str
    lexicon: str  # "vader": (neg, neu, pos, compound); "snownlp": (polarity,)
    train_languages: tuple[str, ...]  # which rows of train.jsonl the model learns from


# The Chinese model also learns from the English rows: e5 is multilingual, so they teach it what a
# complaint or a thank-you looks like in its embedding space (5-fold CV macro-F1 on the Chinese rows,
# 0.913 -> 0.926). MiniLM is English-only, so the English model learns from English rows alone.
FEATURE_SPECS = {
    "en": FeatureSpec(MINILM, "vader", ("en",)),
    "zh": FeatureSpec(E5_SMALL, "snownlp", ("zh", "en")),
}


def lexicon_features(texts: Sequence[str], lexicon: str) -> np.ndarray:
    if lexicon == "vader":
        return np.array([vader_features(t) for t in texts], dtype=np.float64).reshape(len(texts), 4)
    if lexicon == "snownlp":
        return np.array([[snownlp_polarity(t)] for t in texts], dtype=np.float64).reshape(len(texts), 1)
    raise SentimentError(f"Unknown lexicon {lexicon!r} in the sentiment classifier; valid: vader, snownlp.")


class EmbedderPool:
    """Embedders by name, built once and shared; pre-built instances (the FAQ search's) may be handed in."""

    def __init__(self, embedders: Mapping[str, Embedder] | None = None) -> None:
        self._embedders: dict[str, Embedder] = dict(embedders or {})
        self._lock = threading.Lock()

    def get(self, name: str) -> Embedder:
        with self._lock:
            if name not in self._embedders:
                try:
                    self._embedders[name] = load_embedder(name)
                except RetrievalError as error:
                    raise SentimentError(f"Sentiment needs the {name} embedder: {error}") from error
            return self._embedders[name]

    def embed(self, name: str, texts: Sequence[str]) -> np.ndarray:
        try:
            # "query": the customer's own words, which is what e5 calls a query; MiniLM ignores the kind.
            return np.asarray(self.get(name).embed(list(texts), kind="query"), dtype=np.float64)
        except RetrievalError as error:
            raise SentimentError(f"Sentiment could not embed with {name}: {error}") from error


def build_features(texts: Sequence[str], spec: FeatureSpec, pool: EmbedderPool) -> np.ndarray:
    """[n, d] features for normalised texts of one language."""
    if not texts:
        raise SentimentError("No texts to build sentiment features for.")
    return np.hstack([pool.embed(spec.embedder, texts), lexicon_features(texts, spec.lexicon)])
