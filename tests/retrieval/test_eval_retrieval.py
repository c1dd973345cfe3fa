"""`findesk eval retrieval`, `findesk search` and `findesk index ...`: file checks, metrics, CLI output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrieval import dense_channel
from retrieval.config import RetrievalConfig
from retrieval.errors import InvalidEvalFile
from retrieval.evaluation import EvalQuery, evaluate_retrieval, load_queries, pair_topics
from retrieval.knowledge_base import KnowledgeBase
from retrieval.types import Hit, SearchResult
from tests import engines
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
    """Returns fixed rankings and routes: proves the metric arithmetic only, not retrieval quality."""

    def __init__(self, answers: dict[str, tuple[list[str], str]]) -> None:
        self.answers = answers

    def search(self, query: str, *, top_k: int | None = None) -> SearchResult:
        ids, route = self.answers[query]
        tags = {"a": ("pair:a",), "a-zh": ("pair:a",)}
        hits = [Hit(i, i, i, "", "", "en", 1.0, tags=tags.get(i, ())) for i in ids]
        return SearchResult(query, hits, route == "answer", 0.5, "scripted", weak=route == "clarify", probability=0.5)


def test_metrics_follow_their_definitions() -> None:
    searcher = ScriptedSearcher(
        {
            "first": (["a", "b"], "answer"),  # answered right
            "translation": (["a-zh", "b"], "answer"),  # answered with the expected entry's translation: right
            "also": (["c", "a"], "answer"),  # answered with an also_ok entry: right
            "third": (["x", "y", "a"], "answer"),  # answered wrong (right entry third)
            "clarified": (["x", "a", "a-zh", "y"], "clarify"),  # choices x, a, y: the right one among them
            "clarified-out": (["x", "x2", "x3", "a"], "clarify"),  # right entry is the fourth topic: not shown
            "missing": (["x"], "no_answer"),  # answerable, "no good match"
            "none-right": (["x"], "no_answer"),  # unanswerable, correctly "no match"
            "none-wrong": (["x"], "answer"),  # unanswerable, but answered
            "none-clarified": (["x", "y"], "clarify"),
        }
    )
    queries = [
        EvalQuery("first", "a"),
        EvalQuery("translation", "a"),
        EvalQuery("also", "a", ("c",)),
        EvalQuery("third", "a"),
        EvalQuery("clarified", "a"),
        EvalQuery("clarified-out", "a"),
        EvalQuery("missing", "a"),
        EvalQuery("none-right", None),
        EvalQuery("none-wrong", None),
        EvalQuery("none-clarified", None),
    ]
    outcomes: list = []
    topics = pair_topics([("a", ("pair:a",)), ("a-zh", ("pair:a",)), ("c", ())])
    report = evaluate_retrieval(searcher, queries, topics=topics, per_query=outcomes)
    assert (report.n, report.answerable, report.unanswerable) == (10, 7, 3)
    # ranks of the first right entry: 1, 1, 1, 3, 2, 4, 0
    assert report.hit_at_1 == pytest.approx(3 / 7) and report.hit_at_3 == pytest.approx(5 / 7)
    assert report.hit_at_5 == pytest.approx(6 / 7)
    assert report.mrr == pytest.approx((1 + 1 + 1 + 1 / 3 + 1 / 2 + 1 / 4) / 7)
    assert report.answer_precision == pytest.approx(3 / 5)  # first, translation, also of 5 answered
    assert report.answer_coverage == pytest.approx(3 / 7)
    assert report.unanswerable_answered == pytest.approx(1 / 3)
    assert report.clarify_rate == pytest.approx(2 / 7)
    assert report.clarify_contains_right == pytest.approx(1 / 2)
    assert report.no_answer_rate == pytest.approx(1 / 7)
    assert report.no_answer_precision == pytest.approx(1 / 2) and report.no_answer_recall == pytest.approx(1 / 3)
    assert report.latency_p95_ms >= report.latency_p50_ms >= 0
    assert [o.route for o in outcomes][:3] == ["answer", "answer", "answer"] and outcomes[4].rank == 2


def test_also_ok_is_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path / "q.jsonl",
        '{"query": "a", "expected_id": "x", "also_ok": ["y", "z"]}',
        '{"query": "b", "expected_id": "x", "also_ok": "y"}',
        '{"query": "c", "expected_id": null, "also_ok": ["y"]}',
    )
    with pytest.raises(InvalidEvalFile) as error:
        load_queries(path)
    assert "line 2" in str(error.value) and "line 3" in str(error.value) and "line 1" not in str(error.value)
    assert load_queries(write(tmp_path / "ok.jsonl", '{"query": "a", "expected_id": "x", "also_ok": ["y"]}'))[
        0
    ].also_ok == ("y",)


@pytest.mark.slow
@pytest.mark.storage
def test_cli_eval_search_and_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.cli import app

    monkeypatch.setattr(dense_channel, "load_embedder", lambda name, **options: minilm())  # load it once
    monkeypatch.setenv("FINDESK_RETRIEVAL__ZH_EMBEDDER", "")
    data = tmp_path / "data"
    config = RetrievalConfig(zh_embedder="", persist_delay_s=0)
    with KnowledgeBase.open(data, config, embedder=minilm(), database=engines.database(data)) as kb:
        kb.import_entries(small_faq(), actor="test")
    queries = write(
        tmp_path / "q.jsonl",
        '{"query": "I forgot my password", "expected_id": "password-reset"}',
        '{"query": "how long do SWIFT payments take to arrive abroad", "expected_id": "transfer-intl"}',
        '{"query": "who won the football world cup in 1998", "expected_id": null}',
    )
    runner = CliRunner()
    per_query = tmp_path / "per-query.jsonl"
    args = ["eval", "retrieval", str(queries), "--json", "--data-dir", str(data), "--per-query", str(per_query)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 3 and report["hit_at_1"] == 1.0 and report["no_answer_recall"] == 1.0
    assert {"hit_at_3", "hit_at_5", "mrr", "no_answer_precision", "latency_p50_ms", "latency_p95_ms"} <= set(report)
    customer = {"answer_precision", "answer_coverage", "unanswerable_answered", "clarify_rate"}
    assert customer | {"clarify_contains_right", "no_answer_rate"} <= set(report)
    rows = [json.loads(line) for line in per_query.read_text(encoding="utf-8").splitlines()]
    assert [r["query"] for r in rows][0] == "I forgot my password" and len(rows) == 3
    assert {"route", "probability", "top", "rank"} <= set(rows[0]) and rows[2]["route"] == "no_answer"

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
