"""Fit the shipped sentiment classifier: `python -m agent.sentiment.train` (about 2 minutes on 2 cores).

Reads data/train.jsonl (messages written for FinDesk, never copied from an evaluation set), builds the
features of features.py with the offline model pack, picks the regularisation strength by 5-fold
cross-validation on that same training data, fits one logistic regression per language and writes
data/classifier.npz plus its sha256. Needs scikit-learn (training only; inference is numpy).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.errors import SentimentError
from agent.sentiment.base import CLASSES
from agent.sentiment.classifier import CLASSIFIER_PATH, TRAIN_PATH, LinearModel, save_models
from agent.sentiment.evaluate import load_labelled
from agent.sentiment.features import FEATURE_SPECS, EmbedderPool, build_features
from agent.sentiment.text import normalise
from retrieval.model_pack import sha256_of

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)  # inverse L2 strength on standardised features; CV picks one
SEED = 0


@dataclass(frozen=True)
class FitReport:
    language: str
    rows: int
    C: float
    cv_macro_f1: float  # on the training data's own folds: optimistic, but independent of any eval set


def fit_linear_model(
    features: np.ndarray,
    labels: list[str],
    language: str,
    embedder: str,
    lexicon: str,
    c_grid: tuple[float, ...] = C_GRID,
) -> tuple[LinearModel, FitReport]:
    """Pick C by stratified 5-fold CV (macro-F1), refit on all rows, return numpy-only coefficients."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.array(labels)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    scores = {}
    for c in c_grid:
        pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
        predicted = cross_val_predict(pipeline, features, y, cv=folds)
        scores[c] = float(f1_score(y, predicted, average="macro"))
    best = max(c_grid, key=lambda c: (scores[c], -c))  # ties go to the stronger regularisation
    scaler = StandardScaler().fit(features)
    classifier = LogisticRegression(C=best, max_iter=5000).fit(scaler.transform(features), y)
    order = [list(classifier.classes_).index(str(label)) for label in CLASSES]
    model = LinearModel(
        language=language,
        embedder=embedder,
        lexicon=lexicon,
        coef=classifier.coef_[order],
        intercept=classifier.intercept_[order],
        mean=scaler.mean_,
        scale=np.where(scaler.scale_ > 0, scaler.scale_, 1.0),
    )
    return model, FitReport(language, len(labels), best, scores[best])


def train(data: Path = TRAIN_PATH, out: Path = CLASSIFIER_PATH) -> list[FitReport]:
    rows = load_labelled(data)
    if any(row.language is None for row in rows):
        raise SentimentError(f'Every line of {data} needs a "language" (en or zh) for training.')
    pool = EmbedderPool()
    models, reports = {}, []
    for language, spec in FEATURE_SPECS.items():
        chosen = [row for row in rows if row.language in spec.train_languages]
        print(f"{language}: embedding {len(chosen)} messages with {spec.embedder} ...", flush=True)
        features = build_features([normalise(row.text) for row in chosen], spec, pool)
        model, report = fit_linear_model(
            features, [str(row.label) for row in chosen], language, spec.embedder, spec.lexicon
        )
        models[language] = model
        reports.append(report)
        print(f"{language}: C={report.C} 5-fold CV macro-F1 {report.cv_macro_f1:.3f} on {report.rows} rows", flush=True)
    digest = save_models(models, out, sha256_of(data))
    print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {digest})")
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=TRAIN_PATH, help="labelled JSONL to train on")
    parser.add_argument("--out", type=Path, default=CLASSIFIER_PATH, help="where to write the .npz")
    args = parser.parse_args()
    train(args.data, args.out)


if __name__ == "__main__":
    main()
