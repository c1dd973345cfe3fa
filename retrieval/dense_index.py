"""FAISS vectors for every phrasing (question and alternates) of every FAQ entry.

Each vector gets an int64 id; `IndexIDMap2` maps it back, and this module maps the id to
(entry id, phrasing number). Entries are added and removed incrementally, one entry at a time.

Index type follows collection size (FAISS wiki, "Guidelines to choose an index"):
- up to `hnsw_min_vectors` live vectors (default 50,000): exact inner-product search (`IndexFlatIP`).
  Brute force over 50k x 384 floats is ~75 MB of memory traffic, a few ms on 2 cores, and it is exact;
  benchmarks/retrieval_speed.py measures it.
- beyond: HNSW (`IndexHNSWFlat`, M=32, efSearch=128), whose recall@10 against exact search is measured
  by the same benchmark. HNSW cannot delete, so removed vectors become tombstones that searches skip,
  and the graph is rebuilt from the live vectors once tombstones exceed a quarter of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import faiss
import numpy as np

from retrieval.errors import IndexCorrupt


@dataclass(frozen=True)
class DenseMatch:
    entry_id: str
    phrasing: int  # 0 = the question, n = the n-th alternate
    similarity: float  # cosine (vectors are unit length)


_single_thread_set = False


def _single_threaded_search() -> None:
    """One OpenMP thread: a single-query search is a few ms, and fanning it out costs more than it saves
    (measured at 20k x 384 flat: p50 2.5 ms with 1 thread, 4.4 ms with 2, on the 2-core dev machine)."""
    global _single_thread_set
    if not _single_thread_set:
        faiss.omp_set_num_threads(1)
        _single_thread_set = True


class DenseIndex:
    def __init__(self, dim: int, *, hnsw_min_vectors: int = 50_000, hnsw_m: int = 32, ef_search: int = 128) -> None:
        self.dim = dim
        self.hnsw_min_vectors = hnsw_min_vectors
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self._owner: dict[int, tuple[str, int]] = {}  # vector id -> (entry id, phrasing number)
        self._vector_ids: dict[str, np.ndarray] = {}  # entry id -> its vector ids, in phrasing order
        self._centroids: dict[str, np.ndarray] = {}  # entry id -> unit mean of its phrasing vectors
        self._next_id = 0
        self._tombstones = 0  # HNSW only: vectors still in the graph whose entry was removed or edited
        self._index = self._new_index("flat")
        _single_threaded_search()

    # --- shape -----------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return "hnsw" if isinstance(faiss.downcast_index(self._index.index), faiss.IndexHNSW) else "flat"

    @property
    def vectors(self) -> int:
        return len(self._owner)

    @property
    def entries(self) -> int:
        return len(self._vector_ids)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._vector_ids

    def entry_ids(self) -> Iterable[str]:
        return self._vector_ids.keys()

    def _new_index(self, kind: str) -> faiss.IndexIDMap2:
        inner: faiss.Index
        if kind == "hnsw":
            hnsw = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 80
            hnsw.hnsw.efSearch = self.ef_search
            inner = hnsw
        else:
            inner = faiss.IndexFlatIP(self.dim)
        return faiss.IndexIDMap2(inner)  # the SWIG wrapper keeps `inner` alive

    # --- changes ---------------------------------------------------------------------------------
    def add(self, entry_id: str, vectors: np.ndarray) -> None:
        """Store (or replace) one entry's phrasing vectors: row n is phrasing n."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self.remove(entry_id)
        ids = np.arange(self._next_id, self._next_id + len(vectors), dtype=np.int64)
        self._next_id += len(vectors)
        if len(ids):
            self._index.add_with_ids(vectors, ids)
        self._vector_ids[entry_id] = ids
        self._centroids[entry_id] = _unit_mean(vectors, self.dim)
        for phrasing, vector_id in enumerate(ids.tolist()):
            self._owner[vector_id] = (entry_id, phrasing)
        if self.kind == "flat" and self.vectors > self.hnsw_min_vectors:
            self._rebuild("hnsw")

    def remove(self, entry_id: str) -> None:
        ids = self._vector_ids.pop(entry_id, None)
        if ids is None:
            return
        del self._centroids[entry_id]
        for vector_id in ids.tolist():
            del self._owner[vector_id]
        if self.kind == "flat":
            self._index.remove_ids(ids)  # type: ignore[arg-type]  # the SWIG wrapper also takes an id array
        else:
            self._tombstones += len(ids)
            if self._tombstones > max(1000, self.vectors // 3):  # > a quarter of the graph is dead
                self._rebuild("hnsw" if self.vectors > self.hnsw_min_vectors // 2 else "flat")

    def _rebuild(self, kind: str) -> None:
        ids = np.fromiter(self._owner.keys(), dtype=np.int64, count=len(self._owner))
        vectors = self.reconstruct(ids)
        self._index = self._new_index(kind)
        if len(ids):
            self._index.add_with_ids(vectors, ids)
        self._tombstones = 0

    def reconstruct(self, vector_ids: np.ndarray) -> np.ndarray:
        out = np.empty((len(vector_ids), self.dim), dtype=np.float32)
        for row, vector_id in enumerate(vector_ids.tolist()):
            out[row] = self._index.reconstruct(int(vector_id))
        return out

    def entry_vectors(self, entry_id: str) -> np.ndarray:
        return self.reconstruct(self._vector_ids[entry_id])

    def centroid(self, entry_id: str) -> np.ndarray | None:
        """The unit mean of an entry's phrasing vectors; None for an entry this index does not hold."""
        return self._centroids.get(entry_id)

    def centroid_similarities(self, query: np.ndarray, entry_ids: Iterable[str]) -> dict[str, float]:
        """Cosine between the query and each entry's centroid (the unit mean of its phrasing vectors)."""
        entry_ids = [e for e in entry_ids if e in self._centroids]
        if not entry_ids:
            return {}
        sims = np.stack([self._centroids[e] for e in entry_ids]) @ np.asarray(query, dtype=np.float32).reshape(-1)
        return dict(zip(entry_ids, sims.tolist(), strict=True))

    # --- search ----------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int) -> list[DenseMatch]:
        """The k most similar live phrasing vectors to one unit-length query vector, best first."""
        if self.vectors == 0:
            return []
        fetch = min(k + self._tombstones, self._index.ntotal)  # over-fetch so tombstones cannot crowd out k
        sims, ids = self._index.search(np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1), fetch)
        matches: list[DenseMatch] = []
        for sim, vector_id in zip(sims[0].tolist(), ids[0].tolist(), strict=True):
            owner = self._owner.get(vector_id)
            if owner is not None:
                matches.append(DenseMatch(owner[0], owner[1], sim))
                if len(matches) == k:
                    break
        return matches

    # --- persistence -----------------------------------------------------------------------------
    def to_state(self) -> tuple[dict, bytes]:
        """A JSON-able header and the FAISS bytes; `from_state` inverts it."""
        header = {
            "dim": self.dim,
            "next_id": self._next_id,
            "tombstones": self._tombstones,
            "entries": {entry_id: ids.tolist() for entry_id, ids in self._vector_ids.items()},
        }
        return header, faiss.serialize_index(self._index).tobytes()

    @classmethod
    def from_state(cls, header: dict, blob: bytes, *, hnsw_min_vectors: int = 50_000) -> DenseIndex:
        try:
            index = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
            dense = cls(int(header["dim"]), hnsw_min_vectors=hnsw_min_vectors)
            dense._index = faiss.IndexIDMap2(index) if not isinstance(index, faiss.IndexIDMap2) else index
            dense._next_id = int(header["next_id"])
            dense._tombstones = int(header["tombstones"])
            for entry_id, ids in header["entries"].items():
                dense._vector_ids[entry_id] = np.asarray(ids, dtype=np.int64)
                dense._centroids[entry_id] = _unit_mean(dense.reconstruct(dense._vector_ids[entry_id]), dense.dim)
                for phrasing, vector_id in enumerate(ids):
                    dense._owner[int(vector_id)] = (entry_id, phrasing)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise IndexCorrupt(f"dense index file is unreadable ({error}); it will be rebuilt") from error
        if dense._index.d != dense.dim or dense._index.ntotal != len(dense._owner) + dense._tombstones:
            raise IndexCorrupt("dense index file does not match its header; it will be rebuilt")
        inner = faiss.downcast_index(dense._index.index)
        if isinstance(inner, faiss.IndexHNSW):
            inner.hnsw.efSearch = dense.ef_search
        return dense


def _unit_mean(vectors: np.ndarray, dim: int) -> np.ndarray:
    mean = vectors.mean(axis=0) if len(vectors) else np.zeros(dim, dtype=np.float32)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm > 0 else mean).astype(np.float32)
