"""The Typer root of `reclaim`, and the mapping of failures to exit codes.

Exit codes: 0 ok, 1 internal error, 2 user error (bad arguments or bad input
files), 3 upstream unavailable.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from reclaim import __version__
from reclaim.cli import cases, server
from reclaim.cli import hash as hash_command
from reclaim.cli import matcher as matcher_cli
from reclaim.cli.exits import ExitCode

app = typer.Typer(
    name="reclaim",
    help="Hash images on this device, and take them down by hash.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("hash")(hash_command.hash_paths)
app.command("submit")(cases.submit)
app.command("status")(cases.status)
app.command("withdraw")(cases.withdraw)
app.command("serve")(server.serve)
app.command("audit")(server.audit)
app.add_typer(server.db_app, name="db")
app.add_typer(server.platforms_app, name="platforms")
app.add_typer(server.quarantine_app, name="quarantine")
app.add_typer(matcher_cli.matcher_app, name="matcher")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reclaim {__version__}")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Hash images on this device, and take them down by hash."""


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    app()
