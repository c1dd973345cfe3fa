"""`findesk serve` (the web app and HTTP API) and `findesk user ...` (staff accounts and API tokens)."""

from __future__ import annotations

import dataclasses
import getpass
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agent.settings import load_settings
from agent.webhook_outbox import WebhookOutbox
from retrieval.database import DatabaseUnavailable
from ui.auth import ROLES, AuthError, UserStore

err = Console(stderr=True)


@contextmanager
def _users(data_dir: Path | None) -> Iterator[UserStore]:
    """The staff users in the configured database; a database that cannot be opened ends the command."""
    settings = load_settings(data_dir=data_dir)
    try:
        with closing(settings.open_database()) as db:
            yield UserStore.configured(db, settings.security)
    except DatabaseUnavailable as error:
        err.print(f"[red]{error}", highlight=False)
        raise typer.Exit(1) from error


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat the password: "):
        raise AuthError("The two passwords differ; nothing was changed.")
    return first


DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the database and indexes live.")]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this module's commands to the root app and the `eval` group."""
    user_app = typer.Typer(help="Staff accounts (agents, operators) and their API tokens.", no_args_is_help=True)
    app.add_typer(user_app, name="user")

    @app.command()
    def serve(
        host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="Port to listen on (default 7860).")] = None,
        data_dir: DataDir = None,
        warm_up: Annotated[bool, typer.Option(help="Load every model before accepting requests.")] = True,
    ) -> None:
        """Start the customer chat (/chat), agent desk (/desk), operator console (/console) and API (/docs)."""
        import uvicorn

        from agent.services import Services
        from ui.app import build_app

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        settings = load_settings(data_dir=data_dir, host=host, port=port)
        services = Services(settings)
        try:
            with err.status(f"Opening the database ({settings.database_location}) and the FAQ index…"):
                services.knowledge_base  # noqa: B018 - migrate, then catch up with the change log before listening
            if not UserStore(services.database).list():
                err.print("[yellow]No staff users yet: add one with `findesk user add NAME --role agent|operator`.")
        except DatabaseUnavailable as error:
            err.print(f"[red]{error}", highlight=False)
            raise typer.Exit(1) from error
        err.print(f"FinDesk on http://{settings.host}:{settings.port}/chat/ · desk /desk/ · console /console/ · "
                  "API /docs · ready when /readyz says so")  # fmt: skip
        app = build_app(settings, services=services, warm_up=warm_up)
        # SIGTERM/Ctrl-C: stop accepting, let in-flight turns finish (up to the grace period), then close.
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=20,
            proxy_headers=False,
        )  # the app applies FINDESK_WEB__TRUSTED_PROXIES itself (ui/app.py)

    @user_app.command("add")
    def user_add(
        name: str,
        role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
        password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
        data_dir: DataDir = None,
    ) -> None:
        """Create a staff user (the password is stored as an argon2 hash)."""
        try:
            with _users(data_dir) as users:
                users.check_new(name, role)  # not after the password was typed twice
                user = users.add(name, role, _read_password(password_stdin))
        except AuthError as error:
            err.print(f"[red]{error}")
            raise typer.Exit(1) from error
        err.print(f"Added {user.name} ({user.role}).")

    @user_app.command("list")
    def user_list(data_dir: DataDir = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """Show staff users and their roles."""
        with _users(data_dir) as store:
            users = store.list()
        if as_json:
            print(json.dumps({"users": [{"name": u.name, "role": u.role, "created_at": u.created_at} for u in users]}))
            return
        for u in users:
            print(f"{u.name}\t{u.role}\t{u.created_at}")
        if not users:
            err.print("No users yet: `findesk user add NAME --role agent|operator`.")

    @user_app.command("token")
    def user_token(
        name: str,
        revoke: Annotated[str | None, typer.Option(help="Revoke the token with this id (see `tokens`).")] = None,
        data_dir: DataDir = None,
    ) -> None:
        """Create an API token for the user and print it (only once: just its hash is kept), or revoke one."""
        try:
            with _users(data_dir) as users:
                if revoke:
                    users.revoke_id(name, revoke)
                    err.print(f"Revoked {name}'s token {revoke}.")
                    return
                token = users.issue_token(name)
                info = users.token_info(token)
        except AuthError as error:
            err.print(f"[red]{error}")
            raise typer.Exit(1) from error
        assert info is not None
        print(token)
        err.print(f"Token {info.id} for {name}, valid until {info.expires_at}; revoke it with "
                  f"`findesk user token {name} --revoke {info.id}`.")  # fmt: skip

    @user_app.command("tokens")
    def user_tokens(
        name: str, data_dir: DataDir = None, as_json: Annotated[bool, typer.Option("--json")] = False
    ) -> None:
        """List the user's API tokens and browser sessions: id, created, expires, last used (never the token)."""
        try:
            with _users(data_dir) as users:
                tokens = users.tokens(name)
        except AuthError as error:
            err.print(f"[red]{error}")
            raise typer.Exit(1) from error
        if as_json:
            print(json.dumps({"tokens": [dataclasses.asdict(t) for t in tokens]}))
            return
        print("id\tkind\tcreated\texpires\tlast used")
        for t in tokens:
            print(f"{t.id}\t{t.kind}\t{t.created_at}\t{t.expires_at or 'never'}\t{t.last_used_at or 'never'}")

    @user_app.command("remove")
    def user_remove(name: str, data_dir: DataDir = None) -> None:
        """Delete a staff user; their sessions and tokens stop working at once."""
        try:
            with _users(data_dir) as users:
                users.remove(name)
                # An agent who left is no longer assigned chats; the ones they had go to the rest of the team
                # (and the webhooks hear who has them now).
                from agent.services import desk_team  # the models' imports only when needed

                settings = load_settings(data_dir=data_dir)
                team = desk_team(users.db, settings, WebhookOutbox(users.db, settings.webhooks))
                released = team.remove(name)
        except AuthError as error:
            err.print(f"[red]{error}")
            raise typer.Exit(1) from error
        back = f" Their {len(released)} open conversation(s) went back to the queue." if released else ""
        err.print(f"Removed {name}.{back}")
