"""`reclaim matcher desk ...`: the desk's accounts, from the server's shell.

The first admin is made here; after that, admins can also manage accounts on
the desk's Accounts page. Passwords are asked for at a hidden prompt, or read
from standard input with `--password-stdin` (for scripts), never taken as an
argument (it would stay in the shell's history).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from reclaim.cli.context import DEFAULT_CONFIG, ConfigPath, fail, out, user_errors
from reclaim.cli.exits import ExitCode

if TYPE_CHECKING:
    from reclaim.matcher.desk.accounts import Accounts

desk_app = typer.Typer(
    help="The moderators' desk: accounts and roles.", no_args_is_help=True
)

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from standard input (one line) instead of a prompt.",
    ),
]
ROLE_HELP = "reviewer, lead or admin (docs/desk.md says what each may do)."


def _accounts(path: Path) -> Accounts:
    from reclaim.matcher.config import MatcherConfig
    from reclaim.matcher.desk.accounts import Accounts
    from reclaim.matcher.store import open_engine, prepare

    engine = open_engine(MatcherConfig.load(path).store_url)
    prepare(engine)
    return Accounts(engine)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            fail(
                "no password on standard input: pipe one line, or leave out "
                "--password-stdin to be asked",
                ExitCode.USER_ERROR,
            )
        return line.rstrip("\r\n")
    first: str = typer.prompt("Password", hide_input=True)
    again: str = typer.prompt("Password again", hide_input=True)
    if first != again:
        fail("the two passwords differ: nothing was changed", ExitCode.USER_ERROR)
    return first


@desk_app.command("add-user")
@user_errors
def add_user(
    name: Annotated[str, typer.Argument(help="The account's name (lower case).")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "reviewer",
    config: ConfigPath = DEFAULT_CONFIG,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a desk account."""
    from reclaim.matcher.desk.accounts import parse_role

    parsed = parse_role(role)
    accounts = _accounts(config)
    account = accounts.add(name, _password(password_stdin), parsed, actor="cli")
    out.print(f"account {account.name} added ({account.role.value})", highlight=False)


@desk_app.command("set-password")
@user_errors
def set_password(
    name: Annotated[str, typer.Argument(help="The account's name.")],
    config: ConfigPath = DEFAULT_CONFIG,
    password_stdin: PasswordStdin = False,
) -> None:
    """Set an account's password (its sessions end)."""
    accounts = _accounts(config)
    accounts.get(name)  # fail before asking for a password
    accounts.set_password(name, _password(password_stdin), actor="cli")
    out.print(f"password of {name} changed; its sessions ended", highlight=False)


@desk_app.command("set-role")
@user_errors
def set_role(
    name: Annotated[str, typer.Argument(help="The account's name.")],
    role: Annotated[str, typer.Argument(help=ROLE_HELP)],
    config: ConfigPath = DEFAULT_CONFIG,
) -> None:
    """Change an account's role."""
    from reclaim.matcher.desk.accounts import parse_role

    _accounts(config).set_role(name, parse_role(role), actor="cli")
    out.print(f"{name} is now a {role}", highlight=False)


@desk_app.command("disable")
@user_errors
def disable(
    name: Annotated[str, typer.Argument(help="The account's name.")],
    enable: Annotated[
        bool, typer.Option("--enable", help="Enable the account again.")
    ] = False,
    config: ConfigPath = DEFAULT_CONFIG,
) -> None:
    """Disable an account (its sessions end), or enable it with --enable."""
    _accounts(config).set_disabled(name, not enable, actor="cli")
    out.print(f"{name} {'enabled' if enable else 'disabled'}", highlight=False)


@desk_app.command("users")
@user_errors
def users(config: ConfigPath = DEFAULT_CONFIG) -> None:
    """List the desk's accounts."""
    table = Table("name", "role", "since", "status")
    for account in _accounts(config).all():
        table.add_row(
            account.name,
            account.role.value,
            account.created_at.strftime("%Y-%m-%d"),
            "disabled" if account.disabled else "active",
        )
    out.print(table)
