"""`reclaim hash PATH...`: PDQ and digests of files and folders, on this device."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from reclaim.cli.batch import find_files, hash_with_progress
from reclaim.cli.exits import ExitCode
from reclaim.cli.memory import PROCESS_BYTES, affordable_workers
from reclaim.cli.output import print_table, write_csv, write_jsonl
from reclaim.hashing.files import FileHashes
from reclaim.memory import memory_ceiling


class OutputFormat(enum.StrEnum):
    """How `reclaim hash` prints its results."""

    AUTO = "auto"
    TABLE = "table"
    JSONL = "jsonl"
    CSV = "csv"


def hash_paths(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Image or video files, or folders to hash recursively.",
            show_default=False,
        ),
    ],
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            "-f",
            help="table on a terminal, jsonl otherwise (auto); or choose one.",
        ),
    ] = OutputFormat.AUTO,
    dihedral: Annotated[
        bool,
        typer.Option("--dihedral", help="Also print the 8 rotated/mirrored variants."),
    ] = False,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="Decode every pixel, as Meta's reference does (slower on big JPEGs).",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-j",
            min=1,
            help="Processes to hash with (at most as many as memory holds).",
        ),
    ] = os.cpu_count() or 1,
) -> None:
    """Hash images and videos here: PDQ, or MD5 + vPDQ for videos; digests of all.

    Nothing is uploaded. Hashes with quality below 50 are marked unfit to
    submit. Files that cannot be hashed are reported on stderr, one line each,
    and the exit code is 2 if any failed. Each process may use about 1 GB
    (a 100 MP image); a file that needs more, such as a decompression bomb,
    fails with one line saying so.
    """
    errors = Console(stderr=True)
    results: list[FileHashes] = []
    files: list[Path] = []
    for found in find_files(paths):
        if isinstance(found, FileHashes):
            results.append(found)
        else:
            files.append(found)
    order = {str(path): index for index, path in enumerate(files)}
    with memory_ceiling(PROCESS_BYTES):  # workers inherit it
        hash_with_progress(
            files,
            dihedral=dihedral,
            exact=exact,
            workers=affordable_workers(workers),
            console=errors,
            on_result=results.append,
        )
    results.sort(key=lambda r: order.get(r.path, -1))
    _print(results, output_format)
    failed = [r for r in results if not r.ok]
    # Plain lines, never wrapped: one per failed file, then a count.
    for result in failed:
        typer.echo(f"reclaim: {result.path}: {result.error}", err=True)
    if failed:
        typer.echo(
            f"reclaim: {len(failed)} of {len(results)} files could not be hashed",
            err=True,
        )
        raise typer.Exit(ExitCode.USER_ERROR)


def _print(results: list[FileHashes], output_format: OutputFormat) -> None:
    chosen = output_format
    if chosen is OutputFormat.AUTO:
        chosen = OutputFormat.TABLE if sys.stdout.isatty() else OutputFormat.JSONL
    if chosen is OutputFormat.TABLE:
        print_table(results, Console())
    elif chosen is OutputFormat.JSONL:
        write_jsonl(results, sys.stdout)
    else:
        write_csv(results, sys.stdout)
