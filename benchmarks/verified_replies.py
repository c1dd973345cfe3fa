"""What real small models write for customers, and what reply verification (agent/grounding.py) lets through.

    .venv/bin/python benchmarks/verified_replies.py [--models smollm2-135m,gemma3-270m] [--max-tokens 160]

Starts the llama.cpp server of agent.generators.local_llm on loopback, then for each hand-written customer
question (English for every model, Chinese too for the multilingual Gemma): searches the default FAQ, builds
the prompt the pipeline builds, streams the model's raw reply through the OpenAI-compatible generator and
verifies it as the pipeline does. Prints one line per reply (raw text, what was shown, what was cut and why)
and a summary per model: replies without any valid citation, replies with sentences cut, replies that fell back
to the extractive answer, removals by reason, and time per reply. The questions are ours, not evaluation data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from agent.generators.local_llm import MODELS, LlamaServer
from agent.generators.openai_server import OpenAIServerGenerator
from agent.grounding import cited_numbers, verify_reply
from agent.pipeline import answer_passages
from agent.prompts import build_prompt
from agent.services import Services
from agent.settings import load_settings
from agent.tone import ToneSplitter

QUESTIONS = {
    "en": [
        "My card was declined at the supermarket, why?",
        "How much does it cost to take cash out at another bank's ATM?",
        "I lost my card, which number do I call?",
        "I forgot my password and got locked out, how long until I can try again?",
        "How long does an international transfer take?",
        "When will my new card arrive?",
        "Can I pay off my loan early, is there a fee?",
        "How many years of statements can I download?",
    ],
    "zh": [
        "银行卡丢了怎么办？要打哪个电话？",
        "密码输错被锁了，多久能解锁？",
        "境外汇款几天到账？",
        "新卡多久能寄到？",
        "提前还贷要收费吗？",
        "验证码多久有效？",
    ],
}
MULTILINGUAL = {"gemma3-270m"}


def main() -> None:
    parser = argparse.ArgumentParser(description="Real small models vs reply verification")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--max-tokens", type=int, default=160)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as data_dir, LlamaServer() as server:
        services = Services(load_settings(data_dir=Path(data_dir)))
        try:
            for model in args.models.split(","):
                run_model(services, server, model, args.max_tokens)
        finally:
            services.close()


def run_model(services: Services, server: LlamaServer, model: str, max_tokens: int) -> None:
    config = services.settings.agent.model_copy(
        update={
            "generator": "openai",
            "openai_base_url": server.base_url,
            "openai_model": model,
            "max_new_tokens": max_tokens,
            "generation_timeout_s": 300.0,
        }
    )
    generator = OpenAIServerGenerator(config)
    languages = ["en", "zh"] if model in MULTILINGUAL else ["en"]
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    seconds: list[float] = []
    print(f"\n## {model}")
    for language in languages:
        for question in QUESTIONS[language]:
            result = services.knowledge_base.search(question)
            passages = answer_passages(result, language, config.prompt_max_passages)
            if not passages:
                print(f"- {question!r}: no passages retrieved, skipped")
                continue
            prompt = build_prompt(question, passages, language=language, max_passages=config.prompt_max_passages)
            started = time.perf_counter()
            tone = ToneSplitter()
            raw = "".join(tone.feed(delta) for delta in generator.stream(prompt)) + tone.flush()
            seconds.append(time.perf_counter() - started)
            verifier = verify_reply(raw, prompt.passages, language, f"{prompt.message}\n{prompt.screenshot_text}")
            counts["replies"] += 1
            counts["no valid citation"] += not cited_numbers(raw, len(prompt.passages))
            counts["sentences cut"] += bool(verifier.removed and verifier.shown)
            counts["fell back to extractive"] += not verifier.shown
            counts["shown whole"] += not verifier.removed
            reasons.update(r.reason.split(" '")[0] if "'" in r.reason else r.reason for r in verifier.removed)
            print(f"- {question!r} ({seconds[-1]:.1f} s)\n  raw:   {raw.strip()[:400]!r}")
            print(f"  shown: {verifier.shown[:300]!r}")
            for removal in verifier.removed:
                print(f"  cut:   {removal.sentence[:120]!r}: {removal.reason}")
    n = counts["replies"]
    print(f"\n{model}: {n} replies, median {statistics.median(seconds):.1f} s per reply")
    for key in ("no valid citation", "shown whole", "sentences cut", "fell back to extractive"):
        print(f"  {key}: {counts[key]} of {n}")
    print("  removals by reason: " + ", ".join(f"{reason}: {k}" for reason, k in reasons.most_common()))


if __name__ == "__main__":
    main()
