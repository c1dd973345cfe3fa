"""`findesk faq ...`: operators' commands for the FAQ knowledge base (import, export, list, add, edit, delete)."""

from __future__ import annotations

import dataclasses
import getpass
import json
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from retrieval.errors import ImportRejected, RetrievalError
from retrieval.importers import export_jsonl, parse_faq_file
from retrieval.store import AuditRecord, FaqStore, validate_entry
from retrieval.types import FaqEntry

if TYPE_CHECKING:
    from agent.settings import Settings
    from retrieval.knowledge_base import KnowledgeBase

faq_app = typer.Typer(
    help="Keep the FAQ knowledge base: import, export, list, add, edit, delete.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder with the database and index (default: FINDESK_DATA_DIR or per-user)."),
]
Actor = Annotated[str | None, typer.Option("--actor", help="Who makes the change, for the audit log (default: you).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the `faq` group to the root app."""
    app.add_typer(faq_app, name="faq")


def _settings(data_dir: Path | None) -> Settings:
    from agent.settings import load_settings  # settings compose every package's config: load when run

    return load_settings(data_dir=data_dir)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Print a user-facing error (every bad row of a refused import) and end the command with exit code 1."""
    try:
        yield
    except ImportRejected as e:
        where = escape(e.source)  # a path may hold "[...]", which rich would read as markup
        errors.print(f"[red]Import refused, nothing was changed:[/red] {where} has {len(e.problems)} problem(s).")
        for problem in e.problems:
            errors.print(f"  - {problem}", markup=False, highlight=False)
        raise typer.Exit(1) from e
    except RetrievalError as e:
        errors.print(f"[red]Error:[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(1) from e


@contextmanager
def _store(data_dir: Path | None) -> Iterator[FaqStore]:
    """The FAQ store alone, for commands that only read it (no embedding model is loaded)."""
    settings = _settings(data_dir)
    with _user_errors(), closing(settings.open_database()) as db:
        yield FaqStore(db, max_row_chars=settings.retrieval.max_row_chars)


@contextmanager
def _knowledge_base(data_dir: Path | None) -> Iterator[KnowledgeBase]:
    """The store plus its search index, for commands that change the FAQ: the index follows each change
    and its files are saved before the command ends, so a server started later needs no catch-up."""
    from retrieval.knowledge_base import KnowledgeBase  # the search stack (torch, FAISS) only when changing

    settings = _settings(data_dir)
    with (
        _user_errors(),
        closing(settings.open_database()) as db,
        KnowledgeBase.open(settings.data_dir, settings.retrieval, database=db) as kb,
    ):
        yield kb


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers): still audit something honest
        return "cli"


def _entry_dict(entry: FaqEntry) -> dict[str, Any]:
    data = dataclasses.asdict(entry)
    data["alternates"], data["tags"] = list(entry.alternates), list(entry.tags)
    return data


def _print_entry(entry: FaqEntry, verb: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_entry_dict(entry), ensure_ascii=False))
    else:
        console.print(
            f"{verb} [bold]{entry.id}[/bold] (version {entry.version}): {escape(entry.question)}", highlight=False
        )


@faq_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="FAQ file: .jsonl, .csv or .md (see `retrieval/importers.py`).")],
    actor: Actor = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Import a FAQ file: all of it or (if any row is bad) none of it. Ids already in the FAQ are updated."""
    limits = _settings(data_dir).retrieval
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with _user_errors(), Progress(*columns, console=errors, transient=True, disable=as_json) as progress:
        task = progress.add_task(f"Checking {file.name}", total=None)
        # Check the whole file before loading any model: a refused file costs no start-up time.
        entries = parse_faq_file(file, max_bytes=limits.max_import_bytes, max_row_chars=limits.max_row_chars)
        progress.update(task, description="Loading the search index")
        with _knowledge_base(data_dir) as kb:
            progress.update(task, description="Saving, then indexing", completed=0)
            report = kb.import_entries(
                entries,
                actor=_actor(actor),
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    if as_json:
        print(json.dumps({**dataclasses.asdict(report), "file": str(file)}))
    else:
        console.print(
            f"Imported {report.total} entries from {escape(str(file))}: {report.added} added, "
            f"{report.updated} updated, {report.unchanged} unchanged (FAQ version {report.version}).",
            highlight=False,
        )


@faq_app.command("export")
def export_command(
    file: Annotated[Path, typer.Argument(help="Where to write the JSONL file (replaced atomically).")],
    data_dir: DataDir = None,
) -> None:
    """Export every FAQ entry to JSONL (the import format: export then import gives the same FAQ)."""
    with _store(data_dir) as store:
        count = export_jsonl(store.list(), file)
    console.print(f"Exported {count} entries to {escape(str(file))}.", highlight=False)


@faq_app.command("list")
def list_command(
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    language: Annotated[str | None, typer.Option(help="Only this language code, e.g. en or zh.")] = None,
    search: Annotated[str | None, typer.Option(help="Text in the question, alternates or answer.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Show at most this many.")] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """List FAQ entries (ordered by id)."""
    with _store(data_dir) as store:
        entries = store.list(text=search, category=category, language=language, limit=limit)
        total = store.count()
    if as_json:
        print(
            json.dumps(
                {"count": len(entries), "total": total, "entries": [_entry_dict(e) for e in entries]},
                ensure_ascii=False,
            )
        )
        return
    table = Table(title=f"FAQ: {len(entries)} of {total} entries")
    table.add_column("id", no_wrap=True)  # ids are what operators copy into `faq edit`: never fold them
    for column in ("category", "lang", "question", "alts", "ver", "updated (UTC)"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(
            e.id,
            escape(e.category),
            e.language,
            escape(e.question),
            str(len(e.alternates)),
            str(e.version),
            e.updated_at[:19].replace("T", " "),
        )
    console.print(table)


@faq_app.command("add")
def add_command(
    question: Annotated[str, typer.Option(help="The question as customers ask it.")],
    answer: Annotated[str, typer.Option(help="The answer FinDesk will ground its reply on.")],
    alternate: Annotated[list[str] | None, typer.Option(help="Another way customers ask it (repeatable).")] = None,
    category: Annotated[str, typer.Option(help="Category, e.g. cards.")] = "",
    language: Annotated[str, typer.Option(help="Language code, e.g. en or zh.")] = "en",
    tag: Annotated[list[str] | None, typer.Option(help="A tag (repeatable).")] = None,
    entry_id: Annotated[str, typer.Option("--id", help="Stable id (default: made from the question).")] = "",
    actor: Actor = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Add one FAQ entry."""
    entry = FaqEntry(
        id=entry_id,
        question=question,
        answer=answer,
        alternates=tuple(alternate or ()),
        category=category,
        language=language,
        tags=tuple(tag or ()),
    )
    with _user_errors():  # refuse a bad entry before loading the search index
        validate_entry(entry, max_row_chars=_settings(data_dir).retrieval.max_row_chars)
    with _knowledge_base(data_dir) as kb:
        saved = kb.add(entry, actor=_actor(actor))
    _print_entry(saved, "Added", as_json)


@faq_app.command("edit")
def edit_command(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="The entry to change.")],
    question: Annotated[str | None, typer.Option(help="New question.")] = None,
    answer: Annotated[str | None, typer.Option(help="New answer.")] = None,
    alternate: Annotated[list[str] | None, typer.Option(help="Replace the alternates (repeatable).")] = None,
    clear_alternates: Annotated[bool, typer.Option(help="Remove every alternate.")] = False,
    category: Annotated[str | None, typer.Option(help="New category.")] = None,
    language: Annotated[str | None, typer.Option(help="New language code.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Replace the tags (repeatable).")] = None,
    clear_tags: Annotated[bool, typer.Option(help="Remove every tag.")] = False,
    expected_version: Annotated[
        int | None, typer.Option(help="Refuse if the entry is no longer at this version (someone else edited it).")
    ] = None,
    actor: Actor = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Change fields of one FAQ entry; options left out keep their value."""
    changes: dict[str, Any] = {
        k: v
        for k, v in dict(question=question, answer=answer, category=category, language=language).items()
        if v is not None
    }
    if alternate or clear_alternates:
        changes["alternates"] = tuple(alternate or ())
    if tag or clear_tags:
        changes["tags"] = tuple(tag or ())
    if not changes:
        errors.print("Nothing to change: give at least one of --question, --answer, --alternate, --category, ...")
        raise typer.Exit(2)
    with _knowledge_base(data_dir) as kb:
        saved = kb.update(entry_id, actor=_actor(actor), expected_version=expected_version, **changes)
    _print_entry(saved, "Saved", as_json)


@faq_app.command("delete")
def delete_command(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="The entry to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    actor: Actor = None,
    data_dir: DataDir = None,
) -> None:
    """Delete one FAQ entry (the audit log keeps a copy: see `findesk faq history ID`)."""
    with _store(data_dir) as store:  # ask before loading the search index
        entry = store.get(entry_id)
        if entry is None:
            store.delete(entry_id, actor=_actor(actor))  # raises EntryNotFound with its message
    if not yes and not typer.confirm(f"Delete {entry_id!r} ({entry.question})?"):
        raise typer.Exit(1)
    with _knowledge_base(data_dir) as kb:
        kb.delete(entry_id, actor=_actor(actor))
    console.print(f"Deleted [bold]{entry_id}[/bold]: {escape(entry.question)}", highlight=False)


@faq_app.command("history")
def history_command(
    entry_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="Only this entry's changes.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many changes.")] = 50,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Show the audit log, newest first: who changed which entry, when, and what it was before and after."""
    with _store(data_dir) as store:
        records = store.audit(entry_id, limit=limit)
    if entry_id and not records:  # a deleted entry keeps its history: none at all means a mistyped id
        errors.print(f"[red]Error:[/red] No FAQ entry has ever had the id {escape(repr(entry_id))}; `findesk faq list` "
                     "shows the ids.", highlight=False)  # fmt: skip
        raise typer.Exit(1)
    if as_json:
        print(json.dumps({"count": len(records), "changes": [_record_dict(r) for r in records]}, ensure_ascii=False))
        return
    table = Table(title=f"FAQ changes{f' to {entry_id}' if entry_id else ''} (newest first)")
    for column in ("when (UTC)", "who", "action", "id", "what changed"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(r.at[:19].replace("T", " "), escape(r.actor), r.action, r.entry_id, escape(_what_changed(r)))
    console.print(table)


def _record_dict(record: AuditRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    data["before"] = _entry_dict(record.before) if record.before else None
    data["after"] = _entry_dict(record.after) if record.after else None
    return data


def _what_changed(record: AuditRecord) -> str:
    if record.before is None or record.after is None:
        return (record.after or record.before).question  # type: ignore[union-attr]
    fields = ("question", "answer", "alternates", "category", "language", "tags")
    return ", ".join(f for f in fields if getattr(record.before, f) != getattr(record.after, f))
