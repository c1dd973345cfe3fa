"""The FAQ store: operators' source of truth, with an audit log and a change log, on the storage layer.

Tables (all prefixed `faq_` because other packages keep their own tables in the same database):
- `faq_entries`: one row per entry; list fields are JSON arrays.
- `faq_audit`: who changed what, when, with the entry before and after (JSON; null for add/delete).
- `faq_changes`: one row per changed entry (`op` is add, edit or delete). Its AUTOINCREMENT `seq` is the
  store version, so the search index can catch up with `changes_since(index_version)` instead of
  rebuilding. Rows are never deleted, which keeps the version monotonic.

Every change is one transaction under the FAQ write lock (retrieval/database.py), so a process killed
mid-import leaves the store as it was, versions checked by `expected_version` cannot race, and change-log
rows commit in `seq` order: a replica that has seen version N has seen every change up to N. Other
processes and replicas (the CLI beside a running server) see each commit.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from retrieval.config import RetrievalConfig
from retrieval.database import Database, open_database
from retrieval.errors import EntryExists, EntryNotFound, InvalidEntry, VersionConflict
from retrieval.types import FaqEntry

DEFAULT_MAX_ROW_CHARS: int = RetrievalConfig.model_fields["max_row_chars"].default
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,100}")
EDITABLE_FIELDS = ("question", "answer", "alternates", "category", "language", "tags")
_LANGUAGE_PATTERN = re.compile(r"[A-Za-z0-9-]{1,35}")  # BCP-47-ish: "en", "zh", "zh-Hant", "pt-BR"

_metadata = sa.MetaData()
# The tables as the queries below see them; retrieval/migrations/ creates and upgrades them.
faq_entries = sa.Table(
    "faq_entries",
    _metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("question", sa.Text),
    sa.Column("alternates", sa.Text),  # JSON array
    sa.Column("answer", sa.Text),
    sa.Column("category", sa.Text),
    sa.Column("language", sa.Text),
    sa.Column("tags", sa.Text),  # JSON array
    sa.Column("updated_at", sa.Text),
    sa.Column("version", sa.Integer),
)
faq_audit = sa.Table(
    "faq_audit",
    _metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("at", sa.Text),
    sa.Column("actor", sa.Text),
    sa.Column("action", sa.Text),
    sa.Column("entry_id", sa.Text),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
)
faq_changes = sa.Table(
    "faq_changes",
    _metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("entry_id", sa.Text),
    sa.Column("op", sa.Text),
)
_WRITE_LOCK = "faq-changes"  # every FAQ write: the change log's seq order is its commit order


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


def _entry_from_row(row: sa.Row) -> FaqEntry:
    return FaqEntry(
        id=row.id,
        question=row.question,
        answer=row.answer,
        alternates=tuple(json.loads(row.alternates)),
        category=row.category,
        language=row.language,
        tags=tuple(json.loads(row.tags)),
        updated_at=row.updated_at,
        version=row.version,
    )


def _entry_row(entry: FaqEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "question": entry.question,
        "alternates": json.dumps(list(entry.alternates), ensure_ascii=False),
        "answer": entry.answer,
        "category": entry.category,
        "language": entry.language,
        "tags": json.dumps(list(entry.tags), ensure_ascii=False),
        "updated_at": entry.updated_at,
        "version": entry.version,
    }


def _text_matches(needle: str, entry: FaqEntry) -> bool:
    # Python's casefold handles non-ASCII letters, unlike SQL's LIKE/lower on some engines; the FAQ is small.
    return needle in "\n".join((entry.question, *entry.alternates, entry.answer)).casefold()


_VERSION = sa.select(sa.func.coalesce(sa.func.max(faq_changes.c.seq), 0))


class FaqStore:
    """FAQ entries with audit and change logs, on SQLite or PostgreSQL. Safe to share between threads.

    `database` is an open Database (shared with the other stores), or the path of a SQLite file (the store
    then opens it, migrates it, and closes it with itself).
    """

    def __init__(
        self,
        database: Database | Path,
        *,
        max_row_chars: int = DEFAULT_MAX_ROW_CHARS,
        busy_timeout_s: float = 10.0,
    ) -> None:
        self.max_row_chars = max_row_chars
        self._owns_db = not isinstance(database, Database)
        if isinstance(database, Database):
            self.db = database
        else:
            self.db = open_database(f"sqlite:///{Path(database)}", sqlite_busy_timeout_s=busy_timeout_s)

    # --- lifecycle -------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    def __enter__(self) -> FaqStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ---------------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The store version: bumps on every committed change to an entry (also by other processes)."""
        with self.db.read() as conn:
            return int(conn.execute(_VERSION).scalar_one())

    def get(self, entry_id: str) -> FaqEntry | None:
        with self.db.read() as conn:
            return self._get(conn, entry_id)

    @staticmethod
    def _get(conn: Connection, entry_id: str) -> FaqEntry | None:
        row = conn.execute(sa.select(faq_entries).where(faq_entries.c.id == entry_id)).first()
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
        query = sa.select(faq_entries).order_by(faq_entries.c.id)
        if category is not None:
            query = query.where(faq_entries.c.category == category)
        if language is not None:
            query = query.where(faq_entries.c.language == language)
        if not text:
            query = query.limit(limit).offset(offset)
        with self.db.read() as conn:
            entries = [_entry_from_row(row) for row in conn.execute(query)]
        if text:
            needle = text.casefold()
            matching = [e for e in entries if _text_matches(needle, e)]
            entries = matching[offset : None if limit is None else offset + limit]
        return entries

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(faq_entries)).scalar_one())

    # `builtins.list`: below the `list` method, a bare `list` in this class body names that method.
    def categories(self) -> builtins.list[str]:
        column = faq_entries.c.category
        with self.db.read() as conn:
            return list(conn.execute(sa.select(column).distinct().where(column != "").order_by(column)).scalars())

    def changes_since(self, version: int) -> tuple[int, set[str]]:
        """The current version and the ids changed after `version`; an id with no entry now was deleted."""
        with self.db.read() as conn:  # one snapshot, so the version matches the ids
            current = int(conn.execute(_VERSION).scalar_one())
            rows = conn.execute(sa.select(faq_changes.c.entry_id).distinct().where(faq_changes.c.seq > version))
            return current, set(rows.scalars())

    def audit(self, entry_id: str | None = None, limit: int = 100) -> builtins.list[AuditRecord]:
        """Audited changes, newest first; only those of `entry_id` when given."""
        query = sa.select(faq_audit).order_by(faq_audit.c.id.desc()).limit(limit)
        if entry_id is not None:
            query = query.where(faq_audit.c.entry_id == entry_id)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [
            AuditRecord(
                r.id, r.at, r.actor, r.action, r.entry_id, _entry_from_json(r.before), _entry_from_json(r.after)
            )
            for r in rows
        ]

    # --- writing ---------------------------------------------------------------------------------------

    def add(self, entry: FaqEntry, *, actor: str) -> FaqEntry:
        """Add a new entry (version 1). An empty id gets a readable one made from the question."""
        _check_actor(actor)
        entry = validate_entry(entry, max_row_chars=self.max_row_chars)
        with self.db.write(_WRITE_LOCK) as conn:
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
        with self.db.write(_WRITE_LOCK) as conn:
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
        with self.db.write(_WRITE_LOCK) as conn:
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
        with self.db.write(_WRITE_LOCK) as conn:
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
            version = int(conn.execute(_VERSION).scalar_one())
        return UpsertReport(added=added, updated=updated, unchanged=unchanged, version=version)

    # --- internals -------------------------------------------------------------------------------------

    def _require(self, conn: Connection, entry_id: str) -> FaqEntry:
        entry = self._get(conn, entry_id)
        if entry is None:
            raise EntryNotFound(f"No FAQ entry has id {entry_id!r}; `findesk faq list` shows the ids.")
        return entry

    def _free_id(self, conn: Connection, question: str) -> str:
        entry_id = make_entry_id(question)
        while self._get(conn, entry_id) is not None:  # same question asked twice: salt until free
            entry_id = make_entry_id(question, salt=secrets.token_hex(4))
        return entry_id

    @staticmethod
    def _write(
        conn: Connection,
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
            conn.execute(sa.delete(faq_entries).where(faq_entries.c.id == entry_id))
        elif before is None:
            conn.execute(sa.insert(faq_entries).values(_entry_row(after)))
        else:
            conn.execute(sa.update(faq_entries).where(faq_entries.c.id == entry_id).values(_entry_row(after)))
        conn.execute(
            sa.insert(faq_audit).values(
                at=after.updated_at if after else _now(),
                actor=actor,
                action=action,
                entry_id=entry_id,
                before=_entry_json(before),
                after=_entry_json(after),
            )
        )
        conn.execute(sa.insert(faq_changes).values(entry_id=entry_id, op=op or action))


def _check_actor(actor: str) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise InvalidEntry("Every FAQ change needs an actor (who made it) for the audit log, e.g. actor='alice'.")
