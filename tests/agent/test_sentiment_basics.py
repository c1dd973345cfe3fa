"""Factory, the lexicon backend, the classifier file and training, without the embedding models."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.errors import SentimentError
from agent.sentiment import load_sentiment_analyzer
from agent.sentiment.base import CLASSES, resolve_language, sentiment_from_probabilities
from agent.sentiment.classifier import CLASSIFIER_PATH, LinearModel, load_models, save_models
from agent.sentiment.text import normalise
from agent.sentiment.train import fit_linear_model
from agent.settings import AgentConfig
from agent.types import SentimentLabel


def test_factory_picks_by_name_and_refuses_unknown_names() -> None:
    assert load_sentiment_analyzer(AgentConfig()).name == "offline"
    assert load_sentiment_analyzer(AgentConfig(sentiment_analyzer="lexicon")).name == "lexicon"
    assert load_sentiment_analyzer(AgentConfig(sentiment_model="/some/folder")).name == "transformers"
    with pytest.raises(SentimentError, match="Valid: auto, offline, lexicon, transformers"):
        load_sentiment_analyzer(AgentConfig(sentiment_analyzer="finbert"))
    with pytest.raises(SentimentError, match="SENTIMENT_MODEL"):
        load_sentiment_analyzer(AgentConfig(sentiment_analyzer="transformers"))


def test_importing_the_package_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import agent.sentiment, sys; assert 'torch' not in sys.modules and 'snownlp' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_normalise_drops_links_handles_and_entities() -> None:
    assert normalise("@MyBank  thanks &amp; bye https://t.co/x #fail") == "thanks & bye fail"
    assert normalise("mail me at a@b.com") == "mail me at a@b.com"


def test_language_follows_the_script_not_the_hint() -> None:
    assert resolve_language("我的卡被锁了", "en") == "zh"
    assert resolve_language("my card is locked", "zh") == "en"
    assert resolve_language("😡😡", "zh-CN") == "zh"
    assert resolve_language("¿Dónde está mi dinero?", "es") == "en"


def test_probabilities_become_label_and_score() -> None:
    reading = sentiment_from_probabilities(np.array([0.7, 0.2, 0.1]), (), "test")
    assert reading.label is SentimentLabel.NEGATIVE and reading.score == pytest.approx(-0.6)
    assert sentiment_from_probabilities(np.array([0.3, 0.6, 0.1]), ("threatens_to_leave",), "t").score < -0.2


def test_lexicon_backend_reads_both_languages_and_reports_cues() -> None:
    analyzer = load_sentiment_analyzer(AgentConfig(sentiment_analyzer="lexicon"))
    assert analyzer.score("Thank you, that was wonderful!").label is SentimentLabel.POSITIVE
    angry = analyzer.score("This is terrible, I'm switching banks")
    assert angry.label is SentimentLabel.NEGATIVE and "threatens_to_leave" in angry.cues
    assert angry.source == "lexicon:vader+cues"
    assert analyzer.score("太感谢了，服务非常好").label is SentimentLabel.POSITIVE
    assert analyzer.score("太差了，我要投诉").label is SentimentLabel.NEGATIVE
    with pytest.raises(SentimentError, match="as text"):
        analyzer.score(b"bytes")  # type: ignore[arg-type]


def test_shipped_classifier_loads_and_matches_its_checksum() -> None:
    models = load_models()
    assert set(models) == {"en", "zh"}
    assert models["en"].coef.shape[0] == 3 and models["en"].coef.shape[1] == models["en"].mean.shape[0]


def test_corrupt_or_missing_classifier_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "classifier.npz"
    shutil.copy(CLASSIFIER_PATH, copy)
    with pytest.raises(SentimentError, match="missing"):
        load_models(copy)  # no .sha256 beside it
    shutil.copy(CLASSIFIER_PATH.with_name("classifier.npz.sha256"), tmp_path / "classifier.npz.sha256")
    assert load_models(copy)
    copy.write_bytes(copy.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(SentimentError, match="corrupt or was replaced"):
        load_models(copy)


def test_training_fits_separable_data_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    centres = {"negative": -2.0, "neutral": 0.0, "positive": 2.0}
    labels = [label for label in centres for _ in range(40)]
    features = np.array([[centres[label], 0.0, 0.0] for label in labels]) + rng.normal(0, 0.4, (len(labels), 3))
    model, report = fit_linear_model(features, labels, "en", "test-embedder", "vader")
    assert report.cv_macro_f1 > 0.9
    predicted = [str(CLASSES[i]) for i in model.predict_proba(features).argmax(axis=1)]
    assert np.mean(np.array(predicted) == np.array(labels)) > 0.9
    path = tmp_path / "model.npz"
    save_models({"en": model}, path, "0" * 64)
    loaded = load_models(path)["en"]
    assert isinstance(loaded, LinearModel) and loaded.embedder == "test-embedder"
    assert np.allclose(loaded.predict_proba(features), model.predict_proba(features), atol=1e-5)
    with pytest.raises(SentimentError, match="expects 3 features"):
        loaded.predict_proba(np.zeros((1, 5)))
