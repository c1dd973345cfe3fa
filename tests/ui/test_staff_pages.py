"""The agent desk's and operator console's handlers: role checks on every call, and what each one shows."""

from __future__ import annotations

import uuid
from pathlib import Path

import gradio as gr
import pytest

from agent.types import Turn
from tests.ui.conftest import LiveApp, as_client, stored_upload
from ui.console_page import ConsoleHandlers
from ui.desk_page import DeskHandlers, sparkline


def _as(name: str | None) -> gr.Request:
    return as_client(name)


def _select(row: int, row_value: list | None = None) -> gr.SelectData:
    return gr.SelectData(None, {"index": [row, 0], "value": None, "row_value": row_value, "selected": True})


@pytest.fixture()
def desk(live_app: LiveApp) -> DeskHandlers:
    return DeskHandlers(live_app.services, live_app.users, live_app.uploads)


@pytest.fixture()
def console(live_app: LiveApp) -> ConsoleHandlers:
    return ConsoleHandlers(live_app.services, live_app.users, live_app.uploads)


@pytest.mark.parametrize("who", [None, "olga", "nobody"])
def test_desk_handlers_refuse_anyone_but_an_agent(desk: DeskHandlers, who: str | None) -> None:
    for call in (lambda: desk.refresh(None, _as(who)), lambda: desk.send("abc", "hi", _as(who)),
                 lambda: desk.claim("abc", _as(who)), lambda: desk.open("abc", _as(who))):  # fmt: skip
        with pytest.raises(gr.Error, match="Sign in as an agent"):
            call()


@pytest.mark.parametrize("who", [None, "alice"])
def test_console_handlers_refuse_anyone_but_an_operator(console: ConsoleHandlers, who: str | None) -> None:
    for call in (lambda: console.table("", None, None, _as(who)), lambda: console.delete("cards-declined", _as(who)),
                 lambda: console.try_query("card", _as(who)), lambda: console.gaps(0.6, _as(who))):  # fmt: skip
        with pytest.raises(gr.Error, match="Sign in as an operator"):
            call()


def test_sparkline_spans_negative_to_positive() -> None:
    assert sparkline(()) == "–"
    assert sparkline((-1.0, 0.0, 1.0)) == "▁▅█ +1.00"


def test_agent_opens_a_handoff_sees_sentiment_suggestions_and_replies(desk: DeskHandlers, live_app: LiveApp) -> None:
    session = uuid.uuid4().hex
    live_app.services.agent.ask(Turn(session_id=session, text="Why was my card declined at the supermarket?"))
    live_app.services.agent.request_human(session)

    header, rows, picker, _team = desk.refresh(None, _as("alice"))
    assert "alice" in header
    assert any("supermarket" in row[-1] for row in rows)
    assert session in {value for _label, value in picker.choices}

    current, summary, transcript, shots, dataset, suggestions = desk.open(session, _as("alice"))
    assert current == session and "waiting" in summary
    assert "supermarket" in transcript[0]["content"] and "answer" in transcript[0]["content"]  # route per turn
    assert any(mood in transcript[0]["content"] for mood in ("negative", "neutral", "positive"))
    assert "No screenshots" in shots
    assert suggestions[0][0] == "Why was my card declined?"

    draft = desk.insert(0, suggestions, "Hello!", _as("alice"))
    assert draft.startswith("Hello!\n\n") and suggestions[0][1] in draft

    desk.claim(session, _as("alice"))
    assert desk.send(session, draft, _as("alice")) == ""
    assert live_app.services.conversations.messages(session)[-1].author == "alice"
    with pytest.raises(gr.Error, match="empty"):
        desk.send(session, "   ", _as("alice"))
    desk.resolve(session, _as("alice"))
    with pytest.raises(gr.Error, match="already resolved"):
        desk.resolve(session, _as("alice"))


def test_operator_edits_an_entry_with_version_checks(console: ConsoleHandlers) -> None:
    entry_id, version = console.add("Do you offer safe deposit boxes?", "Yes, at our city branches.", "vault box",
                                    "accounts", "en", "branch", _as("olga"))  # fmt: skip
    assert version == 1
    _header, rows, categories = console.table("deposit boxes", None, None, _as("olga"))
    assert [row[0] for row in rows] == [entry_id]
    assert "accounts" in categories.choices[1] or ("accounts", "accounts") in categories.choices

    form = console.pick(_select(0, rows[0]), _as("olga"))
    assert form[:3] == (entry_id, "Do you offer safe deposit boxes?", "Yes, at our city branches.")
    assert console.save(entry_id, form[1], "Yes, in London.", "vault box", "accounts", "en", "", 1, _as("olga")) == 2
    with pytest.raises(gr.Error, match=r"(?i)changed|version"):
        console.save(entry_id, form[1], "stale edit", "", "accounts", "en", "", 1, _as("olga"))
    assert console.delete(entry_id, _as("olga"))[0] == ""
    assert console.table("deposit boxes", None, None, _as("olga"))[1] == []


def test_try_a_query_shows_every_score_and_the_route(console: ConsoleHandlers) -> None:
    verdict, rows = console.try_query("how do I activate my card", _as("olga"))
    assert "Route: answer" in verdict and "P(top entry answers it)" in verdict
    assert rows[0][1] == "cards-activation"
    assert all(cell != "–" for cell in rows[0][4:7])  # dense, lexical and fused scores all present
    urgent, _ = console.try_query("I lost my debit card", _as("olga"))
    assert "Route: handoff" in urgent


def test_import_reports_bad_rows_and_imports_good_files(console: ConsoleHandlers) -> None:
    bad = Path(stored_upload(console.uploads, "bad.csv", b"question,answer\nok?,fine\n,missing question\n"))
    summary, problems = console.import_file(str(bad), _as("olga"), progress=lambda *a, **k: None)
    assert "Nothing was imported" in summary and problems[0][0] == 3
    assert not bad.exists()  # uploads never outlive the request
    good = Path(stored_upload(console.uploads, "good.md", b"# Do you have a branch in Leeds?\nYes, on Park Row.\n"))
    summary, problems = console.import_file(str(good), _as("olga"), progress=lambda *a, **k: None)
    assert "1 added" in summary and problems == []
    assert "| FAQ entries |" in console.status(_as("olga"))


def test_unanswered_report_groups_questions_and_drafts_an_entry(console: ConsoleHandlers, live_app: LiveApp) -> None:
    for text in ("Do you offer crypto trading?", "can I trade cryptocurrency with you", "Is crypto trading available?"):
        live_app.services.agent.ask(Turn(session_id=uuid.uuid4().hex, text=text))
    rows, groups = console.gaps(0.6, _as("olga"))
    crypto = next(i for i, row in enumerate(rows) if "crypto" in row[2].lower())
    assert rows[crypto][0] >= 3 and rows[crypto][1] >= 3
    draft = console.draft_from_gap(_select(crypto), groups, _as("olga"))
    assert "crypto" in draft[1].lower() and draft[3].count("\n") >= 1  # question + other phrasings
    assert draft[0] == "" and draft[-1].selected == "faq"


@pytest.mark.slow
def test_desk_shows_the_customers_screenshot_inline_never_as_a_file(desk: DeskHandlers, live_app: LiveApp) -> None:
    from io import BytesIO

    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (640, 160), "white")
    font = ImageFont.load_default(size=36)
    ImageDraw.Draw(image).text((20, 50), "Error E1001 Session expired", font=font, fill="black")
    png = BytesIO()
    image.save(png, format="PNG")
    session = uuid.uuid4().hex
    live_app.services.agent.ask(Turn(session_id=session, text="help", image=png.getvalue()))
    live_app.services.agent.request_human(session)
    _current, _summary, transcript, shots, _dataset, _suggestions = desk.open(session, _as("alice"))
    assert shots.count('src="data:image/png;base64,') == 1 and "/file=" not in shots
    assert "📎 screenshot" in transcript[0]["content"]
