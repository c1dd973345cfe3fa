"""A voice conversation through the real pipeline: the customer's tone of voice changes the handoff decision.

Real parts: the default FAQ and retrieval, the offline sentiment analyser, the policy, the conversation store,
and the voice tone read from real recordings (RAVDESS actor 01: two neutral clips, then a strongly angry one,
all through one quiet phone). Stand-in: the transcript. The actor says "Kids/Dogs are ... by the door", which
no bank FAQ answers, so each recording is given the words a customer would say; Whisper on quiet real speech
is covered by tests/speech/test_vad.py. This proves the tone's path to the decision, not transcription.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent.pipeline import Agent
from agent.services import Services
from agent.types import Route, Turn
from speech.audio import decode_audio
from speech.types import Transcript
from tests import engines

pytestmark = [pytest.mark.slow, pytest.mark.storage]

CONVERSATION = (  # (RAVDESS file of actor 01, the words given to it)
    ("03-01-01-01-01-01-01.flac", "How do I activate my new debit card?"),  # neutral voice
    ("03-01-01-01-02-01-01.flac", "My card payment was declined at the shop again."),  # neutral voice
    ("03-01-05-02-01-01-01.flac", "OK, can you check that for me?"),  # calm words, strongly angry voice
)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = Services(engines.settings(tmp_path_factory.mktemp("findesk")))
    yield services
    services.close()


def phone_recording(path: Path, gain_db: float) -> bytes:
    """The clip as a quiet phone would send it: 16-bit wav at `gain_db`."""
    samples = decode_audio(path).samples * np.float32(10 ** (gain_db / 20))
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    header = b"RIFF" + (36 + len(pcm)).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    header += (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (16_000).to_bytes(4, "little")
    header += (32_000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    return header + b"data" + len(pcm).to_bytes(4, "little") + pcm


def agent_hearing(services: Services, words: dict[bytes, str], voice_tone_weight: float) -> Agent:
    def transcribe(audio: bytes) -> Transcript:
        return Transcript(words[audio], "en", [], 3.0, "stand-in", "none", -0.2, 0.01)

    return Agent(
        knowledge_base=services.knowledge_base,
        conversations=services.conversations,
        sentiment=services.sentiment,
        generator=services.generator,
        transcribe=transcribe,
        read_screenshot=services.read_screenshot,
        config=services.settings.agent.model_copy(update={"voice_tone_weight": voice_tone_weight}),
        hear_voice=services.hear_voice,
    )


def replay(services: Services, shared_data: Path, voice_tone_weight: float) -> tuple[str, list]:
    folder = shared_data / "voice_tone" / "ravdess" / "Actor_01"
    recordings = [
        (phone_recording(folder / file, gain_db), words)
        for (file, words), gain_db in zip(CONVERSATION, (-22.0, -18.5, -20.0), strict=True)
    ]
    agent = agent_hearing(services, dict(recordings), voice_tone_weight)
    session = uuid.uuid4().hex
    return session, [agent.ask(Turn(session, audio=audio)) for audio, _ in recordings]


def test_calm_words_in_an_angry_voice_are_handed_to_a_person(services: Services, shared_data: Path) -> None:
    session, replies = replay(services, shared_data, voice_tone_weight=0.5)
    first, second, third = replies
    assert first.voice_tone.baseline_clips == 0 and second.voice_tone.baseline_clips == 1
    assert "agitated_voice" not in first.sentiment.cues + second.sentiment.cues
    assert third.voice_tone.baseline_clips == 2 and third.voice_tone.agitation >= 0.5, third.voice_tone
    assert third.route is Route.HANDOFF and "agitated voice" in third.reason, third.reason
    handoff = services.conversations.handoff(session)
    assert handoff is not None and "agitated voice" in handoff.reason
    stored = [m for m in services.conversations.messages(session) if m.role == "customer"]
    assert [m.voice_tone for m in stored] == [r.voice_tone for r in replies]  # kept for the next turn's baseline


def test_the_same_words_without_the_voice_tone_stay_with_the_bot(services: Services, shared_data: Path) -> None:
    session, replies = replay(services, shared_data, voice_tone_weight=0.0)
    assert replies[2].route is not Route.HANDOFF, replies[2].reason
    assert replies[2].voice_tone is not None  # still read and shown to agents, just not counted
    assert services.conversations.handoff(session) is None
