"""Reports: scripted conversations through the HTTP API on a fresh database, then every figure checked exactly.

The store's clock is set by the script (agent.conversations._now and agent.feedback._now), so the handoff,
reply, resolution and rating times are known to the second. Expected figures are worked out by hand from
the script (and, for category and sentiment, from what the API's own replies said), not by the report code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agent.services import Services
from tests import engines
from tests.ui.conftest import FAST_HASH, PASSWORD, seed_faq
from ui.app import build_app
from ui.auth import UserStore
from ui.cli import app as cli

pytestmark = pytest.mark.storage  # its own app and the report CLI on one database

KEYS = {
    "since", "until", "conversations", "bot_resolved", "handed_over", "deflection_rate", "handoff_reasons",
    "first_response_time_s", "resolution_time_s", "csat_count", "csat_avg", "thumbs_up", "thumbs_down",
    "unanswered_questions", "sentiment_trend", "by_day", "by_language", "by_category",
}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> str:
        return self.now.isoformat(timespec="milliseconds")

    def at(self, day: str, hour: int) -> None:
        self.now = datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")

    def wait(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Services, Path]]:
    data_dir = tmp_path_factory.mktemp("findesk-report")
    settings = engines.settings(data_dir)
    seed_faq(data_dir, settings)
    services = Services(settings)
    users = UserStore(services.database, hasher=FAST_HASH)
    users.add("alice", "agent", PASSWORD)
    users.add("olga", "operator", PASSWORD)
    app = build_app(settings, services=services, users=users)
    with TestClient(app) as client:
        client.headers["X-Test-Agent"] = users.issue_token("alice")
        client.headers["X-Test-Operator"] = users.issue_token("olga")
        yield client, services, data_dir


def test_every_report_figure_from_scripted_conversations(
    desk: tuple[TestClient, Services, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, services, data_dir = desk
    clock = Clock()
    monkeypatch.setattr("agent.conversations._now", clock)
    monkeypatch.setattr("agent.feedback._now", clock)
    agent = {"Authorization": f"Bearer {client.headers['X-Test-Agent']}"}
    operator = {"Authorization": f"Bearer {client.headers['X-Test-Operator']}"}
    kb = services.knowledge_base
    categories: dict[str, str] = {}
    scores: dict[str, list[float]] = {"2026-11-30": [], "2026-12-01": [], "2026-12-02": []}

    def say(text: str, session: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, Any]]:
        data = {"text": text} | ({"session_id": session["id"]} if session else {})
        headers = {"X-Session-Token": session["token"]} if session else {}
        reply = client.post("/api/chat", data=data, headers=headers).json()
        session = session or {"id": reply["session_id"], "token": reply["session_token"]}
        scores[clock().split("T")[0]].append(reply["sentiment"]["score"])
        if reply["citations"] and session["id"] not in categories:
            categories[session["id"]] = kb.get(reply["citations"][0]["entry_id"]).category  # type: ignore[union-attr]
        return session, reply

    def own(session: dict[str, str]) -> dict[str, str]:
        return {"X-Session-Token": session["token"]}

    # Day 1. A: answered, thumbs up.
    clock.at("2026-11-30", 9)
    a, reply = say("Why was my card declined?")
    assert reply["route"] == "answer"
    client.put(f"/api/chat/{a['id']}/messages/{reply['turn_id']}/thumb", headers=own(a), json={"value": "up"})
    # B: not in the FAQ, then small talk: bot-resolved, one unanswered question.
    clock.at("2026-11-30", 10)
    b, reply = say("What's a good recipe for banana bread?")
    assert reply["route"] == "no_answer"
    say("thanks", b)
    # C: answered, thumbs down, the button; a reply after 60 s, resolved after 300 s, rated 4.
    clock.at("2026-11-30", 11)
    c, reply = say("My transfer hasn't arrived yet")
    client.put(f"/api/chat/{c['id']}/messages/{reply['turn_id']}/thumb", headers=own(c), json={"value": "down"})
    clock.wait(30)
    client.post(f"/api/chat/{c['id']}/handoff", headers=own(c))
    clock.wait(60)
    client.post(f"/api/handoffs/{c['id']}/reply", headers=agent, json={"text": "Let me check that for you."})
    clock.wait(240)
    client.post(f"/api/handoffs/{c['id']}/resolve", headers=agent)
    assert client.post(f"/api/chat/{c['id']}/csat", headers=own(c), json={"score": 4}).status_code == 201
    # Day 2. D: a lost card, urgent; a reply after 120 s, resolved after 600 s, rated 2.
    clock.at("2026-12-01", 14)
    d, reply = say("I lost my debit card")
    assert reply["route"] == "handoff"
    clock.wait(120)
    client.post(f"/api/handoffs/{d['id']}/reply", headers=agent, json={"text": "I have frozen your card."})
    clock.wait(480)
    client.post(f"/api/handoffs/{d['id']}/resolve", headers=agent)
    client.post(f"/api/chat/{d['id']}/csat", headers=own(d), json={"score": 2, "comment": "slow"})
    # E: asks for a person; nobody has replied yet.
    clock.at("2026-12-01", 15)
    e, reply = say("Can I talk to a person please?")
    assert reply["route"] == "handoff"
    # F: a day later than the report's period: left out of every figure.
    clock.at("2026-12-02", 9)
    say("How do I activate my new card?")

    report = client.get("/api/reports?since=2026-11-30&until=2026-12-02", headers=operator).json()
    assert set(report) == KEYS
    day1 = {"conversations": 3, "bot_resolved": 2, "handed_over": 1, "deflection_rate": 0.6667}
    day2 = {"conversations": 2, "bot_resolved": 0, "handed_over": 2, "deflection_rate": 0.0}
    expected_categories: dict[str, dict[str, Any]] = {}
    for session, handed in ((a, 0), (b, 0), (c, 1), (d, 1), (e, 1)):
        group = expected_categories.setdefault(
            categories.get(session["id"], "none"), {"conversations": 0, "bot_resolved": 0, "handed_over": 0}
        )
        group["conversations"] += 1
        group["handed_over" if handed else "bot_resolved"] += 1
    for group in expected_categories.values():
        group["deflection_rate"] = round(group["bot_resolved"] / group["conversations"], 4)
    assert report == {
        "since": "2026-11-30",
        "until": "2026-12-02",
        "conversations": 5,
        "bot_resolved": 2,
        "handed_over": 3,
        "deflection_rate": 0.4,
        "handoff_reasons": {
            "customer asked for a person": 1,
            "talk to a person button": 1,
            "urgent: lost or stolen card": 1,
        },
        "first_response_time_s": {"p50": 60.0, "p90": 120.0},
        "resolution_time_s": {"p50": 300.0, "p90": 600.0},
        "csat_count": 2,
        "csat_avg": 3.0,
        "thumbs_up": 1,
        "thumbs_down": 1,
        # B's banana bread (no_answer), C's question (thumbs down), D's and E's (handed over at once).
        "unanswered_questions": 4,
        "sentiment_trend": [
            {"day": day, "mean_score": round(sum(values) / len(values), 3), "messages": len(values)}
            for day, values in scores.items()
            if day < "2026-12-02"
        ],
        "by_day": {"2026-11-30": day1, "2026-12-01": day2},
        "by_language": {"en": {"conversations": 5, "bot_resolved": 2, "handed_over": 3, "deflection_rate": 0.4}},
        "by_category": dict(sorted(expected_categories.items())),
    }

    # The command line gives the same figures from the same database; CSV has every figure too.
    args = ["report", "--since", "2026-11-30", "--until", "2026-12-02", "--json", "--data-dir", str(data_dir)]
    result = CliRunner().invoke(cli, args, env=engines.process_env(data_dir, {}))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == report
    csv = client.get("/api/reports.csv?since=2026-11-30&until=2026-12-02", headers=operator)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "total,,deflection_rate,0.4" in csv.text and "csat_avg,3.0" in csv.text.replace("total,,", "")
    everything = client.get("/api/reports", headers=operator).json()
    assert everything["conversations"] == 6 and everything["since"] is None


def test_reports_are_for_operators_only(desk: tuple[TestClient, Services, Path]) -> None:
    client = desk[0]
    reply = client.post("/api/chat", data={"text": "hello"}).json()
    customer = {"X-Session-Token": reply["session_token"]}
    assert client.get("/api/reports", headers=customer).status_code == 401
    assert client.get("/api/reports.csv").status_code == 401
    agent = {"Authorization": f"Bearer {client.headers['X-Test-Agent']}"}
    assert client.get("/api/reports", headers=agent).status_code == 403


def test_bad_report_periods_are_refused(desk: tuple[TestClient, Services, Path]) -> None:
    client, _services, data_dir = desk
    operator = {"Authorization": f"Bearer {client.headers['X-Test-Operator']}"}
    assert client.get("/api/reports?since=2026-12-02&until=2026-12-01", headers=operator).status_code == 422
    assert client.get("/api/reports?since=yesterday", headers=operator).status_code == 422
    args = ["report", "--since", "2026-13-01", "--data-dir", str(data_dir)]
    result = CliRunner().invoke(cli, args, env=engines.process_env(data_dir, {}))
    assert result.exit_code != 0 and "2026-13-01" in result.output
