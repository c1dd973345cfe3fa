"""`findesk ask` (one full turn from the terminal) and `findesk doctor` (what was resolved, and why)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent.conversations import ConversationNotFound
from agent.errors import user_errors
from agent.settings import load_settings
from agent.types import Reply, ReplyDelta, Turn
from ui.cli_output import fail

if TYPE_CHECKING:
    from retrieval.knowledge_base import KnowledgeBase

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the database and index live.")]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("ask")(ask)
    app.command("doctor")(doctor)


def ask(
    text: Annotated[str, typer.Argument(help="The customer's message (may be empty with --image or --audio).")] = "",
    image: Annotated[Path | None, typer.Option(help="A screenshot to attach.", exists=True, dir_okay=False)] = None,
    audio: Annotated[Path | None, typer.Option(help="A voice message to attach.", exists=True, dir_okay=False)] = None,
    session: Annotated[
        str | None, typer.Option(help="Continue a conversation: the id an earlier `ask` printed (default: new).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole Reply as one JSON object.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Run one customer turn: transcribe, read the screenshot, search the FAQ, route and answer."""
    from agent.services import Services

    services = Services(load_settings(data_dir=data_dir))
    try:
        # The terminal is trusted (it can read the database anyway), so it continues a conversation by its id
        # alone; it still never makes up ids: new conversations get a server-made one, as on the web.
        if session is None:
            session = services.conversations.open_session()[0]
        elif not services.conversations.exists(session):
            raise ConversationNotFound(f"No conversation {session!r}: leave out --session to start one.")
        _fit_decision(services.knowledge_base)
        turn = Turn(
            session_id=session,
            text=text,
            audio=audio.read_bytes() if audio else None,
            image=image.read_bytes() if image else None,
        )
        reply = None
        for event in services.agent.stream(turn):
            if isinstance(event, ReplyDelta) and not as_json:
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, Reply):
                reply = event
    except user_errors() as error:
        raise fail(error) from error
    finally:
        services.close()
    assert reply is not None
    if as_json:
        print(json.dumps(reply_to_json(reply), ensure_ascii=False, indent=2))
        return
    console = Console()
    console.print()
    for citation in reply.citations:
        console.print(f"[dim][{citation.n}] {citation.question} ({citation.entry_id})[/dim]")
    cues = f" ({', '.join(reply.sentiment.cues)})" if reply.sentiment.cues else ""
    console.print(
        f"[dim]route {reply.route}: {reply.reason} | sentiment {reply.sentiment.label} {reply.sentiment.score:+.2f}"
        f"{cues} | {reply.generator} | session {reply.session_id}[/dim]"
    )


def _fit_decision(kb: KnowledgeBase) -> None:
    """Decide as the server does: a fresh or edited FAQ's decision model is fitted here, before the turn."""
    if kb.calibrator is not None and not kb.calibrator.current:
        Console(stderr=True).print("[dim]Fitting the answer decision on this FAQ (once per change) ...[/dim]")
        kb.calibrator.fit_now()


def reply_to_json(reply: Reply) -> dict[str, Any]:
    """The Reply as plain JSON: what `ask --json` and the HTTP API return."""
    data = dataclasses.asdict(reply)
    data["hits"] = [{k: v for k, v in hit.items() if k != "answer"} for hit in data["hits"]]
    return data


def doctor(data_dir: DataDir = None) -> None:
    """Print which models, paths, devices and settings were resolved, and why."""
    from agent.generators import describe_generator
    from retrieval import model_pack as retrieval_models
    from retrieval.dense_channel import channel_specs
    from speech import model_pack as speech_models

    settings = load_settings(data_dir=data_dir)
    console = Console()
    sections: dict[str, dict[str, Any]] = {
        "data": {"data_dir": settings.data_dir, "database": settings.database_location, "index": settings.index_dir},
        "embedders": {
            spec.role: {
                "holds": spec.holds,
                "serves": spec.serves,
                "votes": spec.votes,
                **retrieval_models.describe(
                    spec.embedder, settings.retrieval.device, settings.retrieval.embedder_backend
                ),
            }
            for spec in channel_specs(settings.retrieval)
        },
        "calibration": _calibration_info(settings.index_dir, settings.retrieval.calibrate),
        "speech": {
            "engine": settings.speech.engine,
            **speech_models.describe(settings.speech.model, settings.speech.cache_dir),
        },
        "generator": describe_generator(settings.agent),
        "torch": _torch_info(),
        "settings": settings.model_dump(mode="json"),
    }
    for title, values in sections.items():
        table = Table(title=title, show_header=False, title_justify="left")
        for key, value in _flatten(values):
            table.add_row(key, str(value))
        console.print(table)


def _calibration_info(index_dir: Path, enabled: bool) -> dict[str, Any]:
    """The saved answer / clarify / no-answer decision: when it was fitted and where each language cuts."""
    from retrieval.calibration import Calibration

    if not enabled:
        return {"status": "off (retrieval.calibrate = false): similarity thresholds decide"}
    calibration = Calibration.load(index_dir)
    if calibration is None:
        return {"status": "not fitted yet: it fits in the background once the server has loaded the FAQ"}
    info: dict[str, Any] = {"fitted_at": calibration.fitted_at, "fit_seconds": f"{calibration.seconds:.1f}"}
    for language, model in calibration.languages.items():
        info[language] = {
            "held_out_searches": f"{model.examples} ({model.positives} right at 1)",
            "answer_when_P_at_least": f"{model.answer_cutoff:.3f}" if model.answer_cutoff <= 1 else "never",
            "choices_when_P_at_least": f"{model.choices_cutoff:.3f}" if model.choices_cutoff <= 1 else "never",
        }
    return info


def _torch_info() -> dict[str, str]:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "version": torch.__version__,
        "device": "cuda" if cuda else "cpu",
        "reason": "a CUDA GPU is visible" if cuda else "no CUDA GPU visible: models run on the CPU",
        "threads": str(torch.get_num_threads()),
    }


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict):
            rows += _flatten(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows
