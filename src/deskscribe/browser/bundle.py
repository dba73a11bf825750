"""The extension as shipped inside the package: its directory and its fixed Chromium id."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from deskscribe.errors import Unavailable

ID_FILE = "extension-id.txt"


def extension_dir() -> Path:
    """The unpacked extension on disk, for a browser's ``--load-extension``."""
    where = files("deskscribe.browser").joinpath("extension")
    if not isinstance(where, Path) or not (where / "manifest.json").is_file():
        raise Unavailable("this deskscribe installation carries no browser extension"
                          " (deskscribe/browser/extension/manifest.json); reinstall deskscribe")
    return where


def chromium_extension_id() -> str:
    """The id Chromium derives from the manifest's key; host manifests admit only that origin."""
    source = files("deskscribe.browser").joinpath("extension", ID_FILE)
    try:
        ext_id = source.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        ext_id = ""
    if len(ext_id) != 32 or not set(ext_id) <= set("abcdefghijklmnop"):
        raise Unavailable(f"this deskscribe installation has no usable extension id"
                          f" (deskscribe/browser/extension/{ID_FILE}); reinstall deskscribe")
    return ext_id
