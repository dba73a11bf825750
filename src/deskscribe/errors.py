"""Every failure deskscribe expects, under one root.

The command line turns any :class:`DeskscribeError` into one line and exit status 2, so a new
failure joins the tree here instead of a hand-kept list of classes to catch. The message is
written for the person who sees it: what went wrong and what to do.

::

    DeskscribeError
    ├── UserError                 a flag, config file or argument that cannot be used
    ├── PolicyError               a policy document that cannot be used (also a ValueError)
    ├── SchemaError               an event or session record off the contract (also a ValueError)
    ├── StoreError                a local session that cannot be read or written
    ├── DataKeyError              the contributor's data key is missing, unreadable or wrong
    ├── ControlError              no running recorder answers on the control socket
    │   └── RecorderNotRunning        nothing listens: no recorder runs for that data directory
    ├── NativeMessageTooLarge     a message over the browser's native messaging size limit
    ├── Unavailable               this machine lacks something a command needs
    │   ├── CaptureUnavailable        no display, Wayland, a missing X extension
    │   ├── AccessibilityUnavailable  no AT-SPI bus
    │   ├── OcrUnavailable            no OCR engine or model
    │   └── VirtualDisplayError       Xvfb or the window manager would not start
    ├── CollectorClientError      talking to a collector failed (the client side)
    │   ├── CollectorUnreachable      the network or the collector stayed down through retries
    │   ├── CollectorRefused          the collector answered with a refusal; ``status`` says which
    │   └── CollectorAnswerInvalid    what answered is not a collector's API (a wrong address?)
    ├── CollectorError            a request the collector refuses (the server side); ``status``
    │   ├── Invalid (400)  Unauthorised (401)  Forbidden (403)  NotFound (404)  Conflict (409)
    ├── ReplayError               an export that cannot be replayed
    └── DemoError                 the demo cannot run where it was asked to
"""

from __future__ import annotations


class DeskscribeError(Exception):
    """The root: caught once, at the command line, and shown as one line."""


class UserError(DeskscribeError):
    """Shown as one line; exit status 2."""


class PolicyError(DeskscribeError, ValueError):
    """The policy file cannot be used; the message says what to fix."""


class SchemaError(DeskscribeError, ValueError):
    """An event or session record does not follow the contract."""


class StoreError(DeskscribeError):
    """A session cannot be read or written; the message names the session and the fix."""


class DataKeyError(DeskscribeError):
    """The data key is missing, unreadable or wrong; the message says what to do."""


class ControlError(DeskscribeError):
    """No recorder answers on the control socket, or it answered with an error."""


class RecorderNotRunning(ControlError):
    """Nothing listens on the control socket, so the fix is to start a recorder."""


class NativeMessageTooLarge(DeskscribeError):
    """The browser would cut the connection on a message this large, so it is never written."""


class Unavailable(DeskscribeError):
    """Something this machine lacks; the message says what to install or start."""


class CaptureUnavailable(Unavailable):
    """Capture cannot start here (no display, Wayland, missing extension); says what to do."""


class AccessibilityUnavailable(Unavailable):
    """The desktop's accessibility bus cannot be reached."""


class OcrUnavailable(Unavailable):
    """No OCR engine here; the message says what to install."""


class VirtualDisplayError(Unavailable):
    """A virtual desktop (Xvfb and its window manager) could not be started."""


class CollectorClientError(DeskscribeError):
    """Talking to a collector failed; the message says whether to retry or what to fix."""


class CollectorUnreachable(CollectorClientError):
    """The collector could not be reached, or kept failing, through every retry."""


class CollectorRefused(CollectorClientError):
    """The collector answered and refused; retrying the same request will not help."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class CollectorAnswerInvalid(CollectorClientError):
    """Something answered, but not with the collector's API: usually a wrong address."""


class CollectorError(DeskscribeError):
    """A request the collector refuses; ``status`` is the HTTP status it answers with."""

    status = 400


class Invalid(CollectorError):
    status = 400


class Unauthorised(CollectorError):
    status = 401


class Forbidden(CollectorError):
    status = 403


class NotFound(CollectorError):
    status = 404


class Conflict(CollectorError):
    status = 409


class ReplayError(DeskscribeError):
    """An export that cannot be replayed, or a replay desktop that cannot be set up."""


class DemoError(DeskscribeError):
    """The demo cannot run where it was asked to."""
