"""Playlists for a CDN (pure): URIs made absolute to a chosen POP, and HLS Content Steering
(RFC 8216bis §7.2) masters that list every variant once per pathway (one pathway per POP) and
name the steering server that orders them per client. Every name and URI written goes through
the HLS renderer's quoting, so nothing can add a line or an attribute."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from urllib.parse import urljoin

from manifests.render import quote, uri_line

_URI_ATTR = re.compile(r'URI="([^"]*)"')
_GROUP_ATTR = re.compile(r'\b(GROUP-ID|AUDIO|SUBTITLES)="([^"]*)"')
_HEADER_TAGS = ("#EXTM3U", "#EXT-X-VERSION", "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-START")


def _absolute_attrs(line: str, base: str) -> str:
    return _URI_ATTR.sub(lambda m: f"URI={quote(urljoin(base, m.group(1)))}", line)


def absolute_uris(text: str, base: str) -> str:
    """Every URI line and URI="..." attribute resolved against `base` (the playlist's URL)."""
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            line = uri_line(urljoin(base, line.strip()))
        elif line.startswith("#") and 'URI="' in line:
            line = _absolute_attrs(line, base)
        out.append(line)
    return "\n".join(out) + "\n"


def _pathway_groups(line: str, pathway: str) -> str:
    """GROUP-ID/AUDIO/SUBTITLES values made unique per pathway (hls.js keeps each pathway's
    renditions apart by group)."""
    return _GROUP_ATTR.sub(lambda m: f"{m.group(1)}={quote(m.group(2) + '@' + pathway)}", line)


def steered_master(text: str, pathways: Sequence[tuple[str, str]], steering_uri: str) -> str:
    """A master playlist with one copy of each variant and rendition per pathway.
    `pathways`: (pathway id, the master playlist's URL on that POP), preferred first."""
    if not pathways:
        raise ValueError("content steering needs at least one pathway")
    lines = [line for line in text.splitlines() if line.strip()]
    header = [line for line in lines if line.startswith(_HEADER_TAGS)]
    media = [line for line in lines if line.startswith("#EXT-X-MEDIA:")]
    frames = [line for line in lines if line.startswith("#EXT-X-I-FRAME-STREAM-INF:")]
    variants: list[tuple[str, str]] = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            uri = next((u for u in lines[i + 1 :] if not u.startswith("#")), None)
            if uri is None:
                raise ValueError("a variant without a URI")
            variants.append((line, uri))
    if not variants:
        raise ValueError("not a master playlist: no EXT-X-STREAM-INF")
    first = pathways[0][0]
    out = header or ["#EXTM3U"]
    out.append(
        f"#EXT-X-CONTENT-STEERING:SERVER-URI={quote(steering_uri)},PATHWAY-ID={quote(first)}"
    )
    for pathway, base in pathways:
        for line in media:
            out.append(_absolute_attrs(_pathway_groups(line, pathway), base))
        for line in frames:
            out.append(f"{_absolute_attrs(line, base)},PATHWAY-ID={quote(pathway)}")
        for inf, uri in variants:
            out.append(f"{_pathway_groups(inf, pathway)},PATHWAY-ID={quote(pathway)}")
            out.append(uri_line(urljoin(base, uri)))
    return "\n".join(out) + "\n"


def steering_manifest(priority: Sequence[str], ttl_s: int, reload_uri: str | None = None) -> str:
    """The steering server's answer (RFC 8216bis §7.2.1)."""
    body: dict[str, object] = {"VERSION": 1, "TTL": ttl_s, "PATHWAY-PRIORITY": list(priority)}
    if reload_uri:
        body["RELOAD-URI"] = reload_uri
    return json.dumps(body)
