"""`findesk eval retrieval`, `findesk search` and `findesk index ...`: file checks, metrics, CLI output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrieval import dense_channel
from retrieval.config import RetrievalConfig
from retrieval.errors import InvalidEvalFile
from retrieval.evaluation import EvalQuery, evaluate_retrieval, load_queries
from retrieval.knowledge_base import KnowledgeBase
from retrieval.types import Hit, SearchResult
from tests.retrieval.models import minilm, small_faq


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_bad_line_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path / "q.jsonl",
        '{"query": "ok", "expected_id": "a"}',
        "not json",
        '{"expected_id": "a"}',
        '{"query": "x", "expected_id": 3}',
    )
    with pytest.raises(InvalidEvalFile) as error:
        load_queries(path)
    assert all(f"line {n}" in str(error.value) for n in (2, 3, 4))
    with pytest.raises(InvalidEvalFile, match="no queries"):
        load_queries(write(tmp_path / "empty.jsonl", ""))
    with pytest.raises(InvalidEvalFile, match="Cannot read"):
        load_queries(tmp_path / "missing.jsonl")


class ScriptedSearcher:
    """Returns fixed rankings: proves the metric arithmetic only, not retrieval quality."""

    def __init__(self, answers: dict[str, tuple[list[str], bool]]) -> None:
        self.answers = answers

    def search(self, query: str, *, top_k: int | None = None) -> SearchResult:
        ids, confident = self.answers[query]
        hits = [Hit(i, i, i, "", "", "en", 1.0) for i in ids]
        return SearchResult(query, hits, confident, 0.5, "scripted")


def test_metrics_follow_their_definitions() -> None:
    searcher = ScriptedSearcher(
        {
            "first": (["a", "b"], True),  # rank 1
            "third": (["x", "y", "a"], True),  # rank 3
            "missing": (["x"], False),  # not found, and wrongly "no match"
            "none-right": (["x"], False),  # unanswerable, correctly "no match"
            "none-wrong": (["x"], True),  # unanswerable, but answered
        }
    )
    queries = [
        EvalQuery("first", "a"),
        EvalQuery("third", "a"),
        EvalQuery("missing", "a"),
        EvalQuery("none-right", None),
        EvalQuery("none-wrong", None),
    ]
    report = evaluate_retrieval(searcher, queries)
    assert (report.n, report.answerable, report.unanswerable) == (5, 3, 2)
    assert report.hit_at_1 == pytest.approx(1 / 3) and report.hit_at_3 == pytest.approx(2 / 3)
    assert report.mrr == pytest.approx((1 + 1 / 3) / 3)
    assert report.no_answer_precision == pytest.approx(1 / 2) and report.no_answer_recall == pytest.approx(1 / 2)
    assert report.latency_p95_ms >= report.latency_p50_ms >= 0


@pytest.mark.slow
def test_cli_eval_search_and_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.cli import app

    monkeypatch.setattr(dense_channel, "load_embedder", lambda name, **options: minilm())  # load it once
    monkeypatch.setenv("FINDESK_RETRIEVAL__ZH_EMBEDDER", "")
    data = tmp_path / "data"
    with KnowledgeBase.open(data, RetrievalConfig(zh_embedder="", persist_delay_s=0), embedder=minilm()) as kb:
        kb.import_entries(small_faq(), actor="test")
    queries = write(
        tmp_path / "q.jsonl",
        '{"query": "I forgot my password", "expected_id": "password-reset"}',
        '{"query": "how long do SWIFT payments take to arrive abroad", "expected_id": "transfer-intl"}',
        '{"query": "who won the football world cup in 1998", "expected_id": null}',
    )
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "retrieval", str(queries), "--json", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 3 and report["hit_at_1"] == 1.0 and report["no_answer_recall"] == 1.0
    assert {"hit_at_3", "hit_at_5", "mrr", "no_answer_precision", "latency_p50_ms", "latency_p95_ms"} <= set(report)

    result = runner.invoke(app, ["search", "block my stolen card", "--json", "--top-k", "2", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["hits"][0]["entry_id"] == "card-lost" and len(found["hits"]) == 2 and found["confident"]

    result = runner.invoke(app, ["index", "status", "--json", "--data-dir", str(data)])
    status = json.loads(result.stdout)
    assert status["entries"] == 8 and status["index_version"] == status["store_version"]

    result = runner.invoke(app, ["search", "   ", "--data-dir", str(data)])
    assert result.exit_code == 1 and "empty" in result.output

    bad = write(tmp_path / "bad.jsonl", "nope")
    result = runner.invoke(app, ["eval", "retrieval", str(bad), "--data-dir", str(data)])
    assert result.exit_code == 1 and "line 1" in result.output
