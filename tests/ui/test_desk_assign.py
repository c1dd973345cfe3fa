"""The desk as a team, through its handlers and the HTTP API: status, round-robin, mine/unassigned/others,
reassigning, and the claim race (409) on conversations nobody was assigned."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr
import httpx
import pytest
import sqlalchemy as sa

from agent.assignment import desk_agents
from agent.types import Turn
from tests.ui.conftest import PASSWORD, LiveApp, as_client
from ui.console_reports import ReportHandlers
from ui.desk_assign import AssignHandlers
from ui.desk_page import DeskHandlers

AGENT = 2  # the queue table's "Assigned to" column


def _clear_the_queue(live_app: LiveApp) -> None:
    for h in live_app.services.conversations.queue():
        live_app.services.conversations.resolve(h.session_id, h.claimed_by or "alice")


@pytest.fixture()
def team(live_app: LiveApp) -> Iterator[AssignHandlers]:
    """alice and bob, both agents, away, with an empty queue: the app is shared by the whole session, and
    conversations other tests left open would take the places (and turns) these tests count. Afterwards both
    are away again and the queue is empty, so no other test's handoff is assigned to anyone."""
    if live_app.users.get("bob") is None:
        live_app.users.add("bob", "agent", PASSWORD)
    for name in ("alice", "bob"):
        live_app.services.team.set_status(name, "away")
    _clear_the_queue(live_app)
    yield AssignHandlers(live_app.services, live_app.users)
    for name in ("alice", "bob"):
        live_app.services.team.set_status(name, "away")
    _clear_the_queue(live_app)


@pytest.fixture()
def desk(live_app: LiveApp) -> DeskHandlers:
    return DeskHandlers(live_app.services, live_app.users, live_app.uploads)


def _handed_over(live_app: LiveApp, text: str) -> str:
    session, _token = live_app.services.conversations.open_session(language="en")
    live_app.services.agent.ask(Turn(session, text))
    live_app.services.agent.request_human(session)
    return session


def _owner(desk: DeskHandlers, agent: str, session: str, show: str = "all") -> str | None:
    """Who has `session` in `agent`'s queue table (None: not shown with this filter)."""
    _header, rows, picker, _team = desk.refresh(None, as_client(agent), None, show)
    values = [value for _label, value in picker.choices]
    return rows[values.index(session)][AGENT] if session in values else None


def test_available_agents_get_new_handoffs_in_turn(team: AssignHandlers, desk: DeskHandlers, live_app: LiveApp) -> None:
    status, assignee = team.load(as_client("alice"))
    assert status.value == "away" and ("bob", "bob") in assignee.choices and ("olga", "olga") not in assignee.choices
    team.set_status("available", as_client("alice"))
    team.set_status("available", as_client("bob"))
    first = _handed_over(live_app, "my card was declined")
    second = _handed_over(live_app, "my transfer is late")
    owners = {live_app.services.conversations.handoff(s).claimed_by for s in (first, second)}
    assert owners == {"alice", "bob"}  # one each, whoever's turn came first
    mine = first if live_app.services.conversations.handoff(first).claimed_by == "alice" else second
    theirs = second if mine == first else first
    # The customer is told a person has it (not a place in the queue), and the bot steps back.
    said = [m.text for m in live_app.services.conversations.messages(mine) if m.role == "system"]
    assert said[-1] == "A member of our team has this conversation and will reply here."

    # alice's view: hers says "you", bob's says "bob"; the filters split them.
    assert _owner(desk, "alice", mine) == "you" and _owner(desk, "alice", theirs) == "bob"
    assert _owner(desk, "alice", mine, "mine") == "you" and _owner(desk, "alice", theirs, "mine") is None
    assert _owner(desk, "alice", theirs, "others") == "bob" and _owner(desk, "alice", mine, "others") is None
    assert _owner(desk, "alice", mine, "unassigned") is None
    team_line = desk.refresh(None, as_client("alice"))[3]
    assert "● <strong>you</strong> available · 1/3 open" in team_line and "<strong>bob</strong> available" in team_line
    assert "● <strong>alice</strong> available" in desk.refresh(None, as_client("bob"))[3]


def test_nobody_available_waits_unassigned_and_is_taken_when_someone_comes_back(
    team: AssignHandlers, desk: DeskHandlers, live_app: LiveApp
) -> None:
    session = _handed_over(live_app, "I lost my card")
    assert live_app.services.conversations.handoff(session).status == "waiting"
    assert _owner(desk, "alice", session, "unassigned") == "unassigned"
    assert _owner(desk, "bob", session, "unassigned") == "unassigned"  # visible to every agent
    team.set_status("available", as_client("bob"))
    assert live_app.services.conversations.handoff(session).claimed_by == "bob"
    assert _owner(desk, "alice", session) == "bob"


def test_an_agent_who_closed_the_desk_gets_no_new_chats_until_it_is_open_again(
    team: AssignHandlers, desk: DeskHandlers, live_app: LiveApp
) -> None:
    """alice chose "available" and closed the tab: her desk's timer stops calling refresh. After the presence
    timeout she gets nothing new, and the team line says so; her desk's next refresh gives her the waiting chat."""
    assert live_app.services.team.presence_timeout_s == 120  # the shipped default
    team.set_status("available", as_client("alice"))
    with live_app.services.database.write() as conn:  # her desk was last seen 10 minutes ago
        alice = desk_agents.c.name == "alice"
        conn.execute(sa.update(desk_agents).where(alice).values(seen_at=desk_agents.c.seen_at - 600))
    session = _handed_over(live_app, "my card was declined")
    assert live_app.services.conversations.handoff(session).status == "waiting"
    line = desk.refresh(None, as_client("bob"))[3]
    assert "◌ <strong>alice</strong> available, desk not open (gets no new chats) · 0/3 open" in line
    assert _owner(desk, "alice", session) == "you"  # alice opens the desk: its first refresh assigns it to her
    assert "● <strong>you</strong> available · 1/3 open" in desk.refresh(None, as_client("alice"))[3]


def test_reassign_to_another_agent_and_back_to_the_queue(
    team: AssignHandlers, desk: DeskHandlers, live_app: LiveApp
) -> None:
    team.set_status("available", as_client("alice"))
    session = _handed_over(live_app, "someone used my card abroad")
    assert _owner(desk, "alice", session) == "you"
    team.reassign(session, "bob", as_client("alice"))
    assert _owner(desk, "bob", session) == "you" and _owner(desk, "alice", session) == "bob"
    assert "by bob" in desk.open(session, as_client("alice"))[1]  # the summary says who has it
    team.reassign(session, "", as_client("bob"))
    assert _owner(desk, "alice", session) == "unassigned"
    # Unassigned: the first to claim wins; the loser gets a 409 from the API, or a toast on the desk.
    desk.claim(session, as_client("bob"))
    lost = live_app.client.post(f"/api/handoffs/{session}/claim", headers=live_app.auth("agent"))
    assert lost.status_code == 409 and "bob has already claimed" in lost.text
    with pytest.raises(gr.Error, match="bob has already claimed"):
        desk.claim(session, as_client("alice"))
    queue = live_app.client.get("/api/handoffs", headers=live_app.auth("agent")).json()
    assert next(h for h in queue if h["session_id"] == session)["claimed_by"] == "bob"


@pytest.mark.parametrize("to", ["olga", "nobody", None])
def test_reassign_refuses_anyone_but_an_agent(team: AssignHandlers, live_app: LiveApp, to: str | None) -> None:
    session = _handed_over(live_app, "my pin does not work")
    with pytest.raises(gr.Error, match="is not an agent|Choose who"):
        team.reassign(session, to, as_client("alice"))
    assert live_app.services.conversations.handoff(session).claimed_by == ""


def test_a_bad_status_is_refused(team: AssignHandlers) -> None:
    with pytest.raises(gr.Error, match="Unknown status 'busy'"):
        team.set_status("busy", as_client("alice"))


@pytest.mark.parametrize("who", [None, "olga"])  # anonymous, and an operator (the desk is for agents)
def test_assignment_tools_refuse_anyone_but_an_agent(team: AssignHandlers, who: str | None) -> None:
    for call in (
        lambda: team.load(as_client(who)),
        lambda: team.set_status("available", as_client(who)),
        lambda: team.reassign("abc", "alice", as_client(who)),
    ):
        with pytest.raises(gr.Error, match="Sign in as an agent"):
            call()


def test_status_and_reassignment_through_the_http_api(team: AssignHandlers, live_app: LiveApp) -> None:
    session = _handed_over(live_app, "my card is stuck in the machine")
    became = live_app.client.put("/api/agents/me/status", headers=live_app.auth("agent"), json={"status": "available"})
    assert became.status_code == 200, became.text
    assert became.json() == {"name": "alice", "status": "available", "open": 1, "capacity": 3, "assigned": [session]}
    url = f"/api/handoffs/{session}/assign"
    moved = live_app.client.post(url, headers=live_app.auth("agent"), json={"agent": "bob"})
    assert moved.status_code == 200 and moved.json()["claimed_by"] == "bob"
    back = live_app.client.post(url, headers=live_app.auth("agent"), json={"agent": ""})
    assert back.json()["status"] == "waiting" and back.json()["claimed_by"] == ""
    for body, code in (({"agent": "olga"}, 422), ({"agent": "x" * 65}, 422), ({"who": "bob"}, 422)):
        assert live_app.client.post(url, headers=live_app.auth("agent"), json=body).status_code == code
    bad = live_app.client.put("/api/agents/me/status", headers=live_app.auth("agent"), json={"status": "busy"})
    assert bad.status_code == 422
    # Only agents: an operator's token gets 403, no token 401.
    assert live_app.client.post(url, headers=live_app.auth("operator"), json={"agent": ""}).status_code == 403
    assert live_app.client.put("/api/agents/me/status", json={"status": "away"}).status_code == 401
    assert live_app.client.post(url, json={"agent": ""}).status_code == 401
    # A customer's own conversation token opens nothing on the desk: not even their own conversation's owner.
    customer = {"X-Session-Token": live_app.services.conversations.open_session(language="en")[1]}
    assert live_app.client.post(url, headers=customer, json={"agent": ""}).status_code == 401
    assert live_app.client.put("/api/agents/me/status", headers=customer, json={"status": "away"}).status_code == 401


def test_operators_see_the_team_in_the_console(team: AssignHandlers, live_app: LiveApp) -> None:
    team.set_status("available", as_client("bob"))
    reports = ReportHandlers(live_app.services, live_app.users)
    line = reports.team(as_client("olga"))
    assert "● <strong>bob</strong> available · 0/3 open" in line and "○ <strong>alice</strong> away" in line
    with pytest.raises(gr.Error, match="Sign in as an operator"):
        reports.team(as_client("alice"))


def test_signing_out_of_the_desk_makes_the_agent_away(team: AssignHandlers, live_app: LiveApp) -> None:
    live_app.services.team.set_status("alice", "available")
    with httpx.Client(base_url=live_app.url) as browser:
        signed_in = browser.post("/login", data={"username": "alice", "password": PASSWORD, "next": "/desk/"})
        assert signed_in.status_code == 303
        assert browser.post("/logout", headers={"Origin": live_app.url}).status_code == 303
    assert live_app.services.team.status("alice") == "away"
    session = _handed_over(live_app, "my card is stuck in the machine")
    assert live_app.services.conversations.handoff(session).claimed_by == ""  # not given to a signed-out agent
