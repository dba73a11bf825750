"""The visible-window layout: which pixels the frame mask keeps."""

from deskscribe.capture.base import Layout, Rect


def test_layout_keeps_only_pixels_whose_topmost_window_is_designated() -> None:
    layout = Layout(100, 80, (
        (Rect(0, 0, 60, 60), True),     # designated, bottom
        (Rect(40, 20, 40, 40), False),  # other app above it
        (Rect(70, 50, 20, 20), True),   # designated above that
    ))
    m = layout.mask()
    assert m[10, 10] and not m[30, 50] and m[55, 75] and not m[75, 95]
    assert layout.designated_at(10, 10) and not layout.designated_at(50, 30)
    assert not layout.designated_at(99, 79)  # bare desktop
    # 60x60 designated, minus its 20x40 overlap with the other app, plus the 20x20 on top
    assert m.sum() == 60 * 60 - 20 * 40 + 20 * 20


def test_layout_clips_windows_partly_off_screen() -> None:
    layout = Layout(50, 50, ((Rect(-10, -10, 30, 30), True),))
    assert layout.mask().sum() == 20 * 20


def test_designated_windows_are_read_in_the_parts_nothing_covers() -> None:
    editor, popup = Rect(0, 0, 400, 300), Rect(300, 50, 200, 100)
    layout = Layout(800, 600, ((editor, True), (popup, False)))
    parts = layout.visible_kept
    assert sum(p.width * p.height for p in parts) == 400 * 300 - 100 * 100
    assert Rect(0, 50, 300, 100) in parts  # the text left of the popup ends at its edge
    assert not any(p.contains(350, 100) for p in parts)
    assert Layout(800, 600, ((editor, True),)).visible_kept == (editor,)
