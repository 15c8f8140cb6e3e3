"""Which face of a template to dub when it shows more than one (``--face``).

The faces of the first frame that shows any are counted and numbered from left to right. ``--face`` takes
``largest`` (the default), ``left``, ``right`` or an index (``0`` = leftmost). The chosen face is then
followed through the clip: at each fresh detection only the face nearest to where it was last seen is
offered to the tracker, so a second face never takes over, even after the chosen one was briefly lost.
What was chosen, and why, is recorded with the template and told to the user.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from tfk.errors import UsageError
from tfk.face.backends import Box, Landmarker

__all__ = ["FaceChoice", "FollowFace", "choose_template_face", "parse_face"]

POSITIONS = ("largest", "left", "right")
SURVEY_FRAMES = 50  # look this far into the clip for a frame with faces


def parse_face(spec: str | int | None) -> str | int | None:
    """``None``/``auto`` -> None (largest, said when it matters), a position name, or a face index."""
    if spec is None:
        return None
    text = str(spec).strip().lower()
    if text in ("", "auto"):
        return None
    if text in POSITIONS:
        return text
    if text.isdigit():
        return int(text)
    raise UsageError(f"--face must be largest, left, right or a face index (0 = leftmost), not {spec!r}")


@dataclass(frozen=True)
class FaceChoice:
    count: int  #: faces in the surveyed frame
    index: int  #: chosen face, counted from the left
    frame: int  #: the surveyed frame
    box: tuple[float, float, float, float]
    reason: str

    def describe(self, name: str) -> str:
        if self.count <= 1:
            return f"template {name}: one face"
        return (
            f"template {name}: {self.count} faces in frame {self.frame}; dubbing face {self.index} "
            f"({_where(self.index, self.count)}) {self.reason}"
        )

    def as_dict(self) -> dict:
        return asdict(self)


def _where(index: int, count: int) -> str:
    if index == 0:
        return "leftmost"
    if index == count - 1:
        return "rightmost"
    return f"{index + 1}. from the left"


def _area(b: Box) -> float:
    return float(max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]))


def choose_template_face(frames, lm: Landmarker, spec: str | int | None) -> FaceChoice | None:
    """Survey the first frames; None when no frame of the survey shows a face (the tracker reports it)."""
    spec = parse_face(spec)
    for i, rgb in enumerate(frames):
        if i >= SURVEY_FRAMES:
            break
        boxes = sorted(lm.detect(rgb), key=lambda b: (b[0] + b[2]) / 2)
        if not boxes:
            continue
        n = len(boxes)
        largest = max(range(n), key=lambda k: _area(boxes[k]))
        hint = f"; choose with --face left|right|largest|0..{n - 1}" if n > 1 else ""
        if spec is None:
            idx, why = largest, f"because it is the largest (the default){hint}"
        elif spec == "largest":
            idx, why = largest, "as asked (--face largest)"
        elif spec == "left":
            idx, why = 0, "as asked (--face left)"
        elif spec == "right":
            idx, why = n - 1, "as asked (--face right)"
        else:
            if spec >= n:
                raise UsageError(
                    f"--face {spec}: the template shows {n} face{'s' if n > 1 else ''} in frame {i} "
                    f"(indices 0..{n - 1}, from the left)"
                )
            idx, why = int(spec), f"as asked (--face {spec})"
        b = boxes[idx]
        return FaceChoice(n, idx, i, (float(b[0]), float(b[1]), float(b[2]), float(b[3])), why)
    return None


class FollowFace(Landmarker):
    """A landmark backend wrapper that only ever shows the tracker the chosen face.

    Built on the backend the user picked; ``detect`` keeps the candidate nearest to where the chosen face
    was last fitted (and nothing when every candidate is far away: a miss, interpolated later).
    """

    def __init__(self, inner: Landmarker, box: Box):
        self.inner = inner
        self.name = f"{getattr(inner, 'name', '')} (following one face)"
        self.batch_size = 1
        self.box = np.asarray(box, np.float32)

    def _nearest(self, boxes: list[Box]) -> list[Box]:
        if not boxes:
            return []
        c = np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])
        size = max(self.box[2] - self.box[0], self.box[3] - self.box[1], 1.0)
        d = [float(np.hypot(*(np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]) - c))) for b in boxes]
        k = int(np.argmin(d))
        return [boxes[k]] if d[k] < 0.75 * size else []

    def detect(self, rgb: np.ndarray) -> list[Box]:
        return self._nearest(self.inner.detect(rgb))

    def detect_batch(self, frames: list[np.ndarray]) -> list[list[Box]]:
        return [self.detect(f) for f in frames]

    def verify(self, rgb: np.ndarray, box: Box) -> bool:
        return self.inner.verify(rgb, box)

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        pts = self.inner.landmarks(rgb, box)
        self.box = np.asarray(box, np.float32)
        return pts


def survey(
    frames: Iterable[np.ndarray], backend: str, spec: str | int | None
) -> tuple[FaceChoice | None, Landmarker | str]:
    """The face choice from a clip's first frames (at most ``SURVEY_FRAMES`` are read from ``frames``) and the
    backend to track with (a follower when there is a choice)."""
    import itertools

    from tfk.face.backends import get_landmarker

    lm = get_landmarker(backend)
    choice = choose_template_face(itertools.islice(frames, SURVEY_FRAMES), lm, spec)
    if choice is None or choice.count <= 1:
        return choice, backend
    return choice, FollowFace(lm, np.asarray(choice.box, np.float32))
