"""The agent desk (role agent): the handoff queue, one conversation at a time, suggested answers, dictation.

Every handler starts with `require_staff(request, users, "agent")`: the page is already behind the login
gate, and this re-checks the role on each call, so a revoked agent loses access at once.
Screenshots are shown as inline data URIs, so they never become files under a URL.
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from typing import Any

import gradio as gr

from agent.conversations import Handoff, StoredMessage
from agent.services import Services
from agent.types import VoiceTone
from ui.auth import UserStore
from ui.desk_assign import SHOW, AssignHandlers, owner, shown, team_html
from ui.desk_team import team_panel
from ui.errors import as_gradio_error
from ui.i18n import MOOD_ICONS
from ui.login import require_staff, staff_header
from ui.safe_html import markdown_html, text_html
from ui.uploads import AUDIO_TYPES, Uploads

REFRESH_SECONDS = 3.0
PICK = "<p><em>Pick a conversation from the queue.</em></p>"
QUEUE_HEADERS = ["P", "Waiting", "Assigned to", "Mood trend", "Why handed over", "Customer last wrote"]
_SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(scores: tuple[float, ...]) -> str:
    """Sentiment scores in [-1, 1] as a little bar chart, oldest first; the last score as a number."""
    if not scores:
        return "–"
    bars = "".join(_SPARKS[min(7, int((s + 1) / 2 * 8))] for s in scores[-12:])
    return f"{bars} {scores[-1]:+.2f}"


def waiting(since: str, now: datetime | None = None) -> str:
    seconds = ((now or datetime.now(UTC)) - datetime.fromisoformat(since)).total_seconds()
    if seconds < 60:
        return f"{int(seconds)} s"
    return f"{int(seconds // 60)} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def _latest_words(services: Services, session_id: str) -> str:
    said = [m.text for m in services.conversations.messages(session_id) if m.role == "customer"]
    return " ".join(said[-1].split())[:90] if said else ""


def queue_rows(services: Services, queue: list[Handoff], me: str) -> list[list[Any]]:
    return [
        [h.priority, waiting(h.created_at), owner(h, me), sparkline(h.sentiment_trend), h.reason,
         _latest_words(services, h.session_id)]
        for h in queue
    ]  # fmt: skip


def queue_choices(services: Services, queue: list[Handoff], me: str) -> list[tuple[str, str]]:
    """The picker's entries: whose it is first, so "mine", "unassigned" and others' read apart at a glance."""
    return [(f"{owner(h, me)} · P{h.priority} · {waiting(h.created_at)} · "
             f"{_latest_words(services, h.session_id)[:60] or h.session_id}", h.session_id) for h in queue]  # fmt: skip


def transcript_messages(messages: list[StoredMessage]) -> list[dict[str, str]]:
    """The conversation as the agent sees it, as safe HTML: every customer turn carries its sentiment and route.

    Customer, agent and system text is escaped; only the assistant's replies (FAQ answers) keep safe Markdown.
    """
    shown = []
    for m in messages:
        if m.role == "customer":
            mood = ""
            if m.sentiment is not None:
                cues = f" · {', '.join(m.sentiment.cues)}" if m.sentiment.cues else ""
                icon = MOOD_ICONS.get(str(m.sentiment.label), "")
                mood = f"{icon} {m.sentiment.label} {m.sentiment.score:+.2f}{cues}"
            voice = _voice_note(m.voice_tone) if m.voice_tone is not None else ""
            parts = (mood, voice, m.route or "", "📎 screenshot" if m.has_image else "")
            note = " · ".join(part for part in parts if part)
            said = text_html(m.text)
            shown.append({"role": "user", "content": f"{said}<br><br>\n<em>{text_html(note)}</em>" if note else said})
        elif m.role == "agent":
            shown.append({"role": "assistant", "content": f"👤 <strong>{text_html(m.author or '')}</strong>: "
                                                          f"{text_html(m.text)}"})  # fmt: skip
        elif m.role == "system":
            shown.append({"role": "assistant", "content": f"ℹ️ {text_html(m.text)}"})
        else:
            sources = ", ".join(f"[{c.n}] {c.question}" for c in m.citations)
            cited = f"<p><em>{text_html(sources)}</em></p>" if sources else ""
            shown.append({"role": "assistant", "content": f"🤖 {markdown_html(m.text)}{cited}"})
    return shown


def summary_html(handoff: Handoff | None) -> str:
    """The handoff's status line and its summary of what the customer wants; customer words escaped."""
    if handoff is None:
        return "<p><em>This conversation is no longer in the queue.</em></p>"
    by = f" by {text_html(handoff.claimed_by)}" if handoff.claimed_by else ""
    return (
        f"<p><strong>{text_html(handoff.status)}</strong>{by} · priority {handoff.priority} · "
        f"{text_html(handoff.reason)}</p><blockquote>{text_html(handoff.summary)}</blockquote>"
    )


def _voice_note(tone: VoiceTone) -> str:
    """How the voice sounded: agitation against the customer's earlier voice messages, and why."""
    basis = f"vs {tone.baseline_clips} earlier" if tone.baseline_clips else "first voice message, cautious"
    cues = f": {', '.join(cue.replace('_', ' ') for cue in tone.cues)}" if tone.cues else ""
    return f"🎙 voice agitation {tone.agitation:.2f} ({basis}){cues}"


def screenshots_html(services: Services, messages: list[StoredMessage]) -> str:
    images = []
    for m in messages:
        png = services.conversations.image(m.id) if m.has_image else None
        if png:
            data = base64.b64encode(png).decode()
            images.append(f'<figure><img alt="customer screenshot" src="data:image/png;base64,{data}" '
                          f'style="max-width:100%;border:1px solid #ccc"><figcaption>{html.escape(m.at)}</figcaption>'
                          "</figure>")  # fmt: skip
    return "".join(images) or "<p><em>No screenshots in this conversation.</em></p>"


class DeskHandlers:
    def __init__(self, services: Services, users: UserStore, uploads: Uploads) -> None:
        self.services = services
        self.users = users
        self.uploads = uploads

    def _agent(self, request: gr.Request) -> str:
        return require_staff(request, self.users, "agent").name

    @as_gradio_error
    def refresh(
        self, current: str | None, request: gr.Request, label: str | None = None, show: str | None = None
    ) -> tuple[Any, ...]:
        """(header, queue table, conversation picker, team): the queue, most urgent first, filtered by `show`
        (all, mine, unassigned, others) and `label`."""
        name = self._agent(request)
        self.services.team.seen(name)  # this desk is open (the page's timer calls here): keeps its agent in turn
        queue = self.services.conversations.queue()
        header = staff_header("agent desk", name, f"{len(queue)} open · ")
        queue = shown(queue, name, show)
        if label:
            labelled = self.services.desk_notes.labels([h.session_id for h in queue])
            queue = [h for h in queue if label in labelled.get(h.session_id, [])]
        choices = queue_choices(self.services, queue, name)
        keep = current if current in {value for _, value in choices} else None
        team = team_html(self.services, self.users, name)
        return header, queue_rows(self.services, queue, name), gr.Dropdown(choices=choices, value=keep), team

    @as_gradio_error
    def label_choices(self, request: gr.Request) -> Any:
        self._agent(request)
        return gr.Dropdown(choices=["", *self.services.desk_notes.all_labels()])

    @as_gradio_error
    def open(self, session_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        """(current, summary, transcript, screenshots, suggestions, suggestion state) for one conversation."""
        self._agent(request)
        if not session_id:
            return None, PICK, [], "", gr.Dataset(samples=[]), []
        conversations = self.services.conversations
        messages = conversations.messages(session_id)
        summary = summary_html(conversations.handoff(session_id))
        hits = self.services.agent.suggest(session_id).hits
        suggestions = [[hit.question, hit.answer] for hit in hits]
        samples = [[q, a[:160] + ("…" if len(a) > 160 else "")] for q, a in suggestions]
        return (
            session_id,
            summary,
            transcript_messages(messages),
            screenshots_html(self.services, messages),
            gr.Dataset(samples=samples),
            suggestions,
        )

    @as_gradio_error
    def transcript(self, session_id: str | None, request: gr.Request) -> Any:
        self._agent(request)
        if not session_id:
            return gr.skip()
        return transcript_messages(self.services.conversations.messages(session_id))

    @as_gradio_error
    def claim(self, session_id: str | None, request: gr.Request) -> None:
        self.services.conversations.claim(_chosen(session_id), self._agent(request))
        gr.Info("Claimed: the customer is told you are handling it.")

    @as_gradio_error
    def resolve(self, session_id: str | None, request: gr.Request) -> None:
        self.services.conversations.resolve(_chosen(session_id), self._agent(request))
        gr.Info("Resolved: the conversation left the queue.")

    @as_gradio_error
    def send(self, session_id: str | None, reply: str, request: gr.Request) -> str:
        """Post the reply to the customer's chat; returns the cleared reply box."""
        self.services.conversations.add_agent_reply(_chosen(session_id), self._agent(request), reply)
        return ""

    @as_gradio_error
    def insert(self, index: int | None, suggestions: list[list[str]], reply: str, request: gr.Request) -> str:
        """One click on a suggested FAQ entry appends its answer to the (still editable) reply box."""
        self._agent(request)
        if index is None or not 0 <= index < len(suggestions):
            return reply
        answer = suggestions[index][1]
        return f"{reply.rstrip()}\n\n{answer}" if reply.strip() else answer

    @as_gradio_error
    def dictate(self, audio_path: str | None, reply: str, request: gr.Request) -> tuple[str, None]:
        """Whisper writes the recording into the reply box, where the agent can fix it before sending."""
        self._agent(request)
        if not audio_path or self.uploads.already_used(audio_path, request):  # a recording fires stop and upload
            return reply, None
        limit = self.services.settings.speech.max_bytes
        clip = self.uploads.take(audio_path, request, allowed=AUDIO_TYPES, max_bytes=limit)
        words = self.services.transcribe(clip).text.strip()
        return (f"{reply.rstrip()} {words}".strip() if reply.strip() else words), None


def _chosen(session_id: str | None) -> str:
    if not session_id:
        raise gr.Error("Pick a conversation from the queue first.")
    return session_id


def build_desk_page(services: Services, users: UserStore, uploads: Uploads, **blocks: Any) -> gr.Blocks:
    h = DeskHandlers(services, users, uploads)
    a = AssignHandlers(services, users)
    hidden: dict[str, Any] = {"api_visibility": "private"}  # staff pages: nothing in the public API docs
    with gr.Blocks(title="FinDesk · agent desk", **blocks) as page:
        current = gr.State(None)
        suggestions = gr.State([])
        # gr.Markdown, not gr.HTML: Gradio 6's HTML component compiles templates with eval, which our CSP
        # refuses. These get safe HTML (ui.safe_html; no blank lines, so Markdown leaves it as one HTML block).
        header = gr.Markdown("<h2>FinDesk · agent desk</h2>")
        with gr.Row():
            status = gr.Radio(["available", "away"], label="My status", value="away", scale=1,
                              elem_id="desk-status")  # fmt: skip
            team_line = gr.Markdown(elem_id="desk-team-status")
        with gr.Row():
            with gr.Column(scale=1):
                show = gr.Radio(list(SHOW), value="all", label="Show", elem_id="desk-show")
                table = gr.Dataframe(headers=QUEUE_HEADERS, interactive=False, label="Handoff queue", wrap=True,
                                     elem_id="desk-queue",
                                     column_widths=["7%", "12%", "14%", "17%", "25%", "25%"])  # fmt: skip
                picker = gr.Dropdown(label="Open conversation", choices=[], elem_id="desk-picker")
                label_filter = gr.Dropdown(label="Only conversations labelled", choices=[""], value="",
                                           elem_id="desk-label-filter")  # fmt: skip
            with gr.Column(scale=1):
                summary = gr.Markdown(PICK)
                with gr.Row():
                    claim = gr.Button("Claim", elem_id="desk-claim")
                    resolve = gr.Button("Resolve", variant="stop", elem_id="desk-resolve")
                with gr.Row():
                    assignee = gr.Dropdown(label="Assign to", choices=[], scale=3, elem_id="desk-assignee")
                    assign = gr.Button("Assign", scale=1, elem_id="desk-assign")
                # render_markdown=False: messages arrive as safe HTML (ui.safe_html), customer words escaped.
                transcript = gr.Chatbot(label="Transcript", height=360, buttons=[], feedback_options=None,
                                        elem_id="desk-transcript", render_markdown=False)  # fmt: skip
                with gr.Accordion("Screenshots", open=False):
                    shots = gr.Markdown()
                suggested = gr.Dataset(
                    components=["textbox", "textbox"],
                    headers=["Suggested FAQ entry", "Answer (click to insert)"],
                    samples=[],
                    type="index",
                    label="Suggested answers",
                    layout="table",
                    elem_id="desk-suggestions",
                )
                reply = gr.Textbox(label="Reply to the customer", lines=4, elem_id="desk-reply")
                team, side = team_panel(services, users, current, reply)
                with gr.Row():
                    dictation = gr.Audio(sources=["microphone", "upload"], type="filepath", label="Dictate")
                    send = gr.Button("Send reply", variant="primary", elem_id="desk-send")
        timer = gr.Timer(REFRESH_SECONDS)

        conversation = [current, summary, transcript, shots, suggested, suggestions]
        queue_in, queue_out = [current, label_filter, show], [header, table, picker, team_line]
        page.load(h.refresh, queue_in, queue_out, **hidden)
        page.load(h.label_choices, None, [label_filter], **hidden)
        page.load(a.load, None, [status, assignee], **hidden)
        timer.tick(h.refresh, queue_in, queue_out, show_progress="hidden", **hidden)
        # The open transcript follows the customer too, without re-running the suggestion search each tick.
        timer.tick(h.transcript, [current], [transcript], show_progress="hidden", **hidden)
        picker.input(h.open, [picker], conversation, **hidden).then(team.side, [current], side, **hidden)
        label_filter.input(h.refresh, queue_in, queue_out, **hidden)
        show.input(h.refresh, queue_in, queue_out, **hidden)
        status.input(a.set_status, [status], None, **hidden).then(h.refresh, queue_in, queue_out, **hidden)
        for button, action, inputs in ((claim, h.claim, [current]), (resolve, h.resolve, [current]),
                                       (assign, a.reassign, [current, assignee])):  # fmt: skip
            button.click(action, inputs, None, **hidden).then(h.refresh, queue_in, queue_out, **hidden).then(
                h.open, [current], conversation, **hidden)  # fmt: skip
        suggested.click(h.insert, [suggested, suggestions, reply], [reply], **hidden)
        dictation.stop_recording(h.dictate, [dictation, reply], [reply, dictation], **hidden)
        dictation.upload(h.dictate, [dictation, reply], [reply, dictation], **hidden)
        send.click(h.send, [current, reply], [reply], **hidden).then(h.open, [current], conversation, **hidden)
    return page
