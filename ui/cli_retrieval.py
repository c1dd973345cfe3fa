"""`findesk index ...`, `findesk search` and `findesk eval retrieval`: the search side of the FAQ."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from retrieval.errors import RetrievalError

if TYPE_CHECKING:
    from retrieval.knowledge_base import KnowledgeBase

index_app = typer.Typer(help="Inspect or rebuild the search index (FAISS + BM25).", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder with the database and index (default: FINDESK_DATA_DIR or per-user)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `index`, `search` and `eval retrieval`."""
    app.add_typer(index_app, name="index")
    app.command("search")(search)
    eval_app.command("retrieval")(eval_retrieval)


@contextmanager
def _knowledge_base(data_dir: Path | None, *, seed: bool = True) -> Iterator[KnowledgeBase]:
    from agent.settings import load_settings
    from retrieval.knowledge_base import KnowledgeBase  # torch and FAISS load only for these commands

    settings = load_settings(data_dir=data_dir)
    try:
        with (
            closing(settings.open_database()) as db,
            KnowledgeBase.open(settings.data_dir, settings.retrieval, database=db) as kb,
        ):
            if seed:
                kb.ensure_default_faq()
            yield kb
    except RetrievalError as error:
        errors.print(f"[red]Error:[/red] {escape(str(error))}", highlight=False)
        raise typer.Exit(1) from error


@contextmanager
def _progress(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=errors, disable=not enabled
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield update


@index_app.command("rebuild")
def rebuild(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """Re-embed every FAQ entry into fresh index files (the store is not touched)."""
    with _knowledge_base(data_dir) as kb, _progress("Embedding FAQ entries", not as_json) as progress:
        status = kb.rebuild(progress=progress)
    _print_status(status, as_json)


@index_app.command("status")
def status(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """Entries, vectors, embedder, index type and versions of the search index."""
    with _knowledge_base(data_dir, seed=False) as kb:
        _print_status(kb.status(), as_json)


def _print_status(status: object, as_json: bool) -> None:
    data = dataclasses.asdict(status)  # type: ignore[call-overload]
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
        return
    table = Table(show_header=False)
    for key, value in data.items():
        table.add_row(key, str(value))
    console.print(table)


def search(
    query: Annotated[str, typer.Argument(help="The customer's question.")],
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=50, help="Hits to show.")] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Search the FAQ the way the agent does: hybrid dense + BM25, with the no-good-match decision."""
    with _knowledge_base(data_dir) as kb:
        try:
            result = kb.search(query, top_k=top_k)
        except RetrievalError as error:
            errors.print(f"[red]Error:[/red] {escape(str(error))}", highlight=False)
            raise typer.Exit(1) from error
    if as_json:
        print(json.dumps(dataclasses.asdict(result), ensure_ascii=False))
        return
    verdict = "[green]confident[/green]" if result.confident else "[yellow]no good match[/yellow]"
    console.print(f"{verdict}: {escape(result.reason)}")
    table = Table("#", "entry", "matched phrasing", "score", "dense (rank)", "bm25 (rank)")
    for n, hit in enumerate(result.hits, start=1):
        dense = f"{hit.dense_score:.3f} ({hit.dense_rank})" if hit.dense_score is not None else "-"
        lexical = f"{hit.lexical_score:.2f} ({hit.lexical_rank})" if hit.lexical_score is not None else "-"
        table.add_row(str(n), escape(hit.entry_id), escape(hit.matched), f"{hit.score:.3f}", dense, lexical)
    console.print(table)


def eval_retrieval(
    queries_file: Annotated[
        Path, typer.Argument(help='JSONL: {"query": "...", "expected_id": "..." | null, "also_ok": ["..."]}')
    ],
    data_dir: DataDir = None,
    as_json: AsJson = False,
    per_query: Annotated[
        Path | None,
        typer.Option("--per-query", help="Write each query's route, probability and top entries to this JSONL file."),
    ] = None,
) -> None:
    """Ranking (hit@1/3/5, MRR), what customers get (answer precision and coverage, clarify and no-answer
    rates, unanswerable questions answered) and latency of the FAQ search on labelled queries."""
    from retrieval.evaluation import QueryOutcome, evaluate_retrieval, load_queries, pair_topics

    with _knowledge_base(data_dir) as kb:
        try:
            queries = load_queries(queries_file)
        except RetrievalError as error:
            errors.print(f"[red]Error:[/red] {escape(str(error))}", highlight=False)
            raise typer.Exit(1) from error
        if kb.calibrator is not None:  # every query decided by the same model, fitted on this FAQ
            kb.calibrator.fit_now()
        topics = pair_topics([(e.id, e.tags) for e in kb.list_entries()])
        outcomes: list[QueryOutcome] = []
        with _progress("Searching", not as_json) as progress:
            report = evaluate_retrieval(kb, queries, progress, topics=topics, per_query=outcomes)
    if per_query is not None:
        try:
            with Path(per_query).open("w", encoding="utf-8") as out:
                for item in outcomes:
                    out.write(json.dumps(dataclasses.asdict(item), ensure_ascii=False) + "\n")
        except OSError as error:
            errors.print(f"[red]Error:[/red] cannot write {escape(str(per_query))}: {escape(str(error))}")
            raise typer.Exit(1) from error
    if as_json:
        print(json.dumps(report.to_dict()))
        return
    table = Table("metric", "value")
    for key, value in report.to_dict().items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
