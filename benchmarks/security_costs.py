"""What issue #9's checks cost per request, and what the lower screenshot pixel limit saves.

    python benchmarks/security_costs.py            # a few seconds; prints one JSON object

- PII redaction (agent/pii.py) on customer messages with and without numbers, on FAQ answers, and on an
  assistant reply that keeps the numbers of five quoted FAQ passages (cached after the first reply).
- A bomb-like screenshot: a ~5 KB PNG declaring 20 or 40 megapixels. Decoding it (what the old 40 MP limit
  let through) against refusing it from its header (the 16 MP default).
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from agent.errors import ImageError
from agent.pii import redact
from agent.screenshot import check_screenshot

FAQ = Path(__file__).resolve().parents[1] / "retrieval" / "data" / "default_faq.jsonl"


def median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def bomb(megapixels: int) -> bytes:
    side = int((megapixels * 1e6) ** 0.5)
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG")
    return buffer.getvalue()


def refused(data: bytes, max_pixels: int) -> None:
    with contextlib.suppress(ImageError):  # refused or accepted, the time is what counts
        check_screenshot(data, max_bytes=10_000_000, max_pixels=max_pixels)


def main() -> None:
    answers = [json.loads(line)["answer"] for line in FAQ.read_text(encoding="utf-8").splitlines() if line.strip()]
    plain = "How do I activate my new card? It keeps saying the activation failed."
    numbers = "My card 4111 1111 1111 1111 was declined, call me on 030 1234 5678 or +44 20 7946 0958"
    redact(numbers, keep=answers[:5])  # load libphonenumber's metadata and fill the cache once
    results: dict[str, object] = {
        "redact_ms": {
            "message_without_digits": median_ms(lambda: redact(plain), 200),
            "message_with_card_and_phones": median_ms(lambda: redact(numbers), 50),
            "faq_answer": round(median_ms(lambda: [redact(a) for a in answers], 3) / len(answers), 2),
            "reply_keeping_5_passages": median_ms(lambda: redact(answers[0], keep=answers[:5]), 50),
        }
    }
    bombs = {}
    for megapixels in (20, 40):
        data = bomb(megapixels)
        bombs[f"{megapixels}MP"] = {
            "file_bytes": len(data),
            "decoded_under_old_40MP_limit_ms": median_ms(lambda d=data: refused(d, 41_000_000), 3),
            "refused_at_16MP_default_ms": median_ms(lambda d=data: refused(d, 16_000_000), 20),
        }
    results["screenshot_bomb"] = bombs
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
