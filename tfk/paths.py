"""Locations and settings, always resolved at call time (never cached at import)."""

from __future__ import annotations

import os
from pathlib import Path


def tfk_home() -> Path:
    """``TFK_HOME`` or the platform's user data dir for tfk."""
    env = os.environ.get("TFK_HOME")
    if env:
        return Path(env).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_data_dir("tfk", appauthor=False))


def subjects_root() -> Path:
    return tfk_home() / "subjects"


def runs_root() -> Path:
    return tfk_home() / "runs"


def cache_root() -> Path:
    return tfk_home() / "cache"


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def offline() -> bool:
    return env_flag("TFK_OFFLINE")


def debug() -> bool:
    return env_flag("TFK_DEBUG")
