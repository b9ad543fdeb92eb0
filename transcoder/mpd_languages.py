"""The languages an encoder's MPD gives the tracks it pushes (pure).

An encoder that pushes each track on its own with an MPD beside them (ffmpeg's `dash` muxer)
may say a track's language only there: ffmpeg writes `lang="fra"` on the AdaptationSet and
`und` in the init segment's `mdhd`. So the MPD is read for each Representation's language
(its own `lang`, else its AdaptationSet's) and its init segment's name (the nearest
SegmentTemplate's `initialization`, with `$RepresentationID$` and `$Bandwidth$` filled in, or
SegmentList's or SegmentBase's Initialization, under any relative BaseURLs, beside the MPD),
which is how the pushed init segment is known. A language is any BCP 47 tag (`fra`,
`pt-BR`), as a playlist's LANGUAGE takes it; what is not one, or `und`, says nothing. An MPD
that declares a DOCTYPE (entities) or cannot be parsed says nothing either."""

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


def _resolved(base: str, reference: str) -> str:
    """`reference` (relative) against `base`, as a URL resolves: beside its last part, or
    within it if it ends with a slash."""
    return posixpath.join(base.rpartition("/")[0], reference)


def _base(element: ElementTree.Element, base: str) -> str:
    """`base` resolved against `element`'s first BaseURL, if relative (an absolute one names
    another server: the pushed names are the ones beside the MPD)."""
    for child in _children(element, "BaseURL"):
        text = (child.text or "").strip()
        if text and not urlsplit(text).scheme and not text.startswith("/"):
            return _resolved(base, text)
        break
    return base


def _initialization(levels: list[ElementTree.Element]) -> str | None:
    """The init segment the nearest segment description names (Representation, then
    AdaptationSet, then Period): a SegmentTemplate's `initialization`, a SegmentList's or
    SegmentBase's Initialization `sourceURL`; "" for an Initialization without one (the
    init is a range of the Representation's BaseURL, as with ffmpeg's `-single_file`)."""
    for level in reversed(levels):
        for description in level:
            kind = _local(description.tag)
            if kind == "SegmentTemplate" and description.get("initialization"):
                return description.get("initialization")
            if kind in ("SegmentList", "SegmentBase"):
                for init in _children(description, "Initialization"):
                    return init.get("sourceURL") or ""
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


def init_languages(mpd: bytes, mpd_name: str) -> dict[str, str | None]:
    """Each Representation's init segment, by its pushed name (beside `mpd_name`) → the
    language the MPD gives it (None where it gives none); empty for what is not an MPD."""
    if b"<!DOCTYPE" in mpd or b"<!ENTITY" in mpd:
        return {}
    try:
        root = ElementTree.fromstring(mpd)
    except ElementTree.ParseError:
        return {}
    if _local(root.tag) != "MPD":
        return {}
    found: dict[str, str | None] = {}
    top = _base(root, mpd_name)
    for period in _children(root, "Period"):
        in_period = _base(period, top)
        for adaptation in _children(period, "AdaptationSet"):
            in_set = _base(adaptation, in_period)
            for representation in _children(adaptation, "Representation"):
                init = _initialization([period, adaptation, representation])
                if init is None:
                    continue
                base = _base(representation, in_set)
                name = _resolved(base, _filled(init, representation)) if init else base
                if name and not name.endswith("/"):
                    language = _language(representation.get("lang") or adaptation.get("lang"))
                    found.setdefault(posixpath.normpath(name).lstrip("/"), language)
    return found
