"""DenseIndex: incremental add/replace/remove, the flat -> HNSW size rule, tombstones, saved state."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.dense_index import DenseIndex
from retrieval.errors import IndexCorrupt

DIM = 16


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def filled(n_entries: int, hnsw_min_vectors: int = 50_000) -> tuple[DenseIndex, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    index, vectors = DenseIndex(DIM, hnsw_min_vectors=hnsw_min_vectors), {}
    for n in range(n_entries):
        vectors[f"e{n}"] = unit(rng, 3)
        index.add(f"e{n}", vectors[f"e{n}"])
    return index, vectors


def test_each_phrasing_maps_back_to_its_entry() -> None:
    index, vectors = filled(20)
    best = index.search(vectors["e7"][2], 1)[0]
    assert (best.entry_id, best.phrasing) == ("e7", 2) and best.similarity == pytest.approx(1.0, abs=1e-5)
    assert index.vectors == 60 and index.entries == 20 and index.kind == "flat"


def test_replace_and_remove_are_immediate() -> None:
    index, vectors = filled(20)
    index.add("e7", vectors["e8"][:1])  # an edit: e7 now has one phrasing
    assert index.vectors == 58
    assert all(m.entry_id != "e7" or m.phrasing == 0 for m in index.search(vectors["e7"][2], 60))
    index.remove("e8")
    assert "e8" not in {m.entry_id for m in index.search(vectors["e8"][0], 60)}
    index.remove("never-there")  # no-op


def test_switches_to_hnsw_past_the_size_rule_and_skips_tombstones() -> None:
    index, vectors = filled(40, hnsw_min_vectors=60)
    assert index.kind == "hnsw"
    index.remove("e3")
    found = index.search(vectors["e3"][0], 10)
    assert len(found) == 10 and "e3" not in {m.entry_id for m in found}
    exact = filled(40)[0]
    exact.remove("e3")
    # recall of HNSW against exact search on this tiny set
    for entry_id in ("e1", "e20", "e39"):
        got = {(m.entry_id, m.phrasing) for m in index.search(vectors[entry_id][1], 10)}
        want = {(m.entry_id, m.phrasing) for m in exact.search(vectors[entry_id][1], 10)}
        assert len(got & want) >= 9


def test_saved_state_round_trips_and_garbage_is_detected() -> None:
    index, vectors = filled(10)
    index.remove("e2")
    header, blob = index.to_state()
    again = DenseIndex.from_state(header, blob)
    assert again.vectors == 27 and again.search(vectors["e5"][1], 1)[0].entry_id == "e5"
    with pytest.raises(IndexCorrupt):
        DenseIndex.from_state(header, blob[: len(blob) // 2])
    with pytest.raises(IndexCorrupt):
        DenseIndex.from_state({"dim": DIM}, blob)


def test_centroid_similarity_is_the_unit_mean() -> None:
    index, vectors = filled(5)
    mean = vectors["e1"].mean(axis=0)
    mean /= np.linalg.norm(mean)
    sims = index.centroid_similarities(mean, ["e1", "e2", "gone"])
    assert sims["e1"] == pytest.approx(1.0, abs=1e-5) and set(sims) == {"e1", "e2"}
