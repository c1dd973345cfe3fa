"""`findesk`: the command line. Each package's commands live in their own module and register here."""

from __future__ import annotations

import typer

from ui import (
    cli_agent,
    cli_db,
    cli_faq,
    cli_report,
    cli_retrieval,
    cli_sentiment,
    cli_serve,
    cli_speech,
    cli_tone,
    cli_vision,
    cli_webhooks,
)

app = typer.Typer(
    help="FinDesk: a self-hosted multimodal customer-service agent for financial services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(
    help="Measure retrieval, speech, voice tone, OCR and sentiment on labelled data.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")

for module in (
    cli_faq, cli_retrieval, cli_speech, cli_tone, cli_vision, cli_sentiment, cli_agent, cli_report, cli_serve, cli_db,
    cli_webhooks,
):  # fmt: skip
    module.register(app, eval_app)


def main() -> None:
    app()
