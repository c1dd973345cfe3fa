"""The transformers text-classification backend, with a tiny randomly initialised BERT built here.

No sentiment model weights can be had on these machines, so this proves the wiring (loading a local
folder through `pipeline("text-classification")`, label mapping, cues, probabilities -> Sentiment),
not the quality: the model's verdicts are random.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import SentimentError
from agent.sentiment import load_sentiment_analyzer
from agent.sentiment.transformers_classifier import TransformersSentimentAnalyzer, label_index
from agent.settings import AgentConfig
from agent.types import SentimentLabel

WORDS = ["my", "card", "was", "declined", "thank", "you", "great", "terrible", "agent", "please"]


def _tiny_classifier(folder: Path, id2label: dict[int, str]) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder.mkdir(parents=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_classifier(tmp_path_factory.mktemp("sentiment") / "tiny", {0: "negative", 1: "neutral", 2: "positive"})


def test_tiny_model_loads_through_the_factory_and_scores(tiny_model: Path) -> None:
    analyzer = load_sentiment_analyzer(AgentConfig(sentiment_model=str(tiny_model)))
    reading = analyzer.score("my card was declined, agent please", history=["my card was declined, agent please"])
    assert reading.label in set(SentimentLabel)
    assert -1.0 <= reading.score <= 1.0
    assert reading.source == f"transformers:{tiny_model}+cues"
    assert "repeated_question" in reading.cues  # cues work whatever model scores the tone
    assert analyzer.score("").label is SentimentLabel.NEUTRAL  # nothing to classify: no model call


def test_label_ids_map_by_position_and_unknown_names_are_refused(tmp_path: Path) -> None:
    two = _tiny_classifier(tmp_path / "two", {0: "LABEL_0", 1: "LABEL_1"})
    reading = TransformersSentimentAnalyzer(str(two)).score("thank you")
    assert reading.label in (SentimentLabel.NEGATIVE, SentimentLabel.POSITIVE)  # no neutral column
    odd = _tiny_classifier(tmp_path / "odd", {0: "joy", 1: "anger", 2: "fear"})
    with pytest.raises(SentimentError, match="Cannot tell what the sentiment model's label 'joy' means"):
        TransformersSentimentAnalyzer(str(odd)).score("thank you")


def test_label_names_map_by_meaning() -> None:
    assert label_index("NEG", 2, 3) == 0
    assert label_index("Neutral", 0, 3) == 1
    assert label_index("5 stars", 0, 5) == 2
    assert label_index("1 star", 4, 5) == 0
    assert label_index("3 stars", 0, 5) == 1
    with pytest.raises(SentimentError):
        label_index("LABEL_4", 4, 5)


def test_missing_model_folder_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SentimentError, match="Could not load sentiment model"):
        TransformersSentimentAnalyzer(str(tmp_path / "nowhere")).warm_up()
