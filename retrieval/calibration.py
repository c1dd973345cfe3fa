"""The calibrated answer / clarify / no-answer decision: probabilities from a search's signals.

Two small logistic regressions per query language ("en": queries the primary channel serves, "zh":
queries with Chinese), fitted on the operator's own FAQ by retrieval/calibration_fit.py:
- `answer`: P(the top entry answers the query);
- `choices`: P(an entry answering it is among the topics "did you mean" would offer).
Cut-offs come from target precisions (settings): answer when P(answer) reaches the lowest cut-off at
which the held-out answers were right at least `answer_precision` of the time; otherwise offer choices
when P(choices) reaches the cut-off at which the offered choices held a right entry at least
`clarify_precision` of the time; otherwise say "no good match". Each cut-off is the median over bootstrap
resamples of the held-out searches, so it does not swing with which phrasings a refit drew. A query too
vague to pick a topic ("密码", "transfer") is asked back whatever its probability (retrieval/underspecified.py,
in the calibrator).

The fitted model is a few dozen numbers, saved as JSON beside the index files with a fingerprint of the
FAQ it was fitted on, so a restart reuses it instead of refitting.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from retrieval.signals import FEATURES

FORMAT = 1
FILE_NAME = "calibration.json"


@dataclass(frozen=True)
class Logistic:
    """A standardised logistic regression: p = sigmoid(coef . (x - mean) / scale + intercept)."""

    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def probability(self, x: np.ndarray) -> float:
        z = float(np.dot(self.coef, (x - np.asarray(self.mean)) / np.asarray(self.scale))) + self.intercept
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


@dataclass(frozen=True)
class LanguageModel:
    answer: Logistic
    choices: Logistic
    answer_cutoff: float  # answer when P(answer) >= this (> 1: never)
    choices_cutoff: float  # else offer choices when P(choices) >= this
    examples: int  # held-out searches it was fitted on
    positives: int  # ... whose top entry was right


@dataclass(frozen=True)
class Route:
    route: str  # "answer", "clarify" or "no_answer"
    probability: float  # P(the top entry answers the query)
    reason: str


@dataclass(frozen=True)
class Calibration:
    fingerprint: str  # of the FAQ and the settings it was fitted with
    languages: dict[str, LanguageModel]
    fitted_at: str  # ISO 8601
    seconds: float  # how long the fit took

    def model_for(self, language: str) -> LanguageModel | None:
        return self.languages.get(language) or next(iter(self.languages.values()), None)

    def decide(self, x: np.ndarray, language: str, distinct_topics: int) -> Route | None:
        """The route for one search's signals; None when no model is fitted for any language."""
        model = self.model_for(language)
        if model is None:
            return None
        p = model.answer.probability(x)
        if p >= model.answer_cutoff:
            return Route("answer", p, f"P(answer) {p:.2f} >= {model.answer_cutoff:.2f} ({language})")
        q = model.choices.probability(x)
        if distinct_topics >= 2 and q >= model.choices_cutoff:
            return Route(
                "clarify",
                p,
                f"P(answer) {p:.2f} < {model.answer_cutoff:.2f}; P(right among choices) {q:.2f} >= "
                f"{model.choices_cutoff:.2f} ({language})",
            )
        return Route(
            "no_answer",
            p,
            f"P(answer) {p:.2f} < {model.answer_cutoff:.2f} and P(right among choices) {q:.2f} < "
            f"{model.choices_cutoff:.2f} ({language})",
        )

    # --- persistence -----------------------------------------------------------------------------
    def save(self, index_dir: Path) -> None:
        index_dir.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, "features": list(FEATURES), **asdict(self)}
        fd, tmp = tempfile.mkstemp(dir=index_dir, prefix=".calibration-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(tmp, index_dir / FILE_NAME)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, index_dir: Path) -> Calibration | None:
        """The saved calibration, or None when missing, unreadable or made for other signals."""
        try:
            data = json.loads((index_dir / FILE_NAME).read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or data.get("features") != list(FEATURES):
                return None
            languages = {
                name: LanguageModel(
                    answer=_logistic(model["answer"]),
                    choices=_logistic(model["choices"]),
                    answer_cutoff=float(model["answer_cutoff"]),
                    choices_cutoff=float(model["choices_cutoff"]),
                    examples=int(model["examples"]),
                    positives=int(model["positives"]),
                )
                for name, model in data["languages"].items()
            }
            return cls(str(data["fingerprint"]), languages, str(data["fitted_at"]), float(data["seconds"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _logistic(data: dict) -> Logistic:
    coef, mean, scale = (tuple(float(v) for v in data[k]) for k in ("coef", "mean", "scale"))
    if not len(coef) == len(mean) == len(scale) == len(FEATURES):
        raise ValueError("calibration file has the wrong number of features")
    return Logistic(coef, float(data["intercept"]), mean, scale)
