"""Character error rate of screenshot OCR against a manifest of images with their expected text.

Manifest: JSON lines `{"image": "relative/or/absolute.png", "expected_text": "..."}`; image paths are
relative to the manifest's folder. Both texts are normalised the same way before comparing (see
`normalise_for_cer`), so layout differences (line breaks, spacing around Chinese) do not count as errors.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import jiwer

from agent.errors import AgentError
from agent.ocr import OcrEngine
from agent.screenshot import read_screenshot
from agent.settings import AgentConfig

_SPACE_BETWEEN_CJK = re.compile(r"(?<=[\u3000-\u9fff\uf900-\ufaff]) (?=[\u3000-\u9fff\uf900-\ufaff])")


@dataclass(frozen=True)
class OcrCase:
    image: Path
    expected_text: str


@dataclass(frozen=True)
class OcrCaseResult:
    image: str  # as written in the manifest
    cer: float
    reference_chars: int
    errors: int  # substitutions + deletions + insertions
    seconds: float
    text: str  # what OCR read, normalised


@dataclass(frozen=True)
class OcrEvalReport:
    cases: tuple[OcrCaseResult, ...]

    @property
    def cer(self) -> float:
        """Overall CER: all errors over all reference characters (long texts weigh more)."""
        chars = sum(c.reference_chars for c in self.cases)
        return sum(c.errors for c in self.cases) / chars if chars else 0.0

    @property
    def mean_seconds(self) -> float:
        return sum(c.seconds for c in self.cases) / len(self.cases) if self.cases else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "cer": self.cer,
            "images": len(self.cases),
            "mean_seconds": self.mean_seconds,
            "cases": [
                {
                    "image": c.image,
                    "cer": c.cer,
                    "errors": c.errors,
                    "reference_chars": c.reference_chars,
                    "seconds": c.seconds,
                    "text": c.text,
                }
                for c in self.cases
            ],
        }


def normalise_for_cer(text: str) -> str:
    """NFKC (full-width '！' -> '!'), every whitespace run -> one space, no space between Chinese characters."""
    text = unicodedata.normalize("NFKC", text)
    text = " ".join(text.split())
    return _SPACE_BETWEEN_CJK.sub("", text)


def load_manifest(path: Path) -> list[OcrCase]:
    """Read a manifest; AgentError names the first bad line."""
    if not path.is_file():
        raise AgentError(f"Manifest not found: {path}. Give a JSON-lines file of {{'image', 'expected_text'}}.")
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            image, expected = row["image"], row["expected_text"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise AgentError(f"{path}:{number}: expected a JSON object with 'image' and 'expected_text'.") from e
        image_path = (path.parent / image).resolve()
        if not image_path.is_file():
            raise AgentError(f"{path}:{number}: image not found: {image_path}")
        cases.append(OcrCase(image=image_path, expected_text=str(expected)))
    if not cases:
        raise AgentError(f"{path} lists no images.")
    return cases


def evaluate_ocr(
    cases: list[OcrCase],
    config: AgentConfig,
    ocr: OcrEngine,
    *,
    on_case: Callable[[OcrCaseResult], None] | None = None,
) -> OcrEvalReport:
    """OCR every case through the same path as a customer's upload and score it."""
    ocr.warm_up()  # keep model loading out of the first image's time
    results = []
    for result in _score(cases, config, ocr):
        results.append(result)
        if on_case:
            on_case(result)
    return OcrEvalReport(cases=tuple(results))


def _score(cases: list[OcrCase], config: AgentConfig, ocr: OcrEngine) -> Iterator[OcrCaseResult]:
    for case in cases:
        started = time.perf_counter()
        screenshot = read_screenshot(case.image.read_bytes(), config, ocr)
        seconds = time.perf_counter() - started
        reference = normalise_for_cer(case.expected_text)
        hypothesis = normalise_for_cer(screenshot.ocr_text)
        errors = _char_errors(reference, hypothesis)
        yield OcrCaseResult(
            image=case.image.name,
            cer=errors / len(reference) if reference else float(bool(hypothesis)),
            reference_chars=len(reference),
            errors=errors,
            seconds=seconds,
            text=hypothesis,
        )


def _char_errors(reference: str, hypothesis: str) -> int:
    if not reference:
        return len(hypothesis)
    if not hypothesis:
        return len(reference)
    out = jiwer.process_characters(reference, hypothesis)
    return out.substitutions + out.deletions + out.insertions
