"""Everything FinDesk runs on, built once from Settings and shared by the web app, the API and the CLI.

Each collaborator is created on first use, so `findesk faq list` never loads Whisper and the web app
starts answering text before the speech model is needed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from agent.assignment import DeskTeam
from agent.canned import CannedStore
from agent.conversations import ConversationStore
from agent.desk_notes import DeskNotes
from agent.feedback import FeedbackStore
from agent.generators import create_generator
from agent.generators.base import Generator
from agent.ocr import OcrEngine, load_ocr_engine
from agent.pipeline import Agent
from agent.screenshot import read_screenshot
from agent.sentiment import SentimentAnalyzer, load_sentiment_analyzer
from agent.settings import Settings
from agent.types import Screenshot
from agent.webhook_delivery import WebhookDeliverer
from agent.webhook_outbox import WebhookOutbox
from retrieval.database import Database
from retrieval.errors import StoreUnavailable
from retrieval.knowledge_base import KnowledgeBase
from speech.audio import decode_audio
from speech.prosody import voice_features
from speech.transcriber import Transcriber, load_transcriber
from speech.types import Transcript, VoiceFeatures

log = logging.getLogger("findesk.services")


@dataclass(frozen=True)
class Readiness:
    """Whether this replica should get traffic; `checks` maps database, index and models to "ok" or why not."""

    ready: bool
    checks: dict[str, str]


def desk_team(database: Database, settings: Settings, outbox: WebhookOutbox) -> DeskTeam:
    """The agents' team as every entry point builds it (the server, `findesk user remove`): capacity and presence
    from the settings, and its assignments told to the webhooks."""
    desk = settings.desk
    return DeskTeam(
        database, capacity=desk.agent_capacity, presence_timeout_s=desk.presence_timeout_s, on_event=outbox.add
    )


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # cached_property is not thread-safe on its own: two Gradio workers could load Whisper twice.
        self._lock = threading.RLock()
        self._warming, self._warmed = threading.Event(), threading.Event()

    @cached_property
    def database(self) -> Database:
        """The shared database (SQLite in the data folder, or PostgreSQL), migrated on first use."""
        with self._lock:
            return self.settings.open_database()

    @cached_property
    def knowledge_base(self) -> KnowledgeBase:
        with self._lock:
            # Opening catches up with the shared change log, then a follower keeps up with other replicas.
            kb = KnowledgeBase.open(self.settings.data_dir, self.settings.retrieval, database=self.database)
            kb.ensure_default_faq()
            kb.follow(self.settings.retrieval.follow_interval_s)
            return kb

    @cached_property
    def webhook_outbox(self) -> WebhookOutbox:
        with self._lock:
            return WebhookOutbox(self.database, self.settings.webhooks)

    @cached_property
    def webhook_deliverer(self) -> WebhookDeliverer:
        """Sends the outbox's deliveries; the web app starts it (`findesk serve`), one per replica."""
        with self._lock:
            return WebhookDeliverer(self.webhook_outbox)

    @cached_property
    def team(self) -> DeskTeam:
        with self._lock:
            return desk_team(self.database, self.settings, self.webhook_outbox)

    @cached_property
    def conversations(self) -> ConversationStore:
        with self._lock:
            return ConversationStore(self.database, on_event=self.webhook_outbox.add, assign=self.team.assign_waiting)

    @cached_property
    def desk_notes(self) -> DeskNotes:
        with self._lock:
            return DeskNotes(self.database)

    @cached_property
    def canned(self) -> CannedStore:
        with self._lock:
            return CannedStore(self.database)

    @cached_property
    def feedback(self) -> FeedbackStore:
        with self._lock:
            return FeedbackStore(self.database, on_event=self.webhook_outbox.add)

    @cached_property
    def transcriber(self) -> Transcriber:
        with self._lock:
            return load_transcriber(self.settings.speech)

    @cached_property
    def ocr(self) -> OcrEngine:
        with self._lock:
            return load_ocr_engine()

    @cached_property
    def sentiment(self) -> SentimentAnalyzer:
        with self._lock:
            return load_sentiment_analyzer(self.settings.agent, embedders=self.knowledge_base.embedders)

    @cached_property
    def generator(self) -> Generator:
        with self._lock:
            return create_generator(self.settings.agent)

    @cached_property
    def agent(self) -> Agent:
        with self._lock:
            return Agent(
                knowledge_base=self.knowledge_base,
                conversations=self.conversations,
                sentiment=self.sentiment,
                generator=self.generator,
                transcribe=self.transcribe,
                read_screenshot=self.read_screenshot,
                config=self.settings.agent,
                opening_hours=self.settings.opening_hours,
                hear_voice=self.hear_voice,
            )

    def transcribe(self, audio: bytes | tuple[int, np.ndarray]) -> Transcript:
        """Decode and check an upload or a microphone recording, then transcribe it."""
        config = self.settings.speech
        clip = decode_audio(audio, max_duration_s=config.max_duration_s, max_bytes=config.max_bytes)
        return self.transcriber.transcribe(clip)

    def hear_voice(self, audio: bytes | tuple[int, np.ndarray]) -> VoiceFeatures:
        """The voice message's prosody, from the recording as it arrived (its gain is part of the evidence).

        It decodes the upload a second time (a few ms for a voice message) to keep transcription untouched.
        """
        config = self.settings.speech
        clip = decode_audio(audio, max_duration_s=config.max_duration_s, max_bytes=config.max_bytes)
        return voice_features(clip.samples)

    def read_screenshot(self, image: bytes) -> Screenshot:
        return read_screenshot(image, self.settings.agent, self.ocr)

    def warm_up(self) -> None:
        """Load every model now rather than on the first customer's turn."""
        self._warming.set()
        self.agent  # noqa: B018 - builds the knowledge base, sentiment analyser and generator
        self.generator.warm_up()
        self.transcriber.warm_up()
        self.ocr.warm_up()
        self._warmed.set()

    def readiness(self) -> Readiness:
        """Database reachable, this replica's index caught up with the change log, and every model loaded."""
        loading = self._warming.is_set() and not self._warmed.is_set()  # without warm-up: loaded on first use
        checks = {"database": "ok", "index": "ok", "models": "loading" if loading else "ok"}
        try:
            self.database.ping()
        except StoreUnavailable as error:
            log.warning("not ready: %s", error)
            checks["database"] = "unreachable"
        if "knowledge_base" not in self.__dict__:
            checks["index"] = "loading"
        elif checks["database"] == "ok":
            try:
                status = self.knowledge_base.status()
                if status.index_version < status.store_version:
                    checks["index"] = f"catching up (version {status.index_version} of {status.store_version})"
            except StoreUnavailable:
                checks["database"] = "unreachable"
        return Readiness(all(v == "ok" for v in checks.values()), checks)

    def close(self) -> None:
        if "webhook_deliverer" in self.__dict__:
            self.webhook_deliverer.close()  # deliveries not sent yet wait in the outbox for the next start
        if "knowledge_base" in self.__dict__:
            self.knowledge_base.close()
        if "conversations" in self.__dict__:
            self.conversations.close()
        if "database" in self.__dict__:
            self.database.close()
