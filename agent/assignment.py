"""The desk as a team: agents' status (available, away) and round-robin assignment of the handoff queue.

An agent who is available gets new conversations in turn, up to `capacity` open (claimed) at once; the one
whose latest assignment is oldest is next (someone never assigned goes first). When nobody is available or
everyone is full, a conversation waits unassigned, visible to every agent, who may claim it. It is
assigned later, most urgent then longest waiting first, as soon as an agent becomes available or frees a place
(resolves a chat, or hands one to someone else).

Correct with several replicas on one database: every assignment runs inside the transaction that changed
the queue, under the handoff lock (agent.conversations.HANDOFF_LOCK: PostgreSQL's advisory transaction lock,
SQLite's single writer), so the counts it reads cannot change before it writes. Nothing about turns or loads
is kept in process memory.

Every assignment is told to the event sink (webhooks) as `handoff.assigned`, in the same transaction.

Presence: "available" is what the agent last chose, but an agent may close the desk without choosing "away".
Each open desk reports itself (`seen`, on its refresh timer), and round-robin skips available agents not seen
for `presence_timeout_s`; their open conversations stay theirs. When their desk is seen again they are given
waiting conversations at once. Times are each replica's clock (Unix seconds); a few seconds of skew between
replicas is far below the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.conversations import HANDOFF_LOCK, Assignment, EventSink, announce_assignments, conv_handoffs
from agent.errors import AgentError
from retrieval.database import Database

STATUSES = ("available", "away")
SEEN_EVERY_S = 10.0  # a desk refreshes every 3 s; recording it at most this often keeps writes (and locks) rare

_metadata = sa.MetaData()
desk_agents = sa.Table(  # retrieval/migrations/versions/0006_desk_assign.py
    "desk_agents",
    _metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("status", sa.Text),
    sa.Column("updated_at", sa.Text),
    sa.Column("last_assigned", sa.BigInteger),  # the round-robin turn: number of the latest assignment
    sa.Column("seen_at", sa.Double),  # Unix seconds: the agent's desk last refreshed (0008_desk_presence.py)
)


@dataclass(frozen=True)
class AgentStatus:
    name: str
    status: str  # available | away
    open: int  # conversations the agent has now (claimed or assigned, not yet resolved)
    since: str  # when the status was last set (ISO 8601 UTC); "" for an agent who never set one
    present: bool  # their desk was seen within presence_timeout_s (always, when presence is not checked)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class DeskTeam:
    """Agents' status and the assignment of waiting conversations. Safe to share between threads."""

    def __init__(
        self,
        database: Database,
        *,
        capacity: int,
        presence_timeout_s: float = 0.0,
        on_event: EventSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if presence_timeout_s < 0:
            raise ValueError("presence_timeout_s must be 0 (not checked) or more")
        self.db = database
        self.capacity = capacity
        self.presence_timeout_s = presence_timeout_s  # 0: an available agent stays in the round-robin until away
        self._clock = clock
        # Told "handoff.assigned" for the assignments this class makes outside a ConversationStore change (an
        # agent becoming available, an agent removed); the store tells its own.
        self._on_event = on_event or (lambda _conn, _event, _data: None)

    def set_status(self, agent: str, status: str) -> list[str]:
        """Set the agent's status; becoming available assigns them waiting conversations at once (their ids)."""
        if status not in STATUSES:
            raise AgentError(f"Unknown status {status!r}: choose {' or '.join(STATUSES)}.")
        row = {"name": agent, "status": status, "updated_at": _now(), "seen_at": self._clock()}  # here, choosing
        with self.db.write(HANDOFF_LOCK) as conn:
            upsert = self.db.insert(desk_agents).values(row)
            changed = {"status": status, "updated_at": row["updated_at"], "seen_at": row["seen_at"]}
            conn.execute(upsert.on_conflict_do_update(index_elements=["name"], set_=changed))
            assigned = self.assign_waiting(conn) if status == "available" else []
            announce_assignments(self._on_event, conn, assigned)
        return [a.session_id for a in assigned if a.agent == agent]

    def remove(self, agent: str) -> list[str]:
        """Forget an agent who left the team: their open conversations go back to the queue (their ids), where
        they are assigned to the others in turn."""
        held = sa.and_(conv_handoffs.c.status == "claimed", conv_handoffs.c.claimed_by == agent)
        with self.db.write(HANDOFF_LOCK) as conn:
            conn.execute(sa.delete(desk_agents).where(desk_agents.c.name == agent))
            query = sa.select(conv_handoffs.c.session_id).where(held).order_by(conv_handoffs.c.created_at)
            released = list(conn.execute(query).scalars())
            values = {"status": "waiting", "claimed_by": "", "updated_at": _now()}
            conn.execute(sa.update(conv_handoffs).where(held).values(values))
            announce_assignments(self._on_event, conn, self.assign_waiting(conn))
        return released

    def seen(self, agent: str) -> list[str]:
        """The agent's desk is open now (called on each refresh). An available agent whose desk had not been seen
        for presence_timeout_s is back in the round-robin and is given waiting conversations at once (their ids).
        """
        if not self.presence_timeout_s:
            return []
        now = self._clock()
        mine = desk_agents.c.name == agent
        with self.db.read() as conn:  # most refreshes end here, without a write
            before = conn.execute(sa.select(desk_agents.c.seen_at).where(mine)).first()
        if before is None or (before.seen_at is not None and now - before.seen_at < SEEN_EVERY_S):
            return []
        with self.db.write(HANDOFF_LOCK) as conn:
            row = conn.execute(sa.select(desk_agents.c.status, desk_agents.c.seen_at).where(mine)).first()
            if row is None:  # removed meanwhile
                return []
            conn.execute(sa.update(desk_agents).where(mine).values(seen_at=now))
            if row.status != "available" or self._present(row.seen_at, now):
                return []
            assigned = self.assign_waiting(conn)
            announce_assignments(self._on_event, conn, assigned)
        return [a.session_id for a in assigned if a.agent == agent]

    def _present(self, seen_at: float | None, now: float) -> bool:
        if not self.presence_timeout_s:
            return True
        return seen_at is not None and now - seen_at <= self.presence_timeout_s

    def sign_out(self, agent: str) -> None:
        """An agent who signs out is away: nobody is assigned new chats while they are gone. Their open ones
        stay theirs (as when they choose "away"); an agent who never set a status gets no row."""
        with self.db.write(HANDOFF_LOCK) as conn:
            signed_out = sa.and_(desk_agents.c.name == agent, desk_agents.c.status == "available")
            conn.execute(sa.update(desk_agents).where(signed_out).values(status="away", updated_at=_now()))

    def status(self, agent: str) -> str:
        """The agent's status; "away" for one who never set it."""
        with self.db.read() as conn:
            found = conn.execute(sa.select(desk_agents.c.status).where(desk_agents.c.name == agent)).scalar()
        return found or "away"

    def statuses(self, agents: list[str] | None = None) -> list[AgentStatus]:
        """Every agent with a status or an open conversation (plus `agents`, away if unknown), by name."""
        now = self._clock()
        with self.db.read() as conn:
            rows = {r.name: r for r in conn.execute(sa.select(desk_agents))}
            loads = _loads(conn)
        names = sorted({*rows, *(name for name in loads if name), *(agents or [])})
        return [
            AgentStatus(name, r.status, loads.get(name, 0), r.updated_at, self._present(r.seen_at, now))
            if (r := rows.get(name)) is not None
            else AgentStatus(name, "away", loads.get(name, 0), "", False)
            for name in names
        ]

    def assign_waiting(self, conn: Connection) -> list[Assignment]:
        """Hand waiting conversations to available agents with a free place, in turn; what it assigned.

        Runs inside the caller's transaction, which must hold HANDOFF_LOCK (see the module docstring). The
        caller announces the assignments (`announce_assignments`), after its own event.
        """
        available = sa.select(desk_agents).where(desk_agents.c.status == "available")
        if self.presence_timeout_s:  # not someone who left the desk open as "available" (NULL: not seen yet)
            available = available.where(desk_agents.c.seen_at >= self._clock() - self.presence_timeout_s)
        turns = {r.name: r.last_assigned for r in conn.execute(available)}
        if not turns:
            return []
        loads = _loads(conn)
        waiting = conn.execute(
            sa.select(conv_handoffs.c.session_id)
            .where(conv_handoffs.c.status == "waiting")
            .order_by(conv_handoffs.c.priority.desc(), conv_handoffs.c.created_at.asc())
        ).scalars()
        turn = conn.execute(sa.select(sa.func.max(desk_agents.c.last_assigned))).scalar() or 0
        assigned = []
        for session_id in waiting.all():
            free = [name for name in turns if loads.get(name, 0) < self.capacity]
            if not free:
                break
            # Longest since their last assignment first; never assigned before anyone; ties by name.
            agent = min(free, key=lambda name: (turns[name] is not None, turns[name] or 0, name))
            turn += 1
            turns[agent], loads[agent] = turn, loads.get(agent, 0) + 1
            where = sa.and_(conv_handoffs.c.session_id == session_id, conv_handoffs.c.status == "waiting")
            values = {"status": "claimed", "claimed_by": agent, "updated_at": _now()}
            conn.execute(sa.update(conv_handoffs).where(where).values(values))
            conn.execute(sa.update(desk_agents).where(desk_agents.c.name == agent).values(last_assigned=turn))
            assigned.append(Assignment(session_id, agent, values["updated_at"], "round_robin"))
        return assigned


def _loads(conn: Connection) -> dict[str, int]:
    """How many open conversations each agent has now."""
    query = (
        sa.select(conv_handoffs.c.claimed_by, sa.func.count())
        .where(conv_handoffs.c.status == "claimed")
        .group_by(conv_handoffs.c.claimed_by)
    )
    return {name: count for name, count in conn.execute(query).tuples()}
