"""What the page says about chosen files: what is wrong with a bad one, how
many are chosen and ready (in the language's plural forms), how many were
sent, previews that are never broken, and a PIN that a phone keeps readable."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.web.conftest import wait_for
from tests.web.test_app_flow import (
    choose_program_and_files,
    message,
    wait_until_hashed,
)


@pytest.fixture
def odd_files(media: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """An empty JPEG, one cut short, and a text file named like a photo."""
    files = {
        "empty": tmp_path / "empty.jpg",
        "truncated": tmp_path / "truncated.jpg",
        "text": tmp_path / "notes.jpg",
    }
    files["empty"].write_bytes(b"")
    whole = media["jpeg"].read_bytes()
    files["truncated"].write_bytes(whole[: len(whole) // 2])
    files["text"].write_bytes(b"shopping list: milk, bread\n" * 40)
    return files


def states(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.strip() for s in page.locator("#file-list .state").all_text_contents()]


def test_bad_files_say_what_is_wrong(page_factory, media, odd_files) -> None:  # type: ignore[no-untyped-def]
    page = page_factory()
    page.goto("/")
    chosen = [odd_files["empty"], odd_files["truncated"], media["broken"]]
    choose_program_and_files(page, [*chosen, odd_files["text"]])
    wait_until_hashed(page, 4)
    empty, damaged = message(page, "files.empty"), message(page, "files.damaged")
    got = states(page)
    assert got[:3] == [empty, damaged, damaged], got
    # Not a picture at all: that is what "not supported" is for.
    assert message(page, "files.unsupported") in got[3]


def test_no_broken_preview_boxes(page_factory, media, odd_files) -> None:  # type: ignore[no-untyped-def]
    page = page_factory(width=360, height=780)
    page.goto("/")
    files = [media["jpeg"], media["heic"], media["broken"], odd_files["empty"]]
    choose_program_and_files(page, files)
    wait_until_hashed(page, 4)
    # The HEIC preview comes from the worker (Chromium cannot show HEIC).
    shown = """() => [...document.querySelectorAll('#file-list img')]
        .filter(i => i.complete && i.naturalWidth > 0).length >= 2"""
    wait_for(page, shown)
    page.wait_for_timeout(300)  # any late image load or error has happened
    images = page.evaluate(
        """() => [...document.querySelectorAll('#file-list img')].map(i => ({
            complete: i.complete, width: i.naturalWidth, src: i.src}))"""
    )
    broken = [i for i in images if not (i["complete"] and i["width"] > 0)]
    assert broken == [], images
    thumbs = page.locator("#file-list .thumb")
    with_picture = [thumbs.nth(i).locator("img").count() for i in range(4)]
    # The JPEG and the HEIC show themselves; a cut-short JPEG may show the
    # part that is there (Chromium draws what it has), never a broken box.
    assert with_picture[:2] == [1, 1] and with_picture[3] == 0, with_picture
    # The empty file keeps a quiet placeholder that names the kind of file.
    assert thumbs.nth(3).text_content() == message(page, "kind.image")


def test_counts_are_files_with_plural_forms(page_factory, media, odd_files) -> None:  # type: ignore[no-untyped-def]
    page = page_factory()
    page.goto("/")
    choose_program_and_files(page, [media["jpeg"]])
    wait_until_hashed(page, 1)
    assert page.text_content("#file-count") == "1 file chosen · 1 ready to send"
    # Nine listed, four of them bad: the count says so, not "5 files chosen".
    root = media["jpeg"].parent
    more = [root / "copy.jpg", media["png"], media["heic"], media["video"]]
    page.set_input_files(
        "#file-input", [str(f) for f in [*more, *odd_files.values(), media["broken"]]]
    )
    wait_until_hashed(page, 9)
    assert page.text_content("#file-count") == (
        "9 files chosen · 5 ready to send · 4 cannot be used"
    )


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, "Обрано 1 файл"), (2, "Обрано 2 файли"), (5, "Обрано 5 файлів")],
)
def test_ukrainian_counts(
    page_factory, media, tmp_path: Path, count: int, expected: str
) -> None:  # type: ignore[no-untyped-def]
    copies = []
    for index in range(count):
        copy = tmp_path / f"{index}.jpg"
        shutil.copy(media["jpeg"], copy)
        copies.append(copy)
    page = page_factory(locale="uk")
    page.goto("/")
    choose_program_and_files(page, copies)
    wait_until_hashed(page, count)
    assert (page.text_content("#file-count") or "").startswith(expected + " · ")


def test_done_counts_photos_and_videos_not_hashes(page_factory, media) -> None:  # type: ignore[no-untyped-def]
    page = page_factory()
    page.goto("/")
    choose_program_and_files(page, [media["jpeg"], media["png"], media["video"]])
    wait_until_hashed(page, 3)
    page.click("#submit")
    page.wait_for_selector("#step-done:not([hidden])")
    assert page.text_content("#done-count") == (
        "The digital fingerprints of 3 photos and videos were sent."
    )


#: For each character of the PIN on screen: its group and the top of its line.
PIN_LINES = """() => {
  const output = document.getElementById('case-pin');
  const walker = document.createTreeWalker(output, NodeFilter.SHOW_TEXT);
  const chars = [];
  let group = 0;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i += 1) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const box = range.getBoundingClientRect();
      const ch = node.data[i];
      chars.push({ch, group, top: Math.round(box.top), right: box.right});
      if (ch === '-') group += 1;
    }
  }
  return chars;
}"""


@pytest.mark.parametrize("locale", ["en-US", "ar", "uk", "ta"])
def test_the_pin_never_breaks_inside_a_group_at_360(
    page_factory, media, locale: str
) -> None:  # type: ignore[no-untyped-def]
    page = page_factory(width=360, height=780, locale=locale)
    page.goto("/")
    choose_program_and_files(page, [media["jpeg"]])
    wait_until_hashed(page, 1)
    page.click("#submit")
    page.wait_for_selector("#step-done:not([hidden])")
    chars = page.evaluate(PIN_LINES)
    assert "".join(c["ch"] for c in chars) == page.text_content("#case-pin")
    lines: dict[int, set[int]] = {}
    for char in chars:
        lines.setdefault(char["group"], set()).add(char["top"])
    assert all(len(tops) == 1 for tops in lines.values()), lines
    assert max(c["right"] for c in chars) <= 360
    # At 360 px it fits on one line.
    assert len({c["top"] for c in chars}) == 1
