"""Joining Ray for a catalog job: the one place jobs start or join Ray.

`address="local"` starts a Ray of the job's own on this machine (every core,
or `cpus`), even where another runs here; "auto" joins the one this
machine belongs to; host:port or ray://host:port joins that cluster, after
a TCP check that answers in seconds (Ray itself waits minutes for a dead
head). Ray's own start-up notes and Ray Data's progress bars stay off: the
commands show their own progress. A session the job started is shut down
when it ends; one that was already there (a test's cluster) is left up.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from reclaim.catalog.errors import CatalogJobError


@contextmanager
def ray_session(address: str, *, cpus: int | None = None) -> Iterator[None]:
    """Ray, started or joined for `address`, for the duration of a job."""
    import ray

    _reachable(address)
    started = False
    if not ray.is_initialized():
        try:
            if address == "local":
                ray.init(
                    address="local",
                    num_cpus=cpus or os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                )
            else:
                ray.init(
                    address=address, log_to_driver=False, logging_level=logging.ERROR
                )
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise CatalogJobError(
                f"cannot start or join Ray at {address[:200]!r}: {error}; start a "
                "cluster with `ray start --head` and pass its address, use "
                "'local', or leave --address out to run in this process"
            ) from None
        started = True
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def _reachable(address: str) -> None:
    """CatalogJobError unless `address` is one, and a host:port answers."""
    if address in {"local", "auto"}:
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise CatalogJobError(
            f"{address[:100]!r} is not a Ray address: expected 'local', 'auto', "
            "host:port (the head's GCS port, 6379 by default) or ray://host:port"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as error:
        raise CatalogJobError(
            f"cannot reach the Ray cluster at {address!r}: {error}; start one "
            "with `ray start --head`, pass its address, or leave --address out "
            "to run in this process"
        ) from None
