"""What the registry and matcher benchmarks share: free ports, random PDQ hashes."""

from __future__ import annotations

import socket

import numpy as np


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def random_pdq(rng: np.random.Generator) -> str:
    """A random PDQ hash with 128 bits set, as real ones have."""
    bits = np.zeros(256, dtype=bool)
    bits[rng.choice(256, 128, replace=False)] = True
    return format(int("".join("1" if b else "0" for b in bits), 2), "064x")
