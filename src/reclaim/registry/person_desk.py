"""The person's desk: open a case, read it, add to it, withdraw it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from reclaim.registry import (
    audit,
    cases,
)
from reclaim.registry.core import RegistryCore
from reclaim.registry.creation import NewCase
from reclaim.registry.feed import publish
from reclaim.registry.idempotency import IdempotencyKey
from reclaim.registry.submissions import (
    parse_hashes,
    parse_program,
)

logger = logging.getLogger(__name__)


class PersonDesk(RegistryCore):
    """What a person does with their case, each in its own transaction."""

    def create_case(
        self,
        program: str,
        items: Sequence[object],
        *,
        idempotency_key: IdempotencyKey | None = None,
    ) -> NewCase:
        """Open a case holding `items`; returns its number and PIN.

        With `idempotency_key`, a retry of the same request gets the first
        answer again (`creation.py`), and the same key with another request
        is refused.
        """
        chosen = parse_program(program)
        hashes = parse_hashes(items, limit=self.request_limit())
        new = self._creator.create(chosen, hashes, idempotency_key)
        if not new.replayed:
            logger.info("case %s created with %d hashes", new.number, len(hashes))
        return new

    def case_status(self, number: str, pin: str) -> cases.CaseView:
        """The owner's view of a case."""
        with self.db.read() as session:
            return cases.view(session, cases.open_case(session, number, pin))

    def add_hashes(
        self, number: str, pin: str, items: Sequence[object]
    ) -> cases.CaseView:
        """Add hashes to an active case."""
        hashes = parse_hashes(items, limit=self.request_limit())

        def work(session: Session) -> cases.CaseView:
            case = cases.open_case(session, number, pin, lock=True)
            changed = cases.add(
                session, case, hashes, max_per_case=self.settings.max_hashes_per_case
            )
            audit.record(
                session,
                audit.Action.HASHES_ADDED,
                audit.Actor.PERSON,
                case_number=case.number,
                hashes=len(hashes),
            )
            publish(session, [record.id for record in changed])
            return cases.view(session, case)

        return self._write(work)

    def withdraw_case(self, number: str, pin: str) -> cases.CaseView:
        """Withdraw a case: its hashes leave the list unless another case holds them."""

        def work(session: Session) -> cases.CaseView:
            case = cases.open_case(session, number, pin, lock=True)
            changed = cases.withdraw(session, case)
            audit.record(
                session,
                audit.Action.CASE_WITHDRAWN,
                audit.Actor.PERSON,
                case_number=case.number,
                hashes=len(changed),
            )
            publish(session, changed)
            return cases.view(session, case)

        view = self._write(work)
        logger.info("case %s withdrawn", view.number)
        return view
