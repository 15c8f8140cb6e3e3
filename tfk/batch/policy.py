"""Which failed jobs are tried again, from their exit code.

- 75 (TEMPFAIL: network, lock timeout, disk full) and deaths by a signal (a negative return code, or
  128 + signal such as 137 for SIGKILL by the OOM killer, 143 for a pre-empted node) are retried up to
  ``retries`` times, waiting ``delay * 2**attempt`` seconds (at most 60) between tries;
- 70 (a plugin crashed) is retried once: a crash may be a flake, a second one is a bug;
- everything else (65 bad input, 66 no input, 69 unavailable, 78 config, 2 usage, 1 internal) fails fast
  and is listed: the same command would fail the same way.

Signals are not retried while the batch itself is stopping (Ctrl-C / SIGTERM of ``tfk batch``).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from tfk.errors import ExitCode

_SIGNAL_CODES = {128 + int(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL, signal.SIGHUP)}
NEVER = frozenset({ExitCode.BAD_INPUT, ExitCode.NO_INPUT, ExitCode.UNAVAILABLE, ExitCode.CONFIG})


def by_signal(code: int) -> bool:
    """True when ``code`` means the process was killed by a signal (``-N`` or ``128+N``)."""
    return code < 0 or code in _SIGNAL_CODES


def describe(code: int) -> str:
    """``65 (BAD_INPUT)``, ``-9 (SIGKILL)``."""
    if code < 0:
        try:
            return f"{code} ({signal.Signals(-code).name})"
        except ValueError:
            return str(code)
    try:
        return f"{code} ({ExitCode(code).name})"
    except ValueError:
        return str(code)


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 2  #: extra tries for 75 and signals
    delay: float = 1.0  #: first back-off in seconds

    def should_retry(self, code: int, attempt: int, stopping: bool = False) -> bool:
        """After try number ``attempt`` (1-based) ended with ``code``: try again?"""
        if code == 0 or code in NEVER:
            return False
        if by_signal(code):
            return not stopping and attempt <= self.retries
        if code == ExitCode.TEMPFAIL:
            return attempt <= self.retries
        if code == ExitCode.PLUGIN_CRASH:
            return attempt < 2
        return False

    def backoff(self, attempt: int) -> float:
        return min(60.0, self.delay * 2 ** (attempt - 1))
