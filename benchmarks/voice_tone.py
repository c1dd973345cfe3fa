"""Voice tone: accuracy on acted speech (with and without random phone gains) and cost per 5 s clip.

    .venv/bin/python benchmarks/voice_tone.py [--seeds 5]

Accuracy: `findesk eval tone` on ../shared/data/voice_tone (RAVDESS actors 01-04; measurement only, nothing
is fitted on it) for seeds 0..N-1, without gains and with +/-15 dB per speaker and +/-3 dB per clip.
Cost: what a voice turn pays on top of transcription (Services.hear_voice + judge): decoding the upload
again, the prosody features and the judgement against 10 earlier messages, on 5 s of real speech (the first
5 s of the JFK clip), 200 times; median and 95th percentile in ms. The process is limited to 2 cores.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.voice_tone import judge  # noqa: E402
from agent.voice_tone_eval import evaluate_tone, load_tone_manifest  # noqa: E402
from speech.audio import decode_audio  # noqa: E402
from speech.prosody import voice_features  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def five_second_wav() -> bytes:
    samples = decode_audio(SHARED / "audio" / "whisper_jfk.flac").samples[: 5 * 16_000]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(np.round(samples * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def cost(runs: int = 200) -> dict[str, float]:
    """Median ms per stage, wall clock and CPU time of this thread (CPU time is what a busy machine inflates
    least: on the shared 2-core VM wall time mostly measures waiting for a core)."""
    upload = five_second_wav()
    earlier = [voice_features(decode_audio(upload).samples)] * 10
    clocks = {"wall": time.perf_counter, "cpu": time.thread_time}
    times: dict[str, list[float]] = {f"{stage}_{clock}": [] for clock in clocks for stage in STAGES}
    for _ in range(runs):
        for clock_name, clock in clocks.items():
            t0 = clock()
            samples = decode_audio(upload).samples
            t1 = clock()
            features = voice_features(samples)
            t2 = clock()
            judge(features, earlier)
            t3 = clock()
            for stage, seconds in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                times[f"{stage}_{clock_name}"].append(seconds * 1000)
    out = {f"{k}_median_ms": statistics.median(v) for k, v in times.items()}
    out["total_wall_p95_ms"] = float(np.percentile(times["total_wall"], 95))
    return out


STAGES = ("decode", "features", "judge", "total")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])
    print(f"cores {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.1f}")
    for name, ms in cost().items():
        print(f"  {name:28s} {ms:6.1f}")
    clips = load_tone_manifest(SHARED / "voice_tone" / "manifest.jsonl")
    for gain_db in (0.0, 15.0):
        reports = [evaluate_tone(clips, seed=seed, gain_db=gain_db) for seed in range(args.seeds)]
        aucs = [r.auc_angry_vs_calm for r in reports]
        firsts = [r.auc_angry_vs_calm_first_clip for r in reports]
        print(
            f"gains +/-{gain_db:g} dB: auc_angry_vs_calm mean {statistics.mean(aucs):.3f} "
            f"(min {min(aucs):.3f}, max {max(aucs):.3f}, per seed {', '.join(f'{a:.3f}' for a in aucs)}); "
            f"first clip (no baseline) mean {statistics.mean(firsts):.3f}"
        )
        emotions = sorted(reports[0].mean_agitation, key=lambda e: -reports[0].mean_agitation[e])
        print("  mean agitation (seed 0): " + ", ".join(f"{e} {reports[0].mean_agitation[e]:.2f}" for e in emotions))


if __name__ == "__main__":
    main()
