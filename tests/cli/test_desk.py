"""`reclaim matcher desk ...` run as the real Typer app on a real store."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from reclaim.cli.main import app
from reclaim.matcher.desk.accounts import Accounts, Role
from reclaim.matcher.store import open_engine

PASSWORD = "correct horse battery staple"


def run(*args: str, given: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=given)
    return result.exit_code, result.stdout, result.stderr


def config(tmp_path: Path) -> tuple[str, Path]:
    store = tmp_path / "m.db"
    path = tmp_path / "matcher.toml"
    path.write_text(
        '[source]\nurl = "http://127.0.0.1:9"\napi_key = "k"\n'
        f'[store]\nurl = "sqlite:///{store}"\n'
    )
    return str(path), store


def test_accounts_from_the_servers_shell(tmp_path: Path) -> None:
    path, store = config(tmp_path)
    code, out, _ = run(
        "matcher", "desk", "add-user", "ana", "--role", "admin",
        "--password-stdin", "-c", path, given=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0 and "account ana added (admin)" in out
    # At the prompt: asked twice, and two that differ change nothing.
    code, _, err = run(
        "matcher", "desk", "add-user", "bo", "-c", path,
        given=f"{PASSWORD}\n{PASSWORD}!\n",
    )  # fmt: skip
    assert code == 2 and "differ" in err
    code, out, _ = run(
        "matcher", "desk", "add-user", "bo", "-c", path,
        given=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert code == 0 and "(reviewer)" in out
    assert run("matcher", "desk", "set-role", "bo", "lead", "-c", path)[0] == 0
    assert run("matcher", "desk", "disable", "bo", "-c", path)[0] == 0
    code, out, _ = run("matcher", "desk", "users", "-c", path)
    assert code == 0 and "ana" in out and "disabled" in out and "lead" in out
    accounts = Accounts(open_engine(f"sqlite:///{store}"))
    assert accounts.authenticate("ana", PASSWORD).role is Role.ADMIN
    assert accounts.get("bo").disabled and accounts.get("bo").role is Role.LEAD
    new = "another long passphrase here"
    code, out, _ = run(
        "matcher", "desk", "set-password", "ana", "--password-stdin", "-c", path,
        given=new + "\n",
    )  # fmt: skip
    assert code == 0 and "sessions ended" in out
    assert accounts.authenticate("ana", new).name == "ana"


def test_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    path, _ = config(tmp_path)
    for args, given, expected in (
        (("add-user", "ana", "--role", "boss"), None, "not a role"),
        (("add-user", "Ana Smith", "--password-stdin"), PASSWORD + "\n", "valid"),
        (("add-user", "ana", "--password-stdin"), "short\n", "too short"),
        (("add-user", "ana", "--password-stdin"), "", "no password"),
        (("set-password", "nobody"), None, "no account"),
        (("set-role", "nobody", "lead"), None, "no account"),
    ):
        code, _, err = run("matcher", "desk", *args, "-c", path, given=given)
        assert code == 2, (args, err)
        assert expected in err and "Traceback" not in err, (args, err)
