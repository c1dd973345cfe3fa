"""A dense channel: one embedder, the FAISS index of the phrasings it holds, and that index's file.

The primary channel (RetrievalConfig.embedder) holds every entry and serves every query. An optional
Chinese channel (RetrievalConfig.zh_embedder, multilingual-e5-small by default) holds only entries whose
text contains Chinese and serves queries that contain Chinese: all-MiniLM-L6-v2 was trained on English
and scores Chinese near noise. benchmarks/retrieval_zh.py (35 hand-written Chinese queries against the
default FAQ): MiniLM + jieba BM25 alone hit@1 0.667, MRR 0.736, and no "no good match" ever fires;
with this e5 channel hit@1 0.933, hit@3 1.000, MRR 0.967, the same as e5 as the only embedder. Holding only
Chinese entries keeps the slower e5 engine out of bulk English imports, and MiniLM stays the English
default (it beats e5-small on banking77: hit@1 0.842 vs 0.776 at k=10).

A third, multilingual channel (RetrievalConfig.multilingual_embedder: Google's multilingual USE v3, pure
numpy, ~2 ms a query) votes beside e5 on Chinese queries (`plan_query`): on our Chinese paraphrase set e5
and USE find different paraphrases (each ~0.39 hit@1 alone), and fused they find more. MiniLM never votes
on Chinese queries. Each channel replays the change log from its own file's stamp.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.config import RetrievalConfig
from retrieval.dense_index import DenseIndex
from retrieval.embedders import Embedder, load_embedder
from retrieval.errors import IndexCorrupt
from retrieval.hybrid import FusionOptions
from retrieval.index_files import read_index_file, write_index_file
from retrieval.types import FaqEntry

FORMAT = 1
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def has_chinese(text: str) -> bool:
    return _CJK.search(text) is not None


def _all_entries(entry: FaqEntry) -> bool:
    return True


def _chinese_entries(entry: FaqEntry) -> bool:
    return entry.language.lower().startswith("zh") or any(has_chinese(p) for p in entry.phrasings)


def _all_queries(query: str) -> bool:
    return True


class DenseChannel:
    def __init__(
        self,
        embedder: Embedder,
        *,
        holds: Callable[[FaqEntry], bool],
        serves: Callable[[str], bool],
        hnsw_min_vectors: int,
        role: str,
    ) -> None:
        self.embedder = embedder
        self.holds = holds
        self.serves = serves
        self.role = role  # "primary", "zh" or "multilingual"
        self.hnsw_min_vectors = hnsw_min_vectors
        self._index: DenseIndex | None = None
        self.versions: dict[str, int] = {}  # entry id -> entry version its vectors were made from
        self.stale: set[str] = set()  # entry ids to (re-)embed or remove on the next catch-up
        self.dirty = False  # changed since the file was last written
        self.stamp = 0  # store version the file / in-memory index reflects

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def index(self) -> DenseIndex:
        if self._index is None:
            self._index = DenseIndex(self.embedder.dim, hnsw_min_vectors=self.hnsw_min_vectors)
        return self._index

    def file(self, index_dir: Path) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", self.name)[-60:]
        digest = hashlib.sha256(self.name.encode()).hexdigest()[:8]  # two paths with the same tail differ
        return index_dir / f"dense-{slug}-{digest}.idx"

    def frozen_copy(self) -> DenseChannel:
        """A copy with its own index, for work that must not see (or block) later edits."""
        copy = DenseChannel(
            self.embedder, holds=self.holds, serves=self.serves, hnsw_min_vectors=self.hnsw_min_vectors, role=self.role
        )
        header, blob = self.index.to_state()
        copy._index = DenseIndex.from_state(header, blob, hnsw_min_vectors=self.hnsw_min_vectors)
        copy.versions = dict(self.versions)
        return copy

    # --- persistence -----------------------------------------------------------------------------
    def load(self, index_dir: Path) -> int:
        """Load the saved index; returns its store-version stamp (0 and everything stale when unusable)."""
        path = self.file(index_dir)
        try:
            if not path.exists():
                raise IndexCorrupt("no index file yet")
            header, blob = read_index_file(path)
            if header.get("format") != FORMAT or header.get("embedder") != self.name:
                raise IndexCorrupt("index file was made by another format or embedder")
            index = DenseIndex.from_state(header["dense"], blob, hnsw_min_vectors=self.hnsw_min_vectors)
            versions = {str(k): int(v) for k, v in header["versions"].items()}
            if set(versions) != set(index.entry_ids()):
                raise IndexCorrupt("index file's entry list does not match its vectors")
            self._index, self.versions, self.stamp = index, versions, int(header["store_version"])
            self.corrupt_reason = ""
        except (IndexCorrupt, KeyError, TypeError, ValueError) as error:
            self._index, self.versions, self.stamp, self.dirty = None, {}, 0, True
            self.corrupt_reason = str(error)
        return self.stamp

    def save(self, index_dir: Path, store_version: int) -> None:
        """Write atomically; call with the knowledge base lock held only long enough to snapshot."""
        header, blob = self.snapshot(store_version)
        write_index_file(self.file(index_dir), header, blob)

    def snapshot(self, store_version: int) -> tuple[dict, bytes]:
        dense_header, blob = self.index.to_state()
        header = {
            "format": FORMAT,
            "embedder": self.name,
            "store_version": store_version,
            "versions": dict(self.versions),
            "dense": dense_header,
        }
        return header, blob

    # --- catching up -----------------------------------------------------------------------------
    def mark_stale(self, changed: Iterable[str], entries: dict[str, FaqEntry], *, complete: bool = True) -> None:
        """Flag entries whose vectors are missing or outdated; with `complete` (entries is the whole store)
        also those whose entry no longer exists."""
        self.stale.update(changed)
        for entry_id, entry in entries.items():
            if self.holds(entry) and self.versions.get(entry_id) != entry.version:
                self.stale.add(entry_id)
        if complete:  # also entries gone from the store, or no longer held under a changed setting
            self.stale.update(e for e in self.versions if e not in entries or not self.holds(entries[e]))

    def plan(self, entries: dict[str, FaqEntry]) -> tuple[list[FaqEntry], list[str]]:
        """Which stale entries need new vectors, and which must be dropped from this channel."""
        embed, drop = [], []
        for entry_id in sorted(self.stale):
            entry = entries.get(entry_id)
            if entry is not None and self.holds(entry):
                embed.append(entry)
            elif entry_id in self.versions:
                drop.append(entry_id)
        return embed, drop

    def embed_entries(self, entries: list[FaqEntry], batch: int, tick: Callable[[int], None]) -> list[np.ndarray]:
        """Phrasing vectors per entry, embedded in batches of ~`batch` texts (outside any lock)."""
        out: list[np.ndarray] = []
        texts: list[str] = []
        pending: list[FaqEntry] = []

        def flush() -> None:
            vectors = self.embedder.embed(texts, kind="passage") if texts else np.zeros((0, 1), np.float32)
            at = 0
            for entry in pending:
                n = len(entry.phrasings)
                out.append(vectors[at : at + n])
                at += n
            tick(len(pending))
            texts.clear()
            pending.clear()

        for entry in entries:
            texts.extend(entry.phrasings)
            pending.append(entry)
            if len(texts) >= batch:
                flush()
        if pending:
            flush()
        return out

    def apply(self, embedded: list[FaqEntry], vectors: list[np.ndarray], drop: list[str]) -> None:
        for entry_id in drop:
            self.index.remove(entry_id)
            self.versions.pop(entry_id, None)
            self.stale.discard(entry_id)
        for entry, matrix in zip(embedded, vectors, strict=True):
            self.index.add(entry.id, matrix)
            self.versions[entry.id] = entry.version
            self.stale.discard(entry.id)
        if embedded or drop:
            self.dirty = True


@dataclass(frozen=True)
class ChannelSpec:
    """One dense channel a configuration builds: what `make_channels` loads and `findesk doctor` lists."""

    role: str  # "primary", "zh" or "multilingual"
    embedder: str
    holds: str  # which entries it embeds: "every entry" or "entries with Chinese"
    serves: str  # which queries search it
    votes: str  # its part in the fused ranking (plan_query)


_HOLDS: dict[str, Callable[[FaqEntry], bool]] = {"every entry": _all_entries, "entries with Chinese": _chinese_entries}
_SERVES: dict[str, Callable[[str], bool]] = {"every query": _all_queries, "queries with Chinese": has_chinese}


def channel_specs(config: RetrievalConfig, primary: str | None = None) -> list[ChannelSpec]:
    """The channels `config` needs (primary: the name of an embedder passed in instead of config.embedder)."""
    primary = primary or config.embedder
    zh = bool(config.zh_embedder and config.zh_embedder != primary)
    specs = [
        ChannelSpec("primary", primary, "every entry", "every query", "anchor of English queries" if zh else "anchor")
    ]
    if zh:
        specs.append(ChannelSpec("zh", config.zh_embedder, "entries with Chinese", "queries with Chinese", "anchor"))
    consulted = config.multilingual_weight > 0 or (len(specs) > 1 and config.zh_multilingual_weight > 0)
    if consulted and config.multilingual_embedder and config.multilingual_embedder not in {s.embedder for s in specs}:
        # English queries not consulting it (weight 0, the default): it needs only the Chinese entries
        holds = "every entry" if config.multilingual_weight > 0 else "entries with Chinese"
        weights = f"{config.multilingual_weight} (English), {config.zh_multilingual_weight} (Chinese)"
        votes = f"beside the anchor, weight {weights}"
        specs.append(ChannelSpec("multilingual", config.multilingual_embedder, holds, "every query", votes))
    return specs


def make_channels(config: RetrievalConfig, embedder: Embedder | None = None) -> list[DenseChannel]:
    load = functools.partial(
        load_embedder, device=config.device, backend=config.embedder_backend, cache_dir=config.cache_dir
    )
    primary = embedder or load(config.embedder)
    return [
        DenseChannel(
            primary if spec.role == "primary" else load(spec.embedder),
            holds=_HOLDS[spec.holds],
            serves=_SERVES[spec.serves],
            hnsw_min_vectors=config.hnsw_min_vectors,
            role=spec.role,
        )
        for spec in channel_specs(config, primary.name)
    ]


@dataclass(frozen=True)
class QueryPlan:
    """Which channels rank one query, with which weights and fusion rule."""

    language: str  # "en" (the primary channel's queries) or "zh": which calibration model reads the search
    channels: tuple[int, ...]  # positions in the channel list; the first is the anchor (its cosine is dense_score)
    weights: tuple[float, ...]
    fusion: FusionOptions


def plan_query(channels: Sequence[DenseChannel], config: RetrievalConfig, query: str) -> QueryPlan:
    """Chinese queries are ranked by the Chinese channel (MiniLM, trained on English, never votes on them),
    English ones by the primary; the multilingual channel votes beside either when its weight is above 0."""
    anchor = next((n for n, ch in enumerate(channels) if ch.role == "zh" and ch.serves(query)), 0)
    language = "zh" if channels[anchor].role == "zh" else "en"
    weight = config.zh_multilingual_weight if language == "zh" else config.multilingual_weight
    order, weights = [anchor], [1.0]
    for n, channel in enumerate(channels):
        if channel.role == "multilingual" and weight > 0 and n != anchor:
            order.append(n)
            weights.append(weight)
    return QueryPlan(language, tuple(order), tuple(weights), config.fusion_options(language))
