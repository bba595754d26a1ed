"""`reclaim matcher backfill`: hash the platform's stored media into the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from reclaim.cli.context import DEFAULT_CONFIG, ConfigPath, err, out, user_errors

if TYPE_CHECKING:
    from reclaim.catalog.backfill import Progress as JobProgress

#: Exit status of a job stopped by Ctrl-C (128 + SIGINT), as shells expect.
INTERRUPTED = 130


@user_errors
def backfill(
    source: Annotated[
        str,
        typer.Argument(
            help="The stored media: a directory, or a URL (s3://bucket/prefix, "
            "gs://…, file://…).",
            show_default=False,
        ),
    ],
    config: ConfigPath = DEFAULT_CONFIG,
    catalog: Annotated[
        str | None,
        typer.Option(
            help="The catalog's root (directory or URL); default: the config's "
            "[catalog] path, and then the config is only read for that."
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            help="Run on Ray: 'local' (every core of this machine) or a Ray "
            "cluster's address. Default: in this process, no Ray."
        ),
    ] = None,
    job: Annotated[
        str | None,
        typer.Option(
            help="The job's name; rerun the same job to resume it. Default: "
            "one job per source."
        ),
    ] = None,
    reference: Annotated[
        str,
        typer.Option(
            help="Each item's reference: 'path' (the path under SOURCE) or "
            "'name' (the file name without extension, for content ids)."
        ),
    ] = "path",
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Ray workers hashing at once (default: one a CPU)."),
    ] = None,
    batch_files: Annotated[
        int | None,
        typer.Option(min=1, help="Files a task hashes (default 64)."),
    ] = None,
    shard_files: Annotated[
        int | None,
        typer.Option(
            min=1, help="Files a shard covers, and a checkpoint (default 100000)."
        ),
    ] = None,
) -> None:
    """Hash stored media into the content catalog, resumably.

    Images get their MD5 and four PDQ hashes, anything else (videos too) its
    MD5. Each bad file is reported on one line; the job goes on. Rerun the
    same command to resume after a stop.
    """
    from reclaim.catalog.backfill import backfill as run
    from reclaim.catalog.backfill import job_name
    from reclaim.catalog.sources import reference_mode

    mode = reference_mode(reference)
    root, max_pixels = _catalog(config, catalog)
    name = job or job_name(source, mode)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[items]} items, {task.fields[bad]} bad"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("backfill", total=None, items=0, bad=0)

        def advance(now: JobProgress) -> None:
            progress.update(
                task,
                completed=now.files_done,
                total=now.files_total,
                items=now.items,
                bad=now.bad,
            )

        def report(line: str) -> None:
            progress.console.print(escape(line), highlight=False, soft_wrap=True)

        try:
            stats = run(
                source,
                root,
                job=name,
                reference=mode,
                address=address,
                workers=workers,
                batch_files=batch_files,
                shard_files=shard_files,
                max_pixels=max_pixels,
                on_progress=advance,
                on_bad_file=report,
            )
        except KeyboardInterrupt:
            progress.stop()
            typer.echo(
                f"reclaim: backfill job {name} stopped; rerun the same command to "
                "resume from its last checkpoint",
                err=True,
            )
            raise typer.Exit(INTERRUPTED) from None
    out.print(
        f"backfill {stats.job}: {stats.files} files, {stats.items} items, "
        f"{stats.bad} bad, {stats.shards} shards; this run hashed {stats.hashed} "
        f"files in {stats.seconds:.1f} s ({stats.files_per_second:.1f} files/s)",
        highlight=False,
        soft_wrap=True,
    )


def _catalog(config: Path, catalog: str | None) -> tuple[str, int | None]:
    """The catalog root, and the pixel budget of the config's [decode]."""
    if catalog is not None:
        return catalog, None
    from reclaim.matcher.config import MatcherConfig

    settings = MatcherConfig.load(config)
    return settings.catalog.path, settings.decode.max_pixels
