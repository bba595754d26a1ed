"""Rendering `reclaim hash` results: a Rich table, JSON lines or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from reclaim.hashing.files import FileHashes
from reclaim.hashing.pdq import DIHEDRAL_NAMES

CSV_FIELDS = [
    "path",
    "pdq",
    "quality",
    "fit_to_submit",
    "md5",
    "sha256",
    "error",
    *(f"pdq_{name}" for name in DIHEDRAL_NAMES),
]


def record(result: FileHashes) -> dict[str, Any]:
    """One result as a flat, JSON-ready mapping."""
    row: dict[str, Any] = {
        "path": result.path,
        "pdq": result.pdq.hex if result.pdq else None,
        "quality": result.pdq.quality if result.pdq else None,
        "fit_to_submit": result.pdq is not None and result.unfit_reason is None,
        "md5": result.digests.md5.hex if result.digests else None,
        "sha256": result.digests.sha256 if result.digests else None,
        "error": result.error,
    }
    if result.pdq is not None and result.unfit_reason is not None:
        row["unfit_reason"] = result.unfit_reason
    if result.video is not None:
        row["vpdq_frames"] = len(result.video.frames)
        row["vpdq"] = result.video.vpdq.to_text()
        if result.video.cropped_vpdq is not None:
            row["vpdq_cropped"] = result.video.cropped_vpdq.to_text()
    if result.dihedral:
        row["dihedral"] = {
            name: h.hex for name, h in zip(DIHEDRAL_NAMES, result.dihedral, strict=True)
        }
    return row


def write_jsonl(results: Sequence[FileHashes], stream: IO[str]) -> None:
    """One JSON object per line, in input order."""
    for result in results:
        stream.write(json.dumps(record(result), sort_keys=True) + "\n")


def write_csv(results: Sequence[FileHashes], stream: IO[str]) -> None:
    """CSV with a header row; dihedral columns are empty unless asked for."""
    writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for result in results:
        row = record(result)
        row.pop("unfit_reason", None)
        for key in ("vpdq", "vpdq_cropped", "vpdq_frames"):
            row.pop(key, None)
        for name, value in row.pop("dihedral", {}).items():
            row[f"pdq_{name}"] = value
        writer.writerow(row)


def print_table(results: Sequence[FileHashes], console: Console) -> None:
    """A Rich listing for people: one block per file, fits 80 columns."""
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    table.add_column("what", style="dim", no_wrap=True)
    table.add_column("value", no_wrap=True, overflow="fold")
    for result in results:
        if result.video is not None:
            status = f"video, {len(result.video.frames)} frames hashed" + (
                " (and inside its bars)" if result.video.cropped else ""
            )
        elif result.pdq is not None:
            verdict = (
                "[green]fit to submit[/green]"
                if result.unfit_reason is None
                else "[yellow]unfit to submit[/yellow]"
            )
            status = f"quality {result.pdq.quality}, {verdict}"
        else:
            status = f"[red]{escape(result.error or 'not hashed')}[/red]"
        table.add_row("[bold]file[/bold]", f"[bold]{escape(result.path)}[/bold]")
        table.add_row("", status)
        if result.pdq is not None:
            table.add_row("pdq", result.pdq.hex)
            names = DIHEDRAL_NAMES[1:]
            for name, h in zip(names, result.dihedral[1:], strict=False):
                table.add_row(name, f"[dim]{h.hex}[/dim]")
        if result.digests is not None:
            table.add_row("md5", result.digests.md5.hex)
            table.add_row("sha256", result.digests.sha256)
        table.add_row("", "")
    console.print(table)
