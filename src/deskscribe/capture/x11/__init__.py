"""The X11 leaf: RECORD for input, EWMH + DAMAGE for focus, layout and screen changes.

Importing this package loads python-xlib and mss, so ``deskscribe.capture.open_leaf`` imports
it only on a desktop that records.
"""
