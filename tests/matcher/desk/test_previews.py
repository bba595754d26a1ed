"""Previews of matched uploads: made in the decode worker, kept only when
configured and only for uploads that matched, served no-store to signed-in
people, purged when expired; never of a decompression bomb."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
from PIL import Image
from sqlalchemy import func, select, update

from reclaim.hashing import pdq_hash
from reclaim.matcher.decode_pool import make_preview
from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.previews import Preview
from reclaim.matcher.desk.tables import media
from tests.bombs import png_bomb
from tests.conftest import encode
from tests.matcher.conftest import pdq_item, submit
from tests.matcher.desk.conftest import Desk


def kept(desk: Desk) -> int:
    with desk.service.engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(media)).scalar_one()
        )


def listed_upload(desk: Desk, person: httpx.Client, photo: np.ndarray) -> bytes:
    """A photo whose PDQ hash is listed, as an upload's bytes."""
    data = encode(photo, "JPEG", quality=92)
    listed = pdq_hash(data)
    submit(person, pdq_item(listed.hex, listed.quality or 0))
    desk.service.sync_once()
    return data


def upload(desk: Desk, data: bytes, reference: str) -> httpx.Response:
    with httpx.Client(base_url=desk.url, timeout=60) as platform:
        return platform.post(
            "/v1/match/media", params={"reference": reference}, content=data
        )


def test_a_matched_upload_keeps_a_small_preview_for_signed_in_people(
    serve_desk: Callable[..., Desk],
    person: httpx.Client,
    photos: dict[str, np.ndarray],
) -> None:
    desk = serve_desk(desk={"keep_media_hours": 2})
    data = listed_upload(desk, person, photos["astronaut"])
    clear = upload(desk, encode(photos["coffee"], "JPEG"), "post-clear")
    assert clear.status_code == 200 and clear.json()["matches"] == []
    assert kept(desk) == 0  # an upload that matched nothing keeps nothing
    reply = upload(desk, data, "post-1")
    assert reply.status_code == 200, reply.text
    match_id = reply.json()["matches"][0]["match_id"]
    assert kept(desk) == 1
    with desk.client() as anonymous:
        refused = anonymous.get(f"/desk/matches/{match_id}/preview")
        assert refused.status_code == 303  # to sign in
    ivy = desk.sign_in("ivy", Role.REVIEWER)
    got = ivy.get(f"/desk/matches/{match_id}/preview")
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.headers["cache-control"] == "no-store"
    assert got.content != data  # a preview, not the upload
    with Image.open(io.BytesIO(got.content)) as image:
        assert max(image.size) <= 480 and image.format == "JPEG"
        assert "exif" not in image.info
    previews = desk.service.previews
    loaded: list[int] = []
    real_get = previews.get

    def spied(match_id: int) -> Preview | None:
        loaded.append(match_id)
        return real_get(match_id)

    previews.get = spied  # type: ignore[method-assign]
    page = ivy.get(f"/desk/matches/{match_id}").text
    assert 'class="blurred"' in page and "Show the picture" in page
    assert loaded == []  # the page asks only whether there is one
    assert previews.has(match_id) and not previews.has(match_id + 1)
    assert f'src="/desk/matches/{match_id}/preview"' in ivy.get("/desk").text
    # Expired: not served even before the purge, and purged by the delivery.
    with desk.service.engine.begin() as connection:
        connection.execute(
            update(media).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert ivy.get(f"/desk/matches/{match_id}/preview").status_code == 400
    assert "it was deleted" in ivy.get(f"/desk/matches/{match_id}").text
    assert not previews.has(match_id)
    desk.service.deliver()
    assert kept(desk) == 0


def test_no_preview_is_kept_when_the_desk_keeps_no_media(
    serve_desk: Callable[..., Desk],
    person: httpx.Client,
    photos: dict[str, np.ndarray],
) -> None:
    desk = serve_desk()  # keep_media_hours = 0
    data = listed_upload(desk, person, photos["astronaut"])
    reply = upload(desk, data, "post-2")
    match_id = reply.json()["matches"][0]["match_id"]
    assert kept(desk) == 0
    jo = desk.sign_in("jo", Role.REVIEWER)
    assert "No preview is kept" in jo.get(f"/desk/matches/{match_id}").text
    assert jo.get(f"/desk/matches/{match_id}/preview").status_code == 400


def test_a_decompression_bomb_gets_no_preview(
    serve_desk: Callable[..., Desk], person: httpx.Client
) -> None:
    desk = serve_desk(desk={"keep_media_hours": 2})
    submit(person, pdq_item("f" * 32 + "0" * 32))
    desk.service.sync_once()
    bomb = png_bomb(20_000, 20_000)  # 400 MP in a few hundred KB
    reply = upload(desk, bomb, "post-bomb")
    assert reply.status_code == 413, reply.text
    assert kept(desk) == 0 and desk.service.queue.counts()["pending"] == 0
    # The worker's preview step itself refuses nothing it was not given: it
    # only ever runs after the pixel budget passed; a broken file gives None.
    assert make_preview(b"\x89PNG\r\n\x1a\nbroken", max_side=480) is None
    assert make_preview(b"\x00\x00\x00 ftypisom video?", max_side=480) is None
