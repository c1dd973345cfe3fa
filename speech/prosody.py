"""A clip's prosody in six numbers (VoiceFeatures): pitch, pitch range, loudness, spectral tilt, speech rate.

Plain numpy, ~10 ms for a 5 s clip on one core (benchmarks/voice_tone.py). The measures are the ones the
emotional-speech literature tracks for arousal (Banse & Scherer 1996; Juslin & Laukka 2003; eGeMAPS,
Eyben et al. 2016), computed the textbook way:

- F0 by normalised autocorrelation, divided by the window's own autocorrelation (Boersma 1993), in 40 ms
  windows every 20 ms; a frame is voiced when the peak clears 0.45 (Praat's voicing threshold).
- Loudness as the 90th percentile of active 10 ms frame levels (gain-dependent, see VoiceFeatures).
- Spectral tilt as eGeMAPS's alpha ratio: energy 1-5 kHz over 50 Hz-1 kHz in voiced frames. Vocal
  effort flattens the spectrum, so tilt tracks how hard someone speaks whatever the microphone gain.
- Speech rate as syllable nuclei per second: peaks of the voiced loudness contour at least 2 dB above the
  dip before them (de Jong & Wempe 2009).
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from speech.types import SAMPLE_RATE, VoiceFeatures

HOP = SAMPLE_RATE // 100  # 10 ms
WINDOW = 640  # 40 ms: two periods of a 50 Hz voice
PITCH_STEP = 2  # pitch and tilt every 2nd frame (20 ms): enough for clip-level statistics, half the FFTs
N_FFT = 1024  # >= WINDOW + the longest lag, so the autocorrelation does not wrap around
MIN_F0, MAX_F0 = 60.0, 600.0  # Hz: a deep male voice to a shouting child
VOICING_THRESHOLD = 0.45  # Praat's default
ACTIVE_BELOW_PEAK_DB = 30.0  # frames within 30 dB of the loud frames are speech, the rest pauses
OCTAVE_JUMP_ST = 9.0  # a frame this far from the clip's median pitch is taken as an octave error
NUCLEUS_DIP_DB = 2.0  # de Jong & Wempe: a syllable peak rises at least 2 dB above the preceding dip
EMPTY = VoiceFeatures(voiced_s=0.0, pitch_st=0.0, pitch_range_st=0.0, level_db=-120.0, tilt_db=0.0, rate_per_s=0.0)


def _frames(samples: np.ndarray) -> np.ndarray:
    """40 ms windows centred on each 10 ms frame (a view: nothing is copied until indexed)."""
    start = (HOP - WINDOW) // 2
    padded = np.pad(samples.astype(np.float32, copy=False), (-start, WINDOW))
    return np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[::HOP]


def _window_autocorrelation(window: np.ndarray) -> np.ndarray:
    spectrum = np.fft.rfft(window, N_FFT)
    ac = np.fft.irfft(np.abs(spectrum) ** 2, N_FFT)
    return ac / ac[0]


_HANN = np.hanning(WINDOW).astype(np.float32)
_HANN_AC = _window_autocorrelation(_HANN)
_LAGS = np.arange(int(SAMPLE_RATE / MAX_F0), int(SAMPLE_RATE / MIN_F0) + 1)
_FREQS = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
_LOW_BAND = (_FREQS >= 50) & (_FREQS < 1000)
_HIGH_BAND = (_FREQS >= 1000) & (_FREQS < 5000)


def _pitch(power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F0 in Hz, voicing strength) per frame from the frames' power spectra."""
    ac = scipy.fft.irfft(power, N_FFT, axis=1)
    ac = ac / np.maximum(ac[:, :1], 1e-12) / _HANN_AC[None, :]
    r = ac[:, _LAGS]
    # Prefer the shorter of two nearly equal peaks (a period, not two): Praat's octave cost, 0.01 per octave.
    r_cost = r - 0.01 * np.log2(_LAGS / _LAGS[0])[None, :]
    best = np.argmax(r_cost, axis=1)
    strength = r[np.arange(len(r)), best]
    inner = np.clip(best, 1, len(_LAGS) - 2)  # parabolic interpolation around the peak
    left, mid, right = (r[np.arange(len(r)), inner + k] for k in (-1, 0, 1))
    denominator = left - 2 * mid + right
    shift = np.where(np.abs(denominator) > 1e-9, 0.5 * (left - right) / np.where(denominator == 0, 1, denominator), 0)
    lag = _LAGS[inner] + np.clip(shift, -1, 1)
    return SAMPLE_RATE / lag, strength


def _fold_octave_errors(semitones: np.ndarray) -> np.ndarray:
    """Move frames an octave off the clip's median back by 12 semitones: autocorrelation's classic error is
    locking onto two periods (or half of one), and a voice does not jump an octave between syllables."""
    median = np.median(semitones)
    folded = semitones - 12 * np.round((semitones - median) / 12)
    return np.where(np.abs(semitones - median) > OCTAVE_JUMP_ST, folded, semitones)


def _syllable_nuclei(level_db: np.ndarray, voiced: np.ndarray) -> int:
    """Peaks of the smoothed loudness contour inside voiced stretches, each 2 dB above the dip before it."""
    smooth = np.convolve(level_db, np.ones(5) / 5, mode="same")  # 50 ms
    count, dip = 0, np.inf
    for i in range(1, len(smooth) - 1):
        dip = min(dip, smooth[i])
        is_peak = smooth[i] >= smooth[i - 1] and smooth[i] > smooth[i + 1]
        if is_peak and voiced[i] and smooth[i] - dip >= NUCLEUS_DIP_DB:
            count, dip = count + 1, smooth[i]  # the next nucleus must rise again from a new dip
    return count


def _frame_levels(samples: np.ndarray) -> np.ndarray:
    """Level (dBFS RMS) of every 10 ms frame: cheap, no FFT."""
    frames = samples[: samples.size // HOP * HOP].reshape(-1, HOP)
    return 10 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=1) + 1e-12)


def voice_features(samples: np.ndarray) -> VoiceFeatures:
    """Prosody of a 16 kHz mono float32 clip; EMPTY when it has no voiced speech at all.

    The spectra (pitch, tilt) are computed only for active frames, every 20 ms: the FFTs are most of the cost.
    """
    if samples.size < WINDOW:
        return EMPTY
    frame_db = _frame_levels(samples)
    active = frame_db >= np.percentile(frame_db, 95) - ACTIVE_BELOW_PEAK_DB
    analysed = np.flatnonzero(active)[::PITCH_STEP]
    frames = _frames(samples)[np.minimum(analysed, len(frame_db) - 1)] * _HANN
    power = np.abs(scipy.fft.rfft(frames, N_FFT, axis=1)) ** 2
    f0, strength = _pitch(power)
    is_voiced = strength >= VOICING_THRESHOLD
    if is_voiced.sum() * PITCH_STEP < 10:  # under 0.1 s of voicing: no pitch worth summarising
        return EMPTY
    voiced = np.zeros(len(frame_db), dtype=bool)
    for offset in range(PITCH_STEP):  # each analysed frame speaks for the next PITCH_STEP - 1 as well
        voiced[np.minimum(analysed[is_voiced] + offset, len(frame_db) - 1)] = True
    voiced &= active
    semitones = _fold_octave_errors(12 * np.log2(f0[is_voiced] / 100.0))
    low, median, high = np.percentile(semitones, [20, 50, 80])
    voiced_power = power[is_voiced]
    tilt = 10 * np.log10(voiced_power[:, _HIGH_BAND].sum(axis=1) / (voiced_power[:, _LOW_BAND].sum(axis=1) + 1e-12))
    speaking_s = active.sum() * HOP / SAMPLE_RATE
    return VoiceFeatures(
        voiced_s=round(float(voiced.sum() * HOP / SAMPLE_RATE), 3),
        pitch_st=round(float(median), 3),
        pitch_range_st=round(float(high - low), 3),
        level_db=round(float(np.percentile(frame_db[active], 90)), 3),
        tilt_db=round(float(np.mean(tilt)), 3),
        rate_per_s=round(float(_syllable_nuclei(frame_db, voiced) / speaking_s), 3),
    )
