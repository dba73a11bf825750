"""Desktop settings an X11 session publishes: XSETTINGS (double-click) and Xft.dpi (scale).

No maintained Python library parses the XSETTINGS wire format (it is a small binary blob on
the settings manager's window), so this is the spec's layout, read by hand and kept pure.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

GTK_DOUBLE_CLICK_MS = 400  # what GTK and Qt use when no settings manager runs
GTK_DOUBLE_CLICK_PX = 5


@dataclass(frozen=True, slots=True)
class PointerSettings:
    double_click_ms: int
    double_click_px: int
    source: str  # "xsettings" or "default"


def parse_xsettings(blob: bytes) -> dict[str, int | str]:
    """Integer and string settings from an _XSETTINGS_SETTINGS property; colours are skipped."""
    if len(blob) < 12:
        return {}
    order = ">" if blob[0] == 1 else "<"  # MSBFirst = 1
    (count,) = struct.unpack_from(order + "I", blob, 8)
    pos, out = 12, {}
    for _ in range(count):
        if pos + 4 > len(blob):
            break
        kind = blob[pos]
        (name_len,) = struct.unpack_from(order + "H", blob, pos + 2)
        name = blob[pos + 4:pos + 4 + name_len].decode("utf-8", "replace")
        pos += 4 + (name_len + 3) // 4 * 4 + 4  # name padded to 4, then last-change serial
        if kind == 0:
            (out[name],) = struct.unpack_from(order + "i", blob, pos)
            pos += 4
        elif kind == 1:
            (length,) = struct.unpack_from(order + "I", blob, pos)
            out[name] = blob[pos + 4:pos + 4 + length].decode("utf-8", "replace")
            pos += 4 + (length + 3) // 4 * 4
        elif kind == 2:
            pos += 8
        else:
            break  # unknown type: the rest cannot be located
    return out


def pointer_settings(xsettings: dict[str, int | str]) -> PointerSettings:
    ms, px = xsettings.get("Net/DoubleClickTime"), xsettings.get("Net/DoubleClickDistance")
    if isinstance(ms, int) and ms > 0:
        return PointerSettings(ms, px if isinstance(px, int) and px > 0 else GTK_DOUBLE_CLICK_PX,
                               "xsettings")
    return PointerSettings(GTK_DOUBLE_CLICK_MS, GTK_DOUBLE_CLICK_PX, "default")


def scale_from_resources(resources: str) -> float:
    """Monitor scale from the Xft.dpi resource (96 dpi is 1.0)."""
    for line in resources.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Xft.dpi":
            try:
                return round(float(value.strip()) / 96.0, 3)
            except ValueError:
                return 1.0
    return 1.0
