"""The default offline analyser with the real embedders and the shipped classifier (slow: loads models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import SentimentError
from agent.sentiment.evaluate import evaluate, load_labelled
from agent.sentiment.offline import OfflineSentimentAnalyzer
from agent.types import SentimentLabel

NEG, NEU, POS = SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE

# Written for this test, not in data/train.jsonl.
CLEAR_CASES = [
    ("I have been waiting 40 minutes on the phone and still no one has answered.", "en", NEG),
    ("Your app charged my card twice and now I can't pay my rent.", "en", NEG),
    ("Wonderful service today, the staff sorted everything out in minutes. Thank you!", "en", POS),
    ("Thanks a lot, the money arrived!", "en", POS),
    ("What are the opening hours of the branch near the train station?", "en", NEU),
    ("How do I change the phone number linked to my account?", "en", NEU),
    ("等了一个小时客服都没人接，太气人了", "zh", NEG),
    ("转账三天了还没到账，你们到底怎么回事？", "zh", NEG),
    ("谢谢你们，问题很快就解决了，服务很好！", "zh", POS),
    ("请问信用卡的账单日可以修改吗？", "zh", NEU),
    ("周六银行几点开门？", "zh", NEU),
]


@pytest.fixture(scope="module")
def analyzer() -> OfflineSentimentAnalyzer:
    scorer = OfflineSentimentAnalyzer()
    scorer.warm_up()
    return scorer


@pytest.mark.slow
@pytest.mark.parametrize(("text", "language", "label"), CLEAR_CASES)
def test_clear_messages_get_the_right_label(
    analyzer: OfflineSentimentAnalyzer, text: str, language: str, label: SentimentLabel
) -> None:
    reading = analyzer.score(text, language)
    assert reading.label is label, reading
    assert -1.0 <= reading.score <= 1.0
    assert (reading.score < 0) == (label is NEG) or label is NEU
    assert reading.source.startswith(f"offline:{language}(")


@pytest.mark.slow
def test_cues_are_reported_and_push_negative(analyzer: OfflineSentimentAnalyzer) -> None:
    polite = analyzer.score("How do I update my address?", "en")
    assert polite.cues == ()
    history = ["How do I update my address?"]
    again = analyzer.score("how do I update my address", "en", history=history)
    assert "repeated_question" in again.cues and again.score < polite.score
    human = analyzer.score("转人工！我要投诉你们！！！", "zh")
    assert human.cues == ("asks_for_human", "threatens_to_leave", "shouting")
    assert human.label is NEG


@pytest.mark.slow
def test_batch_matches_single_calls_and_odd_inputs_are_safe(analyzer: OfflineSentimentAnalyzer) -> None:
    texts = [text for text, _, _ in CLEAR_CASES[:3] + CLEAR_CASES[6:8]]
    batch = analyzer.score_batch(texts)
    for text, reading in zip(texts, batch, strict=True):
        single = analyzer.score(text)
        assert single.label is reading.label and single.score == pytest.approx(reading.score, abs=0.02)
    assert analyzer.score("").label is NEU
    assert analyzer.score("https://example.com @MyBank").source.startswith("offline:empty")
    assert analyzer.score("x" * 50_000).label in set(SentimentLabel)  # cut to MAX_CHARS, not an error
    with pytest.raises(SentimentError, match="as text"):
        analyzer.score(None)  # type: ignore[arg-type]
    with pytest.raises(SentimentError, match="language hints"):
        analyzer.score_batch(["a", "b"], ["en"])


# Measured on this subset (every third line, 976 tweets) when the classifier was trained; see
# benchmarks/sentiment.py for the full 2,928. The margin absorbs float noise, not regressions.
DEV_MACRO_F1 = 0.733
DEV_NEGATIVE_F1 = 0.880
MARGIN = 0.02


@pytest.mark.slow
def test_real_airline_tweets_meet_the_measured_figures(analyzer: OfflineSentimentAnalyzer, shared_data: Path) -> None:
    rows = load_labelled(shared_data / "sentiment" / "airline_tweets_dev.jsonl")[::3]
    report = evaluate(analyzer, rows, latency_calls=0)
    print(report.to_dict())
    assert report.macro_f1 >= DEV_MACRO_F1 - MARGIN
    assert report.f1["negative"] >= DEV_NEGATIVE_F1 - MARGIN
