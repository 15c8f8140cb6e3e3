"""Declaration of a downloadable or manually imported file (an *artifact*).

Plugins and toolbox modules declare artifacts; the store (:mod:`tfk.weights.store`) fetches,
verifies, imports and resolves them. Declarations are plain data: importing this module is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Artifact:
    """One file tfk can put into the weights store.

    ``id`` is ``<plugin>/<name>`` or ``shared/<name>``. ``sha256`` is the published hash; when it is
    ``None`` the first verified download or import records one ("unpinned") and later verifies hold
    the file to it. ``sources`` are tried in order after any ``TFK_WEIGHTS_MIRROR``. A ``manual``
    artifact is never downloaded: ``instructions`` are shown verbatim and the user runs
    ``tfk weights import ID FILE``.

    ``kind="archive"`` means the downloaded file is an archive and ``member`` names the file to
    extract from it (safely) as the artifact's content. ``filename``, ``size`` and ``sha256`` always
    describe the stored file (for an archive: the extracted member); ``archive_sha256`` and
    ``archive_size`` optionally describe the archive the upstream ``sources`` serve. Mirrors serve the
    stored file itself, never the archive. ``validator`` and ``derive`` are lazy
    references ``"module:function"``: ``validator(path) -> None`` raises
    :class:`tfk.errors.InvalidArtifact` for a structurally wrong file; ``derive(path, out_dir) ->
    dict[str, Path]`` builds derived files once after an import. ``torch_hub_name`` seeds
    ``TORCH_HOME/hub/checkpoints/<name>`` so that libraries that download on their own
    (face-alignment, torchvision) find the file and stay offline.
    """

    id: str
    filename: str
    sha256: str | None = None
    size: int | None = None
    sources: tuple[str, ...] = ()
    license: str = "unknown"
    description: str = ""
    manual: bool = False
    instructions: str = ""
    kind: str = "file"  # "file" | "archive"
    member: str | None = None  # for kind="archive": path inside the archive
    validator: str | None = None  # "module:function"
    derive: str | None = None  # "module:function"
    torch_hub_name: str | None = None
    used_by: tuple[str, ...] = ()
    optional: bool = False  # not needed by the default path (e.g. training-only)
    meta: dict = field(default_factory=dict, compare=False, hash=False)
    archive_sha256: str | None = None  # for kind="archive": sha256 of the downloaded archive, if published
    archive_size: int | None = None  # for kind="archive": size of the downloaded archive in bytes

    def __post_init__(self) -> None:
        if "/" not in self.id:
            raise ValueError(f"artifact id {self.id!r} must look like 'plugin/name' or 'shared/name'")
        if self.sha256 is not None and (
            len(self.sha256) != 64 or not all(c in "0123456789abcdef" for c in self.sha256)
        ):
            raise ValueError(f"artifact {self.id}: sha256 must be 64 lowercase hex digits")
        if self.archive_sha256 is not None and (
            len(self.archive_sha256) != 64 or not all(c in "0123456789abcdef" for c in self.archive_sha256)
        ):
            raise ValueError(f"artifact {self.id}: archive_sha256 must be 64 lowercase hex digits")
        if "/" in self.filename or self.filename in ("", ".", ".."):
            raise ValueError(f"artifact {self.id}: filename {self.filename!r} must be a plain file name")
        if any(part in ("", ".", "..") for part in self.id.split("/")):
            raise ValueError(f"artifact id {self.id!r} has an empty, '.' or '..' component")
        if self.kind not in ("file", "archive"):
            raise ValueError(f"artifact {self.id}: kind must be 'file' or 'archive'")
        if self.kind == "archive" and not self.member:
            raise ValueError(f"artifact {self.id}: an archive artifact needs 'member'")

    @property
    def namespace(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def pinned(self) -> bool:
        return self.sha256 is not None

    @property
    def unverifiable(self) -> str | None:
        """Why a download of this public artifact could not be told from a cut-short one (None: it can).

        A server may close the connection early without a Content-Length: only a published sha256, an
        exact size or a structural validator catches that. Manual artifacts are never downloaded upstream.
        """
        if self.manual or self.sha256 or self.size is not None or self.validator:
            return None
        return (
            f"public artifact {self.id} declares no sha256, size or validator, so a download cut short "
            "could not be detected"
        )
