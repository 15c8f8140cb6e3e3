"""The tfk weights store (see :mod:`tfk.weights.store`).

Importing this package is cheap: the API below is loaded on first use, so declaration modules can
``from tfk.weights.artifact import Artifact`` without pulling in the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "Artifact",
    "derived",
    "find",
    "import_file",
    "pull",
    "remove",
    "require",
    "seed_library_caches",
    "status",
    "verify",
]

if TYPE_CHECKING:
    from tfk.weights.artifact import Artifact
    from tfk.weights.store import derived, find, import_file, pull, remove, require, seed_library_caches, status, verify


def __getattr__(name: str) -> Any:
    if name == "Artifact":
        from tfk.weights.artifact import Artifact

        return Artifact
    if name in __all__:
        from tfk.weights import store

        return getattr(store, name)
    raise AttributeError(f"module 'tfk.weights' has no attribute {name!r}")
