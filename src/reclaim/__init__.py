"""reclaim: take down intimate images by hash, without ever uploading them."""

from __future__ import annotations

from reclaim.errors import ReclaimError

__version__ = "0.1.0"

__all__ = ["ReclaimError", "__version__"]
