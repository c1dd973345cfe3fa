"""Whole-turn latency, stage by stage: text, screenshot and voice turns through the real pipeline.

    .venv/bin/python benchmarks/turn_latency.py [--generator extractive] [--runs 30]

Prints p50/p95 per turn kind and the median of each stage (transcribe, ocr, retrieve, sentiment, policy,
generate, first_token). Models are warmed up first: a customer's first turn after start-up is measured
separately ("cold").
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from agent.services import Services
from agent.settings import load_settings
from agent.types import Turn

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TEXT_QUESTIONS = [
    "How do I activate my new debit card?",
    "my transfer hasn't arrived yet",
    "what is the fee for sending money abroad",
    "我的转账怎么还没到账？",
    "怎么修改绑定的手机号",
    "How can I download last month's statement?",
]


def screenshot_png() -> bytes:
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 34)
    image = Image.new("RGB", (720, 1280), "white")
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(["Transfer confirmation", "Error E2002", "Daily transfer limit reached", "OK"]):
        draw.text((40, 200 + n * 70), line, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default="extractive")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(data_dir=Path(data_dir), agent={"generator": args.generator})
        services = Services(settings)
        start = time.perf_counter()
        services.agent.ask(Turn(uuid.uuid4().hex, "How do I reset my password?"))
        print(f"cold first text turn (loads FAQ index, embedder, sentiment): {time.perf_counter() - start:.2f} s")
        services.warm_up()

        audio = (SHARED / "audio" / "picovoice_leopard_test_librispeech_mr_quilter.wav").read_bytes()  # 5.9 s
        kinds = {
            "text": lambda i: Turn(uuid.uuid4().hex, TEXT_QUESTIONS[i % len(TEXT_QUESTIONS)]),
            "screenshot": lambda i: Turn(uuid.uuid4().hex, image=screenshot_png()),
            "voice (5.9 s clip)": lambda i: Turn(uuid.uuid4().hex, audio=audio),
        }
        runs = {"text": args.runs, "screenshot": max(5, args.runs // 3), "voice (5.9 s clip)": max(5, args.runs // 3)}
        print(f"\ngenerator: {services.generator.name}; runs: {runs}")
        print(f"{'turn':<20} {'p50 ms':>8} {'p95 ms':>8}   median per stage (ms)")
        for kind, make_turn in kinds.items():
            totals, stages = [], defaultdict(list)
            for i in range(runs[kind]):
                start = time.perf_counter()
                reply = services.agent.ask(make_turn(i))
                totals.append((time.perf_counter() - start) * 1000)
                for stage, ms in reply.timings_ms.items():
                    stages[stage].append(ms)
            per_stage = ", ".join(f"{s} {statistics.median(v):.1f}" for s, v in stages.items())
            print(f"{kind:<20} {percentile(totals, 0.5):8.1f} {percentile(totals, 0.95):8.1f}   {per_stage}")
        services.close()


if __name__ == "__main__":
    main()
