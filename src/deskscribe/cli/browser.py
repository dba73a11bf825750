"""`deskscribe browser ...`: connect the browser extension to the recorder through a native
messaging host."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deskscribe.browser.bundle import chromium_extension_id, extension_dir
from deskscribe.browser.manifests import (
    LAUNCHER_NAME,
    Browser,
    UserDirs,
    installs,
    is_launcher,
    launcher_of,
    launcher_script,
    manifest,
    manifest_path,
    record_install,
    write_launcher,
    write_manifest,
)
from deskscribe.cli.config import DataDirOpt, load_config
from deskscribe.control import request, socket_path
from deskscribe.errors import UserError

if TYPE_CHECKING:
    from deskscribe.doctor import Check

browser_app = typer.Typer(help="Let the browser extension report designated websites to the recorder.",
                          no_args_is_help=True)

def _browser(value: str) -> Browser:
    """One line for a wrong value, as every other flag gets, not Click's usage box."""
    try:
        return Browser(value.lower())
    except ValueError:
        raise UserError(f"--browser is chromium, chrome or firefox, not {value!r}") from None


BrowserOpt = Annotated[str, typer.Option("--browser", metavar="chromium|chrome|firefox",
                                         help="Which browser's host manifest.")]
ProfileOpt = Annotated[Path | None, typer.Option(
    "--user-data-dir", help="A Chromium/Chrome profile directory (--user-data-dir of the browser)"
                            " instead of the user-level location.")]


def user_dirs() -> UserDirs:
    home = Path.home()
    return UserDirs(home=home, config_home=Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config"))


@browser_app.command()
def install(browser_name: BrowserOpt = "chromium", user_data_dir: ProfileOpt = None,
            data_dir: DataDirOpt = None) -> None:
    """Install the native messaging host, so the extension can reach a running recorder."""
    browser = _browser(browser_name)
    target = manifest_path(browser, user_dirs(), user_data_dir=user_data_dir)
    chromium_id = chromium_extension_id() if browser.chromium_based else ""
    cfg = load_config(data_dir)
    launcher = cfg.data_dir.resolve() / LAUNCHER_NAME
    chosen = data_dir.expanduser().resolve() if data_dir is not None else None
    write_launcher(launcher, launcher_script(python=sys.executable, data_dir=chosen))
    write_manifest(target, manifest(browser, launcher=launcher, chromium_id=chromium_id))
    record_install(launcher, target.resolve())
    typer.echo(f"wrote launcher {launcher} (records into {chosen or 'the configured data directory'})")
    typer.echo(f"wrote {browser.value} host manifest {target}")


@browser_app.command()
def uninstall(browser_name: BrowserOpt = "chromium", user_data_dir: ProfileOpt = None) -> None:
    """Remove the host manifest install wrote, and its launcher once no other manifest uses it."""
    browser = _browser(browser_name)
    dirs = user_dirs()
    target = manifest_path(browser, dirs, user_data_dir=user_data_dir)
    if not target.exists():
        typer.echo(f"no {browser.value} host manifest at {target}; nothing to remove")
        return
    launcher = launcher_of(target)
    target.unlink()
    typer.echo(f"removed {browser.value} host manifest {target}")
    if launcher is None or not is_launcher(launcher):
        return
    others = {launcher_of(manifest_path(b, dirs)) for b in Browser} - {None}
    still = record_install(launcher, target.resolve(), forget=True)  # profiles' manifests too
    if launcher not in others and not still:
        launcher.unlink()
        typer.echo(f"removed launcher {launcher}")
    elif still:
        typer.echo(f"kept launcher {launcher}: {len(still)} other manifest(s) name it")


@browser_app.command(hidden=True, context_settings={"ignore_unknown_options": True,
                                                    "allow_extra_args": True})
def host(data_dir: DataDirOpt = None,
         args: Annotated[list[str] | None, typer.Argument(hidden=True)] = None) -> None:
    """Relay between the extension and the running recorder (the browser starts this).

    Browsers pass their own arguments (the caller's origin, a parent window, a manifest path
    and extension id); none of them changes what the host does.
    """
    from deskscribe.browser.native_host import run_host

    cfg = load_config(data_dir)
    # An unbuffered reader of fd 0: the relay's reading thread may still wait in it when the
    # recorder ends the stream, and sys.stdin.buffer's lock would abort interpreter shutdown.
    with open(sys.stdin.fileno(), "rb", buffering=0, closefd=False) as stdin:
        code = run_host(stdin=stdin, stdout=sys.stdout.buffer, control_path=socket_path(cfg.data_dir),
                        stderr=sys.stderr)
    raise typer.Exit(code)


@browser_app.command("extension-path")
def extension_path() -> None:
    """Print the unpacked extension's directory (for the browser's --load-extension)."""
    typer.echo(str(extension_dir()))


def doctor_checks(data_dir: Path) -> list[Check]:
    """The browser checks `deskscribe doctor` prints, with this user's manifest locations."""
    from deskscribe.doctor import check_browser

    dirs = user_dirs()

    def status() -> dict[str, Any]:
        return request(socket_path(data_dir), {"cmd": "status"}, timeout=2.0)

    found = {b.value: manifest_path(b, dirs) for b in Browser}
    for path in installs(data_dir.resolve() / LAUNCHER_NAME):  # profiles' own manifests
        if path not in found.values():
            found[f"chromium --user-data-dir {path.parent.parent}"] = path
    return check_browser(manifests=found, status=status)
