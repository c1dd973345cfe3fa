"""Measure an analyser on labelled messages: accuracy, macro-F1, per-class F1, confusion, latency.

Used by `findesk eval sentiment` and benchmarks/sentiment.py. Data: JSONL lines
{"text": "...", "label": "negative"|"neutral"|"positive"} with an optional "language".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.errors import SentimentError
from agent.sentiment.base import CLASSES, SentimentAnalyzer
from agent.types import Sentiment, SentimentLabel


@dataclass(frozen=True)
class LabelledText:
    text: str
    label: SentimentLabel
    language: str | None = None


@dataclass(frozen=True)
class SentimentReport:
    n: int
    accuracy: float
    macro_f1: float
    f1: dict[str, float]  # per class
    confusion: list[list[int]]  # rows: true class, columns: predicted, both in CLASSES order
    latency_p50_ms: float  # one message per call, as a turn does
    latency_calls: int  # how many single-message calls the p50 is over
    analyzer: str

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "f1": {k: round(v, 4) for k, v in self.f1.items()},
            "confusion": {"labels": [str(c) for c in CLASSES], "matrix": self.confusion},
            "latency_p50_ms": round(self.latency_p50_ms, 2) if self.latency_calls else None,
            "latency_calls": self.latency_calls,
            "analyzer": self.analyzer,
        }


def load_labelled(path: Path) -> list[LabelledText]:
    """Read labelled JSONL; every bad line is reported with its number and what to fix."""
    if not path.is_file():
        raise SentimentError(f'Labelled data {path} not found: give a JSONL file of {{"text", "label"}} lines.')
    rows: list[LabelledText] = []
    valid = ", ".join(str(c) for c in CLASSES)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise SentimentError(f"{path}:{number} is not valid JSON ({error.msg}).") from error
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise SentimentError(f'{path}:{number} needs a "text" string.')
            if item.get("label") not in {str(c) for c in CLASSES}:
                raise SentimentError(f"{path}:{number} has label {item.get('label')!r}; valid labels: {valid}.")
            language = item.get("language")
            rows.append(LabelledText(item["text"], SentimentLabel(item["label"]), language if language else None))
    if not rows:
        raise SentimentError(f"{path} holds no labelled lines.")
    return rows


def metrics(
    truth: Sequence[SentimentLabel], predicted: Sequence[SentimentLabel]
) -> tuple[float, dict[str, float], list[list[int]]]:
    """Accuracy, per-class F1 and the confusion matrix (rows true, columns predicted)."""
    index = {label: i for i, label in enumerate(CLASSES)}
    confusion = np.zeros((3, 3), dtype=int)
    for t, p in zip(truth, predicted, strict=True):
        confusion[index[t], index[p]] += 1
    f1 = {}
    for i, label in enumerate(CLASSES):
        tp = confusion[i, i]
        denominator = confusion[i, :].sum() + confusion[:, i].sum()
        f1[str(label)] = float(2 * tp / denominator) if denominator else 0.0
    accuracy = float(np.trace(confusion) / max(confusion.sum(), 1))
    return accuracy, f1, confusion.tolist()


def evaluate(
    analyzer: SentimentAnalyzer,
    rows: Sequence[LabelledText],
    *,
    latency_calls: int = 200,
    progress: Callable[[int], None] | None = None,
) -> SentimentReport:
    """Score every row (in batches where the analyser can), then time `latency_calls` single calls."""
    batch = getattr(analyzer, "score_batch", None)
    readings: list[Sentiment] = []
    step = 64
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        if batch is not None:
            readings.extend(batch([r.text for r in chunk], [r.language for r in chunk]))
        else:
            readings.extend(analyzer.score(r.text, r.language) for r in chunk)
        if progress:
            progress(len(chunk))
    accuracy, f1, confusion = metrics([r.label for r in rows], [s.label for s in readings])
    # Latency as a turn sees it: one message per call, spread evenly over the data.
    picks = rows[:: max(len(rows) // max(latency_calls, 1), 1)][:latency_calls] if latency_calls > 0 else []
    timings = []
    for row in picks:
        started = time.perf_counter()
        analyzer.score(row.text, row.language)
        timings.append((time.perf_counter() - started) * 1000)
    return SentimentReport(
        n=len(rows),
        accuracy=accuracy,
        macro_f1=float(np.mean(list(f1.values()))),
        f1=f1,
        confusion=confusion,
        latency_p50_ms=float(np.median(timings)) if timings else float("nan"),
        latency_calls=len(timings),
        analyzer=analyzer.name,
    )
