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


@dataclass(frozen=True)
class VoiceFeatures:
    """A clip's prosody summary (speech/prosody.py): what voice tone compares against the speaker's earlier clips.

    All but `level_db` are independent of microphone gain; `level_db` is only meaningful against the same
    speaker's earlier clips on the same device.
    """

    voiced_s: float  # seconds of voiced speech found (0: no pitch track, the other pitch fields are 0)
    pitch_st: float  # median F0 of voiced frames, semitones above 100 Hz
    pitch_range_st: float  # 20th-80th percentile range of F0, semitones
    level_db: float  # loudness of the speech (dBFS, 90th percentile of active frames); gain-dependent
    tilt_db: float  # alpha ratio: energy 1-5 kHz minus 50 Hz-1 kHz in voiced frames, dB (vocal effort)
    rate_per_s: float  # syllable nuclei (energy peaks in voiced speech) per second of speech
