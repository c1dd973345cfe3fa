"""How agitated does the customer sound? A VoiceTone for each customer voice message, judged against their
earlier voice messages in the same conversation.

Phones differ in gain by tens of dB and people differ in pitch by an octave, so a voice is compared with
itself: each cue is this message's prosody (speech/prosody.py) minus the median of the customer's earlier
voice messages, in units of a typical emotional shift. The rule has no fitted parameters; the cues and their
direction are the ones the emotional-speech literature reports for high arousal and anger (Banse & Scherer
1996; Juslin & Laukka 2003, table 7; Eyben et al. 2016, eGeMAPS): higher and wider pitch, louder, a flatter
spectrum (vocal effort), faster speech. The unit of each cue is a round "clearly changed" step, chosen a priori
(3 semitones, 6 dB, 3 dB of tilt, 15 % faster), and the weights are equal (Dawes' improper linear model),
halved for the two cues the literature finds least consistent (pitch range, rate). Nothing was fitted or tuned
on RAVDESS (measured with `findesk eval tone`, see benchmarks/voice_tone.md).

Until the customer has spoken a few times their baseline is shaky, so the reading against it is blended with a
reading against round population references for the two gain- and speaker-independent cues (spectral tilt and
pitch range), the customer's own baseline weighing n / (n + PRIOR_MESSAGES) after n voice messages. The first
voice message has only the population reading and is capped at FIRST_READING_CAP: a cautious reading. (The
blend was added after a first version without it measured AUC 0.909 on RAVDESS; PRIOR_MESSAGES = 3 was set
once, not searched. Both versions' figures: benchmarks/voice_tone.md.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.types import VoiceTone
from speech.types import VoiceFeatures


@dataclass(frozen=True)
class Cue:
    name: str  # shown to agents, e.g. "raised_pitch"
    feature: str  # VoiceFeatures field
    unit: float  # a clearly noticeable shift, in the feature's unit (relative for rate)
    weight: float
    relative: bool = False  # compare as a ratio (rate) rather than a difference


CUES = (
    Cue("raised_pitch", "pitch_st", 3.0, 1.0),
    Cue("raised_loudness", "level_db", 6.0, 1.0),
    Cue("tense_voice", "tilt_db", 3.0, 1.0),
    Cue("wider_pitch_range", "pitch_range_st", 3.0, 0.5),
    Cue("faster_speech", "rate_per_s", 0.15, 0.5, relative=True),
)
# Without a baseline only gain- and speaker-independent cues can be judged, against population references:
# modal speech has its 1-5 kHz energy ~12 dB below 50 Hz-1 kHz and a 20-80 % pitch spread of ~4 semitones.
FIRST_READING = {"tilt_db": -12.0, "pitch_range_st": 4.0}
FIRST_READING_CAP = 0.7  # a first message alone can read as agitated, but never as strongly as a clear shift
PRIOR_MESSAGES = 3  # the population references count as this many earlier messages of the customer's own
BASELINE_MESSAGES = 10  # the customer's latest earlier voice messages that make up their usual voice
CUE_SHOWN_AT = 0.5  # a cue is named when it moved half a unit or more (where agitation crosses 0.5)
SLOPE, MIDPOINT = 4.0, 0.5  # agitation = logistic(SLOPE * (mean shift - MIDPOINT)): 0.12 unchanged, 0.5 half a unit
MAX_SHIFT = 3.0  # units: one extreme cue (a cough, a clipped shout) cannot outvote all the others


def _shift(cue: Cue, value: float, reference: float) -> float:
    if cue.relative:
        shift = (value / reference - 1.0) / cue.unit if reference > 0 else 0.0
    else:
        shift = (value - reference) / cue.unit
    return float(np.clip(shift, -MAX_SHIFT, MAX_SHIFT))


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _mean_shift(features: VoiceFeatures, references: dict[str, float]) -> tuple[float, dict[str, float]]:
    """Weighted mean shift over the cues that have a reference, and each cue's shift."""
    cues = [c for c in CUES if c.feature in references]
    shifts = {c.name: _shift(c, getattr(features, c.feature), references[c.feature]) for c in cues}
    return sum(c.weight * shifts[c.name] for c in cues) / sum(c.weight for c in cues), shifts


def judge(features: VoiceFeatures, earlier: Sequence[VoiceFeatures]) -> VoiceTone:
    """This voice message's agitation against the same customer's earlier ones (oldest first).

    The reading against the population references and the one against the customer's own baseline are
    blended by how much baseline there is: n earlier messages weigh n / (n + PRIOR_MESSAGES). One earlier
    message is a shaky baseline (it may itself be agitated); ten are the customer's voice.
    """
    baseline = [f for f in earlier if f.voiced_s > 0][-BASELINE_MESSAGES:]
    if features.voiced_s <= 0:  # nothing voiced to judge (a whisper, a very short clip)
        return VoiceTone(0.0, (), len(baseline), features)
    population, population_shifts = _mean_shift(features, FIRST_READING)
    trust = len(baseline) / (len(baseline) + PRIOR_MESSAGES)
    if baseline:
        references = {c.feature: float(np.median([getattr(f, c.feature) for f in baseline])) for c in CUES}
        own, shifts = _mean_shift(features, references)
    else:
        own, shifts = 0.0, population_shifts
    agitation = _logistic(SLOPE * (trust * own + (1 - trust) * population - MIDPOINT))
    agitation *= FIRST_READING_CAP + (1 - FIRST_READING_CAP) * trust  # no baseline: a cautious reading
    named = tuple(name for name, shift in sorted(shifts.items(), key=lambda kv: -kv[1]) if shift >= CUE_SHOWN_AT)
    return VoiceTone(round(agitation, 4), named, len(baseline), features)
