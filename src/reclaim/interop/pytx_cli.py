"""reclaim's exchanges as a python-threatexchange CLI extension.

pytx's CLI refuses an extension whose exchange reuses a built-in name, so
here the exchanges carry names of their own: `reclaim_stop_ncii` (withdrawals
become deletions) and `reclaim_ncmec` (reads RECLAIM_NCMEC_URL). Add it with
`threatexchange config extensions add reclaim.interop.pytx_cli`, then make
collaborations of those kinds (docs/hma.md). HMA does not need this module:
its OMM_CONFIG takes the classes under the stock names.
"""

from __future__ import annotations

from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest

from reclaim.interop.ncmec import NCMECSignalExchangeAPI
from reclaim.interop.stopncii import StopNCIISignalExchangeAPI


class ReclaimStopNCIISignalExchangeAPI(StopNCIISignalExchangeAPI):
    """`StopNCIISignalExchangeAPI` as the CLI's `reclaim_stop_ncii`."""

    @classmethod
    def get_name(cls) -> str:
        """A name beside the CLI's own `stop_ncii`."""
        return "reclaim_stop_ncii"


class ReclaimNCMECSignalExchangeAPI(NCMECSignalExchangeAPI):
    """`NCMECSignalExchangeAPI` as the CLI's `reclaim_ncmec`."""

    @classmethod
    def get_name(cls) -> str:
        """A name beside the CLI's own `ncmec`."""
        return "reclaim_ncmec"


TX_MANIFEST = ThreatExchangeExtensionManifest(
    apis=(ReclaimStopNCIISignalExchangeAPI, ReclaimNCMECSignalExchangeAPI)
)
