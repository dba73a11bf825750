"""Capture: per-OS leaves behind one seam, imported lazily so other roles need no X libraries."""

from __future__ import annotations

import sys
from collections.abc import Callable

from deskscribe.capture.base import Leaf, Rect, WindowInfo
from deskscribe.errors import CaptureUnavailable
from deskscribe.policy import Policy


def open_leaf(*, display_name: str, policy: Policy,
              page_area: Callable[[WindowInfo], Rect | None] = lambda info: None) -> Leaf:
    """``page_area``: for a browser window, the part a context source lets be kept, if any."""
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        try:
            from deskscribe.capture.x11.leaf import X11Leaf
        except ImportError as exc:
            raise CaptureUnavailable(f"capture libraries are missing ({exc.name});"
                                     " install with: pip install 'deskscribe[capture]'") from None
        return X11Leaf(display_name=display_name, policy=policy, page_area=page_area)
    raise CaptureUnavailable(f"capture on {sys.platform} is not supported yet; X11 only")
