"""Removal request tests: a served matcher with the catalog on, a webhook
receiver, and request bodies."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.matcher.desk.conftest import Desk, serve_desk  # noqa: F401 - a fixture
from tests.matcher.receiver import Receiver, webhook_receiver

SECRET = "removal-webhook-secret"
PATTERN = r"^https://social\.example/p/(?P<reference>[A-Za-z0-9-]+)$"
#: Personal data of the requests filed in these tests: none of it may leave
#: the store but through a lead's desk page.
NAME = "Dana Quill Example"
EMAIL = "dana.quill@mail.example"
PHONE = "+1 555 0100 777"
STATEMENT = "I never agreed to this picture of me being published: Quillstatement."
BEHALF = "Robin Personal-Name"
DESCRIPTION = "the photo from the lake trip, Quilldescription"
PERSONAL = (NAME, EMAIL, PHONE, STATEMENT, DESCRIPTION, "Quill")

VALID: dict[str, Any] = {
    "requester": {"role": "depicted_person"},
    "signature": {"name": NAME, "confirmed": True},
    "content": [
        {"location": "https://social.example/p/post-1", "description": DESCRIPTION}
    ],
    "good_faith_statement": {"confirmed": True, "statement": STATEMENT},
    "contact": {"email": EMAIL, "phone": PHONE},
}


def body(**changes: Any) -> dict[str, Any]:
    """A valid request body with parts replaced (None: left out)."""
    made = copy.deepcopy(VALID)
    for name, value in changes.items():
        if value is None:
            made.pop(name, None)
        else:
            made[name] = value
    return made


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver(SECRET) as seen:
        yield seen


@pytest.fixture
def removals_desk(
    serve_desk: Callable[..., Desk],  # noqa: F811 - the fixture imported above
    receiver: Receiver,
    tmp_path: Path,
) -> Callable[..., Desk]:
    """A served matcher with the catalog on, webhooks to `receiver`, and
    removal requests' locations resolved by PATTERN."""

    def serve(**sections: dict[str, Any]) -> Desk:
        sections.setdefault(
            "catalog", {"enabled": True, "path": str(tmp_path / "catalog")}
        )
        sections.setdefault("webhook", {"url": receiver.url, "secret": SECRET})
        sections.setdefault("removals", {}).setdefault("reference_patterns", [PATTERN])
        desk = serve_desk(**sections)
        desk.service.sync_once()
        return desk

    return serve
