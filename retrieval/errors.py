"""Errors whose message is shown to the user as is (operators, customers). Anything else is a bug."""

from __future__ import annotations

from dataclasses import dataclass


class RetrievalError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


# --- The FAQ store and its importers (retrieval/store.py, retrieval/importers.py) ---


class StoreUnavailable(RetrievalError):
    """The FAQ database file cannot be opened or read."""


class EntryNotFound(RetrievalError):
    """No FAQ entry has the given id."""


class EntryExists(RetrievalError):
    """An entry with that id already exists (add never overwrites; use edit or import)."""


class VersionConflict(RetrievalError):
    """Someone else changed the entry after the caller read it (optimistic concurrency)."""


class InvalidEntry(RetrievalError):
    """An entry breaks a rule: empty question or answer, too long, bad id characters, unknown field."""


@dataclass(frozen=True)
class RowProblem:
    """One reason an import file was refused. `line` is 1-based where the row starts; None for the whole file."""

    line: int | None
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line is not None else self.reason


class ImportRejected(RetrievalError):
    """An import file was refused as a whole (nothing was changed); `problems` lists every bad row."""

    MAX_LISTED = 50  # a 10,000-row file with a systematic error would otherwise print 10,000 lines

    def __init__(self, problems: list[RowProblem], source: str = "the file") -> None:
        self.problems = list(problems)
        self.source = source
        listed = "\n".join(f"  - {p}" for p in self.problems[: self.MAX_LISTED])
        more = len(self.problems) - self.MAX_LISTED
        if more > 0:
            listed += f"\n  ... and {more} more"
        super().__init__(
            f"Import refused, nothing was changed: {source} has {len(self.problems)} problem(s). "
            f"Fix them and import the whole file again.\n{listed}"
        )


# --- Embedders, indexes and search (retrieval/embedders/, dense_index.py, knowledge_base.py) ---


class UnknownEmbedder(RetrievalError):
    """The configured embedder name is neither a known name, a local folder, nor a hub id."""


class ModelPackError(RetrievalError):
    """An offline-pack weight file is missing or its sha256 does not match the pinned one."""


class EmbedderUnavailable(RetrievalError):
    """The embedding model could not be loaded (missing package, no network for a hub id)."""


class InvalidQuery(RetrievalError):
    """A search query is empty, too long, or not text."""


class IndexCorrupt(RetrievalError):
    """An index file on disk is truncated or garbled; the knowledge base rebuilds it from the store."""


class InvalidEvalFile(RetrievalError):
    """A retrieval evaluation file (`findesk eval retrieval`) is missing, unreadable or has malformed lines."""
