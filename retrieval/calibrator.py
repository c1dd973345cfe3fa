"""Keeps the knowledge base's calibrated decision in step with its FAQ, in a background thread.

An edit is searchable at once (the indexes catch up synchronously); the decision model follows: a
change schedules a refit `calibration_delay_s` later (edits in a burst share one refit), which runs on a
daemon thread against copies of the indexes and swaps the new model in when done. The fitted model is
saved beside the index files with a fingerprint of the FAQ and settings it was fitted with; on open a
matching file is used as is, and a stale one still serves until its refit lands (better than none).
Until a model exists the old similarity thresholds decide (`KnowledgeBase.search`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval import calibration_fit
from retrieval.calibration import Calibration, Route
from retrieval.calibration_fit import FitSettings, QueryVectors, fit, held_out_examples, topic_of
from retrieval.config import RetrievalConfig
from retrieval.dense_channel import DenseChannel, plan_query
from retrieval.hybrid import RankedEntry
from retrieval.signals import AnchorSearch, EntryWords, Vocabulary, signals
from retrieval.types import FaqEntry
from retrieval.underspecified import PhrasingWords

log = logging.getLogger(__name__)
Snapshot = Callable[[], tuple[dict[str, FaqEntry], list[DenseChannel]]]


@dataclass(frozen=True)
class _Model:
    calibration: Calibration
    vocabulary: Vocabulary
    phrasings: PhrasingWords

    @classmethod
    def build(cls, calibration: Calibration, entries: dict[str, FaqEntry]) -> _Model:
        return cls(calibration, Vocabulary.build(entries.values()), PhrasingWords(entries.values()))


def fingerprint(entries: dict[str, FaqEntry], config: RetrievalConfig, channels: Sequence[DenseChannel]) -> str:
    digest = hashlib.sha256()
    for entry_id in sorted(entries):
        digest.update(f"{entry_id}\x00{entries[entry_id].version}\x00".encode())
    settings = (
        calibration_fit.METHOD,
        config.answer_precision,
        config.clarify_precision,
        config.unanswerable_share,
        config.fusion_options("en"),
        config.fusion_options("zh"),
        (config.multilingual_weight, config.zh_multilingual_weight),
        config.dense_candidates,
        config.lexical_candidates,
        tuple(ch.name for ch in channels),
    )
    digest.update(repr(settings).encode())
    return digest.hexdigest()[:16]


class Calibrator:
    def __init__(self, index_dir: Path, config: RetrievalConfig, snapshot: Snapshot) -> None:
        self.index_dir = index_dir
        self.config = config
        self._snapshot = snapshot  # the knowledge base's current entries and channels (consistent pair)
        self._model: _Model | None = None
        self._words = EntryWords()
        self._vectors = QueryVectors()
        self._lock = threading.Lock()  # the timer and the fitting thread
        self._timer: threading.Timer | None = None
        self._fitting = threading.Lock()  # one fit at a time
        self._fitted = threading.Event()
        self._closed = False

    # --- deciding --------------------------------------------------------------------------------
    def decide(
        self,
        query: str,
        ranked: Sequence[RankedEntry],
        entries: dict[str, FaqEntry],
        anchor: AnchorSearch,
        language: str,
        topics: int,
    ) -> Route | None:
        """The route of one search (call with the indexes locked: `anchor.index` is searched again)."""
        model = self._model
        if model is None:
            return None
        features = signals(query, ranked, entries, model.vocabulary, self._words, anchor)
        route = model.calibration.decide(features, language, topics)
        shared = model.phrasings.underspecified(query)
        if route is None or not shared or topics < 2:
            return route
        return Route(
            "clarify",
            route.probability,
            f"the query's words all appear in phrasings of {shared} topics: ask which (P(answer) "
            f"{route.probability:.2f}, {language})",
        )

    @property
    def calibration(self) -> Calibration | None:
        model = self._model
        return model.calibration if model else None

    # --- keeping up ------------------------------------------------------------------------------
    def start(self) -> None:
        """Use the saved model if it fits this FAQ; otherwise (or for a stale one) refit in the background."""
        entries, channels = self._snapshot()
        saved = Calibration.load(self.index_dir)
        if saved is not None:
            self._model = _Model.build(saved, entries)
            if saved.fingerprint == fingerprint(entries, self.config, channels):
                self._fitted.set()
                return
        self.schedule()

    def schedule(self, delay: float | None = None) -> None:
        """Refit after `delay` seconds (default: the setting); a newer change restarts the wait."""
        delay = self.config.calibration_delay_s if delay is None else delay
        with self._lock:
            if self._closed:
                return
            self._fitted.clear()
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(delay, self._refit_quietly)
            self._timer.daemon = True  # a refit cut short by exit runs again on the next start
            self._timer.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the model reflects the latest scheduled change (tests)."""
        return self._fitted.wait(timeout)

    @property
    def current(self) -> bool:
        """Whether the model in use was fitted on this FAQ (no refit pending)."""
        return self._fitted.is_set()

    def fit_now(self) -> None:
        """Refit in the foreground unless the model is current: one-shot commands (`findesk ask`, `findesk eval
        retrieval`) exit long before a background refit would land, and would decide with the thresholds."""
        if self._fitted.is_set():
            return
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if self._fitting.locked():  # the background refit already began: it covers the change
            self._fitted.wait()
            return
        self._refit_quietly()

    def refit(self) -> Calibration | None:
        """Fit now on the current FAQ, swap the model in and save it; None when the FAQ is too small."""
        with self._fitting:
            if self._closed:
                return None
            started = time.perf_counter()
            entries, channels = self._snapshot()
            settings = FitSettings(
                answer_precision=self.config.answer_precision,
                clarify_precision=self.config.clarify_precision,
                unanswerable_share=self.config.unanswerable_share,
            )
            examples = held_out_examples(
                entries,
                channels,
                lambda query: plan_query(channels, self.config, query),
                dense_candidates=self.config.dense_candidates,
                lexical_candidates=self.config.lexical_candidates,
                vectors=self._vectors,
            )
            calibration = fit(examples, settings, fingerprint(entries, self.config, channels))
            calibration = dataclasses.replace(calibration, seconds=time.perf_counter() - started)
            if not calibration.languages:
                log.info("calibration: %d held-out searches are too few to fit; thresholds decide", len(examples))
                self._model = None
                return None
            self._model = _Model.build(calibration, entries)
            calibration.save(self.index_dir)
            log.info("calibration refitted on %d held-out searches in %.1f s", len(examples), calibration.seconds)
            return calibration

    def _refit_quietly(self) -> None:
        try:
            self.refit()
        except Exception:  # a failed refit keeps the previous model; searches go on
            log.exception("calibration refit failed; the previous decision model stays")
        finally:
            with self._lock:
                if self._timer is None or not self._timer.is_alive() or self._timer is threading.current_thread():
                    self._fitted.set()

    def close(self) -> None:
        """Cancel a pending refit and wait for a running one: its thread is a daemon, and an interpreter that
        exits while it is inside torch aborts the process (`terminate called without an active exception`)."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
        with self._fitting:  # a running fit finishes and saves; none starts after `_closed`
            pass


def distinct_topic_count(entries: dict[str, FaqEntry], entry_ids: Sequence[str]) -> int:
    return len({topic_of(entries[e]) if e in entries else e for e in entry_ids})
