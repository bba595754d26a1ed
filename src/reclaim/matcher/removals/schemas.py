"""The removal request API's request models: strict, size-limited, no extra fields.

A body that is not of this form is malformed (HTTP 422, the one error
shape). A body of this form that leaves out one of the Act's four parts is
not malformed: it is recorded as an invalid request (`model.problems`), so
the requester hears what is missing and the platform keeps the record.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from reclaim.strict import StrictModel

#: The most content items one request may name.
MAX_ITEMS = 50
#: The most hashes a requester's device may send with one request.
MAX_HASHES = 20
#: The longest platform content reference (`model.check_reference` holds
#: the desk's Mark removed to the same rule).
MAX_REFERENCE = 200

#: A platform content reference, as the rest of the API takes it.
Reference = Annotated[str, Field(min_length=1, max_length=MAX_REFERENCE)]
RequesterRole = Literal["depicted_person", "authorized_agent"]


class SignatureIn(StrictModel):
    """A physical or electronic signature: the typed full name, and the
    requester's confirmation that typing it is their signature."""

    name: str = Field(default="", max_length=200)
    confirmed: bool = False


class ContentIn(StrictModel):
    """Where one piece of content is on the platform."""

    location: str = Field(min_length=1, max_length=2000)
    description: str | None = Field(default=None, max_length=2000)


class GoodFaithIn(StrictModel):
    """The statement that the content was published without consent."""

    confirmed: bool = False
    statement: str = Field(default="", max_length=5000)


class ContactIn(StrictModel):
    """How to reach the requester: at least one of the three."""

    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    postal_address: str | None = Field(default=None, max_length=1000)


class RequesterIn(StrictModel):
    """Who asks: the person shown, or someone authorised to act for them."""

    role: RequesterRole
    on_behalf_of: str | None = Field(default=None, max_length=200)


class HashIn(StrictModel):
    """A hash of the content, computed on the requester's device."""

    type: Literal["pdq", "md5"]
    value: str = Field(max_length=64)


class RemovalRequestIn(StrictModel):
    """A removal request under the TAKE IT DOWN Act (its four parts, who
    asks, and optional hashes)."""

    requester: RequesterIn
    signature: SignatureIn | None = None
    content: list[ContentIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    good_faith_statement: GoodFaithIn | None = None
    contact: ContactIn | None = None
    hashes: list[HashIn] = Field(default_factory=list, max_length=MAX_HASHES)


class ActionIn(StrictModel):
    """What the platform did or decided about a request.

    `removed` names the references taken down (`references`); `valid`,
    `invalid` and `rejected` need a `reason` (no personal data in it).
    """

    action: Literal["removed", "valid", "invalid", "rejected"]
    references: list[Reference] = Field(default_factory=list, max_length=1000)
    reason: str | None = Field(default=None, max_length=1000)
