"""Configuration: config.toml, the data directory and the data key's home; the only reader of
environment and config files."""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from deskscribe.datadir import DataDir
from deskscribe.errors import UserError
from deskscribe.keystore import FileKeyBackend, KeyBackend, KeyringBackend, os_keyring_available
from deskscribe.notice import LEDGER_NAME, Ledger
from deskscribe.policy import unknown_key

DEFAULT_BUDGET_MB = 2048
DEFAULT_MIN_FREE_MB = 500


DEFAULT_HOTKEY = "ctrl+alt+shift+p"


@dataclass(frozen=True)
class Config:
    data_dir: Path
    key_store: str
    storage_budget_bytes: int
    min_free_bytes: int
    pause_hotkey: str = DEFAULT_HOTKEY
    policy_refresh_s: float = 900.0
    collector_blobs: str | None = None  # a directory or s3://BUCKET[/PREFIX]
    s3_endpoint_url: str | None = None  # an S3-compatible server; AWS's when unset


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(os.environ.get("DESKSCRIBE_CONFIG", Path(base) / "deskscribe" / "config.toml"))


def load_config(data_dir: Path | None) -> Config:
    path = config_path()
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise UserError(f"config file {path} is not valid TOML: {exc}") from None
    _check_keys(raw, path)
    rec = raw.get("recorder", {})
    default_dir = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "deskscribe"
    key_store = str(rec.get("key_store", "auto"))
    if key_store not in ("auto", "file", "keyring"):
        raise UserError(f"{path}: key_store must be auto, file or keyring, not {key_store!r}")
    return Config(
        data_dir=(data_dir or Path(rec.get("data_dir", default_dir))).expanduser(),
        key_store=key_store,
        storage_budget_bytes=int(rec.get("storage_budget_mb", DEFAULT_BUDGET_MB)) * 1024 * 1024,
        min_free_bytes=int(rec.get("min_free_mb", DEFAULT_MIN_FREE_MB)) * 1024 * 1024,
        pause_hotkey=str(rec.get("pause_hotkey", DEFAULT_HOTKEY)),
        policy_refresh_s=60 * _positive(rec, "policy_refresh_minutes", 15, path),
        collector_blobs=_text(raw.get("collector", {}), "blobs", path),
        s3_endpoint_url=_text(raw.get("collector", {}), "s3_endpoint_url", path),
    )


def _text(raw: dict[str, Any], name: str, path: Path) -> str | None:
    value = raw.get(name)
    if value is not None and not (isinstance(value, str) and value):
        raise UserError(f"{path}: {name} must be a non-empty string")
    return value


def s3_options(cfg: Config) -> dict[str, Any]:
    """What s3fs is given; credentials come from the standard AWS environment variables or
    files (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ~/.aws), which botocore reads itself."""
    endpoint = (cfg.s3_endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3")
                or os.environ.get("AWS_ENDPOINT_URL"))
    return {"endpoint_url": endpoint} if endpoint else {}


# What config.toml may hold, section by section.
CONFIG_SECTIONS = {"recorder": ("data_dir", "key_store", "storage_budget_mb", "min_free_mb", "pause_hotkey",
                                "policy_refresh_minutes"),
                   "collector": ("blobs", "s3_endpoint_url")}


def _check_keys(raw: dict[str, Any], path: Path) -> None:
    """A misspelt setting would be ignored without a word, so it is an error naming the nearest one."""
    for name, value in raw.items():
        if not isinstance(value, dict):  # a key above every [section]
            home = [s for s, keys in CONFIG_SECTIONS.items() if name in keys]
            problem = (f"{name} belongs under [{home[0]}]" if home else
                       unknown_key([name], [k for keys in CONFIG_SECTIONS.values() for k in keys]))
            raise UserError(f"{path}: {problem}")
        if name not in CONFIG_SECTIONS:
            near = difflib.get_close_matches(name, CONFIG_SECTIONS, n=1)
            hint = f"did you mean [{near[0]}]?" if near else f"sections: {', '.join(CONFIG_SECTIONS)}"
            raise UserError(f"{path}: unknown section [{name}] ({hint})")
        problem = unknown_key(value, CONFIG_SECTIONS[name], where=f"{name}.")
        if problem:
            raise UserError(f"{path}: {problem}")


def _positive(raw: dict[str, Any], name: str, default: float, path: Path) -> float:
    value = raw.get(name, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise UserError(f"{path}: {name} must be a positive number")
    return float(value)


def key_backend(cfg: Config, contributor_id: str) -> KeyBackend:
    """Where the data key lives. With ``auto`` a key file already made is where the key is, so the
    OS keyring is not probed at all (loading keyring's backends costs the recorder ~14 MiB)."""
    key_file = cfg.data_dir / "contributor.key"
    if cfg.key_store == "file" or (cfg.key_store == "auto" and key_file.exists()):
        return FileKeyBackend(path=key_file)
    if cfg.key_store == "keyring" or os_keyring_available():
        return KeyringBackend(account=f"contributor:{contributor_id}")
    return FileKeyBackend(path=key_file)


def open_datadir(data_dir: Path | None) -> tuple[Config, DataDir]:
    cfg = load_config(data_dir)
    bootstrap = DataDir(root=cfg.data_dir, key_backend=FileKeyBackend(path=cfg.data_dir / "contributor.key"))
    cid = bootstrap.contributor_id
    return cfg, DataDir(root=cfg.data_dir, key_backend=key_backend(cfg, cid))


PolicyOpt = Annotated[Path | None, typer.Option(
    "--policy", help="Policy TOML naming the designated apps (default: the policy of the collector you"
                     " enrolled with).")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where sessions are stored "
                                                  "(default: ~/.local/share/deskscribe).")]



def ledger(data_dir: Path) -> Ledger:
    return Ledger(path=data_dir / LEDGER_NAME)
