"""The voice tone is shown where people look: the chat's mood line and the agent desk's transcript."""

from __future__ import annotations

from agent.conversations import StoredMessage
from agent.types import Reply, Route, Sentiment, SentimentLabel, VoiceTone
from speech.types import VoiceFeatures
from ui.chat_page import reply_details
from ui.desk_page import transcript_messages

FEATURES = VoiceFeatures(voiced_s=1.5, pitch_st=2.0, pitch_range_st=4.0, level_db=-30.0, tilt_db=-13.0, rate_per_s=4.5)
AGITATED = VoiceTone(0.82, ("raised_loudness", "tense_voice"), 2, FEATURES)
UPSET = Sentiment(SentimentLabel.NEGATIVE, -0.41, ("agitated_voice",), "offline:en+voice")


def reply(sentiment: Sentiment, tone: VoiceTone | None, language: str = "en") -> Reply:
    return Reply("s", "text", (), sentiment, Route.HANDOFF, "r", "extractive", language, voice_tone=tone)


def test_the_chat_mood_line_says_the_voice_sounded_agitated() -> None:
    assert "🎙 agitated voice 0.82" in reply_details(reply(UPSET, AGITATED))["metadata"]["log"]
    assert "🎙 语气激动 0.82" in reply_details(reply(UPSET, AGITATED, "zh"))["metadata"]["log"]
    calm = VoiceTone(0.1, (), 2, FEATURES)
    assert "🎙 voice 0.10" in reply_details(reply(Sentiment(SentimentLabel.NEUTRAL, 0.0), calm))["metadata"]["log"]
    assert "🎙" not in reply_details(reply(UPSET, None))["metadata"]["log"]  # typed messages have no voice


def test_the_desk_transcript_shows_the_voice_agitation_and_its_cues() -> None:
    spoken = StoredMessage(1, "s", "customer", "ok can you check", "t", sentiment=UPSET, voice_tone=AGITATED)
    first = StoredMessage(2, "s", "customer", "hello", "t", voice_tone=VoiceTone(0.3, (), 0, FEATURES))
    shown = transcript_messages([spoken, first])
    assert "agitated_voice" in shown[0]["content"]
    assert "🎙 voice agitation 0.82 (vs 2 earlier): raised loudness, tense voice" in shown[0]["content"]
    assert "first voice message, cautious" in shown[1]["content"]


def test_the_api_returns_the_voice_tone_to_the_chat_and_to_staff() -> None:
    from ui.api_models import MessageOut, ReplyOut

    out = ReplyOut.of(reply(UPSET, AGITATED)).model_dump()
    assert out["voice_tone"] == {"agitation": 0.82, "cues": ["raised_loudness", "tense_voice"], "baseline_clips": 2}
    assert ReplyOut.of(reply(UPSET, None)).voice_tone is None
    stored = StoredMessage(1, "s", "customer", "ok can you check", "t", sentiment=UPSET, voice_tone=AGITATED)
    assert MessageOut.model_validate(stored).voice_tone.agitation == 0.82
