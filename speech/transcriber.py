"""The Transcriber interface and its factory: pick an engine by name from settings, never by if-chains."""

from __future__ import annotations

import importlib
import threading
from typing import Protocol, runtime_checkable

from speech.config import SpeechConfig
from speech.errors import UnknownEngineError
from speech.types import Audio, Transcript

# name -> "module:class"; imported on demand so `import speech` never pulls in torch or CTranslate2.
ENGINES: dict[str, str] = {
    "faster-whisper": "speech.engines.faster:FasterWhisperTranscriber",
    "openai-whisper": "speech.engines.openai:OpenAIWhisperTranscriber",
}


@runtime_checkable
class Transcriber(Protocol):
    name: str

    def warm_up(self) -> None:
        """Load the model now (at server start) instead of on the first request."""

    def transcribe(self, audio: Audio, *, prompt: str | None = None) -> Transcript:
        """Speech to text. `prompt` biases spelling towards domain words (e.g. "IBAN, SWIFT, chargeback")."""


_instances: dict[SpeechConfig, Transcriber] = {}
_lock = threading.Lock()


def load_transcriber(config: SpeechConfig) -> Transcriber:
    """The process-wide transcriber for this configuration (cheap: the model itself loads lazily, once)."""
    if config.engine not in ENGINES:
        raise UnknownEngineError(f"unknown speech engine '{config.engine}'; choose one of: {', '.join(ENGINES)}.")
    with _lock:
        transcriber = _instances.get(config)
        if transcriber is None:
            module_name, class_name = ENGINES[config.engine].split(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            transcriber = _instances[config] = cls(config)
    return transcriber
