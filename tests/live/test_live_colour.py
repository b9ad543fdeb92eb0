"""What a contribution says of its colours, as the receiver reads ffmpeg's line for it, and
what the renditions are made in."""

from __future__ import annotations

import pytest

from transcoder.live_colour import SDR_BT709, Colour, colour_of, conversion, labelled, made_colour

LINE = "  Stream #0:0[0x100]: Video: h264 (High) ([27][0][0][0] / 0x001B), {}, 1280x720, 30 tbr"


@pytest.mark.parametrize(
    ("pixels", "colour"),
    [
        ("yuv420p(progressive)", Colour()),  # says nothing
        ("yuv420p", Colour()),
        ("yuv420p(tv, bt709, progressive)", Colour("bt709", "bt709", "bt709")),
        ("yuv420p(tv, bt709)", Colour("bt709", "bt709", "bt709")),
        (
            "yuv420p10le(tv, bt2020nc/bt2020/arib-std-b67)",
            Colour("bt2020nc", "bt2020", "arib-std-b67"),
        ),
        ("yuvj420p(pc, bt470bg/unknown/unknown)", Colour("bt470bg")),
        ("yuv420p(tv, smpte170m, top first)", Colour("smpte170m", "smpte170m", "smpte170m")),
        ("yuv420p(tv, bt709/bt709/nonsense)", Colour("bt709", "bt709", "unknown")),
        ("yuv420p(tv)", Colour()),  # a range alone
    ],
)
def test_a_contributions_colours_are_read_off_ffmpegs_line(pixels: str, colour: Colour) -> None:
    assert colour_of(LINE.format(pixels)) == colour


def test_an_hdr_contribution_is_made_in_bt709() -> None:
    hlg = Colour("bt2020nc", "bt2020", "arib-std-b67")
    assert made_colour(hlg, hdr=True) == SDR_BT709
    assert made_colour(Colour(), hdr=False) == Colour()


@pytest.mark.parametrize(
    ("made", "kept", "options"),
    [
        (Colour(), SDR_BT709, ""),  # a picture that does not say is taken as the broadcast's
        (SDR_BT709, Colour(), ""),
        (SDR_BT709, SDR_BT709, ""),
        (
            Colour("smpte170m"),
            SDR_BT709,
            ":in_color_matrix=smpte170m:out_color_matrix=bt709",
        ),
        (Colour("bt709"), Colour("smpte170m"), ":in_color_matrix=bt709:out_color_matrix=smpte170m"),
        (Colour("smpte170m"), Colour("bt2020c"), ""),
        (Colour("bt2020c"), SDR_BT709, ""),  # a matrix the scaler does not know: as it is
    ],
)
def test_pictures_are_converted_only_between_what_both_say(
    made: Colour, kept: Colour, options: str
) -> None:
    assert conversion(made, kept) == options


def test_pictures_are_labelled_as_the_broadcast_began() -> None:
    assert labelled(Colour()) == (
        "setparams=colorspace=unknown:color_primaries=unknown:color_trc=unknown"
    )
