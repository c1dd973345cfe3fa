"""ASR side by side: both engines on the same real clips, each in a fresh process, one run.

    .venv/bin/python benchmarks/asr.py [--model base] [--beam-size 1] [--engines faster-whisper,openai-whisper]

Clips: ../shared/data/audio/manifest.jsonl (3 English, 2 Mandarin). Per engine, a fresh subprocess
(so peak memory is that engine's own) does: import + load + first transcription (the "< 3 s" target),
then every clip (RTF = transcription time / audio duration, model already loaded), then every clip again
with a bias prompt built from FAQ vocabulary, to measure its effect. WER uses Whisper's English
normaliser, CER is over simplified characters without punctuation (speech/evaluation.py).
CPU RTF = process CPU seconds / audio seconds / threads: what wall RTF would be on idle cores, useful when
the machine is shared (the load average is printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speech.config import SpeechConfig  # noqa: E402

MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio" / "manifest.jsonl"
BIAS_PROMPT = "FinDesk bank support: IBAN, SWIFT, chargeback, overdraft, 银行卡, 转账, 信用卡."


def worker(engine: str, model: str, beam_size: int, threads: int, window_s: float) -> None:
    """Runs in a fresh process: prints one JSON object with both passes' reports."""
    started = time.perf_counter()
    from speech.audio import decode_audio
    from speech.evaluation import evaluate, load_manifest, peak_rss_mb
    from speech.transcriber import load_transcriber

    config = SpeechConfig(
        engine=engine, model=model, beam_size=beam_size, cpu_threads=threads, encoder_window_s=window_s
    )
    items = load_manifest(MANIFEST)
    first_audio = decode_audio(items[0].path)
    before_first = time.perf_counter()
    cpu_first = time.process_time()
    transcriber = load_transcriber(config)
    first = transcriber.transcribe(first_audio)
    first_s = time.perf_counter() - before_first
    first_cpu_s = time.process_time() - cpu_first
    cpu_before = time.process_time()
    report = evaluate(transcriber, items, model=model)
    cpu_s = time.process_time() - cpu_before
    prompted = evaluate(transcriber, items, model=model, prompt=BIAS_PROMPT)
    print(
        json.dumps(
            {
                "report": dataclasses.asdict(report),
                "prompted": dataclasses.asdict(prompted),
                "first_transcription_s": first_s,
                "first_transcription_cpu_s": first_cpu_s,
                "load_s": first.timings_ms["load"] / 1000,
                "imports_s": before_first - started,  # python imports + decoding the first clip
                "cpu_s": cpu_s,
                "peak_rss_mb": peak_rss_mb(),
            },
            default=str,
        )
    )


def _prepare(model: str, engines: list[str]) -> None:
    """Assemble/convert weights up front: a one-time install cost, not part of a process start."""
    from speech.ct2_to_openai import openai_checkpoint
    from speech.model_pack import default_cache_dir, resolve_model

    resolved = resolve_model(model)
    if "faster-whisper" in engines and resolved.ct2_dir is not None:
        from speech.ct2_int8 import int8_model_dir
        from speech.engines.faster import _cache_key

        int8_model_dir(resolved.ct2_dir, default_cache_dir(), _cache_key(resolved))
    if "openai-whisper" in engines and resolved.ct2_dir is not None:
        key = f"{resolved.name}-{resolved.sha256[:12]}" if resolved.sha256 else resolved.ct2_dir.name
        openai_checkpoint(resolved.ct2_dir, default_cache_dir(), key)


def _rate(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:6.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="base")
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engines", default="faster-whisper,openai-whisper")
    parser.add_argument("--encoder-window", type=float, default=SpeechConfig().encoder_window_s)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.model, args.beam_size, args.threads, args.encoder_window)
        return
    engines = args.engines.split(",")
    _prepare(args.model, engines)
    print(
        f"model {args.model}, beam {args.beam_size}, {args.threads} threads, {os.cpu_count()} cores, "
        f"faster-whisper encoder window {args.encoder_window:g} s, "
        f"load average before: {os.getloadavg()[0]:.1f}"
    )
    rows = []
    for engine in engines:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                engine,
                "--model",
                args.model,
                "--beam-size",
                str(args.beam_size),
                "--threads",
                str(args.threads),
                "--encoder-window",
                str(args.encoder_window),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        report, prompted = result["report"], result["prompted"]
        duration = sum(c["duration_s"] for c in report["clips"])
        print(f"\n== {engine} ({args.model}) ==")
        for clip, with_prompt in zip(report["clips"], prompted["clips"], strict=True):
            metric = "WER" if clip["lang"] == "en" else "CER"
            print(
                f"  {clip['file'][:40]:40s} {clip['lang']} {metric} {clip['error_rate']:6.1%} "
                f"(prompt {with_prompt['error_rate']:6.1%})  RTF {clip['rtf']:.3f}  {clip['hypothesis']}"
            )
            if with_prompt["hypothesis"] != clip["hypothesis"]:
                print(f"  {'':40s}    with prompt: {with_prompt['hypothesis']}")
        rows.append(
            (
                engine,
                report["wer_en"],
                report["cer_zh"],
                report["rtf"],
                result["cpu_s"] / duration / args.threads,
                result["first_transcription_s"],
                result["first_transcription_cpu_s"],
                result["load_s"],
                result["peak_rss_mb"],
                prompted["wer_en"],
                prompted["cer_zh"],
            )
        )
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    print(
        f"\n{'engine':16s} {'WER en':>7s} {'CER zh':>7s} {'RTF':>6s} {'CPU RTF':>8s} {'first(s)':>9s} {'cpu s':>5s} "
        f"{'load(s)':>8s} {'peak MB':>8s} {'WER+prompt':>11s} {'CER+prompt':>11s}"
    )
    for engine, wer, cer, rtf, cpu_rtf, first, first_cpu, load, peak, wer_p, cer_p in rows:
        print(
            f"{engine:16s} {_rate(wer):>7s} {_rate(cer):>7s} {rtf:6.3f} {cpu_rtf:8.3f} {first:9.2f} "
            f"{first_cpu:5.2f} {load:8.2f} {peak:8.0f} {_rate(wer_p):>11s} {_rate(cer_p):>11s}"
        )


if __name__ == "__main__":
    main()
