"""Canned responses: replies the whole team shares, per language, with {customer_name} and {agent_name}.

Operators keep them in the console (add, edit, delete, import a JSONL or CSV file or pasted JSONL, export
as JSONL); agents insert one in the desk by its shortcut (`/card-frozen`) or from a picker, then edit it
before sending.

Import files: JSONL, one {"shortcut", "language", "title", "text"} object per line; or CSV with a header row
naming the columns shortcut, language, text and optionally title. Title may be left out (it becomes the
shortcut). An import is all or nothing: every row is checked first, and the error names the first bad line.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from string import Formatter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from agent.errors import AgentError
from retrieval.database import Database

PLACEHOLDERS = ("customer_name", "agent_name")
SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_TEXT_CHARS = 4000
IMPORT_FORMATS = ("jsonl", "csv")
MAX_IMPORT_BYTES = 2_000_000  # a team's canned responses are a few hundred short texts: far below this
_CSV_COLUMNS = ("shortcut", "language", "text")  # required; "title" is optional

_metadata = sa.MetaData()
canned_responses = sa.Table(
    "canned_responses",
    _metadata,
    sa.Column("shortcut", sa.Text, primary_key=True),
    sa.Column("language", sa.Text, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
)


class CannedError(AgentError):
    """Shown to operators: a canned response they tried to save is not valid."""


class CannedExists(CannedError):
    """Shown to operators: that shortcut is taken in that language (edit it instead)."""


class CannedNotFound(AgentError):
    pass


@dataclass(frozen=True)
class Canned:
    shortcut: str  # typed as /shortcut in the desk
    language: str  # en | zh
    title: str
    text: str  # may use {customer_name} and {agent_name}
    updated_at: str = ""
    updated_by: str = ""


def check(canned: Canned) -> Canned:
    """The response, trimmed, or CannedError saying what to fix."""
    shortcut, language = canned.shortcut.strip().lstrip("/").lower(), canned.language.strip().lower()
    if not SHORTCUT.match(shortcut):
        raise CannedError(f"The shortcut {canned.shortcut!r} must be lower-case letters, digits, '-' or '_'.")
    if language not in ("en", "zh"):
        raise CannedError(f"The language is 'en' or 'zh', not {canned.language!r}.")
    text = canned.text.strip()
    if not text or len(text) > MAX_TEXT_CHARS:
        raise CannedError(f"The text must have 1 to {MAX_TEXT_CHARS} characters.")
    try:
        names = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise CannedError(f"The text has an unmatched brace: {error}. Write {{{{ for a literal brace.") from error
    unknown = sorted(names - set(PLACEHOLDERS))
    if unknown:
        raise CannedError(f"Unknown placeholder {unknown[0]!r}; use {{customer_name}} or {{agent_name}}.")
    return Canned(shortcut, language, canned.title.strip() or shortcut, text, canned.updated_at, canned.updated_by)


def _jsonl_items(data: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as error:
            raise CannedError(f"Line {number} is not JSON ({error}). Nothing was imported.") from error
        if not isinstance(item, dict):
            raise CannedError(f"Line {number}: each line is one JSON object {{...}}. Nothing was imported.")
        yield number, item


def _csv_items(data: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(data, newline=""))
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
    except csv.Error as error:
        raise CannedError(f"Line 1 is not CSV ({error}). Nothing was imported.") from error
    missing = [name for name in _CSV_COLUMNS if name not in header]
    if missing:
        raise CannedError(
            f"The first line must name the columns shortcut, language, title (optional) and text; {', '.join(missing)} "
            "is missing. Nothing was imported."
        )
    reader.fieldnames = header
    try:
        for row in reader:
            if None in row:  # more cells than the header names
                raise CannedError(f"Line {reader.line_num} has more cells than the header. Nothing was imported.")
            if not any((value or "").strip() for value in row.values()):
                continue
            yield reader.line_num, {k: v for k, v in row.items() if v is not None}
    except csv.Error as error:
        raise CannedError(f"Line {reader.line_num} is not valid CSV ({error}). Nothing was imported.") from error


def fill(canned: Canned, *, customer_name: str, agent_name: str) -> str:
    return canned.text.format(customer_name=customer_name, agent_name=agent_name)


def _key(canned: Canned) -> sa.ColumnElement[bool]:
    return (canned_responses.c.shortcut == canned.shortcut) & (canned_responses.c.language == canned.language)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class CannedStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, language: str | None = None) -> list[Canned]:
        query = sa.select(canned_responses).order_by(canned_responses.c.shortcut, canned_responses.c.language)
        if language:
            query = query.where(canned_responses.c.language == language)
        with self.db.read() as conn:
            return [Canned(**row._mapping) for row in conn.execute(query)]

    def get(self, shortcut: str, language: str) -> Canned | None:
        """The response for `language`, else the same shortcut in any language."""
        shortcut = shortcut.strip().lstrip("/").lower()
        found = [c for c in self.list() if c.shortcut == shortcut]
        return next((c for c in found if c.language == language), found[0] if found else None)

    def save(self, canned: Canned, *, actor: str, new: bool = False) -> Canned:
        """Add (new=True: refused if the shortcut exists in that language) or replace one."""
        with self.db.write() as conn:
            return self._upsert(conn, check(canned), actor, new)

    def update(self, canned: Canned, *, actor: str) -> Canned:
        """Replace an existing response (same shortcut and language); CannedNotFound if there is none."""
        canned = check(canned)
        with self.db.write() as conn:
            if conn.execute(sa.select(canned_responses.c.shortcut).where(_key(canned))).first() is None:
                raise CannedNotFound(f"No canned response /{canned.shortcut} in {canned.language}.")
            return self._upsert(conn, canned, actor, new=False)

    def delete(self, shortcut: str, language: str) -> None:
        key = (canned_responses.c.shortcut == shortcut) & (canned_responses.c.language == language)
        with self.db.write() as conn:
            if conn.execute(sa.delete(canned_responses).where(key)).rowcount == 0:
                raise CannedNotFound(f"No canned response /{shortcut} in {language}.")

    def export_jsonl(self) -> str:
        keys = ("shortcut", "language", "title", "text")
        return "".join(json.dumps({k: getattr(c, k) for k in keys}, ensure_ascii=False) + "\n" for c in self.list())

    def import_jsonl(self, data: str, *, actor: str) -> int:
        """Pasted JSONL; see `import_text`."""
        return self.import_text(data, "jsonl", actor=actor)

    def import_text(self, data: str, format: str, *, actor: str) -> int:
        """Import JSONL or CSV (`format`), all or nothing: every row is checked before any is saved (an existing
        shortcut in the same language is replaced); returns how many were saved."""
        if format not in IMPORT_FORMATS:
            raise CannedError(f"Canned responses are imported from {' or '.join(IMPORT_FORMATS)}, not {format!r}.")
        rows: dict[tuple[str, str], tuple[int, Canned]] = {}
        for number, item in (_jsonl_items if format == "jsonl" else _csv_items)(data):
            try:
                canned = check(Canned(item["shortcut"], item["language"], item.get("title") or "", item["text"]))
            except KeyError as error:
                raise CannedError(f"Line {number}: {error.args[0]!r} is missing. Nothing was imported.") from error
            except (TypeError, AttributeError) as error:  # e.g. a number where text belongs
                raise CannedError(
                    f"Line {number}: every field must be text ({error}). Nothing was imported."
                ) from error
            except CannedError as error:
                raise CannedError(f"Line {number}: {error} Nothing was imported.") from error
            key = (canned.shortcut, canned.language)
            if key in rows:
                raise CannedError(
                    f"Line {number}: /{canned.shortcut} ({canned.language}) is also on line {rows[key][0]}; keep one. "
                    "Nothing was imported."
                )
            rows[key] = (number, canned)
        if not rows:
            raise CannedError("The file has no canned responses in it. Nothing was imported.")
        with self.db.write() as conn:
            for _, canned in rows.values():
                self._upsert(conn, canned, actor, new=False)
        return len(rows)

    @staticmethod
    def _upsert(conn: sa.Connection, canned: Canned, actor: str, new: bool) -> Canned:
        row = asdict(canned) | {"updated_at": _now(), "updated_by": actor}
        key = _key(canned)
        exists = conn.execute(sa.select(canned_responses.c.shortcut).where(key)).first() is not None
        if new and exists:
            raise CannedExists(f"/{canned.shortcut} already exists in {canned.language}; edit it instead.")
        if exists:
            conn.execute(sa.update(canned_responses).where(key).values(row))
        else:
            try:
                conn.execute(sa.insert(canned_responses).values(row))
            except IntegrityError as error:
                raise CannedExists(f"/{canned.shortcut} was just added by someone else.") from error
        return Canned(**row)
