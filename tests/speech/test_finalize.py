"""Engine-independent transcript rules: silence, allowed languages, simplified Chinese, no-speech segments."""

from __future__ import annotations

import numpy as np
import pytest

from speech.errors import NoSpeechError
from speech.finalize import build_transcript, pick_language, to_simplified
from speech.types import Audio, Segment

AUDIO = Audio(samples=np.full(16_000, 0.1, dtype=np.float32))


def _build(segments: list[Segment], language: str = "en"):
    return build_transcript(
        segments, language=language, audio=AUDIO, engine="e", model="m", no_speech_threshold=0.6, timings_ms={}
    )


def test_language_restricted_to_allowed() -> None:
    probabilities = {"ja": 0.6, "zh": 0.3, "en": 0.1}
    assert pick_language(probabilities, ("zh", "en")) == ("zh", 0.3)
    assert pick_language(probabilities, ()) == ("ja", 0.6)  # nothing configured: anything goes
    assert pick_language({"en": 1.0}, ("zh",)) == ("en", 1.0)  # English-only model: what it can do


def test_chinese_comes_out_simplified() -> None:
    assert to_simplified("甚至出現交易幾乎停滯的情況") == "甚至出现交易几乎停滞的情况"
    transcript = _build([Segment(0, 1, "砸自己的腳", -0.2, 0.01)], language="zh")
    assert transcript.text == "砸自己的脚" and transcript.segments[0].text == "砸自己的脚"


def test_segments_whisper_considers_silence_are_dropped() -> None:
    kept = Segment(0.0, 2.0, " Hello.", -0.3, 0.1)
    silent = Segment(2.0, 3.0, " Thank you.", -1.5, 0.9)  # typical hallucination on silence
    transcript = _build([kept, silent])
    assert transcript.text == "Hello." and transcript.no_speech_prob == 0.9
    assert transcript.avg_logprob == pytest.approx(-0.3)
    with pytest.raises(NoSpeechError):
        _build([silent])
    with pytest.raises(NoSpeechError):
        _build([])
    with pytest.raises(NoSpeechError):
        _build([Segment(0, 1, "  ", -0.1, 0.1)])
