"""The indicator's picture for each state is distinct, so a glance tells them apart."""

from __future__ import annotations

from deskscribe.indicator import IDLE, PAUSED, RECORDING, icon_image


def test_each_state_has_its_own_colour() -> None:
    centres = {s: icon_image(s).getpixel((11, 11)) for s in (RECORDING, PAUSED, IDLE)}
    assert len(set(centres.values())) == 3
    assert centres[RECORDING][0] > 200 and centres[RECORDING][1] < 60  # red means recording
    assert icon_image(RECORDING).getpixel((0, 0))[3] == 0  # transparent around the dot
