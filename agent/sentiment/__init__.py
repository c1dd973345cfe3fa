"""Sentiment for every customer turn: label, score in [-1, 1] and customer-service cues.

    from agent.sentiment import load_sentiment_analyzer
    analyzer = load_sentiment_analyzer(settings.agent)
    analyzer.score("I've been on hold for an hour", "en", history=earlier_customer_messages)

Backends, chosen by `AgentConfig.sentiment_analyzer`: "offline" (default: embeddings + lexicon + a small
classifier trained on data/train.jsonl), "lexicon" (VADER / snownlp only) and "transformers" (any
text-classification model, `sentiment_model`). `fuse()` mixes in a generator model's own reading,
`fuse_voice()` an agitated voice (agent/voice_tone.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from agent.errors import SentimentError
from agent.sentiment.base import SentimentAnalyzer
from agent.sentiment.cues import CUES, detect_cues
from agent.sentiment.fusion import fuse
from agent.sentiment.voice_fusion import AGITATED_VOICE, fuse_voice
from agent.settings import AgentConfig
from retrieval.embedders import Embedder

__all__ = [
    "AGITATED_VOICE",
    "ANALYZERS",
    "CUES",
    "SentimentAnalyzer",
    "detect_cues",
    "fuse",
    "fuse_voice",
    "load_sentiment_analyzer",
]


def _offline(config: AgentConfig, embedders: Mapping[str, Embedder] | None) -> SentimentAnalyzer:
    from agent.sentiment.offline import OfflineSentimentAnalyzer

    return OfflineSentimentAnalyzer(embedders=embedders)


def _lexicon(config: AgentConfig, embedders: Mapping[str, Embedder] | None) -> SentimentAnalyzer:
    from agent.sentiment.lexicon import LexiconSentimentAnalyzer

    return LexiconSentimentAnalyzer()


def _transformers(config: AgentConfig, embedders: Mapping[str, Embedder] | None) -> SentimentAnalyzer:
    from agent.sentiment.transformers_classifier import TransformersSentimentAnalyzer

    return TransformersSentimentAnalyzer(config.sentiment_model)


ANALYZERS: dict[str, Callable[[AgentConfig, Mapping[str, Embedder] | None], SentimentAnalyzer]] = {
    "offline": _offline,
    "lexicon": _lexicon,
    "transformers": _transformers,
}


def analyzer_name(config: AgentConfig) -> str:
    """The backend `config` selects; "auto" means transformers when a model is set, else offline."""
    name = config.sentiment_analyzer.strip().lower()
    if name == "auto":
        return "transformers" if config.sentiment_model else "offline"
    return name


def load_sentiment_analyzer(
    config: AgentConfig, *, embedders: Mapping[str, Embedder] | None = None
) -> SentimentAnalyzer:
    """Build (cheaply: models load on first use or `warm_up()`) the analyser the settings name.

    `embedders`: already-loaded embedders by name (the knowledge base's), so the models are not loaded twice.
    """
    name = analyzer_name(config)
    if name not in ANALYZERS:
        raise SentimentError(
            f"Unknown sentiment analyser {config.sentiment_analyzer!r}. Valid: auto, {', '.join(ANALYZERS)}."
        )
    return ANALYZERS[name](config, embedders)
