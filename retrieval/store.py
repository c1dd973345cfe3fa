"""The FAQ store: operators' source of truth, in SQLite, with an audit log and a change log.

Tables (all prefixed `faq_` because other packages keep their own tables in the same database file):
- `faq_entries`: one row per entry; list fields are JSON arrays.
- `faq_audit`: who changed what, when, with the entry before and after (JSON; null for add/delete).
- `faq_changes`: one row per changed entry (`op` is add, edit or delete). Its AUTOINCREMENT `seq` is the
  store version, so the search index can catch up with `changes_since(index_version)` instead of
  rebuilding. Rows are never deleted, which keeps the version monotonic.

Every change is one SQLite transaction (BEGIN IMMEDIATE ... COMMIT), so a process killed mid-import
leaves the store as it was. One connection is shared behind a lock, which makes a store object safe to
use from Gradio's worker threads; other processes (the CLI beside a running server) see each commit.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import re
import secrets
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrieval.config import RetrievalConfig
from retrieval.errors import EntryExists, EntryNotFound, InvalidEntry, StoreUnavailable, VersionConflict
from retrieval.types import FaqEntry

DEFAULT_MAX_ROW_CHARS: int = RetrievalConfig.model_fields["max_row_chars"].default
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,100}")
EDITABLE_FIELDS = ("question", "answer", "alternates", "category", "language", "tags")
_LANGUAGE_PATTERN = re.compile(r"[A-Za-z0-9-]{1,35}")  # BCP-47-ish: "en", "zh", "zh-Hant", "pt-BR"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS faq_entries (
    id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    alternates TEXT NOT NULL DEFAULT '[]',
    answer TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'en',
    tags TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS faq_entries_category ON faq_entries(category);
CREATE TABLE IF NOT EXISTS faq_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('add', 'edit', 'delete', 'import')),
    entry_id TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX IF NOT EXISTS faq_audit_entry ON faq_audit(entry_id);
CREATE TABLE IF NOT EXISTS faq_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'edit', 'delete'))
);
"""
_COLUMNS = "id, question, alternates, answer, category, language, tags, updated_at, version"


@dataclass(frozen=True)
class AuditRecord:
    """One audited change. `before` is None for an add, `after` is None for a delete."""

    id: int
    at: str  # ISO 8601, UTC
    actor: str
    action: str  # add | edit | delete | import
    entry_id: str
    before: FaqEntry | None
    after: FaqEntry | None


@dataclass(frozen=True)
class UpsertReport:
    """What one `upsert_many` did; `version` is the store version after it committed."""

    added: int
    updated: int
    unchanged: int
    version: int

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged


def make_entry_id(question: str, salt: str = "") -> str:
    """A readable id from the question: "How do I report a lost card?" -> "how-do-i-report-a-lost-card-7b2b3e".

    The suffix is a hash of the question (plus `salt`), so the same question gets the same id every time:
    re-importing a file without ids updates its entries instead of duplicating them. Questions with no
    ASCII letters (Chinese) get "faq-<12 hex digits>".
    """
    ascii_text = unicodedata.normalize("NFKD", question).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:  # whole words only, at most 48 characters, so ids stay short and readable
        if len(slug) + len(word) + 1 > 48:
            break
        slug = f"{slug}-{word}" if slug else word
    digest = hashlib.sha1(f"{question.strip()}\x00{salt}".encode()).hexdigest()
    # With words, a clash needs the same leading words too, so 6 hex digits do; a bare "faq-" id carries
    # 12 so that 10,000 Chinese questions almost surely never share one (birthday bound ~1e-6).
    return f"{slug}-{digest[:6]}" if slug else f"faq-{digest[:12]}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _clean_list(values: Any, field: str, entry_id: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InvalidEntry(f"FAQ entry {entry_id!r}: {field} must be a list of strings, got {type(values).__name__}.")
    cleaned = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidEntry(f"FAQ entry {entry_id!r}: every item of {field} must be text, got {value!r}.")
        if value.strip() and value.strip() not in cleaned:
            cleaned.append(value.strip())
    return tuple(cleaned)


def validate_entry(entry: FaqEntry, *, max_row_chars: int = DEFAULT_MAX_ROW_CHARS) -> FaqEntry:
    """Check an entry against the store's rules and return it normalised (stripped text, no empty items).

    Raises InvalidEntry with a message naming the entry and the rule. An empty id is allowed here (the
    store generates one); importers call this too, so a file is checked row by row before any write.
    """
    name = entry.id or entry.question[:40]
    if entry.id and not ID_PATTERN.fullmatch(entry.id):
        raise InvalidEntry(
            f"FAQ entry id {entry.id!r} is not valid: use 1 to 100 characters from A-Z, a-z, 0-9, '.', '_' and '-'."
        )
    for field in ("question", "answer", "category", "language"):
        if not isinstance(getattr(entry, field), str):
            raise InvalidEntry(f"FAQ entry {name!r}: {field} must be text.")
    question, answer = entry.question.strip(), entry.answer.strip()
    if not question:
        raise InvalidEntry(f"FAQ entry {name!r} has an empty question: every entry needs the question it answers.")
    if not answer:
        raise InvalidEntry(f"FAQ entry {name!r} has an empty answer: write the answer before saving it.")
    language = entry.language.strip() or "en"
    if not _LANGUAGE_PATTERN.fullmatch(language):
        raise InvalidEntry(f"FAQ entry {name!r}: language {entry.language!r} is not a language code like 'en' or 'zh'.")
    alternates = tuple(a for a in _clean_list(entry.alternates, "alternates", name) if a != question)
    tags = _clean_list(entry.tags, "tags", name)
    size = len(question) + len(answer) + sum(len(a) for a in alternates)
    if size > max_row_chars:
        raise InvalidEntry(
            f"FAQ entry {name!r} is {size} characters long (question + alternates + answer); the limit is "
            f"{max_row_chars}. Shorten it or split it into several entries."
        )
    return dataclasses.replace(
        entry,
        question=question,
        answer=answer,
        alternates=alternates,
        category=entry.category.strip(),
        language=language,
        tags=tags,
    )


def _same_content(a: FaqEntry, b: FaqEntry) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in EDITABLE_FIELDS)


def _entry_json(entry: FaqEntry | None) -> str | None:
    if entry is None:
        return None
    return json.dumps(dataclasses.asdict(entry), ensure_ascii=False)


def _entry_from_json(text: str | None) -> FaqEntry | None:
    if text is None:
        return None
    data = json.loads(text)
    data["alternates"] = tuple(data.get("alternates", ()))
    data["tags"] = tuple(data.get("tags", ()))
    return FaqEntry(**data)


def _entry_from_row(row: sqlite3.Row | tuple) -> FaqEntry:
    id_, question, alternates, answer, category, language, tags, updated_at, version = row
    return FaqEntry(
        id=id_,
        question=question,
        answer=answer,
        alternates=tuple(json.loads(alternates)),
        category=category,
        language=language,
        tags=tuple(json.loads(tags)),
        updated_at=updated_at,
        version=version,
    )


def _text_matches(needle: str, question: str, alternates: str, answer: str) -> bool:
    # Python's casefold handles non-ASCII letters, unlike SQLite's LIKE/lower (ASCII only).
    haystack = "\n".join((question, *json.loads(alternates), answer))
    return needle in haystack.casefold()


class FaqStore:
    """FAQ entries in a SQLite file, with audit and change logs. Safe to share between threads."""

    def __init__(self, path: Path, *, max_row_chars: int = DEFAULT_MAX_ROW_CHARS, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.max_row_chars = max_row_chars
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so one change is exactly one transaction.
            # The server and the CLI may write at once: `timeout` is SQLite's busy_timeout (wait for the other writer).
            self._conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_s
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            # FULL: operators' edits are the source of truth; one fsync per edit is cheap next to losing one.
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.create_function("faq_text_matches", 4, _text_matches, deterministic=True)
            with self._transaction() as conn:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
        except (sqlite3.DatabaseError, OSError) as e:
            raise StoreUnavailable(
                f"Cannot open the FAQ database at {self.path}: {e}. If the file is damaged, move it aside "
                "(FinDesk creates a new one) or choose another folder with --data-dir / FINDESK_DATA_DIR."
            ) from e

    # --- lifecycle -------------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> FaqStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException as e:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.OperationalError):  # locked past busy_timeout, disk full, read-only file
                raise StoreUnavailable(
                    f"Could not save to the FAQ database at {self.path}: {e}. Nothing was changed; if another "
                    "FinDesk process is importing, wait for it and try again, else check the disk and permissions."
                ) from e
            raise

    # --- reading ---------------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The store version: bumps on every committed change to an entry (also by other processes)."""
        with self._lock:
            return self._read_version(self._conn)

    @staticmethod
    def _read_version(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT COALESCE(MAX(seq), 0) FROM faq_changes").fetchone()[0]

    def get(self, entry_id: str) -> FaqEntry | None:
        with self._lock:
            return self._get(self._conn, entry_id)

    @staticmethod
    def _get(conn: sqlite3.Connection, entry_id: str) -> FaqEntry | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM faq_entries WHERE id = ?", (entry_id,)).fetchone()
        return _entry_from_row(row) if row else None

    def list(
        self,
        *,
        text: str | None = None,
        category: str | None = None,
        language: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[FaqEntry]:
        """Entries ordered by id; `text` is a case-insensitive substring of question, alternates or answer."""
        where: list[str] = []
        params: list[Any] = []
        if text:
            where.append("faq_text_matches(?, question, alternates, answer)")
            params.append(text.casefold())
        if category is not None:
            where.append("category = ?")
            params.append(category)
        if language is not None:
            where.append("language = ?")
            params.append(language)
        sql = f"SELECT {_COLUMNS} FROM faq_entries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id LIMIT ? OFFSET ?"
        params += [-1 if limit is None else limit, offset]
        with self._lock:
            return [_entry_from_row(row) for row in self._conn.execute(sql, params)]

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM faq_entries").fetchone()[0]

    # `builtins.list`: below the `list` method, a bare `list` in this class body names that method.
    def categories(self) -> builtins.list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT category FROM faq_entries WHERE category != '' ORDER BY 1")
            return [row[0] for row in rows]

    def changes_since(self, version: int) -> tuple[int, set[str]]:
        """The current version and the ids changed after `version`; an id with no entry now was deleted."""
        with self._lock:
            self._conn.execute("BEGIN")  # one snapshot, so the version matches the ids
            try:
                current = self._read_version(self._conn)
                rows = self._conn.execute("SELECT DISTINCT entry_id FROM faq_changes WHERE seq > ?", (version,))
                return current, {row[0] for row in rows}
            finally:
                self._conn.execute("COMMIT")

    def audit(self, entry_id: str | None = None, limit: int = 100) -> builtins.list[AuditRecord]:
        """Audited changes, newest first; only those of `entry_id` when given."""
        sql = "SELECT id, at, actor, action, entry_id, before, after FROM faq_audit"
        params: list[Any] = []
        if entry_id is not None:
            sql += " WHERE entry_id = ?"
            params.append(entry_id)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [
            AuditRecord(id_, at, actor, action, eid, _entry_from_json(before), _entry_from_json(after))
            for id_, at, actor, action, eid, before, after in rows
        ]

    # --- writing ---------------------------------------------------------------------------------------

    def add(self, entry: FaqEntry, *, actor: str) -> FaqEntry:
        """Add a new entry (version 1). An empty id gets a readable one made from the question."""
        _check_actor(actor)
        entry = validate_entry(entry, max_row_chars=self.max_row_chars)
        with self._lock, self._transaction() as conn:
            entry_id = entry.id or self._free_id(conn, entry.question)
            if self._get(conn, entry_id) is not None:
                raise EntryExists(f"A FAQ entry with id {entry_id!r} already exists: edit it, or choose another id.")
            saved = dataclasses.replace(entry, id=entry_id, updated_at=_now(), version=1)
            self._write(conn, "add", actor, before=None, after=saved)
            return saved

    def update(self, entry_id: str, *, actor: str, expected_version: int | None = None, **changes: Any) -> FaqEntry:
        """Change some fields of an entry; with `expected_version`, refuse if someone else edited it since.

        Editing to identical content is a no-op (no new version, no audit row).
        """
        _check_actor(actor)
        unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
        if unknown:
            raise InvalidEntry(f"Cannot change {', '.join(unknown)}: editable fields are {', '.join(EDITABLE_FIELDS)}.")
        for field in ("alternates", "tags"):
            if field in changes and isinstance(changes[field], list):
                changes[field] = tuple(changes[field])
        with self._lock, self._transaction() as conn:
            before = self._require(conn, entry_id)
            if expected_version is not None and before.version != expected_version:
                raise VersionConflict(
                    f"FAQ entry {entry_id!r} was changed by someone else while you edited it (you started from "
                    f"version {expected_version}, it is now version {before.version}). Reload it and apply "
                    "your edit again."
                )
            edited = validate_entry(dataclasses.replace(before, **changes), max_row_chars=self.max_row_chars)
            if _same_content(before, edited):
                return before
            saved = dataclasses.replace(edited, updated_at=_now(), version=before.version + 1)
            self._write(conn, "edit", actor, before=before, after=saved)
            return saved

    def delete(self, entry_id: str, *, actor: str) -> FaqEntry:
        """Delete an entry and return it as it was."""
        _check_actor(actor)
        with self._lock, self._transaction() as conn:
            before = self._require(conn, entry_id)
            self._write(conn, "delete", actor, before=before, after=None)
            return before

    def upsert_many(
        self,
        entries: Sequence[FaqEntry],
        *,
        actor: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> UpsertReport:
        """Add or update many entries in ONE transaction: all of them are saved, or (on any error) none.

        An id already in the store updates that entry (a new version if the content differs); an empty id
        gets the id `make_entry_id(question)`. `progress(done, total)` is called every 200 entries and at
        the end; an exception raised from it rolls everything back.
        """
        _check_actor(actor)
        checked = [validate_entry(e, max_row_chars=self.max_row_chars) for e in entries]
        seen: set[str] = set()
        added = updated = unchanged = 0
        with self._lock, self._transaction() as conn:
            for done, entry in enumerate(checked, start=1):
                entry_id = entry.id or make_entry_id(entry.question)
                if entry_id in seen:
                    raise InvalidEntry(
                        f"FAQ entry id {entry_id!r} appears twice in one import: give each entry its own id."
                    )
                seen.add(entry_id)
                before = self._get(conn, entry_id)
                if before is None:
                    saved = dataclasses.replace(entry, id=entry_id, updated_at=_now(), version=1)
                    self._write(conn, "import", actor, before=None, after=saved, op="add")
                    added += 1
                elif _same_content(before, entry):
                    unchanged += 1
                else:
                    saved = dataclasses.replace(entry, id=entry_id, updated_at=_now(), version=before.version + 1)
                    self._write(conn, "import", actor, before=before, after=saved, op="edit")
                    updated += 1
                if progress is not None and (done % 200 == 0 or done == len(checked)):
                    progress(done, len(checked))
            version = self._read_version(conn)
        return UpsertReport(added=added, updated=updated, unchanged=unchanged, version=version)

    # --- internals -------------------------------------------------------------------------------------

    def _require(self, conn: sqlite3.Connection, entry_id: str) -> FaqEntry:
        entry = self._get(conn, entry_id)
        if entry is None:
            raise EntryNotFound(f"No FAQ entry has id {entry_id!r}; `findesk faq list` shows the ids.")
        return entry

    def _free_id(self, conn: sqlite3.Connection, question: str) -> str:
        entry_id = make_entry_id(question)
        while self._get(conn, entry_id) is not None:  # same question asked twice: salt until free
            entry_id = make_entry_id(question, salt=secrets.token_hex(4))
        return entry_id

    @staticmethod
    def _write(
        conn: sqlite3.Connection,
        action: str,
        actor: str,
        *,
        before: FaqEntry | None,
        after: FaqEntry | None,
        op: str | None = None,
    ) -> None:
        """Apply one entry change and record it in the audit and change logs (inside the caller's transaction)."""
        entry_id = (after or before).id  # type: ignore[union-attr]
        if after is None:
            conn.execute("DELETE FROM faq_entries WHERE id = ?", (entry_id,))
        else:
            conn.execute(
                f"INSERT OR REPLACE INTO faq_entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    after.id,
                    after.question,
                    json.dumps(list(after.alternates), ensure_ascii=False),
                    after.answer,
                    after.category,
                    after.language,
                    json.dumps(list(after.tags), ensure_ascii=False),
                    after.updated_at,
                    after.version,
                ),
            )
        conn.execute(
            "INSERT INTO faq_audit (at, actor, action, entry_id, before, after) VALUES (?, ?, ?, ?, ?, ?)",
            (after.updated_at if after else _now(), actor, action, entry_id, _entry_json(before), _entry_json(after)),
        )
        conn.execute("INSERT INTO faq_changes (entry_id, op) VALUES (?, ?)", (entry_id, op or action))


def _check_actor(actor: str) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise InvalidEntry("Every FAQ change needs an actor (who made it) for the audit log, e.g. actor='alice'.")
