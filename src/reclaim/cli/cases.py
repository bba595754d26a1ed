"""The person's commands: `submit`, `status`, `withdraw` against a registry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from reclaim.cli.batch import find_files, hash_with_progress
from reclaim.cli.context import UpstreamError, err, fail, out, settings, user_errors
from reclaim.cli.exits import ExitCode
from reclaim.client import RegistryClient, RegistryUnavailable
from reclaim.hashing.files import FileHashes

RegistryOption = Annotated[
    str | None,
    typer.Option(
        "--registry", help="Registry URL (default: RECLAIM_REGISTRY_URL or local)."
    ),
]
PinOption = Annotated[
    str | None,
    typer.Option("--pin", help="The case PIN (asked for, hidden, if left out)."),
]

#: Hashes per request; the rest of a large submission is added in more requests.
CHUNK = 500

#: Hash-value bytes per request, under the registry's default 2 MiB body
#: limit: a long video's vPDQ hash is up to 1.7 MB in compact form.
REQUEST_BYTES = 1_800_000


@contextmanager
def _client(registry: str | None) -> Iterator[RegistryClient]:
    """The registry, closed after use; no answer is an upstream error (exit 3)."""
    url = registry or settings().registry_url
    try:
        with RegistryClient(url) as client:
            yield client
    except RegistryUnavailable as error:
        what = "cannot reach the registry" if error.status is None else "the registry"
        raise UpstreamError(
            f"{what} at {url}: {error}; check --registry / RECLAIM_REGISTRY_URL "
            "and your connection, then run the same command again"
        ) from None


def _pin(pin: str | None) -> str:
    return pin or typer.prompt("PIN", hide_input=True)


def _submittable(result: FileHashes, item: int) -> list[dict[str, Any]]:
    """What of a file's hashes goes to the registry (never the file).

    All of one file's hashes carry the same `item` label, so the person's
    case shows the file once, whichever of its hashes a platform matched.
    """
    if result.video is not None and result.digests is not None:
        items: list[dict[str, Any]] = [
            {"type": "md5", "value": result.digests.md5.hex, "item": item}
        ]
        for variant in (result.video.vpdq, result.video.cropped_vpdq):
            if variant is not None and any(f.quality >= 50 for f in variant.frames):
                # Compact on the wire: about 60% of Meta's text.
                items.append(
                    {"type": "vpdq", "value": variant.to_compact(), "item": item}
                )
        return items
    if result.pdq is not None and result.unfit_reason is None:
        return [
            {"type": "pdq", "value": h.hex, "quality": h.quality, "item": item}
            for h in (result.pdq, *result.views)
        ]
    return []


@user_errors
def submit(
    paths: Annotated[list[Path], typer.Argument(help="Images or folders to hash.")],
    program: Annotated[
        str,
        typer.Option(
            "--program",
            help="minor: made when you (or they) were under 18; adult: otherwise.",
        ),
    ],
    registry: RegistryOption = None,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1)] = os.cpu_count()
    or 1,
    expand: Annotated[
        bool,
        typer.Option(
            help="Also send hashes of a few crops and small turns of each image, "
            "so edited copies still match (on by default).",
        ),
    ] = True,
) -> None:
    """Hash images and videos here, then send only the hashes to the registry.

    Nothing but the hashes leaves this device: no image, no file name.
    """
    if program not in {"minor", "adult"}:
        fail(
            f"{program!r} is not a program: use --program minor or --program adult",
            ExitCode.USER_ERROR,
        )
    files = [f for f in find_files(paths) if isinstance(f, Path)]
    missing = [f for f in find_files(paths) if isinstance(f, FileHashes)]
    results: list[FileHashes] = list(missing)
    hash_with_progress(
        files,
        dihedral=False,
        exact=False,
        workers=workers,
        console=err,
        on_result=results.append,
        expand=expand,
    )
    groups: list[list[dict[str, Any]]] = []
    for number, result in enumerate(results):
        chosen = _submittable(result, number)
        if chosen:
            groups.append(chosen)
        else:
            reason = result.error or result.unfit_reason or "not an image"
            typer.echo(f"reclaim: skipped {result.path}: {reason}", err=True)
    if not groups:
        fail("nothing to submit: no file gave a usable hash", ExitCode.USER_ERROR)
    requests = _requests(groups)
    with _client(registry) as client:
        created = client.create_case(program, requests[0])
        for more in requests[1:]:
            client.add(created["case_number"], created["pin"], more)
    items = [item for request in requests for item in request]
    out.print(
        Panel.fit(
            f"case number  [bold]{created['case_number']}[/bold]\n"
            f"PIN          [bold]{created['pin']}[/bold]\n\n"
            f"{len(groups)} files ({len(items)} hashes) submitted to "
            f"the {program} program.\n"
            "Write both down now: the PIN cannot be shown again or recovered.",
            title="your case",
        )
    )


def _requests(groups: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """Pack files' hashes into requests of at most CHUNK hashes and about
    REQUEST_BYTES of values, never splitting a file: item labels only group
    hashes within one request. A file larger than that goes alone."""
    requests: list[list[dict[str, Any]]] = [[]]
    size = 0
    for group in groups:
        grows = sum(len(h["value"]) for h in group)
        full = len(requests[-1]) + len(group) > CHUNK or size + grows > REQUEST_BYTES
        if requests[-1] and full:
            requests.append([])
            size = 0
        requests[-1].extend(group)
        size += grows
    return requests


@user_errors
def status(
    case: Annotated[str, typer.Argument(help="Case number, e.g. 7KQ-29M-XA4.")],
    pin: PinOption = None,
    registry: RegistryOption = None,
) -> None:
    """Show a case: each hash's status and what platforms did."""
    secret = _pin(pin)
    with _client(registry) as client:
        view = client.status(case, secret)
    _show(view)


@user_errors
def withdraw(
    case: Annotated[str, typer.Argument(help="Case number, e.g. 7KQ-29M-XA4.")],
    pin: PinOption = None,
    registry: RegistryOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask to confirm.")] = False,
) -> None:
    """Withdraw a case: platforms stop matching its hashes."""
    secret = _pin(pin)
    if not yes and not typer.confirm(
        f"Withdraw case {case}? Platforms will stop matching it"
    ):
        err.print("nothing withdrawn")
        raise typer.Exit(ExitCode.OK)
    with _client(registry) as client:
        view = client.withdraw(case, secret)
    _show(view)


def _show(view: dict[str, Any]) -> None:
    """One row per picture or video: a platform counts once per item, whichever
    of its hashes (whole image, crops, turns; MD5 or vPDQ) it matched."""
    out.print(
        f"case [bold]{view['number']}[/bold] ({view['program']}): {view['status']}"
    )
    table = Table("item", "kind", "hashes", "status", "matched", "reviewed", "removed")
    for item in view["items"]:
        kind = "video" if {"md5", "vpdq"} & set(item["kinds"]) else "image"
        table.add_row(
            str(item["item"] + 1),
            kind,
            str(item["hashes"]),
            item["status"],
            str(item["platforms_matched"]),
            str(item["platforms_reviewed"]),
            str(item["platforms_removed"]),
        )
    out.print(table)
    for item in view["items"]:
        for shared in item["shared"]:
            copies = (
                f", {shared['copies']} copies" if shared["copies"] is not None else ""
            )
            out.print(
                f"item {item['item'] + 1}: {shared['platform']}: "
                f"{shared['outcome']}{copies}"
            )
