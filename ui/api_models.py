"""The HTTP API's JSON shapes (what /openapi.json documents), converted from the domain dataclasses."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.canned import MAX_TEXT_CHARS
from agent.conversations import Handoff, StoredMessage
from agent.types import Reply
from retrieval.types import FaqEntry, Hit


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CitationOut(_Out):
    n: int
    entry_id: str
    question: str


class SentimentOut(_Out):
    label: str
    score: float = Field(description="In [-1, 1]; below 0 is negative.")
    cues: list[str] = []


class VoiceToneOut(_Out):
    agitation: float = Field(description="In [0, 1], against the customer's earlier voice messages in the chat.")
    cues: list[str] = Field([], description="e.g. raised_pitch, raised_loudness, tense_voice, faster_speech.")
    baseline_clips: int = Field(description="Earlier voice messages it was compared with; 0: a cautious reading.")


class HitOut(_Out):
    entry_id: str
    question: str
    category: str
    language: str
    score: float = Field(description="Fused score (higher is better).")
    dense_score: float | None = None
    lexical_score: float | None = None


class ReplyOut(_Out):
    session_id: str
    session_token: str | None = Field(
        None, description="Only in the reply that started the conversation: send it as X-Session-Token from then on."
    )
    text: str
    citations: list[CitationOut]
    sentiment: SentimentOut
    route: str = Field(description="answer | clarify | no_answer | handoff | small_talk")
    reason: str
    generator: str
    language: str
    transcript: str | None = Field(None, description="What the voice message was heard as, if one was sent.")
    voice_tone: VoiceToneOut | None = Field(None, description="How agitated the voice message sounded.")
    hits: list[HitOut] = []
    timings_ms: dict[str, float] = {}
    turn_id: int | None = Field(
        None, description="The stored answer's id, for PUT /api/chat/{session_id}/messages/{turn_id}/thumb."
    )

    @classmethod
    def of(cls, reply: Reply, *, session_token: str | None = None) -> ReplyOut:
        data: dict[str, Any] = {f.name: getattr(reply, f.name) for f in dataclasses.fields(reply)}
        data["session_token"] = session_token
        data["transcript"] = reply.transcript.text if reply.transcript else None
        data["sentiment"] = SentimentOut.model_validate(reply.sentiment)
        data["voice_tone"] = VoiceToneOut.model_validate(reply.voice_tone) if reply.voice_tone else None
        data["route"] = str(reply.route)
        return cls.model_validate(data)


class MessageOut(_Out):
    id: int
    role: str = Field(description="customer | assistant | agent | system")
    text: str
    at: str
    author: str = ""
    route: str | None = None
    reason: str = ""
    sentiment: SentimentOut | None = None
    voice_tone: VoiceToneOut | None = None
    citations: list[CitationOut] = []
    has_image: bool = False


class CustomerMessageOut(_Out):
    """What a customer may read back about their own conversation (no routing internals)."""

    id: int
    role: str
    text: str
    at: str
    author: str = ""
    citations: list[CitationOut] = []

    @classmethod
    def of(cls, message: StoredMessage) -> CustomerMessageOut:
        return cls.model_validate(message)


class HandoffOut(_Out):
    session_id: str
    status: str = Field(description="waiting | claimed | resolved")
    priority: int
    reason: str
    summary: str
    created_at: str
    claimed_by: str
    language: str
    sentiment_trend: list[float]


class HandoffStatusOut(_Out):
    session_id: str
    status: str
    queue_position: int = Field(description="1 = next to be picked up; 0 once a person has the conversation.")
    replies_from: datetime | None = Field(
        description="Outside opening hours: when a person will reply (the hours' time zone); null while open."
    )


class AgentReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class AgentStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["available", "away"]


class AgentStatusOut(_Out):
    name: str
    status: str = Field(description="available | away")
    open: int = Field(description="Conversations the agent has now.")
    capacity: int = Field(description="Most open conversations round-robin assignment gives one agent.")
    assigned: list[str] = Field(description="Waiting conversations assigned to the agent by this change.")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str = Field(max_length=64, description='An agent\'s name, or "" for the unassigned queue.')


class CsatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: str = Field("", max_length=2000, description="Optional, in the customer's words (PII is redacted).")


class CsatOut(_Out):
    session_id: str
    score: int
    comment: str
    at: str


class ThumbIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Literal["up", "down"] | None = Field(description="'up', 'down', or null to take it back.")


class FaqEntryOut(_Out):
    id: str
    question: str
    answer: str
    alternates: list[str] = []
    category: str = ""
    language: str = "en"
    tags: list[str] = []
    updated_at: str = ""
    version: int = 0


class FaqEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field("", description="Leave empty to get an id made from the question.")
    question: str
    answer: str
    alternates: list[str] = []
    category: str = ""
    language: str = "en"
    tags: list[str] = []

    def entry(self) -> FaqEntry:
        return FaqEntry(
            id=self.id, question=self.question, answer=self.answer, alternates=tuple(self.alternates),
            category=self.category, language=self.language, tags=tuple(self.tags),
        )  # fmt: skip


class FaqEntryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected_version: int | None = Field(None, description="Refuse (409) if the entry changed since this version.")
    question: str | None = None
    answer: str | None = None
    alternates: list[str] | None = None
    category: str | None = None
    language: str | None = None
    tags: list[str] | None = None

    def changes(self) -> dict[str, Any]:
        data = self.model_dump(exclude_none=True, exclude={"expected_version"})
        return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


class ImportReportOut(_Out):
    added: int
    updated: int
    unchanged: int
    version: int


class IndexStatusOut(_Out):
    entries: int
    vectors: int
    embedder: str
    index_type: str
    store_version: int
    index_version: int
    last_update: str


def hits_out(hits: list[Hit]) -> list[HitOut]:
    return [HitOut.model_validate(h) for h in hits]


def handoff_out(handoff: Handoff) -> HandoffOut:
    return HandoffOut.model_validate(handoff)


class CannedOut(_Out):
    shortcut: str
    language: str
    title: str
    text: str
    updated_at: str
    updated_by: str


class CannedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shortcut: str = Field(description="Typed as /shortcut in the desk: lower-case letters, digits, '-' or '_'.")
    language: str = Field("en", description="en or zh.")
    title: str = Field("", max_length=200, description="Shown in the desk's picker; empty: the shortcut.")
    text: str = Field(max_length=MAX_TEXT_CHARS, description="May use {customer_name} and {agent_name}.")


class CannedUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("", max_length=200)
    text: str = Field(max_length=MAX_TEXT_CHARS)
