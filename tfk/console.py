"""The one stderr console for human output; stdout carries results only."""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def _console(stream_id: int) -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def err_console() -> Console:
    """Rich console on stderr (plain, no colour, when stderr is not a terminal)."""
    return _console(id(sys.stderr))


def is_interactive() -> bool:
    """True when fancy live output (progress bars) suits stderr."""
    if os.environ.get("CI") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def info(message: str) -> None:
    err_console().print(message, markup=False)


def warn(message: str) -> None:
    err_console().print(f"warning: {message}", markup=False)
