"""Which terminal lines ask for a secret."""

from __future__ import annotations

import pytest

from deskscribe.redact.prompt import is_secret_prompt


@pytest.mark.parametrize("line", [
    "[sudo] password for ana:", "[sudo] password for ana: ", "Password:", "Password: _",
    "Enter passphrase for key '/home/ana/.ssh/id_ed25519':", "Enter PIN:",
    "Password for 'https://ana@git.example.com':", "Vault token: ", "Client secret:",
    "ana@db01's password:", "Enter OTP:", "Entertoken:|", "Passwort:",
])
def test_prompts_asking_for_a_secret(line: str) -> None:
    assert is_secret_prompt(line)


@pytest.mark.parametrize("line", [
    "Password changed.", "pin the tab to the left", "$ ls passwords/", "token count: 12 tokens left",
    "ana@host:~$", "Passwords: see the wiki page for rotation rules today", "",
    "ana@pin-server:~$", "root@secret-db:/#", "token-count:",
])
def test_ordinary_lines(line: str) -> None:
    assert not is_secret_prompt(line)
