"""Language codes: which strings are one (the names players show for them are in
manifests/track_names.py).

A code names folders, object keys and playlist attributes, so one read from a file's tags
(Matroska stores any string there) is taken only if it looks like a code: ISO 639 letters with
optional BCP 47 subtags (eng, pt-BR)."""

from __future__ import annotations

import re

_CODE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


def is_language_code(value: str) -> bool:
    return _CODE.fullmatch(value) is not None


def tagged_language(tags: dict[str, str]) -> str | None:
    """A stream's language from its tags; None when untagged, `und` or not a code."""
    value = str(tags.get("language") or "").strip().lower()
    return value if value != "und" and is_language_code(value) else None
