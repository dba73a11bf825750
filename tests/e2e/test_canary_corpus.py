"""A wider canary corpus in real apps nobody here wrote: terminals in light-on-dark, reverse
video, 10 px, 20 px, proportional and coloured text; a GTK editor (mousepad) with a document,
typed text, pasted text and a long line scrolled sideways; a non-designated window kept over a
designated one; a desktop notification. No canary may reach any artefact (store bytes, dump,
recorder output, every export, OCR of every stored frame at 1x and 3x), while the plain text
around the canaries stays readable and typed plain words are never replaced.

One recorded session serves the corpus; a second, short one holds a two-field GTK form."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import regex
from PIL import Image

from deskscribe.vdisplay import VirtualDisplay
from tests.e2e.canary import (
    Apps,
    Box,
    CapturingRecorder,
    Event,
    Reading,
    alnum,
    app_env,
    changed_bands,
    client_box,
    crop,
    dump_frames,
    export_artefacts,
    find_leaks,
    found_words,
    frame_box,
    keep_above,
    locate,
    ocr_inputs,
    pixel_digest,
    read_bands,
    screenshot,
    stored_frame_of,
    tesseract_words,
    trim_box,
    type_line,
    typed_actions,
    typed_stream,
    union_box,
    wait_for,
    windows,
    words,
)
from tests.e2e.conftest import deskscribe

pytestmark = pytest.mark.slow


@dataclass(frozen=True, slots=True)
class Canary:
    value: str
    where: str
    secret: str = ""  # the part that must never show (a key without its public prefix); all if ""


def email(tag: str, where: str) -> Canary:
    return Canary(f"{tag}.canary@{tag}mail.example.com", where)


# -- the corpus --------------------------------------------------------------------------------

NAMES = ["Marigold Canarybrook", "Project Bluecanary", "Oswin Canaryfield", "Tamsin Canaryholt"]
C = {
    # dark terminal, coloured and inverse text
    "dark_card": Canary("4916 3389 0127 4414", "dark terminal, red"),
    "dark_mail": email("amber", "dark terminal, green"),
    "dark_ssn": Canary("621-47-3390", "dark terminal, blue"),
    "dark_key": Canary("sk_live_51DarkCanaryQw8rTu0PLm", "dark terminal, yellow", "51DarkCanaryQw8rTu0PLm"),
    "dark_name": Canary("Marigold Canarybrook", "dark terminal, inverse video"),
    "dark_typed_ssn": Canary("712-58-4409", "dark terminal, typed"),
    # reverse video, 10 px
    "rv_card": Canary("5425 2334 3010 9903", "reverse-video 10 px terminal"),
    "rv_mail": email("tinsley", "reverse-video 10 px terminal"),
    "rv_token": Canary("Zx9QrT7Lp2W88aaKv3mN", "reverse-video 10 px terminal"),
    "rv_name": Canary("Project Bluecanary", "reverse-video 10 px terminal; editor document"),
    # core font 10x20
    "big_card": Canary("4539 1488 0343 6467", "20 px terminal"),
    "big_mail": email("huge", "20 px terminal"),
    "big_key": Canary("AKIAQ7CANARY3XZ5W2LM", "20 px terminal", "Q7CANARY3XZ5W2LM"),
    "big_name": Canary("Oswin Canaryfield", "20 px terminal; typed in the editor"),
    "big_password": Canary("Heron-Canary-6620!", "20 px terminal, typed at openssl passwd"),
    # proportional font
    "prop_card": Canary("6011 0009 9013 9424", "proportional terminal"),
    "prop_mail": email("prop", "proportional terminal"),
    "prop_jwt": Canary("eyJhbGciOiJIUzI1NiJ9.eyJjYW5hcnkiOiJwcm9wIn0.UHJvcENhbmFyeVNpZw",
                       "proportional terminal", "eyJjYW5hcnkiOiJwcm9wIn0.UHJvcENhbmFyeVNpZw"),
    "prop_ssn": Canary("283-61-9047", "proportional terminal"),
    "prop_password": Canary("Tulip-Canary-5528", "proportional terminal, typed at a read -s prompt"),
    # core font 6x10
    "small_card": Canary("4024 0071 5336 2289", "6x10 terminal"),
    "small_mail": email("smalley", "6x10 terminal"),
    "small_name": Canary("Tamsin Canaryholt", "6x10 terminal, shown and typed"),
    "small_typed_card": Canary("5105 1051 9234 8720", "6x10 terminal, typed"),
    # the editor's document, with a long line scrolled sideways
    "scroll_mail": email("scroll", "editor, long line scrolled sideways"),
    "scroll_card": Canary("4485 7392 0617 2842", "editor, long line scrolled sideways"),
    "doc_mail": email("editor", "editor document"),
    "doc_card": Canary("4556 1293 8847 7165", "editor document"),
    "doc_token": Canary("ghp_EditorCanary7Qm2Xw9Lp4Zr8Tn5Kd", "editor document",
                        "EditorCanary7Qm2Xw9Lp4Zr8Tn5Kd"),
    "doc_ssn": Canary("478-21-6653", "editor document"),
    # typed into the editor
    "typed_mail": email("typed", "typed into the editor"),
    "typed_card": Canary("4716 6204 8810 3351", "typed into the editor"),
    # pasted into the editor from a non-designated window
    "paste_token": Canary("glpat-ClipCanary7xQ2mWz9Lk4", "pasted into the editor", "ClipCanary7xQ2mWz9Lk4"),
    "paste_mail": email("paisley", "pasted into the editor"),
    # a non-designated window kept over the terminals
    "overlay_key": Canary("xoxb-4821-Canary-Overlay-9Qz", "non-designated window on top",
                          "4821-Canary-Overlay-9Qz"),
    "overlay_mail": email("overlay", "non-designated window on top"),
    "overlay_ssn": Canary("389-14-7025", "non-designated window on top"),
    # a notification over the editor
    "notify_card": Canary("4929 1827 3645 5011", "notification"),
    "notify_mail": email("notify", "notification"),
    "notify_key": Canary("AIzaSyNotifyCanary4Lm9Qx2Wz7Rt5Kp8Vb3", "notification",
                         "SyNotifyCanary4Lm9Qx2Wz7Rt5Kp8Vb3"),
}

ESC = "\x1b["
RED, GREEN, YELLOW, BLUE, CYAN, INVERSE, RESET = (f"{ESC}{n}m" for n in (31, 32, 33, 34, 36, 7, 0))


def v(key: str) -> str:
    return C[key].value


@dataclass(frozen=True, slots=True)
class Terminal:
    title: str
    options: tuple[str, ...]
    shown: str  # the file the terminal shows with cat
    typed: tuple[str, ...] = ()  # lines typed after it; a line in typed_secret is a password
    typed_secret: tuple[str, ...] = ()


TERMINALS = [
    Terminal("dark ledger", ("-bg", "black", "-fg", "white", "-fa", "DejaVu Sans Mono", "-fs", "11"),
             f"Warehouse inventory for the northern depot\n"
             f"{RED}Card on file {v('dark_card')} verified{RESET}\n"
             f"{GREEN}Courier contact {v('dark_mail')}{RESET}\n"
             f"{BLUE}Audit reference {v('dark_ssn')} filed{RESET}\n"
             f"{YELLOW}Deploy key {v('dark_key')}{RESET}\n"
             f"{INVERSE}Approved by {v('dark_name')} yesterday{RESET}\n"
             f"{CYAN}Pallets shipped on schedule{RESET}\n",
             typed=(f"echo ssn {v('dark_typed_ssn')} for lavender orchard",)),
    Terminal("reverse ledger", ("-rv", "-fa", "DejaVu Sans Mono", "-fs", "7"),
             f"Tiny print ledger for harbour supplies\n"
             f"Card {v('rv_card')} charged yesterday\n"
             f"Billing contact {v('rv_mail')} confirmed\n"
             f"Signing token {v('rv_token')} rotated weekly\n"
             f"Reviewed by {v('rv_name')} committee\n"),
    Terminal("bulletin board", ("-fn", "10x20"),
             f"Large print bulletin board\n"
             f"Card {v('big_card')} on hold\n"
             f"Write to {v('big_mail')}\n"
             f"Access key {v('big_key')} expired\n"
             f"Contact {v('big_name')} tomorrow\n",
             typed=("openssl passwd", v("big_password"), v("big_password"), "echo password stored"),
             typed_secret=(v("big_password"),)),
    Terminal("garden memo", ("-fa", "DejaVu Sans", "-fs", "11"),
             f"Proportional memo about garden furniture\n"
             f"Card {v('prop_card')} for the benches\n"
             f"Reply to {v('prop_mail')} soon\n"
             f"Session {v('prop_jwt')}\n"
             f"Claim number {v('prop_ssn')} pending\n",
             typed=("read -rsp 'Vault password: ' pw; echo", v("prop_password"), "echo vault opened"),
             typed_secret=(v("prop_password"),)),
    Terminal("stock list", ("-fn", "6x10"),
             f"Small core font stock list\n"
             f"Card {v('small_card')} for spares\n"
             f"Ping {v('small_mail')} today\n"
             f"Signed {v('small_name')}\n",
             typed=(f"echo card {v('small_typed_card')} paid by {v('small_name')}",)),
]
ROUTE = ("Route plan: north pier then the old granary past the ferry terminal and the lighthouse "
         f"road to {v('scroll_mail')} card {v('scroll_card')} and onwards along the seawall "
         "promenade beside the fishmarket, the boatyard, the chandlery and the harbour office")
DOC = (f"Shipping notes for the spring catalogue\n{ROUTE}\n"
       f"Invoice contact {v('doc_mail')}\n"
       f"Card {v('doc_card')} on the account\n"
       f"Token {v('doc_token')}\n"
       f"Claimant SSN {v('doc_ssn')}\n"
       f"Reviewed by {v('rv_name')}\n"
       "Closing remarks about the lighthouse repairs\n")
EDITOR_TYPED = ["Meeting notes from the harbour office",
                f"Forward receipts to {v('typed_mail')} please",
                f"Corporate card {v('typed_card')} expires soon",
                f"Ask {v('big_name')} about the lighthouse keys",
                "Final remarks without secrets"]
EDITOR_TYPED_LATER = ["Notification arrived while typing"]
CLIP = f"Pasted deploy token {v('paste_token')} for {v('paste_mail')}"
OVERLAY = f"Overlay chat {v('overlay_key')} from {v('overlay_mail')} SSN {v('overlay_ssn')}"
NOTIFY = f"Card {v('notify_card')} for {v('notify_mail')} key {v('notify_key')}"
MAGENTA = (255, 0, 255)  # the notification's colours: no stored pixel may have them
DUNSTRC = """[global]
    font = Monospace 10
    width = 360
    origin = top-right
    offset = 10x60
    frame_width = 3
    frame_color = "#ff00ff"
[urgency_low]
    background = "#ff00ff"
    foreground = "#ffffff"
[urgency_normal]
    background = "#ff00ff"
    foreground = "#ffffff"
[urgency_critical]
    background = "#ff00ff"
    foreground = "#ffffff"
"""
POLICY = f"""
version = "corpus-1"
designated_apps = ["XTerm", "Mousepad"]
screenshot_interval_s = 1
deny_list = {json.dumps(NAMES)}
"""


def strip_values(text: str) -> str:
    """A corpus line without its canaries and colour codes: what must stay readable."""
    text = re.sub(r"\x1b\[\d+m", "", text)
    for c in sorted(C.values(), key=lambda c: -len(c.value)):
        text = text.replace(c.value, " ")
    return text


def plain_words(*texts: str) -> list[str]:
    out: list[str] = []
    for t in texts:
        out += [w.casefold() for w in words(strip_values(t))]
    return list(dict.fromkeys(out))


UI_TEXT = ["File Edit Search View Document Help", "Warning: you are using the root account. You may harm "
           "your system.", "bash-5.2#", "Password:", "Verifying - Password:", "Payment alert", "Team chat",
           "Clipboard source", "Mousepad", "dark ledger", "reverse ledger", "bulletin board", "garden memo",
           "stock list", "<CREDIT_CARD> <EMAIL_ADDRESS> <US_SSN> <SECRET> <NAME> <PASSWORD>"]


def _needles() -> dict[str, list[Canary]]:
    """Each run of 8 letters and digits of each canary, with the canaries spelling it (within one
    character: OCR readings are compared that loosely). Left out: runs ordinary text of the
    corpus or the apps spells too, and runs shared by three or more canaries ("example.com",
    "canary" with a letter or two around it), which say nothing about which value leaked."""
    texts = [t.shown for t in TERMINALS] + [x for t in TERMINALS for x in t.typed] + [
        DOC, CLIP, OVERLAY, NOTIFY, *EDITOR_TYPED, *EDITOR_TYPED_LATER, *UI_TEXT]
    plain = " ".join(alnum(strip_values(t)) for t in texts)
    out: dict[str, list[Canary]] = {}
    for c in C.values():
        for w in windows(c.secret or c.value):
            if w in out or regex.search(f"(?:{w}){{e<=1}}", plain):
                continue
            owners = [o for o in C.values() if regex.search(f"(?:{w}){{e<=1}}", alnum(o.value))]
            if len(owners) <= 2:
                out[w] = owners
    missing = [c.value for c in C.values() if not any(c in owners for owners in out.values())]
    assert not missing, f"canaries without a needle: {missing}"
    return out


SHOWN_PLAIN = plain_words(*(t.shown for t in TERMINALS), DOC, *EDITOR_TYPED, *EDITOR_TYPED_LATER,
                          strip_values(CLIP))
NEEDLE_OF = _needles()
NEEDLES = list(NEEDLE_OF)
# Words next to canaries, in fonts Tesseract reads whole: redaction must leave them visible.
ANCHORS = ["courier", "reference", "deploy", "approved", "pallets", "billing", "signing",
           "bulletin", "access", "proportional", "benches", "reply", "invoice", "claimant",
           "closing", "forward", "receipts", "corporate", "expires", "pasted", "granary"]


@dataclass
class Corpus:
    rec: CapturingRecorder
    tmp: Path
    boxes: dict[str, Box]  # the designated areas read by OCR
    blacked: dict[str, Box]  # non-designated windows (with their title bars) on screen throughout
    # The real screen (memory only: it shows every canary) when a window settled, with the
    # designated area that changed: the stored frame of that moment must show its plain words.
    checkpoints: list[tuple[Box, np.ndarray]] = field(default_factory=list)
    typed: list[str] = field(default_factory=list)  # every plain line typed, as typed
    notification_box: Box | None = None

    def checkpoint(self, vd: VirtualDisplay, box: Box, *hidden: Box) -> None:
        """Keep the real pixels of ``box`` with the non-designated windows over it (``blacked``
        and ``hidden``) made black, as a stored frame shows them."""
        shot = screenshot(vd)
        for x, y, w, h in (*self.blacked.values(), *hidden):
            shot[max(0, y):y + h, max(0, x):x + w] = 0
        self.checkpoints.append((box, crop(shot, box).copy()))


# -- recording -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    tmp = tmp_path_factory.mktemp("corpus")
    vd = VirtualDisplay(width=1280, height=800).start()
    apps = Apps(vd, app_env(vd, tmp / "home"))
    try:
        yield _record_corpus(vd, apps, tmp)
    finally:
        apps.stop()
        vd.stop()


def _record_corpus(vd: VirtualDisplay, apps: Apps, tmp: Path) -> Corpus:
    (tmp / "dunstrc").write_text(DUNSTRC)
    (tmp / "doc.txt").write_text(DOC)
    (tmp / "clip.txt").write_text(CLIP + "\n")
    (tmp / "policy.toml").write_text(POLICY)
    apps.spawn(["dunst", "-config", str(tmp / "dunstrc")])
    terms: list[str] = []
    for i, term in enumerate(TERMINALS):
        (tmp / f"t{i}.txt").write_text(term.shown)
        apps.spawn(["xterm", "-T", term.title, *term.options, "-e", "bash", "--norc", "--noprofile"],
                   cwd=tmp)
        win = vd.wait_window(name=f"^{term.title}$")
        vd.xdotool("windowmove", "--sync", win, "0", "0")
        vd.xdotool("windowsize", "--sync", win, "630", "760")
        terms.append(win)
    apps.spawn(["mousepad", str(tmp / "doc.txt")])
    editor = vd.wait_window(cls="Mousepad")
    vd.xdotool("windowmove", "--sync", editor, "640", "0")
    vd.xdotool("windowsize", "--sync", editor, "640", "540")
    apps.spawn(["zenity", "--info", "--width", "420", "--title", "Team chat", "--text", OVERLAY])
    overlay = vd.wait_window(name="^Team chat$")
    vd.xdotool("windowmove", "--sync", overlay, "150", "560")
    keep_above(vd, overlay)
    apps.spawn(["zenity", "--text-info", "--title", "Clipboard source", "--filename", str(tmp / "clip.txt"),
                "--width", "600", "--height", "150"])
    clip = vd.wait_window(name="^Clipboard source$")
    vd.xdotool("windowmove", "--sync", clip, "660", "620")
    time.sleep(0.5)
    shot = screenshot(vd)
    for win in (overlay, clip):  # the scenario really has them on screen
        x, y, w, h = client_box(vd, win)
        assert shot[y:y + h, x:x + w].any(), f"window {win} is not visible"
    corpus = Corpus(
        rec=CapturingRecorder(vd=vd, data_dir=tmp / "data", policy=tmp / "policy.toml"), tmp=tmp,
        boxes={"terminal": union_box(client_box(vd, w) for w in terms), "editor": client_box(vd, editor)},
        blacked={"overlay": frame_box(vd, overlay), "clipboard source": frame_box(vd, clip)})
    rec = corpus.rec
    vd.activate(terms[0])
    rec.start()
    try:
        for i, (term, win) in enumerate(zip(TERMINALS, terms, strict=True)):
            vd.activate(win)
            time.sleep(0.3)
            type_line(vd, f"cat t{i}.txt", settle=0.6)
            corpus.typed.append(f"cat t{i}.txt")
            for line in term.typed:
                type_line(vd, line, settle=0.8)
                if line not in term.typed_secret:
                    corpus.typed.append(line)
            time.sleep(1.3)  # a periodic frame of the terminal as it is now
            corpus.checkpoint(vd, client_box(vd, win))

        vd.activate(editor)
        vd.xdotool("key", "ctrl+End")
        time.sleep(0.3)
        for line in EDITOR_TYPED:
            type_line(vd, line, settle=0.4)
        corpus.typed += EDITOR_TYPED
        time.sleep(1.3)
        corpus.checkpoint(vd, corpus.boxes["editor"])

        apps.run(["notify-send", "-t", "4000", "Payment alert", NOTIFY])
        wait_for(lambda: bool(vd.xdotool("search", "--onlyvisible", "--class", "Dunst")), "the notification")
        time.sleep(0.5)
        shot = screenshot(vd)
        magenta = (shot == MAGENTA).all(axis=2)
        assert magenta.sum() > 1000, "the notification did not show"
        ys, xs = np.nonzero(magenta)
        corpus.notification_box = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                   int(ys.max() - ys.min() + 1))
        ex, ey, ew, eh = corpus.boxes["editor"]
        nx, ny, nw, _ = corpus.notification_box
        assert ex <= nx and nx + nw <= ex + ew and ey <= ny < ey + eh, "the notification misses the editor"
        for line in EDITOR_TYPED_LATER:
            type_line(vd, line, settle=0.4)
        corpus.typed += EDITOR_TYPED_LATER
        time.sleep(1.5)  # periodic frames while the notification is up
        corpus.checkpoint(vd, corpus.boxes["editor"], corpus.notification_box)
        wait_for(lambda: not vd.xdotool("search", "--onlyvisible", "--class", "Dunst"),
                 "the notification to close")
        time.sleep(1.2)

        vd.activate(clip)  # copy in a non-designated window, paste in the designated editor
        vd.xdotool("key", "ctrl+a")
        vd.xdotool("key", "ctrl+c")
        time.sleep(0.3)
        vd.activate(editor)
        vd.xdotool("key", "ctrl+End")
        vd.xdotool("key", "ctrl+v")
        time.sleep(1.5)
        corpus.checkpoint(vd, corpus.boxes["editor"])

        # The long line, scrolled sideways a few characters at a time: its e-mail address and
        # card number enter at the right edge, cross the middle and leave at the left edge.
        vd.xdotool("key", "ctrl+Home")
        vd.xdotool("key", "Down")
        vd.xdotool("key", "End")
        time.sleep(1.1)
        ex, ey, ew, eh = corpus.boxes["editor"]
        vd.xdotool("mousemove", "--sync", str(ex + ew // 2), str(ey + eh // 2))
        for step in range(16):
            vd.xdotool("click", "--repeat", "3", "--delay", "20", "6")
            time.sleep(0.65)
            if step % 4 == 1:
                corpus.checkpoint(vd, corpus.boxes["editor"])
        time.sleep(1.2)
        corpus.checkpoint(vd, corpus.boxes["editor"])  # the state the session ends on
        rec.stop()
    finally:
        rec.kill()
    return corpus


@pytest.fixture(scope="module")
def events(corpus: Corpus) -> list[Event]:
    return corpus.rec.dump()


@pytest.fixture(scope="module")
def frames(corpus: Corpus) -> list[tuple[str, np.ndarray]]:
    out = dump_frames(corpus.rec, corpus.tmp / "frames")
    assert len(out) >= 20, f"only {len(out)} frames stored"
    return out


@pytest.fixture(scope="module")
def readings(corpus: Corpus, frames: list[tuple[str, np.ndarray]]) -> list[Reading]:
    """Every distinct band of every stored frame, read at 1x and 3x."""
    return read_bands(changed_bands(frames, corpus.boxes), scales=(1, 3))


@pytest.fixture(scope="module")
def exports(corpus: Corpus) -> dict[str, tuple[str, list[bytes]]]:
    out = {}
    for fmt in ("jsonl", "chat", "hf"):
        path = corpus.tmp / f"export-{fmt}"
        deskscribe("build", "--format", fmt, "--out", str(path), "--data-dir", str(corpus.rec.data_dir))
        out[fmt] = export_artefacts(path)
    return out


def ocr_leaks(text: str) -> list[str]:
    """Needles of the canaries an OCR reading shows: one run spelled exactly, or two runs within
    one character each (a part of a value cut at an edge, misread once, still counts; a plain
    word misread into one run, "Small core" read as "smallcon", does not)."""
    flat = alnum(text)
    found = find_leaks(text, NEEDLES, ocr_errors=1)
    by_canary: dict[str, list[str]] = {}
    for n in found:
        for c in NEEDLE_OF[n]:
            by_canary.setdefault(c.value, []).append(n)
    return list(dict.fromkeys(n for ns in by_canary.values() if len(ns) >= 2 or any(n in flat for n in ns)
                              for n in ns))


def _leaked(text: str, found: list[str]) -> list[tuple[Canary, str]]:
    """The leaked canaries, the one with most runs spelled exactly first, each with a line of
    evidence; a canary whose runs are all explained by one listed before it (two values sharing
    a few letters) is left out."""
    flat = alnum(text)
    hits: dict[str, list[str]] = {}
    for n in found:
        for c in NEEDLE_OF[n]:
            hits.setdefault(c.value, []).append(n)
    ranked = sorted(hits.items(), key=lambda kv: (-sum(n in flat for n in kv[1]), -len(kv[1])))
    out: list[tuple[Canary, str]] = []
    explained: set[str] = set()
    for value, needles in ranked:
        if set(needles) <= explained:
            continue
        explained |= set(needles)
        exact = [n for n in needles if n in flat]
        canary = next(c for c in C.values() if c.value == value)
        shown = locate(text, exact[0] if exact else needles[0])
        out.append((canary, f"{value!r} [{canary.where}]: {len(exact)} exact / {len(needles)} runs: "
                            f"...{shown!r}..."))
    return out


def _evidence(text: str, found: list[str]) -> list[str]:
    return [line for _, line in _leaked(text, found)]


# -- session A: nothing leaks ------------------------------------------------------------------------


def test_store_dump_and_recorder_output_hold_no_canary(corpus: Corpus, events: list[Event]) -> None:
    rec = corpus.rec
    problems: dict[str, list[str]] = {}
    raw = b"".join(p.read_bytes() for p in sorted(rec.data_dir.rglob("*")) if p.is_file())
    # Timestamps are long numbers: a card's eight digits could turn up in one by chance.
    dump = json.dumps([{k: v for k, v in e.items() if not isinstance(v, int)} for e in events])
    for name, text in (("data directory bytes", raw.decode("latin-1")), ("sessions dump", dump),
                       ("typed text rebuilt from the dump", typed_stream(events)),
                       ("recorder stdout", rec.stdout), ("recorder stderr", rec.stderr)):
        found = find_leaks(text, NEEDLES)
        if found:
            problems[name] = _evidence(text, found)
    assert not problems, json.dumps(problems, indent=1)


def test_no_export_holds_a_canary(exports: dict[str, tuple[str, list[bytes]]],
                                  frames: list[tuple[str, np.ndarray]], corpus: Corpus) -> None:
    problems: dict[str, list[str]] = {}
    stored = {pixel_digest(rgb) for _, rgb in frames}
    unknown: list[tuple[str, np.ndarray]] = []
    for fmt, (text, images) in exports.items():
        assert text and images, f"{fmt}: empty export"
        found = find_leaks(text, NEEDLES)
        if found:
            problems[fmt] = _evidence(text, found)
        for i, data in enumerate(images):
            rgb = np.array(Image.open(io.BytesIO(data)).convert("RGB"))
            if pixel_digest(rgb) not in stored:
                unknown.append((f"{fmt}-image-{i}", rgb))
    # an exported image that is not a stored frame pixel for pixel is read like one
    for r in read_bands(changed_bands(unknown, corpus.boxes), scales=(3,)):
        found = ocr_leaks(r.text)
        if found:
            problems.setdefault("export images", []).extend(
                f"{r.where()}: {e}" for e in _evidence(r.text, found))
    assert not problems, json.dumps(problems, indent=1)
    assert "<CREDIT_CARD>" in exports["jsonl"][0] and "<EMAIL_ADDRESS>" in exports["jsonl"][0]


def test_no_stored_frame_shows_a_canary_to_ocr(readings: list[Reading]) -> None:
    # per place in a frame and canary: how it was read, and what the 3x reading (else 1x) says
    seen: dict[tuple[str, str], tuple[list[str], str]] = {}
    for r in sorted(readings, key=lambda r: -r.scale):
        for canary, line in _leaked(r.text, ocr_leaks(r.text)):
            seen.setdefault((f"{r.frame} {r.box}@y{r.top}", canary.value), ([], line))[0].append(
                f"{r.scale}x {r.polarity}")
    bad = [f"{place}: read at {', '.join(sorted(ways))}: {evidence}"
           for (place, _), (ways, evidence) in sorted(seen.items())]
    scales = {r.scale for r in readings}
    assert scales == {1, 3} and len(readings) >= 20
    assert not bad, "\n".join(bad)


def test_non_designated_windows_and_the_notification_are_black(
        corpus: Corpus, frames: list[tuple[str, np.ndarray]]) -> None:
    problems = []
    for name, rgb in frames:
        for what, box in corpus.blacked.items():
            lit = int(crop(rgb, box).any(axis=2).sum())
            if lit:
                problems.append(f"{name}: {lit} pixels of the {what} window are not black")
        magenta = int((rgb == MAGENTA).all(axis=2).sum())
        if magenta:
            problems.append(f"{name}: {magenta} pixels in the notification's colour")
    assert not problems, "\n".join(problems)
    # the designated windows beside them were stored
    ex, ey, ew, eh = corpus.boxes["editor"]
    assert any(rgb[ey:ey + eh, ex:ex + ew].any() for _, rgb in frames)


def test_plain_text_around_canaries_stays_readable(
        corpus: Corpus, frames: list[tuple[str, np.ndarray]], readings: list[Reading]) -> None:
    """Over-redaction on screen. At each checkpoint the real screen is read with word boxes, and
    the stored frame of the same moment (equal to it in every pixel it did not box) is looked
    at there: a plain word of the corpus under a redaction box was hidden for nothing. The words
    next to canaries (ANCHORS) must survive; every hidden corpus word is counted."""
    jobs: list[tuple[str, np.ndarray, np.ndarray]] = []
    for i, (box, real) in enumerate(corpus.checkpoints):
        name = stored_frame_of(real, [(n, crop(rgb, box)) for n, rgb in frames])
        area = trim_box(real)
        if name is None or area is None:
            continue
        x, y, w, h = area
        stored = crop(dict(frames)[name], box)[y:y + h, x:x + w]
        label = f"checkpoint {i} = {name} at {box}"
        jobs += [(label, gray, stored) for _, gray in ocr_inputs(real[y:y + h, x:x + w])]
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(lambda job: tesseract_words(job[1]), jobs))
    plain = set(SHOWN_PLAIN)
    hidden: dict[str, set[str]] = {}
    for (label, _, stored), real_words in zip(jobs, found, strict=True):
        boxed = (stored == 128).all(axis=2)
        for text, (x, y, w, h) in real_words:
            word = re.sub(r"[^a-z]", "", text.casefold())
            part_of_value = "@" in text or "canary" in word or any(ch.isdigit() for ch in text)
            if word in plain and not part_of_value and boxed[y:y + h, x:x + w].mean() > 0.3:
                hidden.setdefault(label, set()).add(word)
    matched = len({label for label, _, _ in jobs})
    unmatched = [i for i in range(len(corpus.checkpoints)) if not any(
        label.startswith(f"checkpoint {i} =") for label, _, _ in jobs)]
    union = found_words((r.text for r in readings), SHOWN_PLAIN)
    count = len(set().union(*hidden.values())) if hidden else 0
    report = (f"on-screen over-redaction: {count} plain words of {len(SHOWN_PLAIN)} under redaction boxes "
              f"at {len(hidden)} of {matched} checkpoints matched to a stored frame (unmatched: {unmatched}): "
              f"{ {k: sorted(v) for k, v in hidden.items()} }; "
              f"never read in any stored frame: {sorted(set(SHOWN_PLAIN) - union)}")
    print(report)
    assert matched >= 6, f"only {matched} of {len(corpus.checkpoints)} checkpoints have their frame"
    problems = [f"anchor words read in no stored frame: {sorted(set(ANCHORS) - union)}"
                ] if set(ANCHORS) - union else []
    problems += [f"anchor words boxed at {k}: {sorted(ws & set(ANCHORS))}"
                 for k, ws in hidden.items() if ws & set(ANCHORS)]
    assert not problems, "\n".join([*problems, report])


def test_typed_plain_words_are_kept_and_canaries_replaced(
        corpus: Corpus, events: list[Event], exports: dict[str, tuple[str, list[bytes]]]) -> None:
    """Over-redaction in typed text: every plain word of every typed line must come out as
    typed, in the dump's keys and text events and in the dataset's ``type`` actions."""
    stream = typed_stream(events)
    actions = [json.loads(line)["action"] for line in exports["jsonl"][0].splitlines()
               if line.startswith("{") and '"action"' in line]
    replayed = typed_actions(actions)
    dump_words = set(re.findall(r"[a-z]+", stream.casefold()))
    action_words = set(re.findall(r"[a-z]+", replayed.casefold()))
    wanted = plain_words(*corpus.typed)
    over_dump = [w for w in wanted if w not in dump_words]
    over_actions = [w for w in wanted if w not in action_words]
    print(f"typed plain words: {len(wanted)}, replaced in the dump: {len(over_dump)} {over_dump}, "
          f"in type actions: {len(over_actions)} {over_actions}")
    assert over_dump == [], (over_dump, stream)
    assert over_actions == [], (over_actions, replayed)
    lines = set(stream.splitlines())
    for expected in ("echo ssn <US_SSN> for lavender orchard", "Forward receipts to <EMAIL_ADDRESS> please",
                     "Corporate card <CREDIT_CARD> expires soon", "Ask <NAME> about the lighthouse keys",
                     "echo card <CREDIT_CARD> paid by <NAME>", *EDITOR_TYPED[:1], *EDITOR_TYPED[-1:]):
        assert expected in lines, (expected, stream)
        assert expected in replayed.splitlines(), (expected, replayed)


def test_terminal_passwords_become_placeholders(events: list[Event]) -> None:
    """Twice at ``openssl passwd`` (password and verification), once at a ``read -s`` prompt."""
    texts = [str(e["text"]) for e in events if e["kind"] == "text"]
    assert texts.count("<PASSWORD>") == 3, texts


# -- session B: a two-field GTK form --------------------------------------------------------------

FORM_TOKEN = "ghp_FormCanary0123456789abcdefXYZ"
FORM_NEEDLES = ["formcanary", "0123456789abcdef"]
FORM_POLICY = """
version = "corpus-form-1"
designated_apps = ["Zenity"]
screenshot_interval_s = 1
"""


@pytest.fixture(scope="module")
def form_events(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Event]]:
    tmp = tmp_path_factory.mktemp("form")
    (tmp / "policy.toml").write_text(FORM_POLICY)
    vd = VirtualDisplay(width=1024, height=700).start()
    apps = Apps(vd, app_env(vd, tmp / "home"))
    try:
        apps.spawn(["zenity", "--forms", "--title", "Expense claim", "--text", "New claim",
                    "--add-entry", "Reference", "--add-entry", "Note"])
        form = vd.wait_window(name="^Expense claim$")
        rec = CapturingRecorder(vd=vd, data_dir=tmp / "data", policy=tmp / "policy.toml")
        vd.activate(form)
        time.sleep(0.5)
        rec.start()
        try:
            type_line(vd, FORM_TOKEN, enter=False)
            vd.xdotool("key", "Tab")
            time.sleep(0.3)
            type_line(vd, "meet me at noon", enter=False)
            vd.xdotool("key", "Tab")  # on to the form's next control: the burst ends there
            time.sleep(0.8)
            rec.stop()
        finally:
            rec.kill()
        yield rec.dump()
    finally:
        apps.stop()
        vd.stop()


def test_form_secret_does_not_leak(form_events: list[Event]) -> None:
    text = json.dumps(form_events) + "\n" + typed_stream(form_events)
    assert [n for n in FORM_NEEDLES if n in alnum(text)] == [], text


def test_plain_words_in_the_next_form_field_are_kept(form_events: list[Event]) -> None:
    """A secret in one field must not take the next field's plain words with it: Tab moves to
    another field, so its text is no continuation of the secret's line."""
    typed = typed_stream(form_events)
    texts = [str(e["text"]) for e in form_events if e["kind"] == "text"]
    assert "<SECRET>" in texts, texts
    assert "meet me at noon" in typed, (typed, texts)
