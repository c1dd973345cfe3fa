"""FAQ files in and out: parse JSONL, CSV and Markdown into checked entries; export JSONL.

Formats (UTF-8, with or without a byte-order mark):

- JSONL, one entry per line: {"id": "card-lost", "question": "...", "alternates": ["...", "..."],
  "answer": "...", "category": "cards", "language": "en", "tags": ["..."]}. Only question and answer
  are required. Blank lines are skipped.
- CSV with a header row naming the same columns (any order; question and answer required). In the
  alternates and tags cells several values are separated by "|".
- Markdown: every "#" or "##" heading is a question and the text below it, up to the next such heading,
  is its answer ("###" and deeper headings belong to the answer; headings inside ``` fences are text).
  Lines "Key: value" right under a heading, before the answer text, set that entry's fields; the keys
  are Id, Category, Language, Tags (comma-separated) and Alternates ("|"-separated). The same lines
  before the first heading set defaults for the whole file, e.g. "Language: zh" on top of a Chinese file;
  other text before the first heading is ignored. A "#" heading with no text of its own that is directly
  followed by "##" headings is a section title, not a question: it becomes the category of the "##"
  entries under it (and its "Key: value" lines their defaults), e.g. "# Cards" then "## Lost card?".

An entry without an id gets `make_entry_id(question)`, which depends only on the question, so importing
the same file again updates those entries instead of duplicating them.

A file is accepted whole or not at all: every bad row is collected (with the line where it starts) and
reported in one ImportRejected, before anything touches the store.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from retrieval.errors import ImportRejected, InvalidEntry, RowProblem
from retrieval.store import make_entry_id, validate_entry
from retrieval.types import FaqEntry

COLUMNS = ("id", "question", "alternates", "answer", "category", "language", "tags")
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".md": "markdown", ".markdown": "markdown"}
_MARKDOWN_KEYS = {"id", "category", "language", "tags", "alternates"}
_HEADING = re.compile(r"^(#{1,2})(?:\s+(.*?))?\s*#*\s*$")
_META = re.compile(r"^\s*([A-Za-z]+)\s*:\s*(.*?)\s*$")

Row = tuple[int, dict[str, Any]]  # (line where the row starts, its fields)


def format_for(path: Path) -> str:
    """The import format named by a file's extension: 'jsonl', 'csv' or 'markdown'."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ImportRejected(
            [RowProblem(None, f"unknown file type {Path(path).suffix or '(none)'!r}: use {', '.join(FORMATS)}")],
            source=str(path),
        )
    return fmt


def parse_faq_file(path: Path, *, max_bytes: int, max_row_chars: int) -> list[FaqEntry]:
    """Read and check an FAQ file (format from its extension); raise ImportRejected listing every bad row."""
    path = Path(path)
    fmt = format_for(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:  # refuse before reading: the file may not even fit in memory
            raise ImportRejected([_too_big(size, max_bytes)], source=str(path))
        data = path.read_bytes()
    except OSError as e:
        raise ImportRejected([RowProblem(None, f"cannot read the file: {e.strerror or e}")], source=str(path)) from e
    return parse_faq_bytes(data, fmt, max_bytes=max_bytes, max_row_chars=max_row_chars, source=str(path))


def parse_faq_bytes(
    data: bytes, fmt: str, *, max_bytes: int, max_row_chars: int, source: str = "the upload"
) -> list[FaqEntry]:
    """Check FAQ file contents (`fmt`: 'jsonl', 'csv' or 'markdown'; the web UI uploads bytes)."""
    fmt = FORMATS.get(f".{fmt.lower().lstrip('.')}", fmt.lower())
    parsers = {"jsonl": _jsonl_rows, "csv": _csv_rows, "markdown": _markdown_rows}
    if fmt not in parsers:
        raise ImportRejected([RowProblem(None, f"unknown format {fmt!r}: use jsonl, csv or markdown")], source=source)
    if len(data) > max_bytes:
        raise ImportRejected([_too_big(len(data), max_bytes)], source=source)
    if not data.strip() or data.strip() == b"\xef\xbb\xbf":
        raise ImportRejected([RowProblem(None, "the file is empty: it holds no FAQ entries")], source=source)
    problems = _undecodable_lines(data)
    # Keep parsing past undecodable lines (read with U+FFFD) so one report lists every other problem too.
    text = data.decode("utf-8-sig", errors="replace").replace("\r\n", "\n")
    rows = parsers[fmt](text, problems)
    entries = _check_rows(rows, problems, max_row_chars)
    if not problems and not entries:
        problems.append(RowProblem(None, "no FAQ entries found in the file"))
    if problems:
        raise ImportRejected(sorted(problems, key=lambda p: p.line or 0), source=source)
    return entries


def format_jsonl(entries: Iterable[FaqEntry]) -> str:
    """Entries as JSONL text in the import format (no store-managed fields), one line each."""
    lines = []
    for entry in entries:
        record = {column: getattr(entry, column) for column in COLUMNS}
        record["alternates"], record["tags"] = list(entry.alternates), list(entry.tags)
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(lines)


def export_jsonl(entries: Iterable[FaqEntry], path: Path) -> int:
    """Write entries to `path` as JSONL, atomically (a crash leaves the old file or the new one); returns the count."""
    path = Path(path)
    entries = list(entries)
    text = format_jsonl(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(entries)


# --- row readers: text -> (line, fields), appending format errors to `problems` -------------------------


def _jsonl_rows(text: str, problems: list[RowProblem]) -> list[Row]:
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(RowProblem(number, f"invalid JSON ({e.msg} at column {e.colno})"))
            continue
        if not isinstance(record, dict):
            problems.append(RowProblem(number, f"expected a JSON object, got {type(record).__name__}"))
            continue
        rows.append((number, record))
    return rows


def _csv_rows(text: str, problems: list[RowProblem]) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as e:
        problems.append(RowProblem(1, f"cannot read the CSV header: {e}"))
        return []
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        problems.append(
            RowProblem(1, f"unknown column(s) {', '.join(map(repr, unknown))}; known: {', '.join(COLUMNS)}")
        )
    missing = [c for c in ("question", "answer") if c not in header]
    if missing:
        problems.append(RowProblem(1, f"missing column(s) {', '.join(missing)} in the header row"))
    if unknown or missing:
        return []
    rows, start = [], reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            problems.append(RowProblem(start, f"malformed CSV: {e}"))
            start = reader.line_num + 1
            continue
        if any(cell.strip() for cell in cells):
            if len(cells) > len(header):
                problems.append(RowProblem(start, f"{len(cells)} cells but the header names {len(header)} columns"))
            else:
                record: dict[str, Any] = dict(zip(header, cells, strict=False))
                for column in ("alternates", "tags"):
                    record[column] = record.get(column, "").split("|")
                rows.append((start, record))
        start = reader.line_num + 1
    return rows


def _markdown_rows(text: str, problems: list[RowProblem]) -> list[Row]:
    file_defaults: dict[str, Any] = {}
    section: dict[str, Any] = {}  # defaults set by the "#" section heading above, if any
    rows: list[Row] = []
    current: dict[str, Any] | None = None  # fields of the heading being read, with "_line" and "_level"
    body: list[str] = []
    in_fence = in_meta = False
    for number, line in enumerate(text.split("\n"), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            if current and current["_level"] == 1 and level == 2 and not "".join(body).strip():
                # "# Cards" directly followed by "## ..." questions is a section title, not an entry.
                section = {k: v for k, v in current.items() if not k.startswith("_") and k != "question"}
                section.setdefault("category", current["question"])
            else:
                _close_markdown_entry(current, body, rows)
                if level == 1:
                    section = {}
            current = {"question": heading.group(2) or "", "_line": number, "_level": level}
            current["_defaults"] = {**file_defaults, **section}
            body, in_meta = [], True
            continue
        meta = None if in_fence else _META.match(line)
        if meta and meta.group(1).lower() in _MARKDOWN_KEYS and (current is None or in_meta):
            key, value = meta.group(1).lower(), meta.group(2)
            if key in ("tags", "alternates"):
                value = value.split("," if key == "tags" else "|")
            (file_defaults if current is None else current)[key] = value
            continue
        if current is not None:
            if line.strip():
                in_meta = False
            body.append(line)
    _close_markdown_entry(current, body, rows)
    return rows


def _close_markdown_entry(current: dict[str, Any] | None, body: list[str], rows: list[Row]) -> None:
    if current is not None:
        fields = {k: v for k, v in current.items() if not k.startswith("_")}
        rows.append((current["_line"], {**current["_defaults"], **fields, "answer": "\n".join(body).strip()}))


# --- row checks: fields -> FaqEntry ----------------------------------------------------------------------


def _check_rows(rows: list[Row], problems: list[RowProblem], max_row_chars: int) -> list[FaqEntry]:
    entries: list[FaqEntry] = []
    first_line_of_id: dict[str, int] = {}
    for line, record in rows:
        reason = _row_problem(record)
        if reason:
            problems.append(RowProblem(line, reason))
            continue
        explicit_id = (record.get("id") or "").strip()
        entry = FaqEntry(
            id=explicit_id,
            question=record.get("question", ""),
            answer=record.get("answer", ""),
            alternates=tuple(record.get("alternates") or ()),
            category=record.get("category") or "",
            language=record.get("language") or "en",
            tags=tuple(record.get("tags") or ()),
        )
        try:
            entry = validate_entry(entry, max_row_chars=max_row_chars)
        except InvalidEntry as e:
            problems.append(RowProblem(line, _short_reason(str(e))))
            continue
        entry_id = explicit_id or make_entry_id(entry.question)
        if entry_id in first_line_of_id:
            what = f"duplicate id {entry_id!r}" if explicit_id else "same question as another row and no id"
            problems.append(RowProblem(line, f"{what} (first on line {first_line_of_id[entry_id]})"))
            continue
        first_line_of_id[entry_id] = line
        entries.append(dataclasses.replace(entry, id=entry_id))
    return entries


def _row_problem(record: dict[str, Any]) -> str | None:
    """The first thing wrong with a row's raw fields, in words; None if its shape is fine."""
    unknown = [key for key in record if key not in COLUMNS]
    if unknown:
        return f"unknown column(s) {', '.join(map(repr, unknown))}; known: {', '.join(COLUMNS)}"
    for key in ("id", "question", "answer", "category", "language"):
        if record.get(key) is not None and not isinstance(record[key], str):
            return f"{key} must be text, got {type(record[key]).__name__}"
    for key in ("alternates", "tags"):
        value = record.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return f"{key} must be a list of strings"
    if not (record.get("question") or "").strip():
        return "missing question"
    if not (record.get("answer") or "").strip():
        return "missing answer"
    return None


def _short_reason(message: str) -> str:
    # validate_entry names the entry ("FAQ entry 'x' ..."); in a row report the line number already does.
    short = re.sub(r"""^FAQ entry (?:'[^']*'|"[^"]*"):? ?""", "", message, count=1)
    return f"row {short}" if short.startswith("is ") else short


def _undecodable_lines(data: bytes) -> list[RowProblem]:
    problems = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(
                RowProblem(number, f"bytes that are not UTF-8 at column {e.start + 1}: save the file as UTF-8")
            )
    return problems


def _too_big(size: int, max_bytes: int) -> RowProblem:
    return RowProblem(
        None,
        f"the file is {size:,} bytes; the limit is {max_bytes:,} (FINDESK_RETRIEVAL__MAX_IMPORT_BYTES): split it",
    )
