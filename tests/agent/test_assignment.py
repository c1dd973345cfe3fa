"""Agents' status and round-robin assignment of the handoff queue, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from agent.assignment import DeskTeam, desk_agents
from agent.conversations import ConversationStore, HandoffStateError
from agent.errors import AgentError
from retrieval.database import Database, open_database


@pytest.fixture
def team(database: Database) -> DeskTeam:
    return DeskTeam(database, capacity=2)


@pytest.fixture
def store(database: Database, team: DeskTeam) -> Iterator[ConversationStore]:
    store = ConversationStore(database, assign=team.assign_waiting)
    yield store
    store.close()


def _handoff(store: ConversationStore, session_id: str, priority: int = 1) -> str:
    """Hand `session_id` over; the agent it was assigned to ("" while it waits)."""
    return store.request_handoff(session_id, reason="asked for a person", priority=priority, summary="").claimed_by


def test_new_handoffs_go_round_robin_to_available_agents(team: DeskTeam, store: ConversationStore) -> None:
    team.set_status("alice", "available")
    team.set_status("bob", "available")
    assert [_handoff(store, f"s{n}") for n in range(4)] == ["alice", "bob", "alice", "bob"]
    assert store.handoff("s0").status == "claimed"
    # Both are full (capacity 2): the next one waits, unassigned, for anyone to claim.
    assert _handoff(store, "s4") == "" and store.handoff("s4").status == "waiting"
    assert [(a.name, a.status, a.open) for a in team.statuses()] == [("alice", "available", 2), ("bob", "available", 2)]


def test_away_agents_get_nothing_and_nobody_available_means_waiting(team: DeskTeam, store: ConversationStore) -> None:
    assert team.status("carol") == "away"  # never set: away, so upgrading assigns nothing by itself
    team.set_status("bob", "away")
    assert _handoff(store, "s0") == ""
    assert team.set_status("alice", "available") == ["s0"]
    assert _handoff(store, "s1") == "alice"
    assert _handoff(store, "s2") == ""  # alice is full, bob away
    with pytest.raises(AgentError, match="Unknown status 'busy'"):
        team.set_status("bob", "busy")


def test_becoming_available_takes_the_waiting_ones_most_urgent_then_oldest(
    team: DeskTeam, store: ConversationStore
) -> None:
    for session_id, priority in (("old", 1), ("urgent", 3), ("new", 1)):
        assert _handoff(store, session_id, priority) == ""
    assert team.set_status("alice", "available") == ["urgent", "old"]  # capacity 2
    assert store.handoff("new").status == "waiting"
    assert team.set_status("bob", "available") == ["new"]
    assert store.handoff("new").claimed_by == "bob"


def test_resolving_frees_a_place_for_the_next_waiting_one(team: DeskTeam, store: ConversationStore) -> None:
    team.set_status("alice", "available")
    for n in range(4):
        _handoff(store, f"s{n}")
    assert [store.handoff(f"s{n}").claimed_by for n in range(4)] == ["alice", "alice", "", ""]
    store.resolve("s0", "alice")
    assert store.handoff("s2").claimed_by == "alice" and store.handoff("s3").status == "waiting"


def test_going_away_keeps_open_conversations_but_stops_new_ones(team: DeskTeam, store: ConversationStore) -> None:
    team.set_status("alice", "available")
    _handoff(store, "s0")
    team.set_status("alice", "away")
    assert store.handoff("s0").claimed_by == "alice"
    assert _handoff(store, "s1") == ""


def test_reassigning_to_another_agent_or_back_to_the_queue(team: DeskTeam, store: ConversationStore) -> None:
    team.set_status("alice", "available")
    for n in range(3):
        _handoff(store, f"s{n}")
    # Handing s0 to bob (away: a person's choice may ignore status and capacity) frees alice's place for s2.
    assert store.reassign("s0", "bob").claimed_by == "bob"
    assert store.handoff("s2").claimed_by == "alice"
    # Back to the queue: unassigned, visible to all, and not handed straight back to alice.
    back = store.reassign("s1", "")
    assert (back.status, back.claimed_by) == ("waiting", "")
    assert store.claim("s1", "carol").claimed_by == "carol"
    # The existing claim rule holds for assigned conversations: someone else's cannot be claimed.
    with pytest.raises(HandoffStateError, match="bob has already claimed"):
        store.claim("s0", "alice")
    store.resolve("s0", "bob")
    with pytest.raises(HandoffStateError, match="already resolved"):
        store.reassign("s0", "alice")


def test_removing_an_agent_gives_their_conversations_to_the_others(team: DeskTeam, store: ConversationStore) -> None:
    team.set_status("alice", "available")
    for n in range(2):
        _handoff(store, f"s{n}")
    team.set_status("bob", "available")
    assert team.remove("alice") == ["s0", "s1"]
    assert [store.handoff(f"s{n}").claimed_by for n in range(2)] == ["bob", "bob"]
    assert [a.name for a in team.statuses()] == ["bob"] and _handoff(store, "s2") == ""  # bob is full (2)


def test_an_unassigned_conversation_is_claimed_by_one_agent_only(team: DeskTeam, store: ConversationStore) -> None:
    _handoff(store, "s0")  # nobody available
    assert store.claim("s0", "alice").claimed_by == "alice"
    with pytest.raises(HandoffStateError):
        store.claim("s0", "bob")


def test_the_handoff_created_event_names_the_assigned_agent(database: Database, team: DeskTeam) -> None:
    events: list[tuple[str, dict]] = []
    store = ConversationStore(database, assign=team.assign_waiting, on_event=lambda _c, e, d: events.append((e, d)))
    team.set_status("alice", "available")
    _handoff(store, "s0")
    created = next(data for event, data in events if event == "handoff.created")
    assert created["agent"] == "alice" and created["status"] == "claimed"


def test_a_store_without_assignment_leaves_everything_waiting(database: Database) -> None:
    DeskTeam(database, capacity=2).set_status("alice", "available")
    plain = ConversationStore(database)  # the CLI and older callers: no assign hook
    assert _handoff(plain, "s0") == ""


def test_two_replicas_assigning_at_once_never_exceed_capacity_or_double_assign(database_url: str) -> None:
    """Two replicas' stores (each its own connection pool) hand over conversations in lock step, while a third
    thread flips an agent's status: nobody gets past the capacity, and each assignment is made exactly once
    (one round-robin turn per assigned conversation)."""
    replicas = []
    for _ in range(2):
        db = open_database(database_url)
        team = DeskTeam(db, capacity=3)
        replicas.append((db, team, ConversationStore(db, assign=team.assign_waiting)))
    try:
        replicas[0][1].set_status("alice", "available")
        replicas[1][1].set_status("bob", "available")
        in_step = threading.Barrier(2)
        errors: list[BaseException] = []

        def hand_over(store: ConversationStore, prefix: str) -> None:
            try:
                for n in range(12):
                    in_step.wait()  # both replicas hand one over at the same moment
                    store.request_handoff(f"{prefix}{n}", reason="upset", priority=1, summary="")
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                errors.append(error)

        def toggle(team: DeskTeam) -> None:
            try:
                for _ in range(6):
                    team.set_status("carol", "available")
                    team.set_status("carol", "away")
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

        threads = [
            threading.Thread(target=hand_over, args=(replicas[0][2], "a")),
            threading.Thread(target=hand_over, args=(replicas[1][2], "b")),
            threading.Thread(target=toggle, args=(replicas[1][1],)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors

        def holders() -> Counter[str]:
            return Counter(h.claimed_by for h in replicas[0][2].queue() if h.status == "claimed")

        held = holders()
        assert held["alice"] == held["bob"] == 3 and held["carol"] <= 3, held
        assert len(replicas[0][2].queue()) == 24
        assert _turns(replicas[0][0]) == sum(held.values())  # no conversation counted for two agents
        # Resolving on one replica refills the place from the queue, never past the capacity.
        for h in [h for h in replicas[0][2].queue() if h.claimed_by == "alice"]:
            replicas[1][2].resolve(h.session_id, "alice")
        again = holders()
        assert again["alice"] == 3 and again["bob"] == 3, again
    finally:
        for db, _team, _store in replicas:
            db.close()


def _turns(database: Database) -> int:
    """The latest round-robin turn: how many automatic assignments were made."""
    with database.read() as conn:
        return conn.execute(sa.select(sa.func.max(desk_agents.c.last_assigned))).scalar() or 0


@pytest.mark.storage
def test_cli_user_remove_hands_the_agents_chats_back(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agent.settings import load_settings
    from ui.cli import app

    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    for name in ("alice", "bob"):
        added = runner.invoke(app, ["user", "add", name, "--role", "agent", "--password-stdin", *data],
                              input="correct horse\n")  # fmt: skip
        assert added.exit_code == 0, added.output
    db = load_settings(data_dir=tmp_path).open_database()  # where the CLI writes (PostgreSQL when the suite runs on it)
    try:
        team = DeskTeam(db, capacity=3)
        store = ConversationStore(db, assign=team.assign_waiting)
        team.set_status("alice", "available")
        _handoff(store, "s0")
        team.set_status("bob", "available")
        removed = runner.invoke(app, ["user", "remove", "alice", *data])
        assert removed.exit_code == 0 and "1 open conversation(s) went back to the queue" in removed.output
        assert store.handoff("s0").claimed_by == "bob" and team.status("alice") == "away"
    finally:
        db.close()


def test_signing_out_makes_an_available_agent_away(team: DeskTeam, store: ConversationStore) -> None:
    team.set_status("alice", "available")
    assert _handoff(store, "s1") == "alice"
    team.sign_out("alice")
    assert team.status("alice") == "away"
    assert _handoff(store, "s2") == ""  # nobody is given chats while signed out
    assert store.handoff("s1").claimed_by == "alice"  # the open one stays hers
    team.sign_out("carol")  # never set a status: nothing to change, no row made
    assert [s.name for s in team.statuses()] == ["alice"]


def test_every_assignment_is_told_as_handoff_assigned(database: Database) -> None:
    """Round-robin (at handoff, on becoming available, refilling a freed place), a claim and a manual handover each
    send `handoff.assigned` with ids and names only; giving a chat back to the queue or claiming one's own does not."""
    events: list[tuple[str, dict]] = []
    sink = lambda _conn, event, data: events.append((event, data))  # noqa: E731
    team = DeskTeam(database, capacity=1, on_event=sink)
    store = ConversationStore(database, assign=team.assign_waiting, on_event=sink)
    store.add_message("s0", "customer", "my card 4111 1111 1111 1111 was stolen")

    def assigned() -> list[tuple[str, str, str]]:
        found = [(d["session_id"], d["agent"], d["via"]) for e, d in events if e == "handoff.assigned"]
        events.clear()
        return found

    team.set_status("alice", "available")
    _handoff(store, "s0")
    assert [e for e, _ in events] == ["handoff.created", "handoff.assigned"]  # the receiver hears "created" first
    data = events[1][1]
    assert set(data) == {"session_id", "agent", "assigned_at", "via"}  # no message, summary or customer data
    assert data["assigned_at"] == store.handoff("s0").updated_at
    assert assigned() == [("s0", "alice", "round_robin")]
    _handoff(store, "s1")  # alice is full: s1 waits, nobody is told it is assigned
    assert assigned() == []
    team.set_status("bob", "available")
    assert assigned() == [("s1", "bob", "round_robin")]
    _handoff(store, "s2")
    store.resolve("s0", "alice")  # alice's place goes to s2
    assert assigned() == [("s2", "alice", "round_robin")]
    store.reassign("s1", "")  # back to the queue: not an assignment
    assert assigned() == []
    store.claim("s1", "carol")
    store.claim("s1", "carol")  # hers already: nothing changes
    assert assigned() == [("s1", "carol", "claim")]
    _handoff(store, "s3")  # bob's place is free since s1 left him
    _handoff(store, "s4")  # waits: alice and bob are full
    assert assigned() == [("s3", "bob", "round_robin")]
    store.reassign("s2", "carol")  # a person hands it over; alice's freed place takes s4
    assert assigned() == [("s2", "carol", "manual"), ("s4", "alice", "round_robin")]
    team.set_status("dave", "available")
    team.remove("alice")  # s4 goes to dave
    assert assigned() == [("s4", "dave", "round_robin")]


def _desk(database: Database, now: list[float], **options: object) -> tuple[DeskTeam, ConversationStore]:
    team = DeskTeam(database, capacity=2, presence_timeout_s=60, clock=lambda: now[0], **options)  # type: ignore[arg-type]
    return team, ConversationStore(database, assign=team.assign_waiting)


def test_an_agent_whose_desk_is_not_seen_gets_no_new_chats(database: Database) -> None:
    now = [1_000_000.0]
    events: list[tuple[str, dict]] = []
    team, store = _desk(database, now, on_event=lambda _c, e, d: events.append((e, d)))
    team.set_status("alice", "available")
    team.set_status("bob", "available")  # then bob closes the tab without choosing "away"
    now[0] += 30
    assert team.seen("alice") == []  # alice's desk refreshes; bob's does not
    now[0] += 40  # bob last seen 70 s ago (timeout 60), alice 40 s ago
    assert [_handoff(store, f"s{n}") for n in range(3)] == ["alice", "alice", ""]  # never bob; alice is full
    assert [(a.name, a.status, a.present) for a in team.statuses()] == [
        ("alice", "available", True), ("bob", "available", False)
    ]  # fmt: skip
    assert team.seen("bob") == ["s2"]  # bob's desk is open again: the waiting one is his at once
    event, data = events[-1]
    assert (event, data["session_id"], data["agent"]) == ("handoff.assigned", "s2", "bob")
    assert [a.present for a in team.statuses()] == [True, True]


def test_seen_writes_rarely_and_only_for_agents_with_a_status(database: Database) -> None:
    now = [1_000_000.0]
    team, _store = _desk(database, now)

    def seen_at() -> float | None:
        with database.read() as conn:
            return conn.execute(sa.select(desk_agents.c.seen_at).where(desk_agents.c.name == "alice")).scalar()

    assert team.seen("carol") == [] and [a.name for a in team.statuses()] == []  # never set a status: no row
    team.set_status("alice", "away")
    assert seen_at() == now[0]
    now[0] += 3
    team.seen("alice")  # the next refresh, 3 s later: nothing written
    assert seen_at() == now[0] - 3
    now[0] += 8
    team.seen("alice")  # 11 s after the last write: recorded
    assert seen_at() == now[0]
    now[0] += 600
    assert team.seen("alice") == [] and team.status("alice") == "away"  # seen never makes anyone available


def test_without_a_presence_timeout_available_means_available(database: Database) -> None:
    now = [1_000_000.0]
    team, _ = _desk(database, now)
    plain = DeskTeam(database, capacity=2, clock=lambda: now[0])  # presence_timeout_s=0: not checked
    store = ConversationStore(database, assign=plain.assign_waiting)
    team.set_status("alice", "available")
    now[0] += 3600
    assert _handoff(store, "s0") == "alice" and plain.statuses()[0].present
    with pytest.raises(ValueError, match="presence_timeout_s"):
        DeskTeam(database, capacity=2, presence_timeout_s=-1)


@pytest.mark.parametrize("seconds", [1, 14.9, 86401, -5])
def test_presence_timeouts_that_cannot_work_are_refused(seconds: float, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from agent.settings import load_settings

    monkeypatch.setenv("FINDESK_DESK__PRESENCE_TIMEOUT_S", str(seconds))
    with pytest.raises(ValidationError, match="presence_timeout_s must be 0"):
        load_settings()
    monkeypatch.setenv("FINDESK_DESK__PRESENCE_TIMEOUT_S", "0")
    assert load_settings().desk.presence_timeout_s == 0
