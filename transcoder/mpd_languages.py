"""The languages an encoder's MPD gives the tracks it pushes (pure).

An encoder that pushes each track on its own with an MPD beside them (ffmpeg's `dash` muxer)
may say a track's language only there: ffmpeg writes `lang="fra"` on the AdaptationSet and
`und` in the init segment's `mdhd`. So the MPD is read for each Representation's language
(its own `lang`, else its AdaptationSet's) and its init segment's name (the nearest
SegmentTemplate's `initialization`, with `$RepresentationID$` and `$Bandwidth$` filled in, under
any relative BaseURLs, beside the MPD), which is how the pushed init segment is known. A
language is any BCP 47 tag (`fra`, `pt-BR`), as a playlist's LANGUAGE takes it; what is not
one, or `und`, says nothing. An MPD that declares a DOCTYPE (entities) or cannot be parsed
says nothing either."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urlsplit
from xml.etree import ElementTree

from transcoder.languages import is_language_code

_IDENTIFIER = re.compile(r"\$(RepresentationID|Bandwidth)(%0\d{1,2}d)?\$")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [child for child in element if _local(child.tag) == name]


def _base(element: ElementTree.Element, directory: str) -> str:
    """`directory` under `element`'s first BaseURL, if relative (an absolute one names
    another server: the pushed names are the ones beside the MPD)."""
    for child in _children(element, "BaseURL"):
        text = (child.text or "").strip()
        if text and not urlsplit(text).scheme and not text.startswith("/"):
            return posixpath.join(directory, text)
        break
    return directory


def _initialization(levels: list[ElementTree.Element]) -> str | None:
    """The nearest SegmentTemplate's `initialization` (Representation, then AdaptationSet,
    then Period)."""
    for level in reversed(levels):
        for template in _children(level, "SegmentTemplate"):
            if template.get("initialization"):
                return template.get("initialization")
    return None


def _filled(template: str, representation: ElementTree.Element) -> str:
    def value(match: re.Match[str]) -> str:
        raw = representation.get("id" if match.group(1) == "RepresentationID" else "bandwidth")
        text = raw or ""
        if match.group(2) and text.isdigit():
            return format(int(text), match.group(2)[1:])
        return text

    return _IDENTIFIER.sub(value, template).replace("$$", "$")


def _language(value: str | None) -> str | None:
    primary, dash, rest = (value or "").strip().partition("-")
    code = primary.lower() + dash + rest
    return code if primary.lower() != "und" and is_language_code(code) else None


def init_languages(mpd: bytes, mpd_name: str) -> dict[str, str]:
    """Each init segment's pushed name (beside `mpd_name`) → the language the MPD gives its
    Representation; empty if it names none."""
    if b"<!DOCTYPE" in mpd or b"<!ENTITY" in mpd:
        return {}
    try:
        root = ElementTree.fromstring(mpd)
    except ElementTree.ParseError:
        return {}
    if _local(root.tag) != "MPD":
        return {}
    found: dict[str, str] = {}
    top = _base(root, posixpath.dirname(mpd_name))
    for period in _children(root, "Period"):
        in_period = _base(period, top)
        for adaptation in _children(period, "AdaptationSet"):
            in_set = _base(adaptation, in_period)
            for representation in _children(adaptation, "Representation"):
                language = _language(representation.get("lang") or adaptation.get("lang"))
                template = _initialization([period, adaptation, representation])
                if language is None or template is None:
                    continue
                directory = _base(representation, in_set)
                name = posixpath.join(directory, _filled(template, representation))
                found[posixpath.normpath(name).lstrip("/")] = language
    return found
