"""The data that crosses speech's boundary: audio in, a typed transcript out."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE = 16_000  # Hz: what every Whisper model expects


@dataclass(frozen=True)
class Audio:
    """Decoded, validated audio: 16 kHz mono float32 in [-1, 1]."""

    samples: np.ndarray
    source_format: str = ""  # container/codec as detected from content, e.g. "flac", "ogg/opus"

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float  # seconds
    text: str
    avg_logprob: float
    no_speech_prob: float


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str  # "en", "zh", ...
    segments: list[Segment]
    duration_s: float  # audio length
    engine: str  # "faster-whisper" or "openai-whisper"
    model: str  # model name or path as resolved
    avg_logprob: float  # duration-weighted mean over segments
    no_speech_prob: float  # max over segments
    timings_ms: dict[str, float] = field(default_factory=dict)  # e.g. {"decode": .., "load": .., "transcribe": ..}
