"""The default analyser: sentence embedding + lexicon features -> logistic regression, then cues.

Trained on FinDesk's own labelled messages (data/train.jsonl, written for this project), one model per
language; see train.py. Runs offline from the model pack: no network, no GPU.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from agent.errors import SentimentError
from agent.sentiment.base import polarity_probabilities, resolve_language, sentiment_from_probabilities
from agent.sentiment.classifier import CLASSIFIER_PATH, LinearModel, load_models
from agent.sentiment.cues import detect_cues
from agent.sentiment.features import FEATURE_SPECS, EmbedderPool, FeatureSpec, build_features
from agent.sentiment.text import check_text, normalise
from agent.types import Sentiment, SentimentLabel
from retrieval.embedders import Embedder


class OfflineSentimentAnalyzer:
    """`score()` one message per turn; `score_batch()` many at once (evaluation: embeddings batch well)."""

    name = "offline"

    def __init__(self, classifier_path: Path = CLASSIFIER_PATH, embedders: Mapping[str, Embedder] | None = None):
        self.classifier_path = Path(classifier_path)
        self._pool = EmbedderPool(embedders)
        self._models: dict[str, LinearModel] | None = None
        self._lock = threading.Lock()

    def _model(self, language: str) -> tuple[LinearModel, FeatureSpec]:
        with self._lock:
            if self._models is None:
                self._models = load_models(self.classifier_path)
        if language not in self._models:
            raise SentimentError(
                f"The sentiment classifier {self.classifier_path} has no {language!r} model "
                f"(it has {', '.join(sorted(self._models))}); rebuild it with `python -m agent.sentiment.train`."
            )
        model, spec = self._models[language], FEATURE_SPECS[language]
        if (model.embedder, model.lexicon) != (spec.embedder, spec.lexicon):
            raise SentimentError(
                f"The {language} sentiment classifier was trained on {model.embedder}+{model.lexicon} features but "
                f"this FinDesk builds {spec.embedder}+{spec.lexicon}; rerun `python -m agent.sentiment.train`."
            )
        return model, spec

    def warm_up(self) -> None:
        """Load the classifier, both embedders and both lexicons now rather than on the first turn."""
        for language in FEATURE_SPECS:
            self.score_batch(["warm up"] if language == "en" else ["预热"], [language])

    def score(self, text: str, language: str | None = None, *, history: Sequence[str] = ()) -> Sentiment:
        raw = check_text(text)
        return self._score_many([raw], [language], [history])[0]

    def score_batch(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> list[Sentiment]:
        """Score many independent messages (no conversation history) in one embedding batch per language."""
        raws = [check_text(t) for t in texts]
        hints = list(languages) if languages is not None else [None] * len(raws)
        if len(hints) != len(raws):
            raise SentimentError(f"Got {len(raws)} texts but {len(hints)} language hints.")
        return self._score_many(raws, hints, [()] * len(raws))

    def _score_many(
        self, raws: list[str], hints: Sequence[str | None], histories: Sequence[Sequence[str]]
    ) -> list[Sentiment]:
        cleaned = [normalise(raw) for raw in raws]
        languages = [resolve_language(clean, hint) for clean, hint in zip(cleaned, hints, strict=True)]
        results: list[Sentiment | None] = [None] * len(raws)
        for language in sorted(set(languages)):
            rows = [i for i, lang in enumerate(languages) if lang == language and cleaned[i]]
            if not rows:
                continue
            model, spec = self._model(language)
            probabilities = model.predict_proba(build_features([cleaned[i] for i in rows], spec, self._pool))
            source = f"offline:{language}({spec.embedder}+{spec.lexicon})+cues"
            for i, p in zip(rows, probabilities, strict=True):
                results[i] = sentiment_from_probabilities(p, detect_cues(raws[i], histories[i]), source)
        # Nothing left after clean-up (a bare link, an @handle): no tone to read; cues still count.
        empty = Sentiment(SentimentLabel.NEUTRAL, 0.0, (), "offline:empty")
        return [r if r is not None else _cues_only(raws[i], histories[i], empty) for i, r in enumerate(results)]


def _cues_only(raw: str, history: Sequence[str], empty: Sentiment) -> Sentiment:
    cues = detect_cues(raw, history)
    return sentiment_from_probabilities(polarity_probabilities(0.0), cues, "offline:empty+cues") if cues else empty
