"""Speech's section of the settings (FINDESK_SPEECH__*). Owned here, composed by agent.settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SpeechConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str = Field("faster-whisper", description="'faster-whisper' or 'openai-whisper'.")
    model: str = Field("base", description="'base' or 'tiny.en' (offline pack), a hub id, or a local path.")
    languages: tuple[str, ...] = Field(("zh", "en"), description="Languages auto-detection may choose from.")
    max_duration_s: float = Field(120.0, gt=0, description="Longest accepted clip, in seconds.")
    max_bytes: int = Field(25_000_000, gt=0, description="Largest accepted audio upload, in bytes.")
