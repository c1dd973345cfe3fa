"""The desk's team tools and the console's canned responses, through their handlers and the HTTP API.

Security: a customer cannot read private notes, canned responses or reports through any endpoint (their
Gradio page has none of these functions, staff pages refuse them, the HTTP routes need a staff token).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from agent.types import Turn
from tests.ui.conftest import LiveApp, as_client, stored_upload
from ui.chat_page import ChatHandlers, ChatState
from ui.console_canned import CannedHandlers
from ui.desk_page import DeskHandlers
from ui.desk_team import TeamHandlers
from ui.uploads import discard


@pytest.fixture()
def team(live_app: LiveApp) -> TeamHandlers:
    return TeamHandlers(live_app.services, live_app.users)


@pytest.fixture()
def canned(live_app: LiveApp) -> CannedHandlers:
    """The console's handlers, on an empty canned table (the session's live app is shared with other modules,
    e.g. test_api_canned, whose responses would otherwise be counted here)."""
    for response in live_app.services.canned.list():
        live_app.services.canned.delete(response.shortcut, response.language)
    return CannedHandlers(live_app.services, live_app.users, live_app.uploads)


def _handed_over(live_app: LiveApp, text: str) -> tuple[str, str]:
    """A conversation opened as the web page does it, handed to a person: (session id, token)."""
    session, token = live_app.services.conversations.open_session(language="en")
    live_app.services.agent.ask(Turn(session, text))
    live_app.services.agent.request_human(session)
    return session, token


def test_a_private_note_never_reaches_the_customer(team: TeamHandlers, live_app: LiveApp) -> None:
    session, token = _handed_over(live_app, "My transfer to my landlord hasn't arrived")
    notes, box = team.add_note(session, "Customer sounded stressed; checked SWIFT ref 7781.", as_client("alice"))
    assert "SWIFT ref 7781" in notes and "alice" in notes and box == ""
    assert "SWIFT ref 7781" in team.side(session, as_client("alice"))[0]

    said = live_app.client.get(f"/api/chat/{session}/messages", headers={"X-Session-Token": token}).json()
    assert said and not any("7781" in m["text"] for m in said)
    assert not any("7781" in m.text for m in live_app.services.conversations.messages(session))  # prompts read these
    chat = ChatHandlers(live_app.services, live_app.uploads)  # what the customer's page polls for
    history, _state, _timer, _comment = chat.poll([], ChatState(session_id=session, token=token, handed_over=True))
    assert history and not any("7781" in m["content"] for m in history)


def test_canned_response_from_the_console_to_the_desk(
    canned: CannedHandlers, team: TeamHandlers, live_app: LiveApp
) -> None:
    olga = as_client("olga")
    canned.add("card-frozen", "en", "Card frozen", "Hi {customer_name}, {agent_name} here: your card is frozen.", olga)
    assert canned.table(olga)[0][:3] == ["card-frozen", "en", "Card frozen"]
    with pytest.raises(gr.Error, match="already exists"):
        canned.add("card-frozen", "en", "", "again", olga)
    with pytest.raises(gr.Error, match="placeholder"):
        canned.save("bad", "en", "", "Dear {name}", olga)

    session, _token = _handed_over(live_app, "I want to check my card")
    _notes, _labels, picker = team.side(session, as_client("alice"))
    assert ("/card-frozen · Card frozen", "card-frozen|en") in picker.choices
    reply, _ = team.use_canned("card-frozen|en", "", as_client("alice"))
    assert reply == "Hi there, alice here: your card is frozen."
    assert team.expand_shortcuts(session, "Thanks! /card-frozen", as_client("alice")) == (
        "Thanks! Hi there, alice here: your card is frozen."
    )
    assert team.expand_shortcuts(session, "see /nothing-like-this", as_client("alice")) == gr.skip()

    exported = live_app.client.get("/api/canned/export", headers=live_app.auth("operator"))
    assert exported.status_code == 200 and '"shortcut": "card-frozen"' in exported.text
    assert "Imported 1" in canned.import_jsonl(exported.text, olga)
    canned.delete("card-frozen", "en", olga)
    assert canned.table(olga) == []


def test_labels_filter_the_queue(team: TeamHandlers, live_app: LiveApp) -> None:
    desk = DeskHandlers(live_app.services, live_app.users, live_app.uploads)
    fraud, _ = _handed_over(live_app, "someone used my card in another country")
    _handed_over(live_app, "how do I change my address")
    assert team.save_labels(fraud, "Fraud, follow-up", as_client("alice")) == "follow-up, fraud"
    _header, rows, picker, _team = desk.refresh(None, as_client("alice"), "fraud")
    assert [value for _, value in picker.choices] == [fraud] and len(rows) == 1
    assert len(desk.refresh(None, as_client("alice"))[1]) >= 2
    with pytest.raises(gr.Error, match="lower-case"):
        team.save_labels(fraud, "not ok!", as_client("alice"))


@pytest.mark.parametrize("who", [None, "olga"])  # anonymous, and an operator (the desk is for agents)
def test_team_tools_refuse_anyone_but_an_agent(team: TeamHandlers, live_app: LiveApp, who: str | None) -> None:
    session, _ = _handed_over(live_app, "hello, my card")
    for call in (
        lambda: team.side(session, as_client(who)),
        lambda: team.add_note(session, "x", as_client(who)),
        lambda: team.save_labels(session, "x", as_client(who)),
        lambda: team.use_canned("a|en", "", as_client(who)),
    ):
        with pytest.raises(gr.Error):
            call()


@pytest.mark.parametrize("who", [None, "alice"])
def test_canned_admin_refuses_anyone_but_an_operator(canned: CannedHandlers, who: str | None) -> None:
    with pytest.raises(gr.Error):
        canned.table(as_client(who))
    with pytest.raises(gr.Error):
        canned.add("x", "en", "", "y", as_client(who))


def test_customers_cannot_read_canned_responses_or_reports_over_http(live_app: LiveApp) -> None:
    client = live_app.client
    reply = client.post("/api/chat", data={"text": "hello"}).json()
    customer = {"X-Session-Token": reply["session_token"]}
    for path in ("/api/canned/export", "/api/reports", "/api/reports.csv", "/api/handoffs"):
        assert client.get(path, headers=customer).status_code == 401, path
    assert client.get("/api/canned/export", headers=live_app.auth("agent")).status_code == 403


def test_canned_responses_import_from_an_uploaded_file(canned: CannedHandlers, live_app: LiveApp) -> None:
    olga = as_client("olga")
    jsonl = '{"shortcut": "fee-refund", "language": "en", "title": "Fee refund", "text": "We refunded the fee."}\n'
    path = stored_upload(live_app.uploads, "canned.jsonl", jsonl.encode())
    assert canned.import_canned_file(path, olga) == "Imported 1 canned responses from canned.jsonl."
    assert not Path(path).exists()  # read once, then deleted

    csv = "\ufeffshortcut,language,title,text\r\nfee-refund,zh,退费,我们已退还该费用。\r\n"  # with a spreadsheet's BOM
    path = stored_upload(live_app.uploads, "canned.csv", csv.encode())
    assert "Imported 1" in canned.import_canned_file(path, olga)
    assert [(c.shortcut, c.language) for c in live_app.services.canned.list()] == [
        ("fee-refund", "en"),
        ("fee-refund", "zh"),
    ]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("canned.csv", b"shortcut,language,text\nfee refund,en,x\n", "canned.csv: Line 2: The shortcut"),
        ("canned.csv", "shortcut,language,text\nok,en,café\n".encode("latin-1"), "not UTF-8 text"),
        ("canned.jsonl", b"", "no canned responses"),
        ("canned.md", b"# a FAQ file\nnot canned\n", "not a kind of file accepted here"),
        ("canned.jsonl", b"x" * 2_000_001, "too large"),
    ],
)
def test_bad_canned_files_get_a_clear_message(
    canned: CannedHandlers, live_app: LiveApp, name: str, data: bytes, message: str
) -> None:
    before = live_app.services.canned.list()  # the app is shared by the module's tests
    path = stored_upload(live_app.uploads, name, data)
    with pytest.raises(gr.Error, match=message):
        canned.import_canned_file(path, as_client("olga"))
    assert live_app.services.canned.list() == before and not Path(path).exists()


@pytest.mark.parametrize("who", [None, "alice"])
def test_only_an_operator_imports_a_canned_file(canned: CannedHandlers, live_app: LiveApp, who: str | None) -> None:
    path = stored_upload(live_app.uploads, "canned.jsonl", b'{"shortcut": "intruder", "language": "en", "text": "y"}\n')
    with pytest.raises(gr.Error):
        canned.import_canned_file(path, as_client(who))
    with pytest.raises(gr.Error, match="Choose a JSONL or CSV file"):
        canned.import_canned_file(None, as_client("olga"))
    assert live_app.services.canned.get("intruder", "en") is None
    discard(Path(path))  # never read: refused before the upload was looked at
