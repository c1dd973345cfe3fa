"""One customer turn, start to finish: the path a newcomer should read first.

    Turn -> transcribe audio -> read screenshot -> search the FAQ -> score sentiment (+ voice tone) -> route
         -> stream the reply, verified sentence by sentence -> check citations -> store both messages -> Reply

Each stage is one call, timed on its own (Reply.timings_ms). The stages themselves live in their own
modules; this file only strings them together.
"""

from __future__ import annotations

import collections.abc
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent.citations import check_citations
from agent.conversations import ConversationStore, Handoff, StoredMessage
from agent.errors import AgentError
from agent.generators.base import Generator
from agent.generators.extractive import ExtractiveGenerator
from agent.grounding import ReplyVerifier, verification_note
from agent.language import detect_language
from agent.message_checks import check_language, check_message_text
from agent.opening_hours import OpeningHours, QueueStatus, handoff_notice
from agent.policy import History, decide, distinct_topics, topic_key
from agent.prompts import ChatTurn, Prompt, build_prompt
from agent.sentiment import SentimentAnalyzer, fuse, fuse_voice
from agent.settings import AgentConfig
from agent.small_talk import small_talk_kind, small_talk_reply
from agent.summary import handoff_summary
from agent.tone import ToneSplitter
from agent.types import Decision, Reply, ReplyDelta, Route, Screenshot, Sentiment, SentimentLabel, Turn, VoiceTone
from agent.voice_tone import judge
from retrieval.knowledge_base import KnowledgeBase
from retrieval.types import Hit, SearchResult
from speech.types import Transcript, VoiceFeatures

log = logging.getLogger(__name__)

CONTEXT_WORDS = 4  # a follow-up this short ("and abroad?") is searched together with the previous message
MAX_OCR_QUERY_CHARS = 600  # screenshot text beyond this dilutes the query more than it helps

# What the customer sees beside the model's words, by route and language (handoffs: agent/opening_hours.py).
NOTES = {
    "no_answer": {
        "en": 'I couldn\'t find this in our FAQ. You can rephrase, or press "Talk to a person" and a member of '
        "our team will help.",
        "zh": "很抱歉，常见问题中没有找到相关答案。您可以换一种说法，或点击“转人工”由客服人员为您解答。",
    },
    "clarify": {"en": "Did you mean one of these?", "zh": "请问您想咨询的是以下哪个问题？"},
}


@dataclass(frozen=True)
class _Heard:
    """What the customer said, whichever way they said it."""

    text: str  # typed text and the voice transcript
    ocr_text: str
    language: str
    transcript: Transcript | None
    screenshot: Screenshot | None


@dataclass(frozen=True)
class _Generated:
    """What the generate stage produced."""

    text: str  # as the customer saw it
    generator: str  # who wrote it: the extractive generator when the model failed or its reply did not verify
    tone: Sentiment | None  # the model's own reading of the customer's tone
    verification: str  # "" or what verification did, for the turn's reason


@dataclass
class _Clock:
    """Per-stage timings in milliseconds."""

    timings_ms: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings_ms[name] = round((time.perf_counter() - start) * 1000, 2)


class Agent:
    """Answers customer turns. Thread-safe as long as its collaborators are (they are)."""

    def __init__(
        self,
        *,
        knowledge_base: KnowledgeBase,
        conversations: ConversationStore,
        sentiment: SentimentAnalyzer,
        generator: Generator,
        transcribe: Callable[[bytes], Transcript],
        read_screenshot: Callable[[bytes], Screenshot],
        config: AgentConfig,
        opening_hours: OpeningHours | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hear_voice: Callable[[bytes], VoiceFeatures] | None = None,
    ) -> None:
        self.knowledge_base = knowledge_base
        self.opening_hours = opening_hours or OpeningHours()
        self.clock = clock  # tests set a fixed one: what the customer is told depends on the hour
        self.conversations = conversations
        self.sentiment = sentiment
        self.generator = generator
        self._transcribe = transcribe
        self._read_screenshot = read_screenshot
        self._hear_voice = hear_voice  # the prosody of a voice message, for its tone (None: tone not read)
        self.config = config
        self._extractive = ExtractiveGenerator(config)  # answers when a model's reply fails verification

    def ask(self, turn: Turn) -> Reply:
        """The whole reply at once (CLI, HTTP API without streaming)."""
        for event in self.stream(turn):
            if isinstance(event, Reply):
                return event
        raise AssertionError("Agent.stream ended without a Reply")

    def stream(self, turn: Turn) -> Iterator[ReplyDelta | Reply]:
        """Yield the reply text as it is written, then the final Reply (whose text has citations checked)."""
        clock = _Clock()
        heard = self._understand(turn, clock)
        conversation = self.conversations.messages(turn.session_id)  # read once: every stage below uses it
        earlier = [m for m in conversation if m.role == "customer"]
        handoff = self.conversations.handoff(turn.session_id)
        # A person who has claimed the chat is talking to the customer: the bot steps back.
        with_person = handoff is not None and handoff.status == "claimed"

        with clock.stage("retrieve"):
            result = self._chosen_option(conversation, heard.text) or self.knowledge_base.search(
                search_query(heard.text, heard.ocr_text, earlier)[: self.knowledge_base.config.max_query_chars]
            )
        with clock.stage("sentiment"):
            sentiment = (
                self.sentiment.score(heard.text, heard.language, history=[m.text for m in earlier])
                if heard.text
                else NEUTRAL
            )
        with clock.stage("voice_tone"):
            voice = self._voice_tone(turn, earlier)
            weight, agitated_at = self.config.voice_tone_weight, self.config.voice_agitated_at
            sentiment = fuse_voice(sentiment, voice, weight=weight, agitated_at=agitated_at)
        with clock.stage("policy"):
            if with_person:
                assert handoff is not None
                decision = Decision(Route.HANDOFF, f"{handoff.claimed_by} is handling this conversation")
            else:
                counted = [m for m in earlier if m.route != Route.SMALL_TALK]  # small talk never leads to a handoff
                history = History(
                    sentiments=tuple(m.sentiment for m in counted if m.sentiment),
                    routes=tuple(m.route or "" for m in counted),
                )
                decision = decide(
                    heard.text or heard.ocr_text,
                    result,
                    sentiment,
                    history,
                    self.config,
                    has_screenshot=heard.screenshot is not None,
                )

        customer_message = self.conversations.add_message(
            turn.session_id,
            "customer",
            heard.text or "(screenshot)",
            sentiment=sentiment,
            route=None if with_person else decision.route,  # a chat with a person is not an FAQ gap
            reason=decision.reason,
            image_png=heard.screenshot.png if heard.screenshot else None,
            voice_tone=voice,
        )
        if decision.route is Route.HANDOFF and not with_person:
            summary = handoff_summary(
                heard.text or heard.ocr_text, [m.text for m in earlier], sentiment, decision, result, heard.language
            )
            self.conversations.request_handoff(
                turn.session_id, reason=decision.reason, priority=decision.priority, summary=summary
            )

        passages = answer_passages(result, heard.language, self.config.prompt_max_passages)
        text, generator, reason = "", "none", decision.reason
        if with_person:
            pass
        elif decision.route is Route.SMALL_TALK:
            kind = small_talk_kind(heard.text)
            assert kind is not None
            text, generator = small_talk_reply(kind, heard.language), "small_talk"
            passages = []  # nothing from the FAQ was used, so nothing may be cited
            yield ReplyDelta(text)
        elif decision.route is Route.CLARIFY:
            text, generator = clarify_text(passages[:3], heard.language), "clarify"
            yield ReplyDelta(text)
        elif passages and result.confident:  # answer, or hand over with the FAQ's first steps (freeze a lost card)
            prompt = build_prompt(
                heard.text,
                passages,
                language=heard.language,
                history=prompt_history(conversation),
                ocr_text=heard.ocr_text,
                image=heard.screenshot.png if heard.screenshot else None,
                max_passages=self.config.prompt_max_passages,
                history_turns=self.config.prompt_history_turns,
            )
            generated = yield from self._generate(prompt, clock)
            text, generator = generated.text, generated.generator
            if generated.verification:
                reason = f"{reason}; {generated.verification}"
            if generated.tone is not None:  # the model's own reading of the customer, from their words and screenshot
                sentiment = fuse(sentiment, generated.tone, self.config.sentiment_fusion_weight)
                self.conversations.update_sentiment(customer_message.id, sentiment)

        spoken_for = with_person or decision.route is Route.CLARIFY  # the choices already say what comes next
        if spoken_for:
            note = ""
        elif decision.route is Route.HANDOFF:  # their place in the queue, or when a person will reply
            note = self.handoff_notice(turn.session_id, heard.language)
        else:
            note = NOTES.get(str(decision.route), {}).get(heard.language, "")
        if note:
            addition = f"\n\n{note}" if text else note
            text += addition
            yield ReplyDelta(addition)

        text, citations = check_citations(text, passages)
        stored = None
        if text:
            stored = self.conversations.add_message(
                turn.session_id,
                "assistant",
                text,
                route=decision.route,
                reason=reason,
                citations=citations,
                generator=generator,
                timings_ms=clock.timings_ms,
                published=[f"{hit.question}\n{hit.answer}" for hit in passages],  # the bank's numbers stay
            )
        yield Reply(
            session_id=turn.session_id,
            text=text,
            citations=tuple(citations),
            sentiment=sentiment,
            route=decision.route,
            reason=reason,
            generator=generator,
            language=heard.language,
            hits=tuple(result.hits),
            transcript=heard.transcript,
            voice_tone=voice,
            ocr_text=heard.ocr_text,
            turn_id=stored.id if stored else None,
            timings_ms=clock.timings_ms,
        )

    def _understand(self, turn: Turn, clock: _Clock) -> _Heard:
        """Check the turn, transcribe its audio, read its screenshot, and settle its language."""
        # An attached file with no bytes (a recording cut off at once, a failed copy) is named as such: "please
        # type a question" would tell a customer who did send a voice message to do something else.
        if turn.audio == b"":
            raise AgentError("That voice message is empty: please record it again, or type your question.")
        if turn.image == b"":
            raise AgentError("That screenshot is an empty file: please attach it again.")
        if not (turn.text.strip() or turn.audio or turn.image):
            raise AgentError("Please type a question, record a voice message or attach a screenshot.")
        check_message_text(turn.text, self.config.max_message_chars)
        check_language(turn.language)
        transcript = screenshot = None
        if turn.audio:
            with clock.stage("transcribe"):
                transcript = self._transcribe(turn.audio)
        if turn.image:
            with clock.stage("ocr"):
                screenshot = self._read_screenshot(turn.image)
        text = " ".join(part for part in (turn.text.strip(), transcript.text.strip() if transcript else "") if part)
        ocr_text = screenshot.ocr_text if screenshot else ""
        if not text and not ocr_text.strip():
            raise AgentError("I couldn't find any text in that screenshot. Please describe the problem in a few words.")
        # Whisper's language detection beats counting characters when the customer only spoke.
        spoken = transcript.language if transcript and not turn.text.strip() else None
        language = turn.language or spoken or detect_language(text or ocr_text)
        return _Heard(text, ocr_text, language, transcript, screenshot)

    def _voice_tone(self, turn: Turn, earlier: list[StoredMessage]) -> VoiceTone | None:
        """The voice message's tone against the customer's earlier voice messages in this conversation."""
        if not turn.audio or self._hear_voice is None:
            return None
        return judge(self._hear_voice(turn.audio), [m.voice_tone.features for m in earlier if m.voice_tone])

    def _generate(self, prompt: Prompt, clock: _Clock) -> collections.abc.Generator[ReplyDelta, None, _Generated]:
        """Stream the reply. A model's text is shown only as it passes verification (agent.grounding), sentence
        by sentence; a reply with nothing left is replaced by the extractive answer, which is the FAQ's own text."""
        text = ""
        tone = ToneSplitter()
        customer_text = f"{prompt.message}\n{prompt.screenshot_text}"
        verifier = ReplyVerifier(prompt.passages, prompt.language, customer_text, instructions=prompt.system)
        with clock.stage("generate"):
            start = time.perf_counter()
            stream = self.generator.stream(prompt)
            for delta in _deltas_then_end(stream):
                shown = tone.feed(delta) if delta is not None else tone.flush()
                if stream.answered_by != self._extractive.name:  # the FAQ's own words need no check
                    shown = verifier.feed(shown) if delta is not None else verifier.feed(shown) + verifier.finish()
                if shown:
                    if not text:
                        clock.timings_ms["first_token"] = round((time.perf_counter() - start) * 1000, 2)
                    text += shown
                    yield ReplyDelta(shown)
            generator = stream.answered_by  # the fallback's name when the model failed
            verification = verification_note(verifier)
            if generator != self._extractive.name and not verifier.shown:
                log.warning("%s: %s", generator, verification)
                for delta in self._extractive.stream(prompt):
                    text += delta
                    yield ReplyDelta(delta)
                generator = self._extractive.name
            elif verifier.removed:
                log.info("%s: %s", generator, verification)
        return _Generated(text, generator, tone.reading, verification)

    def _chosen_option(self, conversation: list[StoredMessage], text: str) -> SearchResult | None:
        """The customer answered "did you mean..." with an option's number: that entry is the match."""
        choice = _OPTION_NUMBER.match(unicodedata.normalize("NFKC", text))
        if not choice:
            return None
        replies = [m for m in conversation if m.role in ("assistant", "agent")]
        if not replies or replies[-1].route != Route.CLARIFY:
            return None
        n = int(choice.group(1))
        citation = next((c for c in replies[-1].citations if c.n == n), None)
        entry = self.knowledge_base.get(citation.entry_id) if citation else None
        if entry is None:
            return None
        hit = Hit(
            entry.id, entry.question, entry.question, entry.answer, entry.category, entry.language, 1.0, tags=entry.tags
        )
        return SearchResult(text, [hit], True, 0.0, f"the customer chose option {n}: {entry.id}")

    def request_human(self, session_id: str, reason: str = 'the customer pressed "Talk to a person"') -> Handoff:
        """The always-visible button: hand over now, whatever the policy would have said."""
        earlier = [m for m in self.conversations.messages(session_id) if m.role == "customer"]
        latest = earlier[-1].text if earlier else "(no message yet)"
        language = detect_language(latest)
        sentiment = next((m.sentiment for m in reversed(earlier) if m.sentiment), NEUTRAL)
        decision = Decision(Route.HANDOFF, reason, 1)
        result = self.knowledge_base.search(latest) if earlier else None
        handoff = self.conversations.request_handoff(
            session_id,
            reason=reason,
            priority=decision.priority,
            summary=handoff_summary(latest, [m.text for m in earlier[:-1]], sentiment, decision, result, language),
        )
        notice = self.handoff_notice(session_id, language)
        self.conversations.add_message(session_id, "system", notice, route=Route.HANDOFF, reason=reason)
        return handoff

    def queue_status(self, session_id: str) -> QueueStatus:
        """The conversation's place among those waiting for a person, and when the team is next in."""
        waiting = [h.session_id for h in self.conversations.queue(("waiting",))]
        position = waiting.index(session_id) + 1 if session_id in waiting else 0
        return QueueStatus(position=position, opens_at=self.opening_hours.opens_at(self.clock()))

    def handoff_notice(self, session_id: str, language: str) -> str:
        return handoff_notice(self.queue_status(session_id), self.clock(), language)

    def suggest(self, session_id: str) -> SearchResult:
        """FAQ entries for the latest customer message: the agent desk's suggested answers."""
        earlier = [m for m in self.conversations.messages(session_id) if m.role == "customer"]
        if not earlier:
            return SearchResult("", [], False, 0.0, "the customer has not written anything yet")
        query = search_query(earlier[-1].text, "", earlier[:-1])
        return self.knowledge_base.search(query[: self.knowledge_base.config.max_query_chars])


_OPTION_NUMBER = re.compile(r"^\s*(?:#|no\.?\s*|option\s*|第)?\s*([1-9])\s*(?:个|項|项)?\s*[.)。]?\s*$", re.IGNORECASE)
NEUTRAL = Sentiment(SentimentLabel.NEUTRAL, 0.0, (), "no text")


def search_query(text: str, ocr_text: str, earlier: list[StoredMessage]) -> str:
    """What retrieval sees: the message, the screenshot's text, and the previous message for short follow-ups.

    The caller cuts it to retrieval's own query limit: a long message (up to max_message_chars) is accepted
    whole and stored whole, and its first part is plenty to find the FAQ entry (embedders read ~256 tokens).
    """
    parts = [text]
    if ocr_text:
        parts.append(ocr_text[:MAX_OCR_QUERY_CHARS])
    if earlier and len(text.split()) < CONTEXT_WORDS and detect_language(text) == "en":
        parts.insert(0, earlier[-1].text)
    return "\n".join(part for part in parts if part.strip())


def prompt_history(conversation: list[StoredMessage]) -> list[ChatTurn]:
    """Earlier customer and assistant messages (human agents' too, as the assistant side)."""
    return [
        ChatTurn("user" if m.role == "customer" else "assistant", m.text) for m in conversation if m.role != "system"
    ]


def _deltas_then_end(stream: Iterator[str]) -> Iterator[str | None]:
    """The stream's deltas, then None: the end, where held-back text is settled."""
    yield from stream
    yield None


def answer_passages(result: SearchResult, language: str, limit: int) -> list[Hit]:
    """The passages the model may cite: one per topic, the customer's language first when both exist."""
    if not (result.confident or result.weak):
        return []
    by_topic: dict[str, Hit] = {}
    for hit in result.hits:
        current = by_topic.get(topic_key(hit))
        if current is None or (current.language != language and hit.language == language):
            by_topic[topic_key(hit)] = hit
    return [by_topic[topic_key(hit)] for hit in distinct_topics(result.hits)][:limit]


def clarify_text(choices: list[Hit], language: str) -> str:
    lines = [NOTES["clarify"][language]]
    lines += [f"{n}. {hit.question} [{n}]" for n, hit in enumerate(choices, start=1)]
    return "\n".join(lines)
