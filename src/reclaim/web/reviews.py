"""Which translations a native speaker has reviewed, and a report of the rest.

`reviews.json` maps a language to the keys a reviewer approved, each with a
fingerprint of the English text they reviewed against. When the English text
of a key changes, its old review no longer counts: the key is unreviewed
again until someone looks at it. English is the source and is not reviewed.

    python -m reclaim.web.i18n report [LANG ...] [--keys]
    python -m reclaim.web.i18n reviewed LANG KEY [KEY ...] | --all
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from reclaim.web.i18n import BY_CODE, LANGUAGES, catalog


def default_path() -> Path:
    """The package's own review file."""
    return Path(str(resources.files("reclaim.web").joinpath("reviews.json")))


def fingerprint(english: str) -> str:
    """What a review is tied to: the English text it was checked against."""
    return hashlib.sha256(english.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Unreviewed:
    """One language's keys that still need a native speaker's review."""

    language: str
    keys: tuple[str, ...]
    total: int


def load(path: Path | None = None) -> dict[str, dict[str, str]]:
    """The review file ({} when there is none yet)."""
    path = path or default_path()
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        str(code): {str(k): str(v) for k, v in keys.items()}
        for code, keys in data.items()
    }


def report(
    languages: list[str] | None = None, *, path: Path | None = None
) -> list[Unreviewed]:
    """Per language, the keys whose current English text nobody has reviewed."""
    english = catalog("en")
    reviews = load(path)
    codes = languages or [lang.code for lang in LANGUAGES if lang.code != "en"]
    found = []
    for code in codes:
        done = reviews.get(code, {})
        keys = tuple(
            key for key, text in english.items() if done.get(key) != fingerprint(text)
        )
        found.append(Unreviewed(code, keys, len(english)))
    return found


def mark_reviewed(language: str, keys: list[str], *, path: Path | None = None) -> int:
    """Record that a native speaker reviewed these keys; returns how many."""
    path = path or default_path()
    english = catalog("en")
    unknown = [key for key in keys if key not in english]
    if unknown:
        raise SystemExit(
            f"{unknown[0]!r} is not a catalog key: see `report --keys` for the keys"
        )
    reviews = load(path)
    done = reviews.setdefault(language, {})
    for key in keys:
        done[key] = fingerprint(english[key])
    ordered = {code: dict(sorted(reviews[code].items())) for code in sorted(reviews)}
    path.write_text(json.dumps(ordered, ensure_ascii=False, indent=2) + "\n")
    return len(keys)


def main(argv: list[str] | None = None) -> int:
    """The command line: `report` and `reviewed`."""
    parser = argparse.ArgumentParser(prog="python -m reclaim.web.i18n")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("report", help="unreviewed strings per language")
    show.add_argument("languages", nargs="*", help="language codes (default: all)")
    show.add_argument("--keys", action="store_true", help="list the keys too")
    show.add_argument("--file", type=Path, help="review file (default: the package's)")
    mark = commands.add_parser("reviewed", help="record a native speaker's review")
    mark.add_argument("language")
    mark.add_argument("keys", nargs="*")
    mark.add_argument("--all", action="store_true", help="every key of the catalog")
    mark.add_argument("--file", type=Path, help="review file (default: the package's)")
    args = parser.parse_args(argv)
    given = args.languages if args.command == "report" else [args.language]
    bad = [code for code in given if code.lower() not in BY_CODE]
    if bad:
        names = ", ".join(lang.code for lang in LANGUAGES)
        print(f"{bad[0]!r} is not a page language: use one of {names}", file=sys.stderr)
        return 2
    codes = [BY_CODE[code.lower()].code for code in given]
    if args.command == "reviewed":
        keys = list(catalog("en")) if args.all else args.keys
        count = mark_reviewed(codes[0], keys, path=args.file)
        print(f"{codes[0]}: {count} keys marked reviewed")
        return 0
    for entry in report(codes or None, path=args.file):
        print(f"{entry.language}: {len(entry.keys)} of {entry.total} unreviewed")
        if args.keys:
            for key in entry.keys:
                print(f"  {key}")
    return 0
