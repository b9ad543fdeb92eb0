"""A live broadcast's audio tracks: their renditions' names, and which of a returning
encoder's tracks goes on in each."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from manifests.track_names import display_name

log = logging.getLogger("mediacdn.live")

AUDIO = "audio"  # the first audio rendition's name; the others are numbered after it
UNTOLD = "und"  # the language of a track that does not say


def audio_names(tracks: int) -> list[str]:
    """The names of a broadcast's audio renditions: `audio`, then `audio2`, `audio3`..."""
    return [AUDIO if n == 1 else f"{AUDIO}{n}" for n in range(1, tracks + 1)]


def matched_tracks(broadcast: Sequence[str], came: Sequence[str]) -> list[int | None]:
    """For each of a broadcast's audio tracks (by language), the contribution's track that
    goes on in it, or None (silence is made in its place). A track of the same language
    first, so that an encoder back with its languages in another order, or with some of
    them, keeps each in its rendition; then the contribution's other tracks, in order, in
    the renditions left (an encoder that does not say, or says otherwise)."""
    sources: list[int | None] = [None] * len(broadcast)
    free = list(range(len(came)))
    for i, language in enumerate(broadcast):
        same = [k for k in free if language != UNTOLD and came[k] == language]
        if same:
            sources[i] = same[0]
            free.remove(same[0])
    for i in range(len(broadcast)):
        if sources[i] is None and free:
            sources[i] = free.pop(0)
    return sources


def say_what_sound_goes_on(
    stream_id: str, broadcast: Sequence[str], came: Sequence[str], sources: Sequence[int | None]
) -> None:
    """Log where an encoder that came back with other audio tracks than the broadcast's
    goes on: each rendition from which of its tracks, or as silence; its tracks past the
    broadcast's are left out."""
    if list(came) == list(broadcast):  # the same tracks, each in its own rendition
        return
    where = ", ".join(
        f"{display_name(language)}: "
        + ("silence" if k is None else f"its track {k + 1} ({display_name(came[k])})")
        for language, k in zip(broadcast, sources, strict=True)
    )
    left_out = len(came) - sum(k is not None for k in sources)
    log.warning(
        "live stream %s: the encoder came back with %d audio track%s (the broadcast has %s)%s%s",
        stream_id,
        len(came),
        "" if len(came) == 1 else "s",
        len(broadcast) or "none",
        f"; {where}" if where else "",
        f"; {left_out} left out" if left_out else "",
    )


def say_what_is_left_out(stream_id: str, left_out: Sequence[str]) -> None:
    """Log the contribution's audio tracks the receiver found no packet of in its first
    second, which are not broadcast."""
    if left_out:
        log.warning(
            "live stream %s: the contribution's audio in %s did not start within its first "
            "second: left out",
            stream_id,
            ", ".join(display_name(language) for language in left_out),
        )
