"""A password prompt on screen: the second signal for terminals, after the pty's echo state.

Over ssh, inside tmux or in a program that reads keys raw, the local pty says nothing: the
prompt the person is answering is only on screen. A terminal's last text line that asks for a
password, passphrase, PIN, token or secret and ends in a colon (a cursor glyph may follow)
makes the burst typed after it a password.
"""

from __future__ import annotations

import re

# The keyword may be glued to the word before it (OCR reads "Enter token:" as "Entertoken:"),
# never to a host name ("ana@pin-server:~$"); a cursor glyph after the colon may be read as up
# to three characters and its colon as ";" or "?", but never a shell prompt's "$ # % >".
_PROMPT = re.compile(
    r"(?<![@.-])(?:password|passphrase|passcode|pin|token|secret|otp|passwort|mot de passe)(?![\w-])"
    r".{0,80}[:：;?]\s*[^\s$#%>]{0,3}\s*$",
    re.IGNORECASE)
# sudo's own prompt has a fixed shape, so its colon may be misread as any one glyph (Tesseract
# reads ``ana:`` before a block cursor as ``anat`` or ``anay`` in xterm's fixed font).
_SUDO = re.compile(r"^\[sudo\]\s*password\s+for\s+[\w.-]+\S?\s*$", re.IGNORECASE)


def is_secret_prompt(line: str) -> bool:
    """``[sudo] password for ana:``, ``Enter passphrase for key '~/.ssh/id_ed25519':``,
    ``Password for 'https://ana@git.example.com':``, ``PIN:`` — not ``pin the tab`` or
    ``Password changed.``"""
    line = line.strip()
    return bool(_PROMPT.search(line) or _SUDO.match(line))
