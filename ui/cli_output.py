"""How every `findesk` command reports a user-facing error: one line on stderr (or JSON), exit status 1."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.markup import escape


def fail(error: Exception | str, *, as_json: bool = False) -> typer.Exit:
    """Print the error and return the Exit to raise: `raise fail(e) from e`.

    Messages are escaped: a path or an FAQ text with [brackets] is not rich markup.
    """
    message = str(error)
    if as_json:
        print(json.dumps({"error": message}, ensure_ascii=False))
    else:
        Console(stderr=True).print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code=1)
