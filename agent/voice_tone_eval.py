"""Measure voice tone on acted emotional speech: `findesk eval tone MANIFEST.jsonl`.

Manifest lines: {"file", "speaker", "language", "emotion"}, file relative to the manifest. Each speaker's
clips are replayed as one conversation in a fixed shuffled order (`seed`), so a clip's baseline comes only
from that speaker's earlier clips, exactly as in a chat. With `gain_db`, every speaker gets a random
microphone gain of up to +/-gain_db and every clip up to +/-clip_gain_db more (samples clipped at full scale,
as a phone would), which is how the product is judged: loudness alone cannot win.

Figures: `auc_angry_vs_calm` (angry against neutral and calm clips), `auc_angry_vs_calm_first_clip` (every
clip read with no baseline, as a customer's first voice message is), mean agitation per emotion, and the
time per clip (prosody + judgement; decoding excluded).
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.errors import AgentError
from agent.voice_tone import judge
from speech.audio import decode_audio
from speech.prosody import voice_features
from speech.types import VoiceFeatures

CALM = ("neutral", "calm")
AGITATED = ("angry",)


@dataclass(frozen=True)
class ToneClip:
    path: Path
    speaker: str
    language: str
    emotion: str


@dataclass(frozen=True)
class ToneClipResult:
    file: str
    speaker: str
    emotion: str
    position: int  # 0 = the speaker's first clip in the replay
    gain_db: float  # applied gain (speaker + clip)
    agitation: float  # judged against the speaker's earlier clips
    first_reading: float  # judged with no baseline
    cues: tuple[str, ...]
    duration_s: float
    ms: float  # prosody + judgement


@dataclass(frozen=True)
class ToneReport:
    clips: list[ToneClipResult]
    auc_angry_vs_calm: float | None
    auc_angry_vs_calm_first_clip: float | None
    mean_agitation: dict[str, float]  # per emotion
    ms_per_clip: float  # mean
    ms_per_5s: float  # mean time scaled to a 5 s clip
    seed: int
    gain_db: float
    clip_gain_db: float


def load_tone_manifest(path: Path) -> list[ToneClip]:
    if not path.is_file():
        raise AgentError(f"manifest {path} not found.")
    clips = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            clip = ToneClip(path.parent / record["file"], record["speaker"], record["language"], record["emotion"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise AgentError(f"{path}:{number}: expected JSON with file, speaker, language and emotion ({e}).") from e
        if not clip.path.is_file():
            raise AgentError(f"{path}:{number}: audio file {clip.path} not found.")
        clips.append(clip)
    if not clips:
        raise AgentError(f"manifest {path} has no clips.")
    return clips


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """P(a positive scores above a negative), ties counting half (the Mann-Whitney form of ROC AUC)."""
    if not positives or not negatives:
        return None
    p, n = np.asarray(positives)[:, None], np.asarray(negatives)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


def replay_order(clips: Sequence[ToneClip], seed: int) -> dict[str, list[ToneClip]]:
    """Each speaker's clips in a shuffled order fixed by `seed` (independent of the manifest's line order)."""
    by_speaker: dict[str, list[ToneClip]] = defaultdict(list)
    for clip in sorted(clips, key=lambda c: (c.speaker, str(c.path))):
        by_speaker[clip.speaker].append(clip)
    rng = random.Random(seed)
    for speaker in sorted(by_speaker):
        rng.shuffle(by_speaker[speaker])
    return dict(by_speaker)


def evaluate_tone(
    clips: Sequence[ToneClip],
    *,
    seed: int = 0,
    gain_db: float = 0.0,
    clip_gain_db: float = 3.0,
    on_clip: Callable[[ToneClipResult], None] | None = None,
) -> ToneReport:
    """Replay every speaker's clips as one conversation; `gain_db` > 0 applies random microphone gains."""
    gains = np.random.default_rng(seed)
    results = []
    for speaker, ordered in replay_order(clips, seed).items():
        speaker_gain = gains.uniform(-gain_db, gain_db) if gain_db else 0.0
        earlier: list[VoiceFeatures] = []
        for position, clip in enumerate(ordered):
            gain = speaker_gain + (gains.uniform(-clip_gain_db, clip_gain_db) if gain_db else 0.0)
            samples = decode_audio(clip.path).samples
            samples = np.clip(samples * np.float32(10 ** (gain / 20)), -1.0, 1.0)
            start = time.perf_counter()
            features = voice_features(samples)
            tone = judge(features, earlier)
            ms = (time.perf_counter() - start) * 1000
            result = ToneClipResult(
                file=clip.path.name,
                speaker=speaker,
                emotion=clip.emotion,
                position=position,
                gain_db=round(gain, 2),
                agitation=tone.agitation,
                first_reading=judge(features, []).agitation,
                cues=tone.cues,
                duration_s=samples.size / 16_000,
                ms=round(ms, 3),
            )
            results.append(result)
            earlier.append(features)
            if on_clip is not None:
                on_clip(result)
    return _report(results, seed=seed, gain_db=gain_db, clip_gain_db=clip_gain_db)


def _report(results: list[ToneClipResult], *, seed: int, gain_db: float, clip_gain_db: float) -> ToneReport:
    def scores(emotions: Sequence[str], field: str) -> list[float]:
        return [getattr(r, field) for r in results if r.emotion in emotions]

    by_emotion: dict[str, list[float]] = defaultdict(list)
    for r in results:
        by_emotion[r.emotion].append(r.agitation)
    return ToneReport(
        clips=results,
        auc_angry_vs_calm=auc(scores(AGITATED, "agitation"), scores(CALM, "agitation")),
        auc_angry_vs_calm_first_clip=auc(scores(AGITATED, "first_reading"), scores(CALM, "first_reading")),
        mean_agitation={e: round(float(np.mean(v)), 4) for e, v in sorted(by_emotion.items())},
        ms_per_clip=round(float(np.mean([r.ms for r in results])), 3),
        ms_per_5s=round(float(np.mean([r.ms * 5.0 / r.duration_s for r in results])), 3),
        seed=seed,
        gain_db=gain_db,
        clip_gain_db=clip_gain_db if gain_db else 0.0,
    )
