"""Settings of the weights store, resolved at call time from the environment (never cached at import).

``TFK_HOME`` (default ``platformdirs.user_data_dir("tfk")``), ``TFK_WEIGHTS_DIR`` (default
``$TFK_HOME/weights``), ``TFK_WEIGHTS_MIRROR`` (comma/space separated ``http(s)://`` or ``file://``
bases, tried in order before upstream sources), ``TFK_OFFLINE=1`` (no sockets), ``TFK_LOCK_TIMEOUT``
(seconds, default 1800), ``TFK_DOWNLOAD_TIMEOUT`` (connect/read timeout in seconds, default 30),
``TFK_DOWNLOAD_RETRIES`` (default 5), ``TFK_DOWNLOAD_BACKOFF`` (first back-off in seconds, default 1).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

from tfk.errors import ConfigError

# TFK_HOME and boolean environment flags are resolved in one place for the whole project.
from tfk.paths import env_flag, offline, tfk_home  # noqa: E402,F401  (re-exported)


def weights_root() -> Path:
    """Root of the weights store (``$TFK_WEIGHTS_DIR`` or ``$TFK_HOME/weights``)."""
    env = os.environ.get("TFK_WEIGHTS_DIR")
    return Path(env).expanduser().absolute() if env else tfk_home() / "weights"


def parse_mirrors(value: str | None) -> list[str]:
    """Split a mirror list (commas or whitespace) and check each base; a bare absolute path means file://."""
    bases: list[str] = []
    for item in re.split(r"[,\s]+", value or ""):
        if not item:
            continue
        if item.startswith("/"):
            item = Path(item).as_uri()
        scheme = urlparse(item).scheme
        if scheme not in ("http", "https", "file"):
            raise ConfigError(
                f"weights mirror {item!r} must start with http://, https:// or file://",
                hint="export TFK_WEIGHTS_MIRROR=https://mirror.example/tfk,file:///mnt/tfk-mirror",
            )
        bases.append(item.rstrip("/"))
    return bases


def mirrors() -> list[str]:
    """The ordered ``TFK_WEIGHTS_MIRROR`` bases."""
    return parse_mirrors(os.environ.get("TFK_WEIGHTS_MIRROR"))


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


def lock_timeout() -> float:
    return _float("TFK_LOCK_TIMEOUT", 1800.0)


def download_timeout() -> float:
    return _float("TFK_DOWNLOAD_TIMEOUT", 30.0)


def download_retries() -> int:
    return int(_float("TFK_DOWNLOAD_RETRIES", 5))


def download_backoff() -> float:
    return _float("TFK_DOWNLOAD_BACKOFF", 1.0)
