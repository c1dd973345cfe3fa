"""Is there a voice in this recording? Decided by voice activity (Silero VAD), after bringing quiet audio up.

Phones and browsers often record at low gain (-50 to -65 dBFS RMS) while the speech is perfectly clear
once amplified, so "no speech" cannot be an absolute loudness. The rule here:

1. Nothing to amplify: the loudest sample is below `SILENT_PEAK_DBFS` (a few steps of 16-bit audio).
   Refused as silent: the microphone is off or muted.
2. Otherwise the speech level (`SPEECH_PERCENTILE` of 10 ms frame levels) is raised to `TARGET_DBFS`,
   so the VAD and Whisper hear every clip at a normal level. Louder clips are left as they are.
3. Silero VAD (the model faster-whisper ships) must find at least `MIN_SPEECH_S` of speech; a recording
   with sound but no voice (noise, hum, music, tones) is refused with its own message.
"""

from __future__ import annotations

import numpy as np

from speech.errors import EngineNotInstalledError, NoSpeechError
from speech.types import SAMPLE_RATE, Audio

SILENT_PEAK_DBFS = -80.0  # 1e-4 of full scale: about 3 steps of 16-bit audio, i.e. nothing but dither
TARGET_DBFS = -20.0  # speech level after amplification: a normal close-talking recording
SPEECH_PERCENTILE = 95  # the loud 5% of 10 ms frames: the speech, not the pauses between words
MAX_GAIN_DB = 70.0  # never amplify more than this (a -80 dBFS peak becomes -10 dBFS)
MIN_SPEECH_S = 0.15  # total voiced time below this is a click or a breath, not a message ("yes" is ~0.3 s)
FRAME = SAMPLE_RATE // 100  # 10 ms


def dbfs(value: float) -> float:
    return 20 * float(np.log10(value)) if value > 0 else float("-inf")


def speech_level_dbfs(samples: np.ndarray) -> float:
    """The level of the loud frames (dBFS RMS): what 'how loud is the speech' means for one clip."""
    usable = samples[: samples.size // FRAME * FRAME].reshape(-1, FRAME) if samples.size >= FRAME else samples[None]
    power = np.mean(np.square(usable, dtype=np.float64), axis=1)
    return 10 * float(np.log10(np.percentile(power, SPEECH_PERCENTILE) + 1e-20))


def normalize_gain(audio: Audio) -> Audio:
    """Raise a quiet recording's speech level to TARGET_DBFS (never lower a loud one); refuse a silent one."""
    peak = float(np.max(np.abs(audio.samples))) if audio.samples.size else 0.0
    if dbfs(peak) < SILENT_PEAK_DBFS:
        raise NoSpeechError(
            "no speech detected: the recording is silent. Check that the microphone is on and not muted, "
            "then record again."
        )
    gain_db = min(TARGET_DBFS - speech_level_dbfs(audio.samples), MAX_GAIN_DB)
    if gain_db <= 0:
        return audio
    louder = np.clip(audio.samples * np.float32(10 ** (gain_db / 20)), -1.0, 1.0)
    return Audio(samples=louder.astype(np.float32, copy=False), source_format=audio.source_format)


def speech_timestamps(samples: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) sample indices of speech found by Silero VAD, with its standard settings (threshold 0.5)."""
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError as e:  # pragma: no cover - faster-whisper is a core dependency
        raise EngineNotInstalledError("voice activity detection needs: pip install 'faster-whisper>=1.2.1'") from e
    return [(s["start"], s["end"]) for s in get_speech_timestamps(samples, VadOptions())]


def find_speech(audio: Audio) -> Audio:
    """The recording at a normal level if it holds speech; NoSpeechError (silent / no voice) otherwise."""
    louder = normalize_gain(audio)
    voiced_s = sum(end - start for start, end in speech_timestamps(louder.samples)) / SAMPLE_RATE
    if voiced_s < MIN_SPEECH_S:
        raise NoSpeechError(
            "no speech detected: the recording has sound but no voice (only noise, music or tones). "
            "Hold the phone close, speak, and record again."
        )
    return louder
