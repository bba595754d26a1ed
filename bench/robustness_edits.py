"""Edits an abuser makes to a copy: crops, tilts, captions, stickers, bars, chrome.

Each edit takes a random generator and an (H, W, 3) uint8 RGB photo and
returns the edited copy. Amounts are drawn from ranges, never fixed, so a
derived view cannot line up with the edit by construction. Overlays are
drawn with Pillow: caption boxes with text, emoji-like faces, sticker blobs.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

Edit = Callable[[np.random.Generator, np.ndarray], np.ndarray]

SIDES = ("left", "right", "top", "bottom", "centre")

WORDS = "when she thought nobody would see this lol wait for it omg look".split()


def crop(array: np.ndarray, side: str, fraction: float) -> np.ndarray:
    """Cut `fraction` of the width or height off one side (centre: half off each)."""
    h, w = array.shape[:2]
    across, down = int(w * fraction), int(h * fraction)
    top, bottom, left, right = 0, h, 0, w
    if side == "left":
        left = across
    elif side == "right":
        right = w - across
    elif side == "top":
        top = down
    elif side == "bottom":
        bottom = h - down
    else:
        top, bottom = down // 2, h - down // 2
        left, right = across // 2, w - across // 2
    return np.ascontiguousarray(array[top:bottom, left:right])


def crop_range(low: float, high: float) -> Edit:
    def edit(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
        side = SIDES[int(rng.integers(len(SIDES)))]
        return crop(array, side, float(rng.uniform(low, high)))

    return edit


def corner_crop(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
    """5-20% off one side and 5-20% off a side next to it (a corner)."""
    horizontal = ("left", "right")[int(rng.integers(2))]
    vertical = ("top", "bottom")[int(rng.integers(2))]
    array = crop(array, horizontal, float(rng.uniform(0.05, 0.20)))
    return crop(array, vertical, float(rng.uniform(0.05, 0.20)))


def meme_bar(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
    """A plain bar of 12-30% of the height above the picture, with a caption."""
    h, w = array.shape[:2]
    bar = int(h * rng.uniform(0.12, 0.30))
    dark = bool(rng.integers(2))
    fill, ink = ((0, 0, 0), (255, 255, 255)) if dark else ((255, 255, 255), (0, 0, 0))
    canvas = Image.new("RGB", (w, h + bar), fill)
    canvas.paste(Image.fromarray(array), (0, bar))
    words = " ".join(rng.choice(WORDS, 5)).upper()
    ImageDraw.Draw(canvas).text(
        (8, bar // 4), words, fill=ink, font=_font(max(10, bar // 3))
    )
    return np.asarray(canvas)


def straighten(array: np.ndarray, degrees: float) -> np.ndarray:
    """Turn with Pillow (bicubic), then keep the largest same-shape box inside."""
    h, w = array.shape[:2]
    turned = np.asarray(
        Image.fromarray(array).rotate(degrees, Image.Resampling.BICUBIC)
    )
    theta = np.radians(abs(degrees))
    c, s = np.cos(theta), np.sin(theta)
    k = min(w / (w * c + h * s), h / (w * s + h * c))
    kw, kh = int(w * k), int(h * k)
    top, left = (h - kh) // 2, (w - kw) // 2
    return np.ascontiguousarray(turned[top : top + kh, left : left + kw])


def rotate_range(low: float, high: float, *, corners: bool = False) -> Edit:
    def edit(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
        degrees = float(rng.uniform(low, high)) * (1 if rng.integers(2) else -1)
        if corners:
            image = Image.fromarray(array)
            return np.asarray(image.rotate(degrees, Image.Resampling.BICUBIC))
        return straighten(array, degrees)

    return edit


def mirror(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array[:, ::-1])


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def _caption(rng: np.random.Generator, image: Image.Image, area: float) -> None:
    """A filled text box across the top or bottom (meme caption) or mid-image."""
    w, h = image.size
    box_w = int(w * rng.uniform(0.7, 1.0))
    box_h = max(8, int(area * w * h / box_w))
    left = int(rng.integers(0, w - box_w + 1))
    place = int(rng.integers(3))
    top = (0, h - box_h, int(rng.integers(0, max(1, h - box_h))))[place]
    dark = bool(rng.integers(2))
    fill, ink = ((0, 0, 0), (255, 255, 255)) if dark else ((255, 255, 255), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((left, top, left + box_w, top + box_h), fill=fill)
    words = " ".join(rng.choice(WORDS, 6))
    draw.text((left + 4, top + 2), words, fill=ink, font=_font(int(box_h * 0.6)))


def _emoji(rng: np.random.Generator, image: Image.Image, area: float) -> None:
    """A yellow face (eyes, mouth) of the given share of the picture."""
    w, h = image.size
    r = int(np.sqrt(area * w * h / np.pi))
    cx = int(rng.integers(r, max(r + 1, w - r)))
    cy = int(rng.integers(r, max(r + 1, h - r)))
    draw = ImageDraw.Draw(image)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 204, 0))
    eye = max(1, r // 6)
    for dx in (-r // 3, r // 3):
        draw.ellipse(
            (cx + dx - eye, cy - r // 3 - eye, cx + dx + eye, cy - r // 3 + eye),
            fill=(60, 40, 0),
        )
    draw.arc(
        (cx - r // 2, cy - r // 4, cx + r // 2, cy + r // 2),
        20,
        160,
        fill=(60, 40, 0),
        width=max(1, r // 10),
    )


def _sticker(rng: np.random.Generator, image: Image.Image, area: float) -> None:
    """A random-coloured blob (star-ish polygon) of about the given share."""
    w, h = image.size
    r = np.sqrt(area * w * h / np.pi)
    cx, cy = rng.uniform(r, max(r + 1, w - r)), rng.uniform(r, max(r + 1, h - r))
    angles = np.sort(rng.uniform(0, 2 * np.pi, 12))
    radii = r * rng.uniform(0.75, 1.25, 12)
    points = [
        (cx + a * np.cos(t), cy + a * np.sin(t))
        for a, t in zip(radii, angles, strict=True)
    ]
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    ImageDraw.Draw(image).polygon(points, fill=colour)


def overlay_range(low: float, high: float, kind: str) -> Edit:
    painters = {"caption": _caption, "emoji": _emoji, "sticker": _sticker}

    def edit(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
        image = Image.fromarray(array)
        name = (
            kind
            if kind != "any"
            else ("caption", "emoji", "sticker")[int(rng.integers(3))]
        )
        painters[name](rng, image, float(rng.uniform(low, high)))
        return np.asarray(image)

    return edit


def letterbox(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
    """Bars to 16:9 (or 9:16), or a solid frame of 5-15% of the side."""
    h, w = array.shape[:2]
    image = Image.fromarray(array)
    if rng.integers(2):
        colour = (0, 0, 0)
        target = 16 / 9 if w >= h else 9 / 16
        if w / h < target:
            size = (int(h * target), h)
        else:
            size = (w, int(w / target))
        size = (max(size[0], w + 20), max(size[1], h)) if size == (w, h) else size
        canvas = Image.new("RGB", size, colour)
        canvas.paste(image, ((size[0] - w) // 2, (size[1] - h) // 2))
        return np.asarray(canvas)
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    border = int(min(h, w) * rng.uniform(0.05, 0.15))
    return np.asarray(ImageOps.expand(image, border=border, fill=colour))


def thumbnail(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
    side = int(rng.integers(128, 257))
    image = Image.fromarray(array)
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return jpeg(np.asarray(image), 85)


def jpeg(array: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def recompress(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
    return jpeg(array, int(rng.integers(30, 71)))


def colour(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
    image = Image.fromarray(array)
    choice = int(rng.integers(4))
    if choice == 0:
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.6, 1.4))
    elif choice == 1:
        image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.6, 1.5))
    elif choice == 2:
        image = ImageEnhance.Color(image).enhance(rng.uniform(0.0, 2.0))
    else:
        grey = ImageOps.grayscale(image)
        image = ImageOps.colorize(grey, (40, 20, 0), (255, 240, 200))
    return np.asarray(image.convert("RGB"))


def screenshot(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
    """The photo as a phone shows it: status bar, app bar, caption, nav bar."""
    width = int(rng.integers(360, 721))
    h, w = array.shape[:2]
    shown_h = int(h * width / w)
    photo = Image.fromarray(array).resize((width, shown_h), Image.Resampling.BILINEAR)
    dark = bool(rng.integers(2))
    back, ink = (
        ((0, 0, 0), (230, 230, 230)) if dark else ((255, 255, 255), (20, 20, 20))
    )
    status, header, caption, nav = 28, 56, int(rng.integers(40, 120)), 56
    canvas = Image.new("RGB", (width, status + header + shown_h + caption + nav), back)
    draw = ImageDraw.Draw(canvas)
    draw.text((10, 6), "9:41", fill=ink, font=_font(16))
    for i in range(3):
        draw.rectangle((width - 20 - 18 * i, 8, width - 8 - 18 * i, 20), fill=ink)
    draw.ellipse((10, status + 10, 46, status + 46), fill=(200, 80, 120))
    draw.text((56, status + 16), "someone_posted", fill=ink, font=_font(18))
    canvas.paste(photo, (0, status + header))
    y = status + header + shown_h + 8
    draw.text((10, y), " ".join(rng.choice(WORDS, 7)), fill=ink, font=_font(16))
    for i in range(5):
        x = width * (2 * i + 1) // 10
        draw.ellipse(
            (x - 10, canvas.height - 38, x + 10, canvas.height - 18),
            outline=ink,
            width=2,
        )
    return jpeg(np.asarray(canvas), 90)


def combine(*edits: Edit) -> Edit:
    def edit(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
        for each in edits:
            array = each(rng, array)
        return array

    return edit


#: (label, edit) rows of the table, in order.
EDITS: tuple[tuple[str, Edit], ...] = (
    ("JPEG q30-70", recompress),
    ("colour (brightness/contrast/saturation/sepia)", colour),
    ("thumbnail 128-256 px", thumbnail),
    ("mirror", mirror),
    ("crop 5-10% (side or centre)", crop_range(0.05, 0.10)),
    ("crop 10-20% (side or centre)", crop_range(0.10, 0.20)),
    ("crop 20-30% (side or centre)", crop_range(0.20, 0.30)),
    ("crop 5-20% two sides (corner)", corner_crop),
    ("rotate 1-5 deg (straightened)", rotate_range(1.0, 5.0)),
    ("rotate 5-10 deg (straightened)", rotate_range(5.0, 10.0)),
    ("rotate 1-5 deg, black corners", rotate_range(1.0, 5.0, corners=True)),
    ("caption text 5-10%", overlay_range(0.05, 0.10, "caption")),
    ("emoji 5-10%", overlay_range(0.05, 0.10, "emoji")),
    ("sticker blob 5-10%", overlay_range(0.05, 0.10, "sticker")),
    ("overlay 10-20% (any)", overlay_range(0.10, 0.20, "any")),
    ("letterbox / solid frame", letterbox),
    ("screenshot with UI chrome", screenshot),
    ("crop 10% + thumbnail + JPEG", combine(crop_range(0.08, 0.12), thumbnail)),
    ("mirror + crop 5-15%", combine(mirror, crop_range(0.05, 0.15))),
    (
        "rotate 2-4 + caption 5-10%",
        combine(rotate_range(2, 4), overlay_range(0.05, 0.10, "caption")),
    ),
    ("letterbox + JPEG", combine(letterbox, recompress)),
    ("meme bar of text above", meme_bar),
)

#: Rows the goals cover (>= 95% matched): the first robustness issue's, then
#: the rows issue 13 added.
GOAL_ROWS = frozenset(
    {
        "mirror",
        "crop 5-10% (side or centre)",
        "crop 10-20% (side or centre)",
        "rotate 1-5 deg (straightened)",
        "caption text 5-10%",
        "emoji 5-10%",
        "sticker blob 5-10%",
        "thumbnail 128-256 px",
        "crop 5-20% two sides (corner)",
        "rotate 1-5 deg, black corners",
        "rotate 5-10 deg (straightened)",
        "crop 20-30% (side or centre)",
        "rotate 2-4 + caption 5-10%",
        "screenshot with UI chrome",
        "mirror + crop 5-15%",
        "meme bar of text above",
    }
)
