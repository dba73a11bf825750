"""Capture: per-OS leaves behind one seam, imported lazily so other roles need no X libraries."""

from __future__ import annotations

import sys

from deskscribe.capture.base import Leaf
from deskscribe.errors import CaptureUnavailable
from deskscribe.policy import Policy


def open_leaf(*, display_name: str, policy: Policy) -> Leaf:
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        try:
            from deskscribe.capture.x11.leaf import X11Leaf
        except ImportError as exc:
            raise CaptureUnavailable(f"capture libraries are missing ({exc.name});"
                                     " install with: pip install 'deskscribe[capture]'") from None
        return X11Leaf(display_name=display_name, policy=policy)
    raise CaptureUnavailable(f"capture on {sys.platform} is not supported yet; X11 only")
