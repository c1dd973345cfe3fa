"""`findesk eval ocr MANIFEST.jsonl [--json]`: character error rate of screenshot OCR."""

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

AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this module's commands to the root app and the `eval` group."""
    eval_app.command("ocr")(eval_ocr)


def eval_ocr(
    manifest: Annotated[Path, typer.Argument(help="JSONL: {image, expected_text}; image relative to the manifest.")],
    as_json: AsJson = False,
) -> None:
    """Per-image and overall character error rate (CER) and seconds per image of screenshot OCR.

    Both texts are NFKC-normalised, every whitespace run becomes one space and spaces between Chinese
    characters are dropped, so only the characters read count, not the line layout.
    """
    from agent.ocr import load_ocr_engine
    from agent.ocr_eval import evaluate_ocr, load_manifest
    from agent.settings import load_settings

    try:
        config = load_settings().agent
        cases = load_manifest(manifest)
        engine = load_ocr_engine(config.ocr_engine)
        with Progress(transient=True, disable=as_json) as progress:
            task = progress.add_task(f"OCR with {engine.name}", total=len(cases))
            report = evaluate_ocr(cases, config, engine, on_case=lambda _case: progress.advance(task))
    except AgentError as e:
        raise fail(e, as_json=as_json) from e
    if as_json:
        print(json.dumps({"engine": engine.name, **report.as_dict()}, ensure_ascii=False))
        return
    table = Table(title=f"OCR: {engine.name}", title_justify="left")
    for column in ("image", "CER", "errors/chars", "seconds"):
        table.add_column(column)
    for case in report.cases:
        table.add_row(case.image, f"{case.cer:.1%}", f"{case.errors}/{case.reference_chars}", f"{case.seconds:.2f}")
    console = Console()
    console.print(table)
    console.print(
        f"overall CER {report.cer:.1%} over {len(report.cases)} images; mean {report.mean_seconds:.2f} s per image"
    )
