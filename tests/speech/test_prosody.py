"""Prosody features: right on signals whose pitch we know, independent of gain, empty without a voice."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from speech.audio import decode_audio
from speech.prosody import EMPTY, voice_features
from speech.types import SAMPLE_RATE


def voiced_vowel(f0: float, seconds: float = 2.0, level: float = 0.1) -> np.ndarray:
    """A buzz with a 1/k harmonic spectrum and syllable-like 4 Hz loudness bumps: voice-like, pitch known."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    harmonics = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 30) if k * f0 < 7000)
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    return (level * harmonics * envelope / np.max(np.abs(harmonics))).astype(np.float32)


@pytest.mark.parametrize("f0", [90.0, 150.0, 240.0, 400.0])
def test_pitch_of_a_known_voice(f0: float) -> None:
    features = voice_features(voiced_vowel(f0))
    assert features.pitch_st == pytest.approx(12 * np.log2(f0 / 100), abs=0.3)
    assert features.pitch_range_st < 0.5  # a flat tone has no pitch movement
    assert features.voiced_s > 1.0


def test_every_feature_but_level_ignores_the_microphone_gain(audio_dir: Path) -> None:
    samples = decode_audio(audio_dir / "picovoice_leopard_test_librispeech_mr_quilter.wav").samples
    loud, quiet = voice_features(samples), voice_features(samples * np.float32(10 ** (-30 / 20)))
    assert quiet.level_db == pytest.approx(loud.level_db - 30, abs=0.5)
    for field in ("voiced_s", "pitch_st", "pitch_range_st", "tilt_db", "rate_per_s"):
        assert getattr(quiet, field) == pytest.approx(getattr(loud, field), rel=0.05, abs=0.2), field


def test_real_speech_has_plausible_prosody(audio_dir: Path) -> None:
    features = voice_features(decode_audio(audio_dir / "whisper_jfk.flac").samples)
    assert 70 < 100 * 2 ** (features.pitch_st / 12) < 250  # a man's speaking pitch, Hz
    assert 2 < features.pitch_range_st < 12 and features.voiced_s > 3
    assert 1.5 < features.rate_per_s < 8  # syllables per second of speech
    assert -30 < features.tilt_db < 0


def test_a_louder_effortful_voice_has_a_flatter_spectrum() -> None:
    """Vocal effort adds high harmonics; a steeper (1/k^2) spectrum stands for a soft voice."""
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    soft = sum(np.sin(2 * np.pi * k * 150 * t) / k**2 for k in range(1, 40)).astype(np.float32) * 0.05
    assert voice_features(voiced_vowel(150.0)).tilt_db > voice_features(soft).tilt_db + 6


@pytest.mark.parametrize(
    "samples",
    [
        np.zeros(SAMPLE_RATE, np.float32),
        np.random.default_rng(0).normal(0, 0.05, 2 * SAMPLE_RATE).astype(np.float32),
        np.zeros(100, np.float32),
    ],
)
def test_no_voice_gives_the_empty_summary(samples: np.ndarray) -> None:
    assert voice_features(samples) == EMPTY
    assert dataclasses.asdict(EMPTY)["voiced_s"] == 0
