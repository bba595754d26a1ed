"""NCMEC Hash Sharing API v2 XML, read and written for the matcher's NCMEC source.

The shapes follow NCMEC's documentation as python-threatexchange reads it:
`<queryResult>` holds `<images>` and `<videos>`, each entry an `<image>` or
`<video>` (or a `<deletedImage>`/`<deletedVideo>` tombstone) with a
`<member id>`, an `<id>` and `<fingerprints>`, and `<paging><next>` a link,
relative to the API's base, to the window's next page. Answers are parsed
with `xml.etree.ElementTree` after refusing any DOCTYPE (no entity tricks),
and anything unexpected becomes `SourceUnavailable` with what was wrong.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from reclaim.matcher.errors import SourceUnavailable

NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
ENTRY_TAGS = {
    "image": ("image", False),
    "video": ("video", False),
    "deletedImage": ("image", True),
    "deletedVideo": ("video", True),
}


@dataclass(frozen=True, slots=True)
class Update:
    """One entry as a page of the feed gives it (a tombstone has no fingerprints)."""

    member: int
    id: str
    media: str  # "image" or "video"
    deleted: bool
    fingerprints: dict[str, str]

    @property
    def key(self) -> str:
        """How the store names the entry: member id and entry id."""
        return f"{self.member}-{self.id}"


@dataclass(frozen=True, slots=True)
class EntriesPage:
    """One page of a window: its entries and the link to the next page."""

    updates: tuple[Update, ...]
    next: str | None

    def estimated_entries(self) -> int:
        """How many entries the window holds, as the `next` link suggests."""
        if self.next is None:
            return len(self.updates)
        query = parse_qs(urlsplit(self.next).query)
        try:
            start, last = int(query["start"][0]), int(query["max"][0])
        except (KeyError, ValueError, IndexError):
            return len(self.updates) + 1
        return max(last - start, 0) + len(self.updates)


def format_time(seconds: int) -> str:
    """Unix seconds as NCMEC's UTC time (`2024-05-01T12:00:00Z`)."""
    return datetime.fromtimestamp(seconds, UTC).strftime(TIME_FORMAT)


def parse(body: bytes, what: str) -> ET.Element:
    """The root of an XML answer, namespaces dropped; refuses a DOCTYPE."""
    # No NUL byte: UTF-16 or UTF-32 would hide a DOCTYPE from this check;
    # without NULs every encoding the parser knows spells it in ASCII.
    lowered = body.lower()
    if b"\x00" in body or b"<!doctype" in lowered or b"<!entity" in lowered:
        raise SourceUnavailable(
            f"the NCMEC API's answer to {what} declares a DOCTYPE or entities, "
            "or is not UTF-8, which no NCMEC answer does: refused; check the "
            "source's url"
        )
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        raise SourceUnavailable(
            f"the NCMEC API's answer to {what} is not well-formed XML ({error}): "
            "the answer was damaged or is not from the NCMEC API; retrying"
        ) from None
    for element in root.iter():
        _, _, element.tag = element.tag.rpartition("}")
    return root


def entries_page(root: ET.Element) -> EntriesPage:
    """A `<queryResult>` page."""
    if root.tag != "queryResult":
        raise _malformed(f"its root is <{root.tag[:40]}>, not <queryResult>")
    updates: list[Update] = []
    for group in ("images", "videos"):
        for holder in root.findall(group):
            updates.extend(_update(child) for child in holder)
    link = root.findtext("paging/next")
    link = link.strip() if link else None
    if link:
        parts = urlsplit(link)
        if parts.scheme or parts.netloc or not parts.path.startswith("/v2/entries"):
            raise _malformed(
                "its next link is not a relative /v2/entries link (the matcher "
                "sends credentials only to the configured url)"
            )
    return EntriesPage(tuple(updates), link or None)


def _update(element: ET.Element) -> Update:
    kind = ENTRY_TAGS.get(element.tag)
    if kind is None:
        raise _malformed(f"it has an entry <{element.tag[:40]}>")
    media, deleted = kind
    member = element.find("member")
    entry = (element.findtext("id") or "").strip()
    try:
        member_id = int(member.get("id", "") if member is not None else "")
    except ValueError:
        raise _malformed("an entry's <member> has no numeric id") from None
    if not entry or len(entry) > 150 or "/" in entry:
        raise _malformed("an entry's <id> is missing, too long or has a '/'")
    fingerprints: dict[str, str] = {}
    for child in element.findall("fingerprints/*"):
        if child.text and child.text.strip():
            fingerprints[child.tag.lower()] = child.text.strip().lower()
    return Update(member_id, entry, media, deleted, fingerprints)


def reasons(root: ET.Element) -> list[tuple[str, str]]:
    """(guid, name) of each negative-feedback reason, wherever it is nested."""
    found = [
        (reason.get("guid", ""), reason.get("name", ""))
        for reason in root.iter("reason")
    ]
    return [(guid, name) for guid, name in found if guid]


def feedback_body(*, affirmative: bool, reason: str | None = None) -> bytes:
    """A `<feedbackSubmission>`: affirmative, or negative with a reason guid."""
    root = ET.Element("feedbackSubmission", {"xmlns": NAMESPACE})
    if affirmative:
        ET.SubElement(root, "affirmative")
    else:
        negative = ET.SubElement(root, "negative")
        ids = ET.SubElement(negative, "reasonIds")
        ET.SubElement(ids, "guid").text = reason or ""
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def _malformed(what: str) -> SourceUnavailable:
    return SourceUnavailable(
        f"the NCMEC API answered the entries request with XML the matcher cannot "
        f"read: {what}; retrying (if it persists, check the source's url)"
    )
