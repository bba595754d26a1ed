"""`reclaim matcher ...`: serve, sync, match files, and review matches."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from reclaim.cli import catalog as catalog_cli
from reclaim.cli import desk as desk_cli
from reclaim.cli.batch import find_files, is_video, progress_bars, run_isolated
from reclaim.cli.context import (
    DEFAULT_CONFIG,
    ConfigPath,
    err,
    fail,
    out,
    user_errors,
)
from reclaim.cli.exits import ExitCode
from reclaim.hashing.files import FileHashes

if TYPE_CHECKING:
    from reclaim.matcher.config import MatcherConfig
    from reclaim.matcher.media import MediaHashes
    from reclaim.matcher.service import MatcherService

matcher_app = typer.Typer(
    help="The platform matcher: sync the hash list, match uploads, review matches.",
    no_args_is_help=True,
)
review_app = typer.Typer(help="The review queue, for moderators.", no_args_is_help=True)
matcher_app.add_typer(review_app, name="review")
matcher_app.command("backfill")(catalog_cli.backfill)
matcher_app.add_typer(desk_cli.desk_app, name="desk")


def _config(path: Path) -> MatcherConfig:
    from reclaim.matcher.config import MatcherConfig

    return MatcherConfig.load(path)


@contextmanager
def _service(path: Path) -> Iterator[MatcherService]:
    from reclaim.matcher.service import MatcherService

    service = MatcherService(_config(path))
    try:
        yield service
    finally:
        service.close()


@matcher_app.command()
@user_errors
def serve(
    config: ConfigPath = DEFAULT_CONFIG,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the matcher API, syncing the list and delivering actions meanwhile."""
    import uvicorn

    from reclaim.matcher.app import create_app, serving_options
    from reclaim.matcher.service import MatcherService

    settings = _config(config)
    logging.getLogger("reclaim").setLevel(logging.INFO)
    service = MatcherService(settings)
    app = create_app(service, background=True)
    bind, number = host or settings.host, port or settings.port
    err.print(
        f"reclaim matcher on http://{bind}:{number} ({len(service.matchable)} hashes "
        f"loaded in {service.load_seconds:.2f} s)",
        highlight=False,
    )
    try:
        uvicorn.run(app, host=bind, port=number, **serving_options(settings))
    finally:
        service.close()


@matcher_app.command()
@user_errors
def sync(config: ConfigPath = DEFAULT_CONFIG) -> None:
    """Sync the local copy of the list once, and send waiting feedback."""
    with _service(config) as service:
        status = service.sync_once()
        if status.healthy:
            service.deliver()
        report = service.status()
    out.print(
        f"{report['list']['size']} hashes listed "
        f"({', '.join(f'{k} {v}' for k, v in report['list']['by_type'].items())}); "
        f"cursor {report['sync']['cursor']}; sync {status.result}",
        highlight=False,
    )
    if len(report["sources"]) > 1:
        for name, source in report["sources"].items():
            counts = ", ".join(f"{k} {v}" for k, v in source["listed"].items())
            out.print(
                f"  {name} ({source['kind']}): {counts}; cursor {source['cursor']}; "
                f"sync {source['result']}",
                highlight=False,
            )
    if status.result == "unavailable":
        fail(
            status.message or "the source is unavailable", ExitCode.UPSTREAM_UNAVAILABLE
        )
    if not status.healthy:
        fail(status.message or "the sync failed", ExitCode.USER_ERROR)


@matcher_app.command()
@user_errors
def rescan(
    config: ConfigPath = DEFAULT_CONFIG,
    since: Annotated[
        str | None,
        typer.Option(
            help="Look only for hashes this matcher stored on or after this date "
            "or time (ISO 8601, UTC unless it says otherwise); default: every "
            "listed hash."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="And only for hashes stored before this date or time."),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            help="Run on Ray: 'local' (every core of this machine), 'auto', or a "
            "cluster's address; default: [catalog] address, else this process."
        ),
    ] = None,
) -> None:
    """Look for listed hashes in the content catalog; queue what is found.

    Safe to repeat: a hit already queued is not queued again.
    """
    from datetime import UTC, datetime

    settings = _config(config)
    if not settings.catalog.enabled:
        fail(
            f"{config}: the content catalog is off: set [catalog] enabled = true "
            "(see docs/catalog.md)",
            ExitCode.USER_ERROR,
        )

    def moment(option: str, text: str | None) -> datetime | None:
        if text is None:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            fail(
                f"{option} {text[:40]!r} is not a date: expected ISO 8601, such "
                "as 2026-12-01 or 2026-12-01T09:30:00Z",
                ExitCode.USER_ERROR,
            )
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    start, end = moment("--since", since), moment("--until", until)
    if start is not None and end is not None and start >= end:
        fail(
            f"--since {since} is not before --until {until}: expected a range "
            "that holds some time",
            ExitCode.USER_ERROR,
        )
    with _service(config) as service, progress_bars(err) as bar:
        catalog = service.catalog
        assert catalog is not None
        task = bar.add_task("shards", total=None)

        def progress(done: int, total: int, hits: int) -> None:
            bar.update(task, completed=done, total=total, description=f"{hits} hits")

        outcome = catalog.rescan(
            since=start,
            until=end,
            address=address or settings.catalog.address or None,
            progress=progress,
        )
        service.deliver()
    out.print(
        f"looked for {outcome.listed} listed hashes in {outcome.items} items "
        f"({outcome.shards} shards) in {outcome.seconds:.1f} s: "
        f"{len(outcome.hits)} hits, {outcome.queued} new review entries",
        highlight=False,
    )


@matcher_app.command()
@user_errors
def match(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files, or folders to scan recursively.", show_default=False
        ),
    ],
    config: ConfigPath = DEFAULT_CONFIG,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write matches as JSON lines to this file."
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-j", min=1, help="Processes to hash with.")
    ] = os.cpu_count() or 1,
) -> None:
    """Scan files against the synced list (locally; nothing is queued or sent).

    Each file is hashed and matched as `POST /v1/match/media` does an upload:
    an image by its query side (rotations, mirrors, bars, crops).
    """
    from reclaim.matcher.service import Query

    with _service(config) as service:
        failed: list[FileHashes] = []
        files: list[Path] = []
        for found in find_files(paths):
            if isinstance(found, Path):
                files.append(found)
            else:
                failed.append(found)
        rows: list[dict[str, Any]] = []
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("matching", total=len(files))

            def collect(result: FileHashes) -> None:
                progress.advance(task)
                if not result.ok:
                    failed.append(result)
                    return
                if isinstance(result, _Scanned) and result.media is not None:
                    query = Query.of_media(result.media)
                else:
                    query = Query(
                        md5=result.digests.md5 if result.digests else None,
                        video=result.video,
                    )
                for found in service.find([query])[0]:
                    rows.append(
                        {
                            "path": result.path,
                            "type": found.kind.value,
                            "program": found.program,
                            "source": found.source,
                            "distance": found.distance,
                            "variant": found.variant,
                        }
                    )

            job = partial(_scan_file, dihedral=service.config.dihedral)
            if workers <= 1 or len(files) <= 1:
                for path in files:
                    collect(job(str(path)))
            else:
                run_isolated(files, job, workers=workers, on_result=collect)
    rows.sort(key=lambda r: (r["path"], r["distance"]))
    if output is not None:
        with output.open("w", encoding="utf-8") as stream:
            for row in rows:
                stream.write(json.dumps(row, sort_keys=True) + "\n")
    else:
        _print_matches(rows)
    matched = len({r["path"] for r in rows})
    err.print(f"{matched} of {len(files)} files match the list", highlight=False)
    for result in failed:
        typer.echo(f"reclaim: {result.path}: {result.error}", err=True)
    if failed:
        raise typer.Exit(ExitCode.USER_ERROR)


@dataclass(frozen=True, slots=True)
class _Scanned(FileHashes):
    """A file's hashes and, for an image, what the matcher's HTTP API asks."""

    media: MediaHashes | None = None


def _scan_file(path: str, *, dihedral: bool) -> FileHashes:
    """Hash one file for matching (in a worker process); errors are captured.

    An image is read and hashed by `reclaim.matcher.media.hash_image`, the
    code `/v1/match/media` runs on an upload, so a file matches here exactly
    when its upload matches there. A video (by its name) is hashed from disk.
    """
    from reclaim.hashing import MediaError
    from reclaim.hashing.files import hash_file
    from reclaim.matcher.media import hash_image

    if is_video(Path(path)):
        return hash_file(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return FileHashes(
            path, error=f"cannot read the file: {error.strerror or error}"
        )
    if not data:
        return FileHashes(path, error="the file is empty (0 bytes): nothing to hash")
    try:
        return _Scanned(path, media=hash_image(data, dihedral=dihedral))
    except MediaError as error:
        return FileHashes(path, error=str(error))


def _print_matches(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = Table(box=None, pad_edge=False)
    for column in ("path", "type", "program", "distance", "variant"):
        table.add_column(column, no_wrap=column != "path", overflow="fold")
    for row in rows:
        table.add_row(
            escape(row["path"]),
            row["type"],
            row["program"],
            str(row["distance"]),
            row["variant"] or "",
        )
    out.print(table)


@review_app.command("list")
@user_errors
def review_list(
    config: ConfigPath = DEFAULT_CONFIG,
    state: Annotated[
        str,
        typer.Option(
            help="pending, auto_actioned, blocked, not_blocked, withdrawn or all."
        ),
    ] = "pending",
    limit: Annotated[int, typer.Option(min=1, help="Most matches to show.")] = 50,
) -> None:
    """List matches in the review queue, newest first."""
    queue, _, _ = _review_parts(config)
    items = queue.list(state=None if state == "all" else state, limit=limit)
    if not items:
        out.print(f"no {'' if state == 'all' else state + ' '}matches", highlight=False)
        return
    table = Table(box=None, pad_edge=False)
    columns = (
        "id",
        "when",
        "type",
        "program",
        "distance",
        "state",
        "found",
        "reference",
    )
    for column in columns:
        table.add_column(column)
    for item in items:
        summary = item.summary()
        table.add_row(
            str(item.id),
            summary["created_at"][:19],
            item.kind,
            item.program,
            str(item.distance),
            item.state.value,
            item.origin.value,
            escape(item.reference or ""),
        )
    out.print(table)


@review_app.command("show")
@user_errors
def review_show(
    match_id: Annotated[int, typer.Argument(help="The match id.")],
    config: ConfigPath = DEFAULT_CONFIG,
) -> None:
    """Show one match."""
    queue, _, _ = _review_parts(config)
    out.print_json(json.dumps(queue.get(match_id).summary()))


@review_app.command("decide")
@user_errors
def review_decide(
    match_id: Annotated[int, typer.Argument(help="The match id.")],
    decision: Annotated[
        str, typer.Argument(help="blocked (confirmed, removed) or not_blocked.")
    ],
    config: ConfigPath = DEFAULT_CONFIG,
    reviewer: Annotated[
        str | None, typer.Option(help="Who decided (kept in the queue).")
    ] = None,
) -> None:
    """Decide a pending match; the registry is told, the platform's webhook too."""
    from reclaim.matcher.feedback import flush_feedback
    from reclaim.matcher.source import open_source
    from reclaim.matcher.store import ListStore
    from reclaim.matcher.webhook import WebhookSender

    queue, outbox, settings = _review_parts(config)
    item = queue.decide(match_id, decision, reviewer=reviewer)
    sources = {s.name: open_source(s) for s in settings.sources}
    stores = {
        name: ListStore(queue.engine, name=name, prepared=True) for name in sources
    }
    sender = WebhookSender(settings.webhook, outbox)
    try:
        sent = flush_feedback(outbox, sources, stores=stores)
        sender.flush()
    finally:
        for source in sources.values():
            source.close()
        sender.close()
    note = (
        "feedback sent"
        if sent.error is None
        else "feedback queued (a source is unreachable; `reclaim matcher sync` "
        "or the server retries)"
    )
    out.print(f"match {item.id}: {item.state.value}; {note}", highlight=False)


def _review_parts(path: Path) -> tuple[Any, Any, MatcherConfig]:
    from reclaim.matcher.outbox import Outbox
    from reclaim.matcher.review import ReviewQueue
    from reclaim.matcher.store import ListStore, open_engine

    settings = _config(path)
    engine = open_engine(settings.store_url)
    ListStore(engine)  # creates the tables on a fresh store
    queue = ReviewQueue(engine, settings.policy, webhooks=settings.webhook.enabled)
    return queue, Outbox(engine), settings
