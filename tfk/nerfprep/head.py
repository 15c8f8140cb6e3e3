"""The Avatar ER-NeRF square head region: one box for the whole clip, from sampled face boxes, landmarks and
the matte silhouette; plus the one-person check (no face / two faces, naming the frames).

Per sampled frame (Avatar: every 25th; exactly one person): x-range = the ears (the jaw line's ends, widened
by 8 % of the face width), top = the highest matte pixel (alpha > 128) over that x-range (without a matte: the
brows raised by 0.9 x the brow-to-chin height, a hair allowance), bottom = the chin lowered by 0.25 x that height
(the Avatar uses the face box bottom / the shoulders' silhouette, which needs its pose network); the square's edge
is 1.05 x the longer side. Boxes are filtered to the 5-95th percentile of area and centre, their union taken, and
a square of the union's *smaller* side centred on it (as the Avatar does), moved inside the frame. When that
square covers at least ``AS_IS`` of the frame's shorter side the clip already is a head crop and is used as is
(its centred square).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tfk.errors import BadInput, NoFaceFound

AS_IS = 0.75
#: a second detection at least this fraction of the largest face's area counts as another person
SECOND_FACE = 0.3


@dataclass(frozen=True)
class HeadRegion:
    box: tuple[int, int, int, int]  #: x1, y1, x2, y2 (square, inside the frame)
    as_is: bool  #: the clip already is a head crop
    frame_size: tuple[int, int]  #: width, height
    samples: int

    @property
    def crop(self) -> tuple[int, int, int, int]:
        """``(x, y, w, h)`` for :func:`tfk.media.normalize_video`."""
        x1, y1, x2, y2 = self.box
        return x1, y1, x2 - x1, y2 - y1

    def to_json(self) -> dict:
        return {
            "head_bbox": list(self.box),
            "used_as_is": self.as_is,
            "frame_size": list(self.frame_size),
            "samples": self.samples,
        }


def frame_head_box(lm: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """One sampled frame's square head box ``[x1, y1, x2, y2]`` (float) from 68 landmarks and an optional matte."""
    lm = np.asarray(lm, dtype=np.float64)
    jaw = lm[0:17]
    face_w = float(jaw[:, 0].max() - jaw[:, 0].min())
    x1, x2 = jaw[:, 0].min() - 0.08 * face_w, jaw[:, 0].max() + 0.08 * face_w
    brow = float(lm[17:27, 1].min())
    chin = float(lm[8, 1])
    fh = max(chin - brow, 1.0)
    top = brow - 0.9 * fh
    if alpha is not None:
        _h, w = alpha.shape
        c1, c2 = int(np.clip(x1, 0, w - 1)), int(np.clip(x2, 0, w - 1)) + 1
        rows = np.flatnonzero((alpha[:, c1:c2] > 128).any(axis=1))
        if rows.size and rows[0] < brow:
            top = float(rows[0])
    bottom = chin + 0.25 * fh
    side = 1.05 * max(x2 - x1, bottom - top)
    cx, cy = (x1 + x2) / 2, (top + bottom) / 2
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def stable_head_region(boxes: np.ndarray, width: int, height: int, head_crop: str = "auto") -> HeadRegion:
    """One square for the clip from per-sample boxes ``[K,4]`` (see the module docstring)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if head_crop == "none" or len(boxes) == 0:
        return _as_is(width, height, len(boxes))
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    keep = np.ones(len(boxes), bool)
    if len(boxes) >= 5:
        for v in (area, centre[:, 0], centre[:, 1]):
            lo, hi = np.percentile(v, [5, 95])
            keep &= (v >= lo) & (v <= hi)
        if not keep.any():
            keep[:] = True
    b = boxes[keep]
    ux1, uy1, ux2, uy2 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    side = min(ux2 - ux1, uy2 - uy1)
    if side >= AS_IS * min(width, height):
        return _as_is(width, height, len(boxes))
    side = round(side) // 2 * 2
    cx, cy = (ux1 + ux2) / 2, (uy1 + uy2) / 2
    x1 = int(np.clip(round(cx - side / 2), 0, width - side))
    y1 = int(np.clip(round(cy - side / 2), 0, height - side))
    return HeadRegion((x1, y1, x1 + side, y1 + side), False, (width, height), len(boxes))


def _as_is(width: int, height: int, samples: int) -> HeadRegion:
    side = min(width, height) // 2 * 2
    x1, y1 = (width - side) // 2, (height - side) // 2
    return HeadRegion((x1, y1, x1 + side, y1 + side), True, (width, height), samples)


def _names(frames: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(f) for f in frames[:limit])
    return shown + (f", ... ({len(frames) - limit} more)" if len(frames) > limit else "")


def find_head_region(
    frames: Iterable[np.ndarray],
    alphas: Iterable[np.ndarray | None] | None = None,
    every: int = 25,
    backend: str = "dlib",
    head_crop: str = "auto",
    min_samples: int = 5,
    n_frames: int | None = None,
) -> HeadRegion:
    """Sample frames, check there is exactly one person, and compute the clip's head region.

    Raises :class:`NoFaceFound` (no face in any sampled frame) or :class:`BadInput` (a second face), naming the
    sampled frames concerned.
    """
    from tfk.face.backends import box_area, get_landmarker

    lm = get_landmarker(backend)
    if n_frames is not None and n_frames > 0:
        every = max(1, min(every, n_frames // min_samples))
    alpha_iter = iter(alphas) if alphas is not None else None
    boxes, no_face, two_faces = [], [], []
    size: tuple[int, int] | None = None
    sampled = 0
    for i, rgb in enumerate(frames):
        alpha = next(alpha_iter, None) if alpha_iter is not None else None
        if size is None:
            size = (rgb.shape[1], rgb.shape[0])
        if i % every:
            continue
        sampled += 1
        dets = lm.detect(rgb)
        if not dets:
            no_face.append(i)
            continue
        areas = [box_area(d) for d in dets]
        big = max(areas)
        if sum(a >= SECOND_FACE * big for a in areas) > 1:
            two_faces.append(i)
            continue
        pts = lm.landmarks(rgb, dets[int(np.argmax(areas))])
        a = None
        if alpha is not None:
            a = alpha[..., 0] if alpha.ndim == 3 else alpha
        boxes.append(frame_head_box(pts, a))
    if size is None:
        raise BadInput("the clip has no frames")
    if two_faces:
        raise BadInput(
            f"more than one face in sampled frames {_names(two_faces)}: NeRF preprocessing needs one person",
            hint="cut the clip to a single speaker",
        )
    if not boxes:
        raise NoFaceFound(f"no face found in any of the {sampled} sampled frames ({_names(no_face)})", frames=no_face)
    if len(no_face) > sampled // 2:
        raise NoFaceFound(
            f"no face in {len(no_face)} of {sampled} sampled frames: frames {_names(no_face)}",
            hint="use a clip where one face is visible throughout",
            frames=no_face,
        )
    return stable_head_region(np.stack(boxes), size[0], size[1], head_crop)
