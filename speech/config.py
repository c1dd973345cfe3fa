"""Speech's section of the settings (FINDESK_SPEECH__*). Owned here, composed by agent.settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class SpeechConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str = Field("faster-whisper", description="'faster-whisper' or 'openai-whisper'.")
    model: str = Field("base", description="'base' or 'tiny.en' (offline pack), a hub id, or a local path.")
    languages: tuple[str, ...] = Field(("zh", "en"), description="Languages auto-detection may choose from.")
    max_duration_s: float = Field(120.0, gt=0, description="Longest accepted clip, in seconds.")
    max_bytes: int = Field(25_000_000, gt=0, description="Largest accepted audio upload, in bytes.")
    cache_dir: Path | None = Field(
        None, description="Where assembled/converted Whisper weights are cached; default: the user cache dir."
    )
    compute_type: str = Field("int8", description="faster-whisper (CTranslate2) compute type on CPU: int8, float32.")
    cpu_threads: int = Field(2, ge=0, description="CPU threads per transcription (0: library default).")
    beam_size: int = Field(1, ge=1, description="Beam width; 1 is greedy decoding (fastest).")
    vad_filter: bool = Field(False, description="Drop non-speech stretches with Silero VAD before decoding.")
    prompt: str = Field("", description="Default bias prompt (FAQ vocabulary, e.g. 'IBAN, SWIFT, chargeback').")
    encoder_window_s: float = Field(
        15.0,
        ge=2.0,
        le=30.0,
        description="faster-whisper: clips up to half this long are encoded in a window this long instead of "
        "Whisper's 30 s: ~2.5x less CPU per short voice message at equal accuracy (benchmarks/asr.py). "
        "30 = standard Whisper.",
    )
    no_speech_threshold: float = Field(
        0.6, ge=0, le=1, description="Above this no-speech probability (and with low confidence) a clip is silence."
    )
