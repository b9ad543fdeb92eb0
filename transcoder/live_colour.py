"""How a live picture's colours are said (pure): read from ffmpeg's line for a contribution's
video, and kept for the renditions, so that an encoder that comes back saying otherwise (an
HDR phone after an SDR camera, a tool that labels BT.709 after one that says nothing) makes
the same init segments and the broadcast goes on."""

from __future__ import annotations

import re
from dataclasses import dataclass

UNKNOWN = "unknown"  # ffmpeg's name for what a picture does not say
# the pixel format and what ffmpeg says of its pixels, in its line for a video stream:
# `yuv420p(tv, bt709, progressive)`, `yuv420p10le(tv, bt2020nc/bt2020/arib-std-b67)`
PIXELS = re.compile(r", \w+\(([^)]*)\)")
# the names setparams takes, of those ffmpeg prints
SPACES = frozenset(
    {"gbr", "bt709", "fcc", "bt470bg", "smpte170m", "smpte240m", "ycgco", "bt2020nc", "bt2020c"}
    | {"smpte2085", "chroma-derived-nc", "chroma-derived-c", "ictcp"}
)
PRIMARIES = frozenset(
    {"bt709", "bt470m", "bt470bg", "smpte170m", "smpte240m", "film", "bt2020", "smpte428"}
    | {"smpte431", "smpte432", "jedec-p22", "ebu3213"}
)
TRANSFERS = frozenset(
    {"bt709", "bt470m", "bt470bg", "smpte170m", "smpte240m", "linear", "log100", "log316"}
    | {"iec61966-2-4", "bt1361e", "iec61966-2-1", "bt2020-10", "bt2020-12", "smpte2084"}
    | {"smpte428", "arib-std-b67"}
)
# a matrix ffmpeg's scaler converts between, by the colour space's name
MATRICES = {
    "bt709": "bt709",
    "fcc": "fcc",
    "bt470bg": "bt470",
    "smpte170m": "smpte170m",
    "smpte240m": "smpte240m",
    "bt2020nc": "bt2020",
}


@dataclass(frozen=True, slots=True)
class Colour:
    """How a picture's colours are to be read, by ffmpeg's names: its YUV matrix (colour
    space), primaries and transfer; `unknown` where it does not say. (Its range is not kept:
    every rendition is made limited-range yuv420p, whatever range a contribution has.)"""

    space: str = UNKNOWN
    primaries: str = UNKNOWN
    transfer: str = UNKNOWN


SDR_BT709 = Colour("bt709", "bt709", "bt709")  # an HDR contribution, tone-mapped


def colour_of(line: str) -> Colour:
    """What ffmpeg's line for a video stream says of its colours (`unknown` for what it
    does not say, or says in a way not known here)."""
    found = PIXELS.search(line)
    if found is None:
        return Colour()
    said = [item.strip() for item in found.group(1).split(",")]
    space = primaries = transfer = UNKNOWN
    for item in said:
        if item.count("/") == 2:
            space, primaries, transfer = item.split("/")
        elif item in SPACES and item in PRIMARIES and item in TRANSFERS:  # all three alike
            space = primaries = transfer = item
    return Colour(
        space if space in SPACES else UNKNOWN,
        primaries if primaries in PRIMARIES else UNKNOWN,
        transfer if transfer in TRANSFERS else UNKNOWN,
    )


def made_colour(colour: Colour, hdr: bool) -> Colour:
    """The colours renditions made of a contribution have: its own, or BT.709 once an HDR
    one is tone-mapped."""
    return SDR_BT709 if hdr else colour


def conversion(made: Colour, kept: Colour) -> str:
    """The scaler's options that turn pictures `made` so into `kept`'s matrix, where both say
    theirs and they differ ("" otherwise: a picture that does not say is taken as the
    broadcast's)."""
    came, goes = MATRICES.get(made.space), MATRICES.get(kept.space)
    if not came or not goes or came == goes:
        return ""
    return f":in_color_matrix={came}:out_color_matrix={goes}"


def labelled(kept: Colour) -> str:
    """A filter that labels pictures as `kept` says, whatever they said before."""
    return (
        f"setparams=colorspace={kept.space}:color_primaries={kept.primaries}"
        f":color_trc={kept.transfer}"
    )
