"""`findesk eval sentiment DATA.jsonl [--json]`: accuracy, macro-F1, per-class F1 and latency of sentiment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from agent.errors import AgentError
from ui.cli_output import fail

AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this module's commands to the root app and the `eval` group."""
    eval_app.command("sentiment")(eval_sentiment)


def eval_sentiment(
    data: Annotated[Path, typer.Argument(help='JSONL: {"text": ..., "label": "negative"|"neutral"|"positive"}.')],
    as_json: AsJson = False,
    analyzer: Annotated[
        str | None, typer.Option(help="Analyser to measure (offline, lexicon, transformers); default from settings.")
    ] = None,
    latency_calls: Annotated[int, typer.Option(min=0, help="Single-message calls timed for the p50 latency.")] = 200,
) -> None:
    """Score every labelled message and compare with its label; time single-message calls as a turn makes them."""
    from agent.sentiment import load_sentiment_analyzer
    from agent.sentiment.evaluate import evaluate, load_labelled
    from agent.settings import load_settings

    try:
        config = load_settings().agent
        if analyzer:
            config = config.model_copy(update={"sentiment_analyzer": analyzer})
        rows = load_labelled(data)
        scorer = load_sentiment_analyzer(config)
        with Progress(transient=True, disable=as_json) as progress:
            task = progress.add_task(f"loading {scorer.name}", total=None)
            scorer.warm_up()
            progress.update(task, description=f"scoring with {scorer.name}", total=len(rows))
            report = evaluate(scorer, rows, latency_calls=latency_calls, progress=lambda n: progress.advance(task, n))
    except AgentError as e:
        raise fail(e, as_json=as_json) from e
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    console = Console()
    summary = Table(title=f"Sentiment: {report.analyzer} on {data.name}", title_justify="left")
    for column in ("n", "accuracy", "macro-F1", "F1 negative", "F1 neutral", "F1 positive", "latency p50"):
        summary.add_column(column)
    summary.add_row(
        str(report.n),
        f"{report.accuracy:.3f}",
        f"{report.macro_f1:.3f}",
        *(f"{report.f1[label]:.3f}" for label in ("negative", "neutral", "positive")),
        f"{report.latency_p50_ms:.1f} ms ({report.latency_calls} calls)",
    )
    console.print(summary)
    labels = report.to_dict()["confusion"]["labels"]  # type: ignore[index]
    confusion = Table(title="Confusion (rows: true label, columns: predicted)", title_justify="left")
    confusion.add_column("")
    for label in labels:
        confusion.add_column(label)
    for label, row in zip(labels, report.confusion, strict=True):
        confusion.add_row(label, *(str(count) for count in row))
    console.print(confusion)
