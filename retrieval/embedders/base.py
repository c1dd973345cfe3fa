"""The embedder interface: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

EmbedKind = Literal["query", "passage"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors, so inner product is cosine similarity.

    `kind` matters for asymmetric models (e5 prefixes "query: " / "passage: "); symmetric models ignore it.
    Implementations load their model lazily, on the first `embed` or an explicit `warm_up`.
    """

    name: str
    languages: tuple[str, ...]  # languages the model was trained on; ("*",) for multilingual

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> np.ndarray:
        """Return float32 [len(texts), dim], each row L2-normalised."""
        ...

    def warm_up(self) -> None: ...


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise each row (zero rows stay zero) and make the array float32 and C-contiguous for FAISS."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors


class LoadOnce:
    """Runs an embedder's loader once, on first use, even when two threads (two Gradio workers, a search and
    the background calibration) ask at the same moment: a model must not load twice."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.done = False

    def __call__(self, load: Callable[[], None]) -> None:
        if self.done:  # the common case, without taking the lock
            return
        with self._lock:
            if not self.done:
                load()  # raises on failure and leaves `done` False: the next call tries again
                self.done = True
