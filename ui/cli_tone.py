"""`findesk eval tone MANIFEST.jsonl [--json]`: how well voice tone separates angry from calm speech."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from agent.errors import AgentError
from speech.errors import SpeechError
from ui.cli_output import fail


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `eval tone`."""
    eval_app.command("tone")(eval_tone)


def eval_tone(
    manifest: Annotated[
        Path, typer.Argument(help='JSONL: {"file", "speaker", "language", "emotion"}; file relative to it.')
    ],
    seed: Annotated[int, typer.Option(help="Seed of each speaker's replay order (and of the random gains).")] = 0,
    gain_db: Annotated[
        float,
        typer.Option(min=0, max=40, help="Random microphone gain per speaker, up to +/- this many dB (0: none)."),
    ] = 0.0,
    clip_gain_db: Annotated[
        float, typer.Option(min=0, max=20, help="With --gain-db: up to +/- this many dB more per clip.")
    ] = 3.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Replay each speaker's clips as one conversation (shuffled by --seed) and score every clip's agitation
    against that speaker's earlier clips; AUC of angry vs neutral+calm, per-emotion means, time per clip."""
    from agent.voice_tone_eval import evaluate_tone, load_tone_manifest

    try:
        clips = load_tone_manifest(manifest)
        with Progress(transient=True, disable=as_json) as progress:
            task = progress.add_task("voice tone", total=len(clips))
            report = evaluate_tone(
                clips, seed=seed, gain_db=gain_db, clip_gain_db=clip_gain_db, on_clip=lambda _: progress.advance(task)
            )
    except (AgentError, SpeechError) as e:
        raise fail(e, as_json=as_json) from e
    if as_json:
        print(json.dumps(dataclasses.asdict(report), ensure_ascii=False, default=str))
        return
    console = Console()
    gains = f", gains +/-{report.gain_db:g} dB per speaker +/-{report.clip_gain_db:g} dB per clip" if gain_db else ""
    console.print(f"[bold]Voice tone on {manifest.name}[/bold] ({len(report.clips)} clips, seed {seed}{gains})")
    console.print(f"auc_angry_vs_calm             {_fmt(report.auc_angry_vs_calm)}")
    console.print(f"auc_angry_vs_calm_first_clip  {_fmt(report.auc_angry_vs_calm_first_clip)}  (no baseline)")
    console.print(f"latency per clip              {report.ms_per_clip:.1f} ms ({report.ms_per_5s:.1f} ms per 5 s)")
    table = Table(title="Mean agitation per emotion", title_justify="left")
    table.add_column("emotion")
    table.add_column("agitation")
    for emotion, mean in sorted(report.mean_agitation.items(), key=lambda kv: -kv[1]):
        table.add_row(emotion, f"{mean:.3f}")
    console.print(table)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
