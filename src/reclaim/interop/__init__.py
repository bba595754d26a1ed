"""Drop-ins for platforms on HMA or python-threatexchange (pytx).

Install reclaim next to pytx (HMA has it) and name these classes in HMA's
`OMM_CONFIG` or pytx's CLI config; see docs/hma.md. They import pytx, the
base install and nothing of the server extras.
"""

from __future__ import annotations

from reclaim.interop.ncmec import NCMECSignalExchangeAPI
from reclaim.interop.stopncii import StopNCIISignalExchangeAPI

__all__ = ["NCMECSignalExchangeAPI", "StopNCIISignalExchangeAPI"]
