"""NCMEC Hash Sharing API v2 XML: rendering answers, parsing feedback bodies.

Documents are built with `xml.etree.ElementTree`, which escapes every value.
Element names, their order and the `next` link follow NCMEC's examples as
python-threatexchange's `NCMECHashAPI` reads them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode

from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.ncmec import (
    REASONS,
    EntriesPage,
    Entry,
    EntryKind,
    Member,
    Opinion,
    Vote,
)

NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"

#: NCMEC's time format; requests may also carry milliseconds (".000Z").
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIME_FORMATS = (TIME_FORMAT, "%Y-%m-%dT%H:%M:%S.%fZ")

#: NCMEC fingerprint types (URL path names) and our hash types.
FINGERPRINT_TYPES = {"PDQ": "pdq", "MD5": "md5"}


def parse_time(text: str, name: str) -> datetime:
    """'2024-05-01T12:00:00Z' (or with '.000') as an aware UTC datetime."""
    for layout in _TIME_FORMATS:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InvalidRequestError(
        f"{name}={text[:40]!r} is not a time: expected UTC as "
        "YYYY-MM-DDTHH:MM:SSZ, e.g. 2024-05-01T12:00:00Z"
    )


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def _root(tag: str) -> ET.Element:
    root = ET.Element(tag)
    root.set("xmlns", NAMESPACE)
    return root


def _bytes(root: ET.Element) -> bytes:
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def _member(parent: ET.Element, member: Member) -> None:
    ET.SubElement(parent, "member", id=str(member.id)).text = member.name


def status(member: Member) -> bytes:
    """`<status>`: who the caller is (no IP address, unlike NCMEC's)."""
    root = _root("status")
    ET.SubElement(root, "username").text = member.name
    _member(root, member)
    return _bytes(root)


def members(listing: Sequence[Member]) -> bytes:
    """`<members>`: one `<member id>` per member."""
    root = _root("members")
    for member in listing:
        _member(root, member)
    return _bytes(root)


def reasons(fingerprint: str) -> bytes:
    """The negative-feedback reasons for a fingerprint type.

    pytx's `feedback_reasons` reads `root["availableFeedbackReasons"]`: a
    child of the root, not the root as in NCMEC's example. The list is
    wrapped in a `<feedbackReasons>` root so that unmodified pytx reads it.
    """
    root = _root("feedbackReasons")
    available = ET.SubElement(root, "availableFeedbackReasons")
    for reason in REASONS:
        ET.SubElement(
            available, "reason", guid=reason.guid, name=reason.name, type=fingerprint
        )
    return _bytes(root)


def submission_result() -> bytes:
    """The answer to a feedback PUT (NCMEC documents no content)."""
    return _bytes(_root("submissionResult"))


def entries(page: EntriesPage, registry: Member, *, size: int) -> bytes:
    """`<queryResult>`: the page's images and videos, and the `next` link.

    `next` is relative to the API's base (pytx appends it to its base URL).
    """
    root = _root("queryResult")
    for kind, container in ((EntryKind.IMAGE, "images"), (EntryKind.VIDEO, "videos")):
        chosen = [e for e in page.entries if e.kind is kind]
        element = ET.SubElement(root, container, count=str(len(chosen)))
        if chosen:
            element.set("maxTimestamp", _time(max(e.at for e in chosen)))
        for entry in chosen:
            _entry(element, entry, registry)
    if page.next is not None:
        query = urlencode(
            {
                "from": _time(page.span.start),
                "to": _time(page.span.end),
                "start": page.next.start,
                "size": size,
                "max": page.next.last,
            }
        )
        paging = ET.SubElement(root, "paging")
        ET.SubElement(paging, "next").text = f"/v2/entries?{query}"
    return _bytes(root)


def _entry(parent: ET.Element, entry: Entry, registry: Member) -> None:
    if entry.deleted:
        element = ET.SubElement(parent, f"deleted{entry.kind.value.capitalize()}")
        _member(element, registry)
        ET.SubElement(element, "id").text = str(entry.id)
        ET.SubElement(element, "timestamp").text = _time(entry.at)
        return
    element = ET.SubElement(parent, entry.kind.value)
    _member(element, registry)
    ET.SubElement(element, "timestamp").text = _time(entry.at)
    ET.SubElement(element, "id").text = str(entry.id)
    fingerprints = ET.SubElement(element, "fingerprints")
    ET.SubElement(fingerprints, entry.fingerprint).text = entry.value
    if entry.opinions:
        _feedback(element, entry.fingerprint.capitalize(), entry.opinions)


def _feedback(parent: ET.Element, kind: str, opinions: Sequence[Opinion]) -> None:
    """`<feedback>` as in NCMEC's example: members per sentiment, and for
    negative feedback `<reason>`/`<members>` pairs."""
    element = ET.SubElement(
        parent, "feedback", lastUpdateTimestamp=_time(max(o.at for o in opinions))
    )
    positive = [o for o in opinions if o.positive]
    negative = [o for o in opinions if not o.positive]
    if positive:
        latest = _time(max(o.at for o in positive))
        block = ET.SubElement(
            element, "affirmativeFeedback", type=kind, lastUpdateTimestamp=latest
        )
        _members(block, positive)
    if negative:
        latest = _time(max(o.at for o in negative))
        block = ET.SubElement(
            element, "negativeFeedback", type=kind, lastUpdateTimestamp=latest
        )
        pairs = ET.SubElement(block, "reasons")
        for reason in REASONS:
            giving = [o for o in negative if reason in o.reasons]
            if giving:
                ET.SubElement(
                    pairs, "reason", guid=reason.guid, name=reason.name, type=kind
                )
                _members(pairs, giving)


def _members(parent: ET.Element, opinions: Sequence[Opinion]) -> None:
    block = ET.SubElement(
        parent, "members", timestamp=_time(max(o.at for o in opinions))
    )
    for opinion in opinions:
        _member(block, opinion.member)


def parse_vote(body: bytes) -> tuple[Vote, list[str]]:
    """A `feedbackSubmission` body: the vote and any negative reason GUIDs.

    The body must be UTF-8 without a DOCTYPE: entity declarations are
    refused outright rather than trusted to the parser.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError(
            "the feedback body is not UTF-8: send a feedbackSubmission as UTF-8 XML"
        ) from None
    # No NUL byte: the parser reads the bytes, and UTF-16 or UTF-32 without a
    # byte-order mark is valid UTF-8 full of NULs, in which the check below
    # would not see a DOCTYPE. Without NULs, every encoding the parser knows
    # spells "<!DOCTYPE" in ASCII.
    if "\x00" in text or "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise InvalidRequestError(
            "the feedback body declares a DOCTYPE or entities, or holds NUL "
            "bytes, which are refused: send a plain <feedbackSubmission> in UTF-8"
        )
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        raise InvalidRequestError(
            f"the feedback body is not well-formed XML ({error}): send "
            "<feedbackSubmission><affirmative/></feedbackSubmission> or a "
            "<negative> with <reasonIds><guid>"
        ) from None
    if _local(root.tag) != "feedbackSubmission":
        raise InvalidRequestError(
            f"the feedback body's root is <{_local(root.tag)[:40]}>: expected "
            "<feedbackSubmission>"
        )
    votes = [c for c in root if _local(c.tag) in {v.value for v in Vote}]
    if len(votes) != 1:
        raise InvalidRequestError(
            f"a feedbackSubmission holds {len(votes)} votes: expected exactly one "
            "<affirmative> or <negative>"
        )
    guids = [
        (guid.text or "").strip()
        for ids in votes[0]
        if _local(ids.tag) == "reasonIds"
        for guid in ids
        if _local(guid.tag) == "guid"
    ]
    return Vote(_local(votes[0].tag)), guids


def _local(tag: str) -> str:
    """A tag without its namespace ('{ns}name' -> 'name')."""
    return tag.rpartition("}")[2]
