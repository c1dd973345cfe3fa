"""The data that crosses agent's boundary: a Turn in, a streamed Reply out.

A newcomer can follow one turn through these types:
Turn -> (Transcript, Screenshot) -> SearchResult -> Sentiment -> Decision -> streamed text -> Reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from retrieval.types import Hit
from speech.types import Transcript, VoiceFeatures


@dataclass(frozen=True)
class Turn:
    """One customer message. Any of text, audio and image may be missing, but not all three."""

    session_id: str
    text: str = ""
    audio: bytes | None = None  # encoded audio as uploaded (wav, ogg, webm, ...); speech.audio decodes it
    image: bytes | None = None  # encoded image as uploaded (png, jpeg, ...); agent.screenshot checks it
    language: str | None = None  # hint from the UI; otherwise detected


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: tuple[tuple[float, float], ...]  # polygon in pixels
    confidence: float


@dataclass(frozen=True)
class Screenshot:
    """A checked screenshot: the normalised image (PNG bytes, EXIF orientation applied) and its text."""

    png: bytes
    width: int
    height: int
    ocr_text: str  # untrusted: quoted to the model as data, never as instructions
    lines: tuple[OcrLine, ...] = ()


class SentimentLabel(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


@dataclass(frozen=True)
class Sentiment:
    label: SentimentLabel
    score: float  # [-1, 1]; below 0 is negative
    # e.g. "asks_for_human", "threatens_to_leave", "repeated_question", "profanity", "shouting"
    cues: tuple[str, ...] = ()
    source: str = ""  # which analysers contributed, e.g. "lexicon+cues", "lexicon+cues+model"


@dataclass(frozen=True)
class VoiceTone:
    """How agitated a customer's voice message sounds, judged against their earlier ones (agent/voice_tone.py)."""

    agitation: float  # [0, 1]: ~0.1 the customer's usual voice, 0.5 a clear shift, ~0.9 strongly agitated
    cues: tuple[str, ...]  # e.g. "raised_loudness", "raised_pitch", "wider_pitch_range", "tense_voice", "faster_speech"
    baseline_clips: int  # earlier voice messages it was compared with; 0 = a cautious first reading
    features: VoiceFeatures  # this clip's summary, stored so later messages can compare with it


class Route(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"  # ambiguous: offer the top choices
    NO_ANSWER = "no_answer"  # nothing in the FAQ: say so, offer a human
    HANDOFF = "handoff"
    SMALL_TALK = "small_talk"  # greetings, thanks, goodbyes, "are you a bot?": a polite reply, not an FAQ gap


@dataclass(frozen=True)
class Decision:
    route: Route
    reason: str  # human-readable, shown to agents and operators
    priority: int = 0  # handoff priority: higher is more urgent (fraud, lost card: high)


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] used in the reply text
    entry_id: str
    question: str


@dataclass(frozen=True)
class ReplyDelta:
    """A piece of streamed reply text."""

    text: str


@dataclass(frozen=True)
class Reply:
    """The whole answer to one turn, yielded last by Agent.stream()."""

    session_id: str
    text: str
    citations: tuple[Citation, ...]
    sentiment: Sentiment
    route: Route
    reason: str
    # Who wrote the text: "extractive", "openai:<model>", "transformers:<model>", "clarify", "small_talk", "none".
    generator: str
    language: str
    hits: tuple[Hit, ...] = ()
    transcript: Transcript | None = None
    voice_tone: VoiceTone | None = None  # customer voice messages
    ocr_text: str = ""
    turn_id: int | None = None
    # Per stage: transcribe, ocr, retrieve, sentiment, policy, generate, first_token (ms).
    timings_ms: dict[str, float] = field(default_factory=dict)
