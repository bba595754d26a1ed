"""`Registry`: the narrow interface the API and CLI use, one desk per audience.

The person's (`person_desk`), a platform's on reclaim's own API
(`platform_desk`), platforms' on other tools, StopNCII and NCMEC
(`exchange_desk`), and the operator's (`operator_desk`), all on one core
(`core`: the database, settings and write transactions).
"""

from __future__ import annotations

from reclaim.registry.core import MAX_PAGE, ChangePage
from reclaim.registry.creation import NewCase
from reclaim.registry.exchange_desk import ExchangeDesk
from reclaim.registry.operator_desk import OperatorDesk
from reclaim.registry.person_desk import PersonDesk
from reclaim.registry.submissions import Program


class Registry(PersonDesk, ExchangeDesk, OperatorDesk):
    """The registry's operations, each in its own transaction."""


__all__ = ["MAX_PAGE", "ChangePage", "NewCase", "Program", "Registry"]
