"""An NCMEC exchange for python-threatexchange and HMA that can read a reclaim registry.

pytx's `NCMECHashAPI` takes its base URL only from the `NCMECEnvironment`
enum. This subclass keeps the exchange name `ncmec` (stored HMA configs and
pytx state keep working) and, when RECLAIM_NCMEC_URL is set (e.g.
`https://registry.example/ncmec`), points the client there instead; the
collaboration's environment is then ignored. Credentials are the platform's
name (user) and API key (password).
"""

from __future__ import annotations

from threatexchange.exchanges.clients.ncmec import hash_api
from threatexchange.exchanges.impl import ncmec_api

from reclaim.config import ncmec_url


class NCMECSignalExchangeAPI(ncmec_api.NCMECSignalExchangeAPI):
    """pytx's NCMEC exchange, talking to RECLAIM_NCMEC_URL when it is set."""

    @classmethod
    def get_name(cls) -> str:
        """The stock exchange's name, so stored configs and state still apply."""
        return ncmec_api.NCMECSignalExchangeAPI.get_name()

    def get_client(
        self, environment: hash_api.NCMECEnvironment
    ) -> hash_api.NCMECHashAPI:
        """NCMEC's client for `environment`, or for the registry when configured."""
        client = super().get_client(environment)
        base = ncmec_url()
        if base:
            # The client joins this base with "/v2/<endpoint>" and with the
            # relative `next` links, and mounts its retrying adapter on it per
            # request, so replacing it after construction is enough.
            client._base_url = base
        return client
