"""Sentiment quality and latency on real customer-service messages the classifier never saw.

    .venv/bin/python benchmarks/sentiment.py [--data ../shared/data/sentiment/airline_tweets_dev.jsonl]
        [--analyzers offline,lexicon] [--latency-calls 200]

Prints, per analyser: n, accuracy, macro-F1, per-class F1, the confusion matrix and the p50 latency of
one-message calls (as a turn makes them). The default data is the airline tweets dev set
(measurement only: never trained on). Numbers depend on machine load; note it beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from agent.sentiment import load_sentiment_analyzer
from agent.sentiment.evaluate import evaluate, load_labelled
from agent.settings import AgentConfig

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment" / "airline_tweets_dev.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description="FinDesk sentiment benchmark")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--analyzers", default="offline,lexicon", help="comma-separated analyser names")
    parser.add_argument("--latency-calls", type=int, default=200)
    args = parser.parse_args()
    rows = load_labelled(args.data)
    print(f"data: {args.data} ({len(rows)} messages); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name in args.analyzers.split(","):
        analyzer = load_sentiment_analyzer(AgentConfig(sentiment_analyzer=name))
        started = time.perf_counter()
        analyzer.warm_up()
        warm = time.perf_counter() - started
        started = time.perf_counter()
        report = evaluate(analyzer, rows, latency_calls=args.latency_calls)
        total = time.perf_counter() - started
        print(f"\n[{name}] warm-up {warm:.1f} s, whole run {total:.1f} s")
        print(json.dumps(report.to_dict()))


if __name__ == "__main__":
    main()
