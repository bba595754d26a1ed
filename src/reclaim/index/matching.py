"""Matching queries against a matchable list: PDQ by the match rule, MD5 exactly, vPDQ.

`Match` is what every matching path returns: the matcher's, and the
registry's own index (`reclaim.api.list_index`). PDQ queries come in groups:
one upload's `query_hashes` form one group, and a listed hash matches the
group at its best distance over them, under `rule.MatchRule` (exactly what
`robust_match` gives for that pair). A bare query hash is a group of one.
vPDQ queries look each frame up in the frame index, then score every video
that was hit with the vPDQ rule (`reclaim.hashing.video_match`).
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
from reclaim.index.index import Matches
from reclaim.index.matchable import MatchableList, Video
from reclaim.index.records import DEFAULT_SOURCE
from reclaim.index.rule import RULE, MatchRule


@dataclass(frozen=True, slots=True)
class Match:
    """One listed hash that a query matched.

    `query` numbers the query (or group) in the request. `distance` is the
    Hamming distance for PDQ (the best over the group's hashes; `variant`
    names the hash that gave it), 0 for MD5, and for vPDQ the worst
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
    matchable: MatchableList,
    groups: Sequence[Sequence[PdqHash]],
    *,
    rule: MatchRule = RULE,
    labels: Sequence[Sequence[str]] = (),
) -> list[Match]:
    """Listed PDQ hashes that each group of query hashes matches under `rule`.

    A group is one upload's `query_hashes` (or a bare hash, a group of one);
    a listed hash matches the group at the smallest distance `robust_match`
    would give, with the listed hash's place in its picture unknown.
    `labels`, when given, names each hash of each group (the `variant` of a
    match); groups of 8 without labels are taken as the dihedral variants.
    """
    taken = [
        [(n, h) for n, h in enumerate(group) if rule.takes_query(n, h)]
        for group in groups
    ]
    flat = [(rule.radius(n), h) for group in taken for n, h in group]
    if not flat or not len(matchable.pdq):
        return []
    # Each query at its own radius: the cost of a search falls steeply with
    # it, so the many derived hashes must not pay for the widest one.
    by_place: dict[int, Matches] = {}
    for radius in sorted({r for r, _ in flat}):
        at_radius = [n for n, (r, _) in enumerate(flat) if r == radius]
        found_here = matchable.pdq.query([flat[n][1] for n in at_radius], radius=radius)
        by_place.update(zip(at_radius, found_here, strict=True))
    results = [by_place[n] for n in range(len(flat))]
    found: list[Match] = []
    at = 0
    for number, group in enumerate(taken):
        best: dict[int, tuple[int, int]] = {}
        for variant, _ in group:
            matches = results[at]
            at += 1
            radius = rule.radius(variant)
            for position, distance in zip(
                matches.positions.tolist(), matches.distances.tolist(), strict=True
            ):
                if distance > radius:
                    continue
                if position not in best or distance < best[position][0]:
                    best[position] = (distance, variant)
        size = len(groups[number])
        for position, (distance, variant) in sorted(best.items(), key=lambda i: i[1]):
            record = matchable.pdq_record(position)
            name = _label(labels, number, variant, size)
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


def match_md5(matchable: MatchableList, digests: Sequence[Md5Hash]) -> list[Match]:
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
        for record in matchable.md5.get(digest.hex, ())
    ]


def match_vpdq(
    matchable: MatchableList,
    videos: Sequence[VpdqHash | VideoHash],
    *,
    radius: int,
    threshold: float,
) -> list[Match]:
    """Listed videos that each query video matches by the vPDQ rule."""
    found: list[Match] = []
    if not matchable.live_videos:
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
        for frame, matches in enumerate(matchable.frames.query(usable, radius=radius)):
            for position, distance in zip(
                matches.positions.tolist(), matches.distances.tolist(), strict=True
            ):
                owner = matchable.frame_video(position)
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
