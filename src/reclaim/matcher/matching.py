"""Matching queries against a catalog: PDQ by radius, MD5 exactly, vPDQ by rule.

PDQ queries come in groups: the 8 dihedral variants of one image form one
group, and a stored hash matches the group at its best distance over the
variants. A bare query hash is a group of one. vPDQ queries look each frame
up in the frame index, then score every video that was hit with the vPDQ
rule (`reclaim.hashing.video_match`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from reclaim.hashing import (
    DIHEDRAL_NAMES,
    MIN_QUALITY,
    Md5Hash,
    PdqHash,
    SignalType,
    VideoHash,
    VpdqHash,
    video_match,
)
from reclaim.matcher.catalog import Catalog, Video
from reclaim.matcher.records import DEFAULT_SOURCE


@dataclass(frozen=True, slots=True)
class Match:
    """One listed hash that a query matched.

    `distance` is the Hamming distance for PDQ (the best over the dihedral
    variants queried, named by `variant`), 0 for MD5, and for vPDQ the worst
    of the best frame distances among the query frames that matched.
    `source` names the source that lists the hash: a hash two sources list
    matches twice, once for each.
    """

    query: int
    kind: SignalType
    value: str
    program: str
    distance: int
    variant: str | None = None
    query_percent: float | None = None
    compared_percent: float | None = None
    source: str = DEFAULT_SOURCE


def match_pdq(
    catalog: Catalog,
    groups: Sequence[Sequence[PdqHash]],
    *,
    radius: int,
    labels: Sequence[Sequence[str]] = (),
) -> list[Match]:
    """Stored PDQ hashes within `radius` of each group's hashes.

    `labels`, when given, names each hash of each group (the `variant` of a
    match); groups of 8 without labels are taken as the dihedral variants.
    """
    flat = [h for group in groups for h in group]
    if not flat or not len(catalog.pdq):
        return []
    results = catalog.pdq.query(flat, radius=radius)
    found: list[Match] = []
    at = 0
    for number, group in enumerate(groups):
        best: dict[int, tuple[int, int]] = {}
        for variant in range(len(group)):
            matches = results[at + variant]
            for position, distance in zip(
                matches.positions.tolist(), matches.distances.tolist(), strict=True
            ):
                if position not in best or distance < best[position][0]:
                    best[position] = (distance, variant)
        at += len(group)
        for position, (distance, variant) in sorted(best.items(), key=lambda i: i[1]):
            record = catalog.pdq_record(position)
            name = _label(labels, number, variant, len(group))
            found.append(
                Match(
                    number,
                    SignalType.PDQ,
                    record.value,
                    record.program,
                    distance,
                    name,
                    source=record.source,
                )
            )
    return found


def match_md5(catalog: Catalog, digests: Sequence[Md5Hash]) -> list[Match]:
    """Listed MD5 hashes equal to the query digests."""
    return [
        Match(
            number,
            SignalType.MD5,
            record.value,
            record.program,
            0,
            source=record.source,
        )
        for number, digest in enumerate(digests)
        for record in catalog.md5.get(digest.hex, ())
    ]


def match_vpdq(
    catalog: Catalog,
    videos: Sequence[VpdqHash | VideoHash],
    *,
    radius: int,
    threshold: float,
) -> list[Match]:
    """Listed videos that each query video matches by the vPDQ rule."""
    found: list[Match] = []
    if not catalog.live_videos:
        return found
    for number, video in enumerate(videos):
        frames = list(video.frames)
        if isinstance(video, VideoHash):
            frames.extend(video.cropped)
        usable = [f.pdq for f in frames if f.quality >= MIN_QUALITY]
        if not usable:
            continue
        # For each listed video hit: the best distance of each query frame.
        best: dict[int, dict[int, int]] = defaultdict(dict)
        candidates: dict[int, Video] = {}
        for frame, matches in enumerate(catalog.frames.query(usable, radius=radius)):
            for position, distance in zip(
                matches.positions.tolist(), matches.distances.tolist(), strict=True
            ):
                owner = catalog.frame_video(position)
                candidates[id(owner)] = owner
                per_frame = best[id(owner)]
                if distance < per_frame.get(frame, radius + 1):
                    per_frame[frame] = distance
        for listed in candidates.values():
            score = video_match(
                video,
                listed.hash,
                distance=radius,
                query_threshold=threshold,
                compared_threshold=threshold,
            )
            if score.is_match:
                distances = best[id(listed)].values()
                found.append(
                    Match(
                        number,
                        SignalType.VPDQ,
                        listed.record.value,
                        listed.record.program,
                        max(distances),
                        None,
                        score.query_match_percent,
                        score.compared_match_percent,
                        listed.record.source,
                    )
                )
    return found


def _label(
    labels: Sequence[Sequence[str]], group: int, variant: int, size: int
) -> str | None:
    if group < len(labels) and variant < len(labels[group]):
        return labels[group][variant]
    return DIHEDRAL_NAMES[variant] if size == len(DIHEDRAL_NAMES) else None
