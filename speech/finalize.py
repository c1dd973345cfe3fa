"""Engine-independent rules applied to every transcript: allowed languages, simplified Chinese, no speech.

Both engines report raw segments; these functions turn them into the one `Transcript` the rest of
FinDesk sees, so the engines cannot drift apart on what "no speech" or "zh" means. (Whether a recording
holds speech at all is decided before the model runs, by speech/vad.py.)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np

from speech.errors import NoSpeechError
from speech.types import Audio, Segment, Transcript

LOW_CONFIDENCE_LOGPROB = -1.0  # whisper's own log_prob_threshold: together with high no-speech prob => silence


def pick_language(probabilities: Mapping[str, float], allowed: Sequence[str]) -> tuple[str, float]:
    """The most probable language among the allowed ones (all languages when none are configured)."""
    candidates = {lang: p for lang, p in probabilities.items() if not allowed or lang in allowed}
    if not candidates:  # e.g. an English-only model asked to choose among ("zh",): use what it can do
        candidates = dict(probabilities)
    language = max(candidates, key=candidates.__getitem__)
    return language, float(candidates[language])


@functools.cache
def _t2s() -> object:
    from opencc import OpenCC

    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Whisper often writes Mandarin in traditional characters; FinDesk's FAQ and agents use simplified."""
    return _t2s().convert(text)  # type: ignore[attr-defined]


def build_transcript(
    segments: list[Segment],
    *,
    language: str,
    audio: Audio,
    engine: str,
    model: str,
    no_speech_threshold: float,
    timings_ms: dict[str, float],
) -> Transcript:
    """Assemble the Transcript, or raise NoSpeechError when the model itself heard nothing."""
    if language == "zh":
        segments = [Segment(s.start, s.end, to_simplified(s.text), s.avg_logprob, s.no_speech_prob) for s in segments]
    spoken = [
        s
        for s in segments
        if s.text.strip() and not (s.no_speech_prob > no_speech_threshold and s.avg_logprob < LOW_CONFIDENCE_LOGPROB)
    ]
    if not spoken:
        raise NoSpeechError("no speech detected in the recording. Speak closer to the microphone and try again.")
    joiner = "" if language in ("zh", "ja") else " "
    text = joiner.join(s.text.strip() for s in spoken)
    weights = np.array([max(s.end - s.start, 1e-3) for s in spoken])
    avg_logprob = float(np.average([s.avg_logprob for s in spoken], weights=weights))
    return Transcript(
        text=text,
        language=language,
        segments=spoken,
        duration_s=audio.duration_s,
        engine=engine,
        model=model,
        avg_logprob=avg_logprob,
        no_speech_prob=float(max(s.no_speech_prob for s in segments)),
        timings_ms=timings_ms,
    )
