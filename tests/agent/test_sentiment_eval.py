"""`findesk eval sentiment`: figures from a small labelled file, and refusals of bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.sentiment.evaluate import metrics
from agent.types import SentimentLabel
from ui.cli import app

NEG, NEU, POS = SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE

LINES = [
    {"text": "Thank you so much, this was wonderful!", "label": "positive"},
    {"text": "This is terrible, my card was declined again", "label": "negative"},
    {"text": "Awful service, I want to talk to a real person", "label": "negative"},
    {"text": "太感谢了，服务非常好", "label": "positive"},
]


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines)
    )
    return path


def test_json_output_has_the_figures(tmp_path: Path) -> None:
    data = _write(tmp_path / "small.jsonl", LINES)
    result = CliRunner().invoke(app, ["eval", "sentiment", str(data), "--analyzer", "lexicon", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n"] == 4 and report["analyzer"] == "lexicon"
    assert report["accuracy"] == 1.0 and report["macro_f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["f1"] == {"negative": 1.0, "neutral": 0.0, "positive": 1.0}
    assert report["confusion"]["matrix"] == [[2, 0, 0], [0, 0, 0], [0, 0, 2]]
    assert report["latency_p50_ms"] >= 0 and report["latency_calls"] == 4


def test_table_output_shows_the_confusion_matrix(tmp_path: Path) -> None:
    data = _write(tmp_path / "small.jsonl", LINES)
    result = CliRunner().invoke(app, ["eval", "sentiment", str(data), "--analyzer", "lexicon"])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and "Confusion" in result.output


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"text": "hi", "label": "angry"}'], "valid labels: negative, neutral, positive"),
        (["not json"], "small.jsonl:1 is not valid JSON"),
        (['{"label": "neutral"}'], 'needs a \\"text\\" string'),
        ([""], "holds no labelled lines"),
    ],
)
def test_bad_files_are_refused_with_the_line(tmp_path: Path, lines: list[str], message: str) -> None:
    data = _write(tmp_path / "small.jsonl", lines)
    result = CliRunner().invoke(app, ["eval", "sentiment", str(data), "--analyzer", "lexicon", "--json"])
    assert result.exit_code == 1
    assert message in result.output


def test_missing_file_and_unknown_analyzer(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "sentiment", str(tmp_path / "none.jsonl"), "--json"])
    assert result.exit_code == 1 and "not found" in result.output
    data = _write(tmp_path / "small.jsonl", LINES)
    result = CliRunner().invoke(app, ["eval", "sentiment", str(data), "--analyzer", "finbert", "--json"])
    assert result.exit_code == 1 and "Valid: auto, offline, lexicon, transformers" in result.output


def test_metrics_by_hand() -> None:
    accuracy, f1, confusion = metrics([NEG, NEG, NEU, POS], [NEG, NEU, NEU, NEG])
    assert accuracy == 0.5
    assert f1["negative"] == pytest.approx(0.5) and f1["neutral"] == pytest.approx(2 / 3) and f1["positive"] == 0.0
    assert confusion == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
