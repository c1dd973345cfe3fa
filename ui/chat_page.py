"""The customer chat (anonymous): text, screenshots and voice in; streamed, cited replies out; a way to a person.

Handlers only translate: Gradio payloads -> agent.types.Turn -> Agent.stream -> chat messages. Uploaded
files are read into memory and deleted at once, so no customer upload stays readable at a /file= URL.
The conversation is opened by the server on the first message (a random id plus a secret token, as for the
HTTP API) and kept in gr.State, which Gradio holds server-side per browser session and never takes from the
request; every handler still checks the token before it reads or writes, so a forged state is refused.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gradio as gr

from agent.conversations import ConversationNotFound
from agent.feedback import MAX_COMMENT_CHARS
from agent.services import Services
from agent.types import Reply, ReplyDelta, Turn
from retrieval.errors import StoreUnavailable
from ui.errors import customer_message
from ui.i18n import MOOD_ICONS, language_of, route_label, text
from ui.rate_limits import RateLimited, RateLimits
from ui.safe_html import markdown_html, text_html
from ui.uploads import AUDIO_TYPES, IMAGE_TYPES, UploadRefused, Uploads, client_of

log = logging.getLogger("findesk.ui")

POLL_SECONDS = 2.0  # how soon a human agent's reply shows up once the conversation is handed over


@dataclass(frozen=True)
class ChatState:
    session_id: str = ""  # opened on the first message, so page loads alone leave no rows behind
    token: str = ""  # the conversation's secret (only its hash is stored)
    language: str = "en"
    last_seen_id: int = 0  # newest stored message id the page has looked at for agent/system messages
    handed_over: bool = False
    answers: tuple[tuple[int, int], ...] = ()  # (chat history index, stored answer id): what a thumb refers to
    asked_rating: bool = False  # the rating buttons (and the comment box) are offered once


def new_state(request: gr.Request | None = None) -> ChatState:
    accept = request.headers.get("accept-language", "") if request is not None else ""
    return ChatState(language=language_of(accept))


def reply_details(reply: Reply) -> dict[str, Any]:
    """The collapsed message under a reply: cited FAQ questions, plus a discreet route and mood line."""
    lang = reply.language
    mood = f"{MOOD_ICONS.get(str(reply.sentiment.label), '')} {text(lang, 'mood')} {reply.sentiment.score:+.2f}"
    log = f"{route_label(lang, str(reply.route))} · {mood}"
    if reply.voice_tone is not None:  # agitation of the voice message, against the customer's earlier ones
        agitated = "agitated_voice" in reply.sentiment.cues
        log += f" · 🎙 {text(lang, 'agitated_voice' if agitated else 'voice_tone')} {reply.voice_tone.agitation:.2f}"
    if reply.citations:
        body = text_html("\n".join(f"[{c.n}] {c.question}" for c in reply.citations))
        title = text(lang, "sources").format(n=len(reply.citations))
    else:
        body, title = text(lang, "no_sources"), text(lang, "details")
    return {"role": "assistant", "content": body, "metadata": {"title": title, "log": log, "status": "done"}}


def _without_options(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "options"} if message.get("options") else message


def _slow_down(limited: RateLimited, lang: str) -> str:
    return text_html(text(lang, "slow_down_" + limited.action).format(seconds=limited.retry_after_s))


def _stars() -> list[dict[str, str]]:
    return [{"value": f"rate:{n}", "label": f"{'★' * n} {n}"} for n in range(1, 6)]


def _comment_box(lang: str, *, visible: bool, value: str = "") -> gr.Textbox:
    return gr.Textbox(
        value=value,
        visible=visible,
        label=text(lang, "rate_comment"),
        placeholder=text(lang, "rate_comment_placeholder"),
    )


def _user_bubble(words: str, has_image: bool, has_audio: bool, lang: str) -> str:
    marks = [text(lang, "voice")] if has_audio else []
    marks += [text(lang, "screenshot")] if has_image else []
    return text_html("\n\n".join(part for part in (words, " · ".join(marks)) if part))


class ChatHandlers:
    """The page's event handlers, kept apart from the layout so tests can call them directly."""

    def __init__(self, services: Services, uploads: Uploads, limits: RateLimits | None = None) -> None:
        self.services = services
        self.uploads = uploads
        self.limits = limits or RateLimits(services.settings.security)
        limits = services.settings
        self.max_image_bytes = limits.agent.max_image_bytes
        self.max_audio_bytes = limits.speech.max_bytes

    def send(
        self,
        message: dict[str, Any] | None,
        history: list[dict[str, Any]] | None,
        state: ChatState | None,
        request: gr.Request,
    ) -> Iterator[tuple[Any, ...]]:
        """One customer turn; yields (chatbot, textbox, state, timer, talk button) as the reply streams."""
        state = state or new_state()
        history = [_without_options(m) for m in history or []]  # earlier choices are answered or moot now
        message = message or {}
        words = (message.get("text") or "").strip()
        image = audio = None
        try:
            image, audio = self._read_files(message.get("files") or [], state.language, request)
        except UploadRefused as refused:
            history.append({"role": "assistant", "content": text_html(str(refused))})
            yield history, gr.MultimodalTextbox(value=None, interactive=True), state, gr.skip(), gr.skip()
            return
        if not (words or image or audio):
            yield history, gr.skip(), state, gr.skip(), gr.skip()
            return
        try:
            self.limits.hit("chat_turn", session_id=state.session_id, address=client_of(request))
        except RateLimited as limited:  # the typed text stays in the box, to send once the wait is over
            history.append({"role": "assistant", "content": _slow_down(limited, state.language)})
            yield history, gr.skip(), state, gr.skip(), gr.skip()
            return
        history.append(
            {"role": "user", "content": _user_bubble(words, image is not None, audio is not None, state.language)}
        )
        user_index = len(history) - 1
        history.append({"role": "assistant", "content": ""})
        # The timer pauses while the reply streams, so a poll cannot overwrite the growing history.
        yield history, gr.MultimodalTextbox(value=None, interactive=False), state, gr.Timer(active=False), gr.skip()

        written = ""
        try:
            state = self._own(state, "chat_turn")
            turn = Turn(session_id=state.session_id, text=words, image=image, audio=audio)
            for event in self.services.agent.stream(turn):
                if isinstance(event, ReplyDelta):
                    written += event.text
                    history[-1] = {"role": "assistant", "content": markdown_html(written)}
                    yield history, gr.skip(), state, gr.skip(), gr.skip()
                    continue
                state = self._finish_reply(event, history, user_index, words, state)
        except Exception as error:  # translated at this edge: user errors as is, bugs logged and hidden
            history[-1] = {"role": "assistant", "content": text_html(customer_message(error, state.language))}
        yield (
            history,
            gr.MultimodalTextbox(value=None, interactive=True, placeholder=text(state.language, "placeholder")),
            state,
            gr.Timer(active=state.handed_over),
            gr.Button(value=text(state.language, "talk")),
        )

    def _finish_reply(
        self, reply: Reply, history: list[dict[str, Any]], user_index: int, words: str, state: ChatState
    ) -> ChatState:
        if reply.transcript is not None and not words:
            # Show the customer what we heard, so a misheard question is easy to spot.
            bubble = f"{text(reply.language, 'voice')}: “{reply.transcript.text.strip()}”"
            history[user_index] = {"role": "user", "content": text_html(bubble)}
        answers = state.answers
        if reply.text:
            history[-1] = {"role": "assistant", "content": markdown_html(reply.text)}
            if reply.turn_id is not None:  # its details line below it is the same answer
                answers += ((len(history) - 1, reply.turn_id), (len(history), reply.turn_id))
            if str(reply.route) == "clarify":  # "did you mean": one button per choice; typing its number works too
                history[-1]["options"] = [{"value": str(c.n), "label": f"{c.n}. {c.question}"} for c in reply.citations]
        else:
            history.pop()
        # "hello" needs no sources line; the choices are their own buttons, and Gradio shows the buttons only
        # on the last message of a turn.
        if str(reply.route) not in ("small_talk", "clarify"):
            history.append(reply_details(reply))
        handed = state.handed_over or str(reply.route) == "handoff"
        return replace(state, language=language_of(reply.language), handed_over=handed, answers=answers)

    def choose(
        self,
        history: list[dict[str, Any]] | None,
        state: ChatState | None,
        comment: str | None,
        option: gr.SelectData,
        request: gr.Request,
    ) -> Iterator[tuple[Any, ...]]:
        """A button in the chat: a "did you mean" choice (the same turn as typing its number), "talk to a person"
        after a thumbs down, or a rating (with the comment box's text) after our team resolved the conversation.
        Yields (chatbot, textbox, state, timer, talk button, comment box)."""
        value = str(option.value)
        if value == "talk":
            history, state, timer = self.talk_to_person([_without_options(m) for m in history or []], state)
            yield history, gr.skip(), state, timer, gr.skip(), gr.skip()
        elif value.startswith("rate:"):
            score = int(value[5:]) if value[5:].isdigit() else 0  # a forged value is refused by the store
            history, taken = self.rate(history, state, score, comment or "")
            lang = state.language if state is not None else "en"
            box = _comment_box(lang, visible=False) if taken else gr.skip()  # kept, to shorten and send again
            yield history, gr.skip(), state, gr.skip(), gr.skip(), box
        else:
            for update in self.send({"text": value, "files": []}, history, state, request):
                yield *update, gr.skip()

    def thumb(
        self, history: list[dict[str, Any]] | None, state: ChatState | None, like: gr.LikeData
    ) -> tuple[Any, ...]:
        """Thumbs up/down on a bot answer; a thumbs down offers a person. Returns (chatbot, state)."""
        answer = dict(state.answers).get(like.index) if state is not None and isinstance(like.index, int) else None
        if state is None or answer is None:
            return gr.skip(), state  # not one of the bot's answers (our team's messages, notices)
        value = "up" if like.liked is True else "down" if like.liked is False else None
        history = [_without_options(m) for m in history or []]
        try:
            self.services.feedback.thumb(self._existing(state), answer, value)
        except Exception as error:
            history.append({"role": "assistant", "content": text_html(customer_message(error, state.language))})
            return history, state
        if value == "down" and not state.handed_over:
            offer = [{"value": "talk", "label": text(state.language, "talk")}]
            history.append({"role": "assistant", "content": text(state.language, "not_helpful"), "options": offer})
        return history, state

    def rate(
        self, history: list[dict[str, Any]] | None, state: ChatState | None, score: int, comment: str = ""
    ) -> tuple[list[dict[str, Any]], bool]:
        """Send the rating with the optional comment; (chatbot, whether the rating is settled now).

        A comment over the limit is not sent: the customer is told by how much, and the buttons are offered
        again so they can shorten it and rate (the store checks the same limit and redacts PII).
        """
        history = [_without_options(m) for m in history or []]
        if state is None:
            return history, False
        comment = comment.strip()
        if len(comment) > MAX_COMMENT_CHARS:
            notice = text(state.language, "comment_too_long").format(n=len(comment), limit=MAX_COMMENT_CHARS)
            history.append({"role": "assistant", "content": text_html(notice), "options": _stars()})
            return history, False
        try:
            self.services.feedback.rate(self._existing(state), score, comment)
            thanks = text(state.language, "rate_thanks_comment" if comment else "rate_thanks")
            history.append({"role": "assistant", "content": thanks})
        except Exception as error:
            history.append({"role": "assistant", "content": text_html(customer_message(error, state.language))})
        return history, True

    def talk_to_person(
        self, history: list[dict[str, Any]] | None, state: ChatState | None, request: gr.Request | None = None
    ) -> tuple[Any, ...]:
        """The always-visible button: queue the conversation for a human; returns (chatbot, state, timer)."""
        state = state or new_state()
        history = list(history or [])
        try:
            self.limits.hit("handoff", session_id=state.session_id, address=client_of(request))
        except RateLimited as limited:
            history.append({"role": "assistant", "content": _slow_down(limited, state.language)})
            return history, state, gr.skip()
        try:
            state = self._own(state, "handoff")
            self.services.agent.request_human(state.session_id)
        except Exception as error:
            history.append({"role": "assistant", "content": text_html(customer_message(error, state.language))})
            return history, state, gr.skip()
        state = replace(state, handed_over=True)
        history, state = self._append_staff_messages(history, state)
        return history, state, gr.Timer(active=True)

    def poll(self, history: list[dict[str, Any]] | None, state: ChatState | None) -> tuple[Any, ...]:
        """Timer tick after a handoff: show new messages from our team; (chatbot, state, timer, comment box)."""
        if state is None or not state.handed_over or not self._is_own(state):
            return gr.skip(), state, gr.Timer(active=False), gr.skip()
        before = state.last_seen_id
        try:
            history, state = self._append_staff_messages(list(history or []), state)
            handoff = self.services.conversations.handoff(state.session_id)
        except StoreUnavailable as error:  # the database is away: keep polling, it picks up where it stopped
            log.warning("polling for staff messages failed: %s", error)
            return gr.skip(), state, gr.skip(), gr.skip()
        if handoff is not None and handoff.status == "resolved":
            history.append({"role": "assistant", "content": text(state.language, "resolved")})
            box = gr.skip()
            if not state.asked_rating and self.services.feedback.can_rate(state.session_id):
                history.append(
                    {"role": "assistant", "content": text(state.language, "rate_prompt"), "options": _stars()}
                )
                state = replace(state, asked_rating=True)
                box = _comment_box(state.language, visible=True)
            return history, replace(state, handed_over=False), gr.Timer(active=False), box
        if state.last_seen_id == before:
            return gr.skip(), state, gr.skip(), gr.skip()
        return history, state, gr.skip(), gr.skip()

    def _own(self, state: ChatState, action: str) -> ChatState:
        """The state with its conversation: opened now on the first message; refused if its token is wrong."""
        if not state.session_id:
            session_id, token = self.services.conversations.open_session(language=state.language)
            self.limits.hit(action, session_id=session_id)  # the new conversation's first (always allowed)
            return replace(state, session_id=session_id, token=token)
        if not self._is_own(state):
            raise ConversationNotFound(text(state.language, "session_lost"))
        return state

    def _existing(self, state: ChatState) -> str:
        """The conversation's id, if the state's token is its secret (thumbs and ratings need one already)."""
        if not self._is_own(state):
            raise ConversationNotFound(text(state.language, "session_lost"))
        return state.session_id

    def _is_own(self, state: ChatState) -> bool:
        return self.services.conversations.token_matches(state.session_id, state.token)

    def _append_staff_messages(
        self, history: list[dict[str, Any]], state: ChatState
    ) -> tuple[list[dict[str, Any]], ChatState]:
        """Agent replies and system notes the page has not shown yet (its own turns it rendered itself)."""
        messages = self.services.conversations.messages(state.session_id, after_id=state.last_seen_id)
        for message in messages:
            if message.role == "agent":
                heading = text(state.language, "agent_says").format(agent=text_html(message.author or "Agent"))
                history.append({"role": "assistant", "content": f"{heading}<br><br>\n{text_html(message.text)}"})
            elif message.role == "system":
                history.append({"role": "assistant", "content": text_html(message.text)})
        last = max((m.id for m in messages), default=state.last_seen_id)
        return history, replace(state, last_seen_id=last)

    def _read_files(self, files: list[Any], lang: str, request: gr.Request) -> tuple[bytes | None, bytes | None]:
        """The first screenshot and the first audio clip, as bytes; every upload of this client is deleted."""
        image = audio = None
        paths = [Path(f if isinstance(f, str) else f.get("path", "")) for f in files]
        try:
            for path in paths:
                kind = (mimetypes.guess_type(path.name)[0] or "").split("/")[0]
                if kind == "image" and image is None:
                    image = self.uploads.take(path, request, allowed=IMAGE_TYPES, max_bytes=self.max_image_bytes,
                                              language=lang)  # fmt: skip
                elif kind in ("audio", "video") and audio is None:  # browsers record audio as .webm
                    audio = self.uploads.take(path, request, allowed=AUDIO_TYPES, max_bytes=self.max_audio_bytes,
                                              language=lang)  # fmt: skip
                elif kind not in ("image", "audio", "video"):
                    raise UploadRefused(text(lang, "unsupported").format(name=path.name))
        finally:
            self.uploads.drop(paths, request)  # the ones not read: a second screenshot, or after a refusal
        return image, audio


def build_chat_page(services: Services, uploads: Uploads, limits: RateLimits, **blocks: Any) -> gr.Blocks:
    handlers = ChatHandlers(services, uploads, limits)
    with gr.Blocks(title="FinDesk · customer help", fill_height=True, **blocks) as page:
        state = gr.State(None)
        title = gr.Markdown(text("en", "title"))
        # render_markdown=False: messages arrive as safe HTML (ui.safe_html), never through Gradio's Markdown.
        chatbot = gr.Chatbot(label="FinDesk", height=520, elem_id="chat", buttons=["copy"],
                             feedback_options=("Like", "Dislike"), render_markdown=False)  # fmt: skip
        with gr.Row(equal_height=True):
            textbox = gr.MultimodalTextbox(
                placeholder=text("en", "placeholder"),
                file_types=[*IMAGE_TYPES, *AUDIO_TYPES],
                file_count="multiple",
                sources=["upload", "microphone"],
                # Pasted text up to the message limit stays text (Gradio's default turns >1000 chars into a file).
                max_plain_text_length=services.settings.agent.max_message_chars,
                show_label=False,
                scale=5,
                elem_id="chat-input",
            )
            talk = gr.Button(text("en", "talk"), variant="secondary", scale=1, elem_id="talk-to-person")
        # Shown with the rating buttons once our team resolved the chat; its text goes with the chosen score.
        comment = gr.Textbox(lines=2, max_lines=6, visible=False, elem_id="rating-comment")
        timer = gr.Timer(POLL_SECONDS, active=False)

        def start(request: gr.Request) -> tuple[Any, ...]:
            fresh = new_state(request)
            lang = fresh.language
            return (
                fresh,
                text(lang, "title"),
                gr.MultimodalTextbox(placeholder=text(lang, "placeholder")),
                text(lang, "talk"),
            )

        page.load(start, None, [state, title, textbox, talk], api_visibility="private")
        textbox.submit(
            handlers.send,
            [textbox, chatbot, state],
            [chatbot, textbox, state, timer, talk],
            api_name="send",
            concurrency_limit=None,  # the agent is thread-safe; generation has its own limits
            show_progress="hidden",
        )
        chatbot.option_select(
            handlers.choose,
            [chatbot, state, comment],
            [chatbot, textbox, state, timer, talk, comment],
            api_visibility="private",  # the same turn as `send` with the number, which is the public way
            concurrency_limit=None,
            show_progress="hidden",
        )
        chatbot.like(handlers.thumb, [chatbot, state], [chatbot, state], api_visibility="private")
        talk.click(handlers.talk_to_person, [chatbot, state], [chatbot, state, timer], api_name="talk_to_person")
        timer.tick(
            handlers.poll,
            [chatbot, state],
            [chatbot, state, timer, comment],
            api_visibility="private",
            concurrency_limit=None,
            show_progress="hidden",
        )
    return page
