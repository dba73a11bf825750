import struct

import pytest

from deskscribe.capture.xsettings import parse_xsettings, pointer_settings, scale_from_resources


def setting(kind: int, name: str, value: bytes) -> bytes:
    raw = name.encode()
    padded = raw + b"\0" * ((4 - len(raw) % 4) % 4)
    return struct.pack("<BxH", kind, len(raw)) + padded + struct.pack("<I", 0) + value


def blob(*settings: bytes) -> bytes:
    return struct.pack("<B3xII", 0, 1, len(settings)) + b"".join(settings)


def test_parse_ints_strings_and_skip_colours() -> None:
    theme = b"Adwaita"
    parsed = parse_xsettings(blob(
        setting(1, "Net/ThemeName", struct.pack("<I", len(theme)) + theme + b"\0"),
        setting(2, "Gtk/Color", b"\0" * 8),
        setting(0, "Net/DoubleClickTime", struct.pack("<i", 250)),
        setting(0, "Net/DoubleClickDistance", struct.pack("<i", 8)),
    ))
    assert parsed == {"Net/ThemeName": "Adwaita", "Net/DoubleClickTime": 250, "Net/DoubleClickDistance": 8}
    assert pointer_settings(parsed).double_click_ms == 250 and pointer_settings(parsed).source == "xsettings"


@pytest.mark.parametrize("raw", [b"", b"\0" * 5, blob(setting(9, "x", b""))])
def test_garbage_falls_back_to_defaults(raw: bytes) -> None:
    s = pointer_settings(parse_xsettings(raw))
    assert (s.double_click_ms, s.double_click_px, s.source) == (400, 5, "default")


@pytest.mark.parametrize(("resources", "scale"), [
    ("Xft.dpi:\t192\nXft.antialias:\t1", 2.0), ("Xft.dpi: 144", 1.5), ("", 1.0), ("Xft.dpi: x", 1.0)])
def test_scale_from_xft_dpi(resources: str, scale: float) -> None:
    assert scale_from_resources(resources) == scale
