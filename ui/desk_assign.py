"""The agent desk's assignment tools: my status (available, away), the team's statuses, and reassigning.

Assignment itself is agent.assignment (round-robin to available agents, up to desk.agent_capacity each);
this module is what an agent sees and does about it. Every handler re-checks the agent role.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from agent.conversations import Handoff
from agent.services import Services
from ui.auth import UserStore
from ui.errors import as_gradio_error
from ui.login import require_staff
from ui.safe_html import text_html

SHOW = ("all", "mine", "unassigned", "others")
UNASSIGNED = ("Unassigned (any agent may claim it)", "")


def owner(handoff: Handoff, me: str) -> str:
    """Whose the conversation is, as the agent `me` reads it: "you", "unassigned" or the other agent's name."""
    if not handoff.claimed_by:
        return "unassigned"
    return "you" if handoff.claimed_by == me else handoff.claimed_by


def shown(queue: list[Handoff], me: str, show: str | None) -> list[Handoff]:
    """The queue as one agent filters it: all, mine, unassigned, or others' conversations."""
    if show == "mine":
        return [h for h in queue if h.claimed_by == me]
    if show == "unassigned":
        return [h for h in queue if not h.claimed_by]
    if show == "others":
        return [h for h in queue if h.claimed_by not in ("", me)]
    return queue


def agent_names(users: UserStore) -> list[str]:
    return sorted(u.name for u in users.list() if u.role == "agent")


def team_html(services: Services, users: UserStore, me: str) -> str:
    """Every agent's status and open conversations (of the capacity that assignment fills), safe HTML."""
    capacity = services.team.capacity
    parts = []
    for agent in services.team.statuses(agent_names(users)):
        dot = "●" if agent.status == "available" else "○"
        status = agent.status
        if agent.status == "available" and not agent.present:  # left the desk open as available, then closed it
            dot, status = "◌", "available, desk not open (gets no new chats)"
        name = "you" if agent.name == me else agent.name
        parts.append(f"{dot} <strong>{text_html(name)}</strong> {status} · {agent.open}/{capacity} open")
    return f"<p>Team: {' · '.join(parts)}</p>" if parts else ""


class AssignHandlers:
    def __init__(self, services: Services, users: UserStore) -> None:
        self.services = services
        self.users = users

    def _agent(self, request: gr.Request) -> str:
        return require_staff(request, self.users, "agent").name

    @as_gradio_error
    def load(self, request: gr.Request) -> tuple[Any, Any]:
        """(my status, the assignee picker) when the desk opens."""
        name = self._agent(request)
        choices = [UNASSIGNED, *((n, n) for n in agent_names(self.users))]
        return gr.Radio(value=self.services.team.status(name)), gr.Dropdown(choices=choices, value=None)

    @as_gradio_error
    def set_status(self, status: str, request: gr.Request) -> None:
        name = self._agent(request)
        assigned = self.services.team.set_status(name, status)
        if status == "away":
            gr.Info("You are away: no new conversations are assigned to you. You keep the ones you have.")
        else:
            capacity = self.services.team.capacity
            took = f" {len(assigned)} waiting conversation(s) assigned to you." if assigned else ""
            gr.Info(f"You are available: new conversations are assigned to you, up to {capacity} at a time.{took}")

    @as_gradio_error
    def reassign(self, session_id: str | None, to: str | None, request: gr.Request) -> None:
        self._agent(request)
        if not session_id:
            raise gr.Error("Pick a conversation from the queue first.")
        if to is None:
            raise gr.Error("Choose who gets the conversation (or Unassigned).")
        if to:
            user = self.users.get(to)
            if user is None or user.role != "agent":
                raise gr.Error(f"{to!r} is not an agent: choose one from the list.")
        self.services.conversations.reassign(session_id, to)
        gr.Info(f"Assigned to {to}." if to else "Back in the queue, unassigned: any agent may claim it.")
