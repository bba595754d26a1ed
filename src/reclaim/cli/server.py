"""Operator commands: `serve`, `db upgrade`, `platforms ...`, `audit`."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from reclaim.cli.context import err, out, settings, user_errors

if TYPE_CHECKING:
    from reclaim.registry.service import Registry

db_app = typer.Typer(help="The registry database.", no_args_is_help=True)
platforms_app = typer.Typer(help="Platforms and their API keys.", no_args_is_help=True)


@contextmanager
def _registry() -> Iterator[Registry]:
    """A Registry on the configured database, closed however the command ends."""
    from reclaim.registry.service import Registry

    service = Registry(settings())
    try:
        yield service
    finally:
        service.close()


@user_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes (set RECLAIM_REDIS_URL so they share rate limits).",
            min=1,
        ),
    ] = 1,
) -> None:
    """Start the registry API (RECLAIM_* settings; SQLite by default)."""
    import uvicorn

    from reclaim.api.app import create_app

    config = settings()
    config = config.replace(host=host or config.host, port=port or config.port)
    logging.getLogger().setLevel(config.log_level.upper())
    warning = unshared_limits_warning(workers=workers, redis_url=config.redis_url)
    if warning:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    # Fail here, in this process, if the database is not migrated.
    app = create_app(config)
    err.print(
        f"reclaim registry on http://{config.host}:{config.port}", highlight=False
    )
    target: object = app
    if workers > 1:
        # Each worker builds its own app from the same RECLAIM_* settings.
        os.environ["RECLAIM_HOST"] = config.host
        os.environ["RECLAIM_PORT"] = str(config.port)
        target = "reclaim.api.app:app_from_env"
    uvicorn.run(
        target,  # type: ignore[arg-type]
        factory=workers > 1,
        workers=workers,
        host=config.host,
        port=config.port,
        # uvicorn's access log would record client addresses: never on.
        access_log=False,
        log_config=None,
        # The app itself reads X-Forwarded-For, from RECLAIM_TRUSTED_PROXIES
        # only (`api/addresses.py`); uvicorn's own reading is never on.
        proxy_headers=False,
        server_header=False,
    )


def unshared_limits_warning(*, workers: int, redis_url: str | None) -> str | None:
    """The start-up warning for several workers that each keep their own limits."""
    if workers <= 1 or redis_url:
        return None
    return (
        f"{workers} workers without RECLAIM_REDIS_URL: each keeps its own rate "
        f"limits in memory, so a client gets up to {workers} times every limit; "
        "set RECLAIM_REDIS_URL to share them"
    )


@db_app.command("upgrade")
@user_errors
def db_upgrade() -> None:
    """Create the database or migrate it to this version."""
    from reclaim.registry import schema
    from reclaim.registry.db import make_engine

    engine = make_engine(settings().database_url)
    try:
        before, after = schema.upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        out.print(f"database already at revision {after}")
    else:
        out.print(f"database upgraded from {before or 'empty'} to revision {after}")


@platforms_app.command("add")
@user_errors
def platforms_add(
    name: Annotated[str, typer.Argument(help="The platform's name.")],
    programs: Annotated[
        str, typer.Option(help="Programs it may read: minor, adult or minor,adult.")
    ] = "adult",
    named: Annotated[
        bool,
        typer.Option(
            "--named",
            help="The platform agreed to be listed on the person's page, under "
            "its name (or --public-name).",
        ),
    ] = False,
    public_name: Annotated[
        str | None,
        typer.Option(
            help="The name people know it by, shown on the person's page "
            "(implies --named)."
        ),
    ] = None,
) -> None:
    """Register a platform and print its API key (shown only this once)."""
    shown = public_name if public_name is not None else (name if named else None)
    with _registry() as registry:
        info, key = registry.add_platform(name, programs.split(","), public_name=shown)
    out.print(f"platform {info.name} may read: {', '.join(info.programs)}")
    if info.public_name is not None:
        out.print(f"listed on the person's page as: {info.public_name}")
    out.print("API key (store it now; it cannot be shown again):")
    typer.echo(key)


@platforms_app.command("list")
@user_errors
def platforms_list() -> None:
    """List platforms (never their keys)."""
    table = Table("name", "programs", "status", "keys", "since", "shown as")
    with _registry() as registry:
        found = registry.list_platforms()
    for p in found:
        status = "[red]revoked[/red]" if p.revoked else "active"
        table.add_row(
            p.name,
            ",".join(p.programs),
            status,
            str(p.active_keys),
            p.created_at.date().isoformat(),
            p.public_name or "(not named)",
        )
    out.print(table)


@platforms_app.command("name")
@user_errors
def platforms_name(
    name: Annotated[str, typer.Argument(help="The platform's name.")],
    public_name: Annotated[
        str | None,
        typer.Option(help="The name shown on the person's page (default: NAME)."),
    ] = None,
) -> None:
    """List a platform on the person's page (only once it has agreed)."""
    with _registry() as registry:
        info = registry.name_platform(name, public_name or name)
    out.print(f"platform {name} is listed on the person's page as: {info.public_name}")


@platforms_app.command("unname")
@user_errors
def platforms_unname(
    name: Annotated[str, typer.Argument(help="The platform's name.")],
) -> None:
    """Stop listing a platform on the person's page (it still takes part)."""
    with _registry() as registry:
        registry.name_platform(name, None)
    out.print(f"platform {name} is no longer listed on the person's page")


@platforms_app.command("rotate")
@user_errors
def platforms_rotate(
    name: Annotated[str, typer.Argument(help="The platform's name.")],
) -> None:
    """Revoke a platform's keys and print a new one (shown only this once)."""
    with _registry() as registry:
        _, key = registry.rotate_key(name)
    out.print(f"old keys of {name} revoked; new API key:")
    typer.echo(key)


@platforms_app.command("revoke")
@user_errors
def platforms_revoke(
    name: Annotated[str, typer.Argument(help="The platform's name.")],
) -> None:
    """Revoke a platform: its keys stop working at once."""
    with _registry() as registry:
        registry.revoke_platform(name)
    out.print(f"platform {name} revoked")


@user_errors
def audit(
    limit: Annotated[
        int, typer.Option(help="How many events, newest first.", min=1)
    ] = 50,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Read the audit trail: who did what and when (no personal data)."""
    with _registry() as registry:
        events = registry.audit_log(limit=limit, action=action)
    if as_json:
        for e in events:
            typer.echo(
                json.dumps(
                    {
                        "id": e.id,
                        "at": e.at.isoformat(),
                        "action": e.action,
                        "actor": e.actor,
                        "platform_id": e.platform_id,
                        "case_number": e.case_number,
                        "detail": e.detail,
                    }
                )
            )
        return
    table = Table("at (UTC)", "action", "actor", "platform", "case", "detail")
    for e in events:
        table.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.action,
            e.actor,
            str(e.platform_id or ""),
            e.case_number or "",
            " ".join(f"{k}={v}" for k, v in sorted(e.detail.items())),
        )
    out.print(table)


quarantine_app = typer.Typer(
    help="Hashes several platforms reviewed and did not block.", no_args_is_help=True
)


@quarantine_app.command("list")
@user_errors
def quarantine_list(
    limit: Annotated[int, typer.Option(min=1, help="How many to show.")] = 100,
) -> None:
    """List quarantined hashes awaiting your review."""
    with _registry() as registry:
        disputed = registry.quarantined(limit=limit)
    table = Table("id", "type", "hash", "program", "cases", "blocked", "not blocked")
    for d in disputed:
        value = d.value if d.signal_type != "vpdq" else "(video)"
        table.add_row(
            str(d.id),
            d.signal_type,
            value,
            d.program,
            str(d.case_count),
            str(d.blocked),
            str(d.not_blocked),
        )
    out.print(table if disputed else "no hashes await review")


@quarantine_app.command("keep")
@user_errors
def quarantine_keep(record_id: Annotated[int, typer.Argument(help="Hash id.")]) -> None:
    """Keep a quarantined hash in the list and clear its flag."""
    with _registry() as registry:
        registry.resolve_quarantine(record_id, "keep")
    out.print(f"hash {record_id} kept in the list")


@quarantine_app.command("remove")
@user_errors
def quarantine_remove(
    record_id: Annotated[int, typer.Argument(help="Hash id.")],
) -> None:
    """Take a quarantined hash out of every platform's list for good."""
    with _registry() as registry:
        registry.resolve_quarantine(record_id, "remove")
    out.print(f"hash {record_id} removed from the list")
