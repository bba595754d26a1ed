"""Desk accounts: names, passwords, roles and the pause after wrong passwords."""

from __future__ import annotations

from pathlib import Path

import pytest

from reclaim.matcher.desk import accounts as accounts_module
from reclaim.matcher.desk.accounts import Accounts, Role
from reclaim.matcher.errors import AccountError, LoginError
from reclaim.matcher.store import open_engine, prepare

PASSWORD = "correct horse battery staple"


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    engine = open_engine(f"sqlite:///{tmp_path}/m.db")
    prepare(engine)
    return Accounts(engine)


def test_names_and_passwords_are_checked(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="not a valid account name"):
        accounts.add("Ana Smith", PASSWORD, Role.REVIEWER)
    with pytest.raises(AccountError, match="too short"):
        accounts.add("ana", "short", Role.REVIEWER)
    accounts.add("ana", PASSWORD, Role.LEAD)
    with pytest.raises(AccountError, match="already an account"):
        accounts.add("ana", PASSWORD, Role.ADMIN)
    assert accounts.authenticate("ana", PASSWORD).role is Role.LEAD
    with accounts.engine.connect() as connection:
        query = "SELECT password FROM desk_accounts"
        (digest,) = connection.exec_driver_sql(query).one()
    assert digest.startswith("scrypt$") and PASSWORD not in digest


def test_the_pause_names_when_to_try_again_and_memory_stays_bounded(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts.add("bo", PASSWORD, Role.REVIEWER)
    for _ in range(accounts_module.MAX_FAILURES):
        with pytest.raises(LoginError, match="do not match"):
            accounts.authenticate("bo", "wrong password")
    with pytest.raises(LoginError, match=r"paused for 15 more minutes; try again"):
        accounts.authenticate("bo", PASSWORD)
    # However many names are tried, only so many are remembered.
    monkeypatch.setattr(accounts_module, "MAX_NAMES_TRACKED", 3)
    monkeypatch.setattr(accounts_module, "check_password", lambda *_: False)
    for number in range(10):
        with pytest.raises(LoginError):
            accounts.authenticate(f"guess{number}", "x")
    assert len(accounts._failures) == 3
    assert set(accounts._failures) == {"guess7", "guess8", "guess9"}
