"""The knowledge base: the one object the app uses to search and edit the FAQ.

Every change goes to the FaqStore first (the source of truth); the in-memory FAISS and BM25 indexes then
catch up from the store's change log (`changes_since`), one entry at a time, never by a full rebuild.
Index files are saved in the background (debounced, atomically, stamped with the store version). On
open, a missing, stale or corrupt index file is repaired from the store: changed entries are
re-embedded, or everything is when the file cannot be trusted. Changes made by another process (the
CLI beside a running server) are picked up by the next search.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval import importers, spelling
from retrieval.calibrator import Calibrator, distinct_topic_count
from retrieval.config import RetrievalConfig
from retrieval.database import Database
from retrieval.dense_channel import DenseChannel, make_channels, plan_query
from retrieval.embedders import Embedder
from retrieval.errors import InvalidQuery, StoreUnavailable
from retrieval.hybrid import RankedEntry, fused_search
from retrieval.index_files import write_index_file
from retrieval.lexical_index import LexicalIndex
from retrieval.signals import AnchorSearch
from retrieval.spelling import Spelling
from retrieval.store import FaqStore, UpsertReport
from retrieval.types import FaqEntry, Hit, SearchResult

Progress = Callable[[int, int], None]
DEFAULT_FAQ = Path(__file__).parent / "data" / "default_faq.jsonl"
EMBED_BATCH = 256  # phrasings per embedding call during catch-up: big enough to keep the model busy


log = logging.getLogger("findesk.retrieval")


@dataclass(frozen=True)
class IndexStatus:
    entries: int
    vectors: int
    embedder: str  # e.g. "all-MiniLM-L6-v2 + multilingual-e5-small (zh)"
    index_type: str  # "flat" or "hnsw" (of the primary channel)
    store_version: int
    index_version: int  # the store version the in-memory indexes reflect
    last_update: str  # ISO 8601 of the last index change in this process, "" if none


class KnowledgeBase:
    def __init__(self, store: FaqStore, index_dir: Path, config: RetrievalConfig, channels: list[DenseChannel]) -> None:
        self.store = store
        self.index_dir = index_dir
        self.config = config
        self._channels = channels
        self._lexical = LexicalIndex()
        self._spelling = Spelling() if config.correct_spelling else None
        self._entries: dict[str, FaqEntry] = {}
        self._index_version = 0
        self._last_update = ""
        self._lock = threading.RLock()  # guards the in-memory indexes: searches and applied changes
        self._update_lock = threading.Lock()  # one catch-up at a time; embedding happens outside `_lock`
        self._persist_timer: threading.Timer | None = None
        self._persist_lock = threading.Lock()  # the debounce timer and close() must not write at once
        self._closed = False
        self._stop_following = threading.Event()
        self._follower: threading.Thread | None = None
        self.calibrator = Calibrator(index_dir, config, self._calibration_snapshot) if config.calibrate else None

    # --- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        data_dir: Path,
        config: RetrievalConfig,
        *,
        embedder: Embedder | None = None,
        database: Database | None = None,
    ) -> KnowledgeBase:
        """The FAQ in `database` (default: SQLite in `data_dir`), indexed in `data_dir`/index (this replica's own)."""
        store = FaqStore(database or Path(data_dir) / "findesk.sqlite3", max_row_chars=config.max_row_chars)
        kb = cls(store, Path(data_dir) / "index", config, make_channels(config, embedder))
        kb._load()
        return kb

    def _load(self) -> None:
        """Fill the indexes: from the saved files where they can be trusted, then catch up with the store."""
        version = self.store.version  # read first: the entries listed next are at least this new
        entries = {e.id: e for e in self.store.list()}
        for entry in entries.values():
            self._lexical.set(entry.id, entry.phrasings)
            if self._spelling is not None:
                self._spelling.set_entry(entry)
        if self._spelling is not None:  # the English word list loads (~0.2 s) while the models do
            threading.Thread(target=spelling.english, name="findesk-spelling", daemon=True).start()
        self._entries = entries
        with self._update_lock:
            # Each channel replays the change log from its own file's stamp: a channel that no change concerned
            # (the Chinese one after an English-only import) keeps an old stamp, and taking the oldest stamp for
            # every channel re-embedded the other channels' already saved entries on every start (issue #9).
            # Entries whose embedded version differs are re-embedded anyway (a store that was replaced).
            for channel in self._channels:
                _, changed = self.store.changes_since(channel.load(self.index_dir))
                channel.mark_stale(changed, entries)
            self._index_version = version
            self._catch_up(None)  # the stale entries, and whatever was committed since `version`
        if any(channel.dirty for channel in self._channels):
            self.persist()
        if self.calibrator is not None:
            self.calibrator.start()

    def _calibration_snapshot(self) -> tuple[dict[str, FaqEntry], list[DenseChannel]]:
        with self._lock:
            return dict(self._entries), [channel.frozen_copy() for channel in self._channels]

    # --- searching -------------------------------------------------------------------------------
    def search(self, query: str, *, top_k: int | None = None) -> SearchResult:
        if not isinstance(query, str) or not query.strip():
            raise InvalidQuery("Type a question to search the FAQ (the query was empty).")
        if len(query) > self.config.max_query_chars:
            raise InvalidQuery(
                f"The query is {len(query)} characters long; the limit is {self.config.max_query_chars}. Shorten it."
            )
        top_k = top_k or self.config.top_k
        try:
            self._refresh_from_store()
        except StoreUnavailable as error:  # the database is away: answer from this replica's own index
            log.warning("searching without the latest FAQ changes: %s", error)
        started = time.perf_counter()
        with self._lock:  # the words BM25 and the signals read: customers' typos corrected
            words = self._spelling.correct(query) if self._spelling is not None else query
        plan = plan_query(self._channels, self.config, query)
        channels = [self._channels[n] for n in plan.channels]
        vectors = [channel.embedder.embed([query], kind="query")[0] for channel in channels]
        embedded = time.perf_counter()
        anchor = channels[0]
        with self._lock:
            entries = self._entries
            ranked = fused_search(
                [(ch.index, v, w) for ch, v, w in zip(channels, vectors, plan.weights, strict=True)],
                self._lexical,
                words,
                plan.fusion,
                dense_candidates=self.config.dense_candidates,
                lexical_candidates=self.config.lexical_candidates,
            )
            ranked = [r for r in ranked if r.entry_id in entries]
            hits = [self._hit(r) for r in ranked[:top_k]]
            route = None
            if self.calibrator is not None:  # under the lock: the signals search the anchor index again
                topics = distinct_topic_count(entries, [r.entry_id for r in ranked[:top_k]])
                searched = AnchorSearch(anchor.index, vectors[0])
                route = self.calibrator.decide(words, ranked, entries, searched, plan.language, topics)
        threshold = self.config.threshold_for(anchor.name)
        if route is None:  # no model fitted yet (or calibration off): the similarity thresholds decide
            confident, weak, reason = decide(hits, threshold, self.config.floor_for(anchor.name), anchor.name)
            probability = None
        else:
            confident, weak, reason = route.route == "answer", route.route == "clarify", route.reason
            probability = route.probability
        done = time.perf_counter()
        timings = {
            "embed": (embedded - started) * 1e3,
            "search": (done - embedded) * 1e3,
            "total": (done - started) * 1e3,
        }
        return SearchResult(
            query=query,
            hits=hits,
            confident=confident,
            threshold=threshold,
            reason=reason,
            timings_ms=timings,
            weak=weak,
            probability=probability,
        )

    @property
    def embedders(self) -> dict[str, Embedder]:
        """The loaded embedders by name, to share with other users of the same models (one copy in memory)."""
        return {channel.name: channel.embedder for channel in self._channels}

    def _hit(self, ranked: RankedEntry) -> Hit:
        entry = self._entries[ranked.entry_id]
        phrasings, n = entry.phrasings, ranked.matched_phrasing
        return Hit(
            entry_id=entry.id,
            question=entry.question,
            matched=phrasings[n] if n is not None and n < len(phrasings) else entry.question,
            answer=entry.answer,
            category=entry.category,
            language=entry.language,
            score=ranked.score,
            dense_score=ranked.dense_score,
            dense_rank=ranked.dense_rank,
            lexical_score=ranked.lexical_score,
            lexical_rank=ranked.lexical_rank,
            tags=entry.tags,  # "pair:" tags let the agent treat an entry and its translation as one topic
        )

    # --- changes ---------------------------------------------------------------------------------
    def add(self, entry: FaqEntry, *, actor: str) -> FaqEntry:
        saved = self.store.add(entry, actor=actor)
        self._sync()
        return saved

    def update(self, entry_id: str, *, actor: str, expected_version: int | None = None, **changes) -> FaqEntry:
        saved = self.store.update(entry_id, actor=actor, expected_version=expected_version, **changes)
        self._sync()
        return saved

    def delete(self, entry_id: str, *, actor: str) -> None:
        self.store.delete(entry_id, actor=actor)
        self._sync()

    def import_entries(
        self, entries: Sequence[FaqEntry], *, actor: str, progress: Progress | None = None
    ) -> UpsertReport:
        """Save all entries in one store transaction, then embed what changed. `progress(done, total)`
        counts the store writes first, then the embedded entries."""
        total = 2 * len(entries)
        store_progress = (lambda done, _n: progress(done, total)) if progress else None
        report = self.store.upsert_many(entries, actor=actor, progress=store_progress)
        self._sync(lambda done, n: progress(len(entries) + done, len(entries) + n) if progress else None)
        return report

    def import_file(self, path: Path, *, actor: str, progress: Progress | None = None) -> UpsertReport:
        entries = importers.parse_faq_file(
            Path(path), max_bytes=self.config.max_import_bytes, max_row_chars=self.config.max_row_chars
        )
        return self.import_entries(entries, actor=actor, progress=progress)

    def export_jsonl(self, path: Path) -> int:
        return importers.export_jsonl(self.store.list(), Path(path))

    def get(self, entry_id: str) -> FaqEntry | None:
        return self.store.get(entry_id)

    def list_entries(self, **filters) -> list[FaqEntry]:
        return self.store.list(**filters)

    def ensure_default_faq(self) -> int:
        """Load the bundled FAQ when the store has never held anything (version 0); returns entries added.

        A store whose entries were all deleted has a version above 0 and is left empty on purpose.
        """
        if self.store.version != 0 or not DEFAULT_FAQ.exists():
            return 0
        entries = importers.parse_faq_file(
            DEFAULT_FAQ, max_bytes=self.config.max_import_bytes, max_row_chars=self.config.max_row_chars
        )
        return self.import_entries(entries, actor="findesk:default-faq").added

    # --- catching up with the store --------------------------------------------------------------
    def _sync(self, progress: Progress | None = None) -> None:
        with self._update_lock:
            self._catch_up(progress)

    def follow(self, interval_s: float) -> None:
        """Check the change log every `interval_s` in a background thread, so changes made by other replicas
        are embedded here within about that long, not by the next customer's search. Stopped by close()."""
        if self._follower is not None or interval_s <= 0:
            return

        def loop() -> None:
            while not self._stop_following.wait(interval_s):
                try:
                    self._refresh_from_store()
                except StoreUnavailable as error:  # the database is away: try again next tick
                    log.warning("could not follow the FAQ change log: %s", error)
                except Exception:  # a bug must not stop this replica from following for good
                    log.exception("following the FAQ change log failed")

        self._follower = threading.Thread(target=loop, name="findesk-faq-follower", daemon=True)
        self._follower.start()

    def _refresh_from_store(self) -> None:
        """Pick up changes another process committed; skipped while this process is already catching up."""
        if self.store.version == self._index_version:
            return
        if self._update_lock.acquire(blocking=False):
            try:
                self._catch_up(None)
            finally:
                self._update_lock.release()

    def _catch_up(self, progress: Progress | None) -> None:
        """Apply every store change since `_index_version` (caller holds `_update_lock`)."""
        current, changed = self.store.changes_since(self._index_version)
        entries = dict(self._entries)
        if len(changed) > 500:  # one scan beats hundreds of single-row reads
            entries = {e.id: e for e in self.store.list()}
        else:
            for entry_id in changed:
                entry = self.store.get(entry_id)
                if entry is None:
                    entries.pop(entry_id, None)
                else:
                    entries[entry_id] = entry
        changed_now = {e: entries.get(e) for e in changed}
        for channel in self._channels:
            channel.mark_stale(changed, {k: v for k, v in changed_now.items() if v is not None}, complete=False)
            channel.stale.update(k for k, v in changed_now.items() if v is None)
        plans = [channel.plan(entries) for channel in self._channels]
        total = sum(len(embed) for embed, _ in plans)
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total)

        vectors = [
            ch.embed_entries(embed, EMBED_BATCH, tick) for ch, (embed, _) in zip(self._channels, plans, strict=True)
        ]
        tokens = {e: LexicalIndex.tokens_for(entry.phrasings) for e, entry in changed_now.items() if entry is not None}
        with self._lock:
            for channel, (embed, drop), matrices in zip(self._channels, plans, vectors, strict=True):
                channel.apply(embed, matrices, drop)
            for entry_id, entry in changed_now.items():
                if entry is None:
                    self._lexical.remove(entry_id)
                    if self._spelling is not None:
                        self._spelling.remove(entry_id)
                else:
                    self._lexical.set_tokens(entry_id, tokens[entry_id])
                    if self._spelling is not None:
                        self._spelling.set_entry(entry)
            self._entries = entries
            self._index_version = current
            if changed:
                self._last_update = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if progress and total == 0:
            progress(0, 0)
        if any(channel.dirty for channel in self._channels):
            self._schedule_persist()
        if changed and self.calibrator is not None:
            self.calibrator.schedule()

    # --- persistence -----------------------------------------------------------------------------
    def _schedule_persist(self) -> None:
        if self.config.persist_delay_s <= 0:
            self.persist()
            return
        with self._lock:
            if self._persist_timer is not None:
                self._persist_timer.cancel()
            timer = threading.Timer(self.config.persist_delay_s, self._persist_quietly)
            timer.daemon = True  # an unsaved index is repaired from the store on the next start
            self._persist_timer = timer
            timer.start()

    def _persist_quietly(self) -> None:
        try:
            self.persist()
        except OSError as error:  # the file on disk stays the old, whole one; the next start catches up
            log.warning("could not save the search index: %s", error)

    def persist(self) -> None:
        """Write every changed channel's index file now (atomically, stamped with the store version)."""
        with self._persist_lock:
            with self._lock:
                snapshots = [(ch, ch.snapshot(self._index_version)) for ch in self._channels if ch.dirty]
                for channel, _ in snapshots:
                    channel.dirty = False
            try:
                for channel, (header, blob) in snapshots:
                    write_index_file(channel.file(self.index_dir), header, blob)
                    channel.stamp = header["store_version"]
            except BaseException:
                for channel, _ in snapshots:
                    channel.dirty = True
                raise

    # --- status, rebuild, close ------------------------------------------------------------------
    def status(self) -> IndexStatus:
        with self._lock:
            primary = self._channels[0]
            names = " + ".join(ch.name if ch.role == "primary" else f"{ch.name} ({ch.role})" for ch in self._channels)
            return IndexStatus(
                entries=len(self._entries),
                vectors=sum(ch.index.vectors for ch in self._channels),
                embedder=names,
                index_type=primary.index.kind,
                store_version=self.store.version,
                index_version=self._index_version,
                last_update=self._last_update,
            )

    def rebuild(self, *, progress: Progress | None = None) -> IndexStatus:
        """Re-embed every entry into fresh indexes, swap them in, and save them.

        The live indexes keep serving searches until the swap, and the old files stay on disk until the
        new ones replace them atomically, so a process killed mid-rebuild loses nothing.
        """
        with self._update_lock:
            version = self.store.version
            entries = {e.id: e for e in self.store.list()}
            fresh = [
                DenseChannel(
                    ch.embedder, holds=ch.holds, serves=ch.serves, hnsw_min_vectors=ch.hnsw_min_vectors, role=ch.role
                )
                for ch in self._channels
            ]
            plans = []
            for channel in fresh:
                channel.mark_stale((), entries)
                plans.append(channel.plan(entries))
            total, done = sum(len(embed) for embed, _ in plans), 0

            def tick(n: int) -> None:
                nonlocal done
                done += n
                if progress:
                    progress(done, total)

            for channel, (embed, drop) in zip(fresh, plans, strict=True):
                channel.apply(embed, channel.embed_entries(embed, EMBED_BATCH, tick), drop)
                channel.dirty = True
            lexical = LexicalIndex()
            words = Spelling() if self.config.correct_spelling else None
            for entry in entries.values():
                lexical.set(entry.id, entry.phrasings)
                if words is not None:
                    words.set_entry(entry)
            with self._lock:
                self._channels, self._lexical, self._entries = fresh, lexical, entries
                self._spelling = words
                self._index_version = version
                self._last_update = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self._catch_up(None)  # anything committed while we were embedding
        self.persist()
        return self.status()

    def close(self) -> None:
        """Save pending index changes and close the store. Safe to call twice."""
        if self._closed:
            return
        self._stop_following.set()
        if self._follower is not None:
            self._follower.join(timeout=10)
        if self.calibrator is not None:
            self.calibrator.close()
        with self._lock:
            if self._persist_timer is not None:
                self._persist_timer.cancel()
        if any(ch.dirty for ch in self._channels):
            self.persist()
        self.store.close()
        self._closed = True

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decide(hits: list[Hit], threshold: float, floor: float, embedder: str) -> tuple[bool, bool, str]:
    """The confidence decision: answer only when the top hit is semantically close enough.

    It reads the top hit's aggregated dense similarity, the score the threshold was calibrated on; a
    keyword-only match is never confident on its own. Calibration (benchmarks/retrieval_banking77.py
    --calibrate): 15 of 77 intents removed from a k=10 FAQ, their queries expect "no good match"; the
    threshold maximising F1 of that decision on DEV queries is the default. all-MiniLM-L6-v2: 0.713
    (TEST no-answer precision 0.51, recall 0.82, F1 0.63); multilingual-e5-small: 0.898 (TEST
    precision 0.50, recall 0.68, F1 0.58). Banking77 intents are fine-grained neighbours, so these are
    strict; calibrate on your own FAQ with `findesk eval retrieval`.

    Returns (confident, weak, reason). Between `floor` and `threshold` the match is weak: plausible enough
    to offer the top hits as choices, not enough to answer from the first. The floor is calibrated on the
    shipped FAQ with held-out alternates (benchmarks/retrieval_floor.py): 95% of real paraphrases score
    above it.
    """
    if not hits:
        return False, False, "no FAQ entry matched the query"
    top = hits[0]
    if top.dense_score is None:
        return False, False, f"best hit {top.entry_id!r} matched keywords only, with no semantic match"
    score = f"top dense similarity {top.dense_score:.3f}"
    if top.dense_score < floor:
        return False, False, f"{score} < floor {floor:.3f} ({embedder})"
    if top.dense_score < threshold:
        return False, True, f"weak match: floor {floor:.3f} <= {score} < threshold {threshold:.3f} ({embedder})"
    return True, False, f"{score} >= threshold {threshold:.3f} ({embedder})"
