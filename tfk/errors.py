"""Typed errors and the documented exit codes of the tfk command line.

Every failure a user can cause or fix is a :class:`TfkError` subclass carrying a one-line ``message``,
an optional ``hint`` (the command that fixes it) and an ``exit_code``. The CLI prints
``error: <message>`` plus ``hint: <hint>`` and exits with the code; tracebacks appear only with
``--debug`` / ``TFK_DEBUG=1``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (BSD sysexits where one fits). Documented in the README."""

    OK = 0
    INTERNAL = 1  #: an unexpected bug in tfk or a plugin
    USAGE = 2  #: bad command-line usage
    BAD_INPUT = 65  #: corrupt/unsupported media, no face, no audio, hash mismatch
    NO_INPUT = 66  #: an input file or subject does not exist
    UNAVAILABLE = 69  #: plugin missing/broken, weights missing, offline, GPU required
    PLUGIN_CRASH = 70  #: a plugin raised a non-tfk exception
    CANT_CREATE = 73  #: an output cannot be created: read-only location, no permission
    TEMPFAIL = 75  #: network failure after retries, lock timeout: retrying may help
    CONFIG = 78  #: invalid configuration or incompatible resume
    INTERRUPTED = 130  #: Ctrl-C (SIGINT); the next run resumes
    TERMINATED = 143  #: SIGTERM; the next run resumes


class TfkError(Exception):
    """Base of all expected errors. ``str(err)`` is the one-line message."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = " ".join(str(message).split())  # always one line
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(TfkError):
    exit_code = ExitCode.USAGE


class StageNotImplemented(UsageError):
    """``tfk evaluate lawdnet`` when the plugin has no evaluate stage."""


class BadInput(TfkError):
    exit_code = ExitCode.BAD_INPUT


class NotMediaFile(BadInput):
    """The file exists but is not a media file any demuxer understands."""


class MissingStream(BadInput):
    """The media has no video (or no audio) stream where one is needed."""


class ZeroDuration(BadInput):
    """The media has a stream but it holds no frames or samples."""


class TruncatedMedia(BadInput):
    """The media probes fine but does not decode to its end."""


class NoFaceFound(BadInput):
    """No usable face in too many frames; ``frames`` lists them."""

    def __init__(self, message: str, hint: str | None = None, frames: list[int] | None = None):
        super().__init__(message, hint)
        self.frames = list(frames or [])


class ChecksumMismatch(BadInput):
    """A file's size or sha256 differs from what the manifest pins."""


class InvalidArtifact(BadInput):
    """An imported file fails the artifact's structural validator."""


class InputNotFound(TfkError):
    exit_code = ExitCode.NO_INPUT


class Unavailable(TfkError):
    exit_code = ExitCode.UNAVAILABLE


class PluginNotInstalled(Unavailable):
    pass


class PluginBroken(Unavailable):
    pass


class MissingWeights(Unavailable):
    """A needed artifact is not in the store (and cannot or may not be downloaded)."""

    def __init__(self, message: str, hint: str | None = None, missing: list[str] | None = None):
        super().__init__(message, hint)
        self.missing = list(missing or [])


class OfflineError(MissingWeights):
    """``TFK_OFFLINE=1`` and something would have to be downloaded."""


class DeviceUnavailable(Unavailable):
    """The requested device (e.g. ``cuda``) is not available."""


class PluginCrash(TfkError):
    exit_code = ExitCode.PLUGIN_CRASH


class OutputNotWritable(TfkError):
    """An output (or its temp file) cannot be created where the user asked: read-only, no permission."""

    exit_code = ExitCode.CANT_CREATE


class TempFail(TfkError):
    exit_code = ExitCode.TEMPFAIL


class NetworkError(TempFail):
    pass


class LockTimeout(TempFail):
    pass


class DiskFull(TempFail):
    """Not enough free space for a download or an output."""


class ConfigError(TfkError):
    exit_code = ExitCode.CONFIG


class Interrupted(TfkError):
    exit_code = ExitCode.INTERRUPTED


class PluginUnavailable(Exception):  # noqa: N818 - the name reads as a state, like pytest's Skipped
    """Raised by a plugin (at import or from ``tfk_available``) to declare it cannot run here.

    The plugin is listed as ``unavailable: <reason>`` instead of ``broken``.
    """
