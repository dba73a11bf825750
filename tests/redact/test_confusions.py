"""OCR misreadings undone before scanning: the text keeps its length, values become visible."""

from __future__ import annotations

import pytest

from deskscribe.redact.confusions import card_shapes, undo_confusions


@pytest.mark.parametrize(("read", "meant"), [
    ("mail jane,doe@example,com now", "mail jane.doe@example.com now"),
    ("prop.canary@propmai|example.com", "prop.canary@propmailexample.com"),  # still an address
    ("contact amber.canaryGambermail.example.com", "contact amber.canary@ambermail.example.com"),
    ("key 51DarkCanaryQw8rTu@PLm", "key 51DarkCanaryQw8rTu0PLm"),
    ("Deploy key sk live 51DarkCanary", "Deploy key sk_live_51DarkCanary"),
    ("amber.canaryGambermail.example. com now", "amber.canary@ambermail.example.com  now"),
    # ordinary text stays as it was
    ("See the Google Drive folder", "See the Google Drive folder"),
    ("write to ana@example.com, or call", "write to ana@example.com, or call"),
    ("Thanks. ana@example.com wrote", "Thanks. ana@example.com wrote"),
    ("ok. joe@corp.com", "ok. joe@corp.com"),
    ("a | b and 3,5 items", "a | b and 3.5 items"),
    ("Visit www.Gitlab.example.com", "Visit www.Gitlab.example.com"),
])
def test_misreadings_are_undone_and_nothing_else(read: str, meant: str) -> None:
    assert undo_confusions(read) == meant
    assert len(undo_confusions(read)) == len(read)


def test_card_shapes_need_no_checksum() -> None:
    text = "Card 5425 2334 3618 9983 charged, ref 2024-2025 and 1234 5678, 2021 2022 2023 2024"
    assert [text[a:b] for a, b in card_shapes(text)] == ["5425 2334 3618 9983"]
