"""Deciding "no speech" by voice activity, not loudness: quiet real speech passes, silence, noise and tones don't."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech.audio import decode_audio
from speech.errors import NoSpeechError
from speech.types import SAMPLE_RATE, Audio
from speech.vad import TARGET_DBFS, find_speech, speech_level_dbfs

SILENT = "the recording is silent"
NO_VOICE = "has sound but no voice"


def rms_dbfs(samples: np.ndarray) -> float:
    return 10 * float(np.log10(np.mean(np.square(samples, dtype=np.float64))))


def as_phone_recording(samples: np.ndarray, rms_db: float) -> Audio:
    """The clip at `rms_db` dBFS RMS, quantised to 16 bits as a phone or browser would deliver it."""
    quiet = samples * 10 ** ((rms_db - rms_dbfs(samples)) / 20)
    return decode_audio((SAMPLE_RATE, np.round(quiet * 32767).astype(np.int16)))


def sweep(seconds: float = 3.0) -> np.ndarray:
    """A logarithmic tone sweep 100 Hz -> 4 kHz: loud and non-speech."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    frequency = 100 * 40 ** (t / seconds)
    return (0.3 * np.sin(2 * np.pi * np.cumsum(frequency) / SAMPLE_RATE)).astype(np.float32)


@pytest.mark.parametrize("rms_db", [-55.0, -60.0, -65.0])
def test_quiet_real_speech_is_kept_and_brought_up_to_level(
    rms_db: float, audio_dir: Path, manifest: list[dict]
) -> None:
    for record in manifest:
        clip = as_phone_recording(decode_audio(audio_dir / record["file"]).samples, rms_db)
        louder = find_speech(clip)
        assert abs(speech_level_dbfs(louder.samples) - TARGET_DBFS) < 1.0, record["file"]
        assert louder.samples.size == clip.samples.size


def test_a_normal_level_clip_is_left_as_it_is(audio_dir: Path) -> None:
    clip = decode_audio(audio_dir / "whisper_jfk.flac")
    assert find_speech(clip) is clip


@pytest.mark.parametrize("samples", [np.zeros(32_000, np.float32), np.full(32_000, 2e-5, np.float32)])
def test_digital_silence_is_refused_as_silent(samples: np.ndarray) -> None:
    with pytest.raises(NoSpeechError, match=SILENT):
        find_speech(Audio(samples=samples))


@pytest.mark.parametrize("level", [0.1, 0.001])  # -20 and -60 dBFS: loud or quiet, noise is not a voice
def test_white_noise_is_refused_as_no_voice(level: float) -> None:
    noise = np.random.default_rng(0).normal(0, level, 3 * SAMPLE_RATE).astype(np.float32)
    with pytest.raises(NoSpeechError, match=NO_VOICE):
        find_speech(Audio(samples=noise))


def test_a_tone_sweep_is_refused_as_no_voice() -> None:
    with pytest.raises(NoSpeechError, match=NO_VOICE):
        find_speech(Audio(samples=sweep()))


@pytest.mark.slow
def test_quiet_real_clips_are_transcribed(base_config, audio_dir: Path, manifest: list[dict]) -> None:
    """Every shared clip at -55..-65 dBFS (16-bit) is transcribed as well as the original (the issue's bug)."""
    from speech.evaluation import score
    from speech.transcriber import load_transcriber

    transcriber = load_transcriber(base_config)
    for record, rms_db in zip(manifest, [-55.0, -58.0, -61.0, -63.0, -65.0], strict=True):
        original = decode_audio(audio_dir / record["file"]).samples
        transcript = transcriber.transcribe(as_phone_recording(original, rms_db))
        errors, length = score(record["transcript"], transcript.text, record["lang"])
        assert transcript.language == record["lang"], (record["file"], transcript.text)
        assert errors / length <= 0.25, (record["file"], rms_db, transcript.text)


def test_the_engines_refuse_noise_before_loading_a_model() -> None:
    from speech import model_cache
    from speech.config import SpeechConfig
    from speech.transcriber import load_transcriber

    noise = np.random.default_rng(1).normal(0, 0.05, 2 * SAMPLE_RATE).astype(np.float32)
    transcriber = load_transcriber(SpeechConfig(model="tiny.en", cpu_threads=3))  # a key no other test uses
    with pytest.raises(NoSpeechError, match=NO_VOICE):
        transcriber.transcribe(Audio(samples=noise))
    assert not any(key[1] == "tiny.en" and key[3] == "3" for key in model_cache.load_counts)


@pytest.mark.slow
def test_a_long_message_with_noisy_pauses_keeps_every_sentence(base_config, audio_dir: Path) -> None:
    """Three real clips separated by 9-14 s of background noise (57 s): base without VAD segmentation dropped
    the last sentence; with Silero segments (used above 30 s) every sentence is there."""
    from speech.evaluation import normalize_english, score
    from speech.transcriber import load_transcriber

    rng = np.random.default_rng(0)

    def noise(seconds: float, db: float = -55.0) -> np.ndarray:
        return rng.normal(0, 10 ** (db / 20), int(seconds * SAMPLE_RATE)).astype(np.float32)

    names = ("whisper_jfk.flac", "picovoice_leopard_test_librispeech_mr_quilter.wav",
             "speech_recognition_english_one_two_three.wav")  # fmt: skip
    clips = [decode_audio(audio_dir / name).samples for name in names]
    long = np.concatenate([noise(2), clips[0], noise(9), clips[1], noise(12, -50), clips[2], noise(14)])
    transcript = load_transcriber(base_config).transcribe(Audio(samples=long))
    reference = (
        "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your "
        "country. Mr. Quilter is the apostle of the middle classes and we are glad to welcome his gospel. one two three"
    )
    assert normalize_english(transcript.text)[-1] == "123", transcript.text
    assert score(reference, transcript.text, "en")[0] == 0, transcript.text
