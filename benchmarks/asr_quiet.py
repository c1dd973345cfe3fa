"""ASR on real clips as quiet phones record them, and the decoding options tried for accuracy.

    .venv/bin/python benchmarks/asr_quiet.py [--levels -55,-60,-65] [--variants greedy,beam5,vad,prompt]

Clips: ../shared/data/audio/manifest.jsonl (3 English, 2 Mandarin) as they are, plus each one attenuated to
every level in --levels (dBFS RMS) and quantised to 16-bit wav, as a phone at low gain delivers it (written to
a temporary folder, never into the project). Engine: faster-whisper, multilingual base, int8, 2 threads.
Scoring: speech/evaluation.py (normalised on both sides; a refused clip counts as fully wrong).
Variants: greedy (the default), beam5 (beam_size=5), vad (vad_filter: Silero segments before decoding),
prompt (the FAQ-vocabulary bias prompt of benchmarks/asr.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speech.audio import decode_audio  # noqa: E402
from speech.config import SpeechConfig  # noqa: E402
from speech.evaluation import ManifestItem, evaluate, load_manifest  # noqa: E402
from speech.transcriber import load_transcriber  # noqa: E402

MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio" / "manifest.jsonl"
BIAS_PROMPT = "FinDesk bank support: IBAN, SWIFT, chargeback, overdraft, 银行卡, 转账, 信用卡."
VARIANTS = {
    "greedy": ({}, None),
    "beam5": ({"beam_size": 5}, None),
    "vad": ({"vad_filter": True}, None),
    "prompt": ({}, BIAS_PROMPT),
}


def write_quiet(item: ManifestItem, rms_db: float, folder: Path) -> ManifestItem:
    samples = decode_audio(item.path).samples
    gain = 10 ** ((rms_db - 10 * np.log10(np.mean(np.square(samples, dtype=np.float64)))) / 20)
    pcm = np.round(np.clip(samples * gain, -1, 1) * 32767).astype("<i2")
    path = folder / f"{item.path.stem}@{rms_db:g}dB.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(pcm.tobytes())
    return ManifestItem(path, item.lang, item.transcript)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="-55,-60,-65")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    originals = load_manifest(MANIFEST)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        quiet = [write_quiet(i, float(level), Path(tmp)) for level in args.levels.split(",") for i in originals]
        for name in args.variants.split(","):
            options, prompt = VARIANTS[name]
            transcriber = load_transcriber(SpeechConfig(model="base", cpu_threads=2, **options))
            for label, items in (("original", originals), ("quiet", quiet)):
                report = evaluate(transcriber, items, model="base", prompt=prompt)
                results[(name, label)] = report
                print(
                    f"{name:7s} {label:8s} clips {len(items):2d}  WER en {report.wer_en:6.1%}"
                    f"  CER zh {report.cer_zh:6.1%}  refused {len(report.failures)}  RTF {report.rtf:.3f}",
                    flush=True,
                )
                for clip in report.clips:
                    if clip.error or clip.errors:
                        print(f"    {clip.file}: {clip.error or clip.hypothesis} ({clip.errors} errors)")
    if args.json:
        print(json.dumps({f"{k[0]}/{k[1]}": {"wer_en": r.wer_en, "cer_zh": r.cer_zh, "refused": len(r.failures)}
                          for k, r in results.items()}))  # fmt: skip


if __name__ == "__main__":
    main()
