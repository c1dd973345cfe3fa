"""Voice tone: agitation judged against the same customer's earlier voice, on rules and on real acted speech."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from agent.voice_tone import FIRST_READING_CAP, judge
from speech.audio import decode_audio
from speech.prosody import EMPTY, voice_features
from speech.types import VoiceFeatures

USUAL = VoiceFeatures(voiced_s=1.5, pitch_st=2.0, pitch_range_st=4.0, level_db=-30.0, tilt_db=-13.0, rate_per_s=4.5)


def shifted(**changes: float) -> VoiceFeatures:
    return dataclasses.replace(USUAL, **{k: getattr(USUAL, k) + v for k, v in changes.items()})


def test_the_customers_usual_voice_reads_calm() -> None:
    tone = judge(shifted(pitch_st=0.3, level_db=-1.0), [USUAL, shifted(level_db=1.0), USUAL])
    assert tone.agitation < 0.2 and tone.cues == () and tone.baseline_clips == 3


def test_raised_pitch_loudness_and_effort_read_agitated_with_their_cues() -> None:
    tone = judge(shifted(pitch_st=5.0, level_db=10.0, tilt_db=5.0, pitch_range_st=3.5), [USUAL] * 6)
    assert tone.agitation > 0.85
    assert set(tone.cues) == {"raised_pitch", "raised_loudness", "tense_voice", "wider_pitch_range"}
    assert tone.features == shifted(pitch_st=5.0, level_db=10.0, tilt_db=5.0, pitch_range_st=3.5)


def test_a_short_baseline_is_trusted_less() -> None:
    agitated = shifted(pitch_st=5.0, level_db=10.0, tilt_db=5.0, pitch_range_st=3.5)
    readings = [judge(agitated, [USUAL] * n).agitation for n in (0, 1, 2, 6, 10)]
    assert readings == sorted(readings) and readings[0] <= FIRST_READING_CAP < readings[2] < readings[-1]


def test_loudness_alone_does_not_make_an_agitated_voice() -> None:
    """A phone held closer (+6 dB) with the same voice is one cue of five: well short of agitated."""
    assert judge(shifted(level_db=6.0), [USUAL, USUAL]).agitation < 0.5


def test_a_calmer_voice_than_usual_reads_calm() -> None:
    assert judge(shifted(pitch_st=-3.0, level_db=-6.0, tilt_db=-3.0), [USUAL]).agitation < 0.05


def test_the_first_voice_message_gets_a_cautious_reading_without_loudness_or_pitch() -> None:
    tense = shifted(tilt_db=6.0, pitch_range_st=4.0, level_db=20.0, pitch_st=10.0)
    first = judge(tense, [])
    assert first.baseline_clips == 0 and first.agitation <= FIRST_READING_CAP
    assert "raised_loudness" not in first.cues and "raised_pitch" not in first.cues  # unknowable without a baseline
    assert judge(dataclasses.replace(tense, level_db=-60.0, pitch_st=-5.0), []).agitation == first.agitation


def test_clips_without_voice_are_left_out_of_the_baseline_and_read_zero() -> None:
    assert judge(EMPTY, [USUAL]).agitation == 0.0
    assert judge(shifted(pitch_st=5.0), [EMPTY, EMPTY]).baseline_clips == 0


def _actor(shared_data: Path, actor: str, emotion: str) -> list[np.ndarray]:
    root = shared_data / "voice_tone"
    rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines() if line.strip()]
    return [decode_audio(root / r["file"]).samples for r in rows if r["speaker"] == actor and r["emotion"] == emotion]


@pytest.mark.parametrize("actor", ["ravdess-01", "ravdess-02", "ravdess-03", "ravdess-04"])
@pytest.mark.parametrize("phone_gain_db", [-15.0, 15.0])
def test_real_angry_speech_reads_more_agitated_than_calm_speech_whatever_the_phone(
    shared_data: Path, actor: str, phone_gain_db: float
) -> None:
    """An actor's 4 neutral clips form the baseline (their usual voice); their 8 calm and 8 angry clips are judged.
    The whole conversation goes through one phone (+/-15 dB), and each clip gets its own +/-3 dB. Acting varies
    (actor 03 plays one angry clip quieter and lower than calm: cold anger), so the checks are on medians."""
    neutral, calm, angry = (_actor(shared_data, actor, emotion) for emotion in ("neutral", "calm", "angry"))
    rng = np.random.default_rng(7)

    def hear(samples: np.ndarray) -> VoiceFeatures:
        gain = phone_gain_db + rng.uniform(-3, 3)
        return voice_features(np.clip(samples * np.float32(10 ** (gain / 20)), -1, 1))

    baseline = [hear(s) for s in neutral]
    calm_tones = [judge(hear(s), baseline) for s in calm]
    angry_tones = [judge(hear(s), baseline) for s in angry]
    calm_median = np.median([t.agitation for t in calm_tones])
    angry_median = np.median([t.agitation for t in angry_tones])
    assert calm_median < 0.5 < angry_median, (calm_median, angry_median)
    assert sum(bool(t.cues) for t in angry_tones) >= 6
