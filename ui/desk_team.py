"""The agent desk's team tools: private notes, labels, and canned responses (picker or /shortcut).

Notes and labels are staff-only (agent.desk_notes keeps them apart from the conversation's messages);
canned responses are the operators' shared replies (agent.canned), filled in with the agent's name.
Every handler re-checks the agent role, like the rest of the desk.
"""

from __future__ import annotations

import re
from typing import Any

import gradio as gr

from agent.canned import Canned, fill
from agent.services import Services
from ui.auth import UserStore
from ui.errors import as_gradio_error
from ui.login import require_staff
from ui.safe_html import text_html

_SHORTCUT = re.compile(r"(?<!\S)/([a-z0-9][a-z0-9_-]{0,39})(?!\S)")
# Chats are anonymous: a customer's name is not known, so {customer_name} becomes a polite stand-in.
CUSTOMER = {"en": "there", "zh": "您"}
NO_NOTES = "<p><em>No private notes yet. Notes are for our team only: the customer never sees them.</em></p>"


class TeamHandlers:
    def __init__(self, services: Services, users: UserStore) -> None:
        self.services = services
        self.users = users

    def _agent(self, request: gr.Request) -> str:
        return require_staff(request, self.users, "agent").name

    def _language(self, session_id: str | None) -> str:
        handoff = self.services.conversations.handoff(session_id) if session_id else None
        return handoff.language if handoff is not None and handoff.language in ("en", "zh") else "en"

    @as_gradio_error
    def side(self, session_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        """(notes, labels, canned picker) for the open conversation."""
        self._agent(request)
        if not session_id:
            return NO_NOTES, "", gr.Dropdown(choices=[], value=None)
        labels = self.services.desk_notes.labels([session_id]).get(session_id, [])
        language = self._language(session_id)
        canned = self.services.canned.list(language) or self.services.canned.list()
        choices = [(f"/{c.shortcut} · {c.title}", f"{c.shortcut}|{c.language}") for c in canned]
        return self._notes(session_id), ", ".join(labels), gr.Dropdown(choices=choices, value=None)

    def _notes(self, session_id: str) -> str:
        notes = self.services.desk_notes.notes(session_id)
        items = [
            f"<li><strong>{text_html(n.author)}</strong> · {text_html(n.at[:16].replace('T', ' '))}: "
            f"{text_html(n.text)}</li>"
            for n in notes
        ]
        return f"<ul>{''.join(items)}</ul>" if items else NO_NOTES

    @as_gradio_error
    def add_note(self, session_id: str | None, text: str, request: gr.Request) -> tuple[str, str]:
        """(notes, cleared note box)."""
        name = self._agent(request)
        if not session_id:
            raise gr.Error("Pick a conversation from the queue first.")
        self.services.desk_notes.add_note(session_id, name, text)
        return self._notes(session_id), ""

    @as_gradio_error
    def save_labels(self, session_id: str | None, labels: str, request: gr.Request) -> str:
        self._agent(request)
        if not session_id:
            raise gr.Error("Pick a conversation from the queue first.")
        saved = self.services.desk_notes.set_labels(session_id, labels.split(","))
        gr.Info("Labels saved." if saved else "Labels cleared.")
        return ", ".join(saved)

    @as_gradio_error
    def use_canned(self, choice: str | None, reply: str, request: gr.Request) -> tuple[str, Any]:
        """The picked canned response, filled in, appended to the (still editable) reply; the picker resets."""
        name = self._agent(request)
        if not choice or "|" not in choice:
            return reply, gr.skip()
        shortcut, language = choice.split("|", 1)
        canned = self.services.canned.get(shortcut, language)
        if canned is None:
            raise gr.Error(f"/{shortcut} was deleted; pick another.")
        text = self._filled(canned, name)
        return (f"{reply.rstrip()}\n\n{text}" if reply.strip() else text), gr.Dropdown(value=None)

    @as_gradio_error
    def expand_shortcuts(self, session_id: str | None, reply: str, request: gr.Request) -> Any:
        """Typing `/card-frozen` in the reply and leaving the box puts that canned response in its place."""
        name = self._agent(request)
        if "/" not in reply:
            return gr.skip()
        language = self._language(session_id)

        def expand(match: re.Match[str]) -> str:
            canned = self.services.canned.get(match.group(1), language)
            return self._filled(canned, name) if canned else match.group(0)

        expanded = _SHORTCUT.sub(expand, reply)
        return expanded if expanded != reply else gr.skip()

    @staticmethod
    def _filled(canned: Canned, agent: str) -> str:
        return fill(canned, customer_name=CUSTOMER[canned.language], agent_name=agent)


def team_panel(services: Services, users: UserStore, current: gr.State, reply: gr.Textbox) -> tuple[Any, Any]:
    """Build the canned picker and the notes/labels accordion; returns (handlers, [outputs of `side`])."""
    h = TeamHandlers(services, users)
    hidden: dict[str, Any] = {"api_visibility": "private"}
    canned = gr.Dropdown(label="Canned response (or type /shortcut in the reply)", choices=[], elem_id="desk-canned")
    with gr.Accordion("Private notes and labels (staff only)", open=True):
        notes = gr.Markdown(NO_NOTES, elem_id="desk-notes")
        with gr.Row():
            note = gr.Textbox(label="Add a private note", lines=2, scale=4, elem_id="desk-note")
            add = gr.Button("Add note", scale=1, elem_id="desk-add-note")
        with gr.Row():
            labels = gr.Textbox(label="Labels (comma-separated, e.g. fraud, complaint)", scale=4, elem_id="desk-labels")
            save = gr.Button("Save labels", scale=1, elem_id="desk-save-labels")
    canned.input(h.use_canned, [canned, reply], [reply, canned], **hidden)
    reply.blur(h.expand_shortcuts, [current, reply], [reply], **hidden)
    add.click(h.add_note, [current, note], [notes, note], **hidden)
    save.click(h.save_labels, [current, labels], [labels], **hidden)
    return h, [notes, labels, canned]
