"""Landmarks over a whole clip: streaming detection/tracking, face choice, dropout repair, smoothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfk.errors import BadInput, NoFaceFound, ZeroDuration
from tfk.face._frames import iter_rgb
from tfk.face.backends import Box, Landmarker, box_iou, get_landmarker
from tfk.face.track import N_POINTS, LandmarkTrack
from tfk.progress import ensure

if TYPE_CHECKING:
    from tfk.progress import Progress

MODES = ("track", "detect")


#: a tracked face missing for fewer frames than this is not replaced by another face (faces don't teleport)
SWITCH_AFTER = 12


def choose_face(candidates: list[Box], previous: Box | None, recent: bool = False) -> Box | None:
    """The face that continues the track (best overlap with ``previous``); the largest otherwise.

    With ``recent`` (the previous face was seen a moment ago) a frame whose detections do not
    continue the track yields ``None`` (a miss, interpolated later) instead of a jump to another face.
    """
    if not candidates:
        return None
    if previous is not None:
        ious = [box_iou(c, previous) for c in candidates]
        best = int(np.argmax(ious))
        if ious[best] >= 0.3:
            return candidates[best]
        size = max(previous[2] - previous[0], previous[3] - previous[1])
        pc = np.array([(previous[0] + previous[2]) / 2, (previous[1] + previous[3]) / 2])
        dists = [np.hypot(*(np.array([(c[0] + c[2]) / 2, (c[1] + c[3]) / 2]) - pc)) for c in candidates]
        near = int(np.argmin(dists))
        if dists[near] < 0.5 * size:
            return candidates[near]
        if recent:
            return None
    return max(candidates, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))


def track_landmarks(
    frames_or_path: Iterable[np.ndarray] | str | Path,
    backend: str | Landmarker = "dlib",
    smooth: float = 0.0,
    max_missing: float = 0.1,
    max_gap: int | None = None,
    progress: Progress | None = None,
    debug_dir: str | Path | None = None,
    mode: str = "track",
    debug_every: int = 25,
    redetect_every: int = 50,
) -> LandmarkTrack:
    """68-point landmarks for every frame of a clip (streamed; memory does not grow with frame size).

    ``mode="track"`` fits each frame in the box derived from the previous frame's landmarks, checks
    the fit cheaply (``Landmarker.verify``, jumps of the landmark box) and detects afresh only when it
    degrades, after a miss, or every ``redetect_every`` frames; ``mode="detect"`` detects afresh on
    every frame (batched where the backend benefits). Frames without a face
    are filled by linear interpolation (``detected`` False); more than ``max_missing`` of the frames
    missing, or a run of missing frames longer than ``max_gap``, raises :class:`NoFaceFound` naming
    them. ``smooth`` > 0 applies a zero-lag Gaussian of that sigma (in frames) over time.
    ``debug_dir`` receives overlay PNGs of every ``debug_every``-th frame.
    """
    if mode not in MODES:
        raise BadInput(f"unknown landmark mode {mode!r}; choose one of {', '.join(MODES)}")
    if not 0.0 <= max_missing <= 1.0:
        raise BadInput(f"max_missing must be a fraction between 0 and 1, got {max_missing}")
    lm = get_landmarker(backend)
    debug = Path(debug_dir) if debug_dir is not None else None
    if debug is not None:
        debug.mkdir(parents=True, exist_ok=True)

    points: list[np.ndarray | None] = []
    boxes: list[Box | None] = []
    size: tuple[int, int] | None = None
    prev_box: Box | None = None  # last face box (continuity for choose_face)
    prev_pts: np.ndarray | None = None  # landmarks of the previous frame, None after a miss
    rel: np.ndarray | None = None  # detector box relative to its landmarks (calibrated at each detection)
    since_detect = 0
    last_seen = -SWITCH_AFTER  # index of the last frame with a face
    batch = lm.batch_size if mode == "detect" else 1
    ctx = ensure(progress).task("face landmarks")
    task = ctx.__enter__()
    try:
        for chunk in _chunks(iter_rgb(frames_or_path), batch):
            start = len(points)
            for k, rgb in enumerate(chunk):
                if size is None:
                    size = (rgb.shape[1], rgb.shape[0])
                elif (rgb.shape[1], rgb.shape[0]) != size:
                    shape = f"{rgb.shape[1]}x{rgb.shape[0]}"
                    raise BadInput(f"frame {start + k} is {shape}, earlier frames {size[0]}x{size[1]}")
            cands_batch = lm.detect_batch(chunk) if mode == "detect" else [None] * len(chunk)
            for k, (rgb, cands) in enumerate(zip(chunk, cands_batch, strict=True)):
                pts = box = None
                if cands is None and prev_pts is not None and rel is not None and since_detect < redetect_every:
                    pts, box = _track_step(lm, rgb, prev_pts, rel)
                    since_detect += 1
                if pts is None:
                    recent = prev_box is not None and len(points) - last_seen < SWITCH_AFTER
                    box = choose_face(cands if cands is not None else lm.detect(rgb), prev_box, recent)
                    if box is not None:
                        pts = lm.landmarks(rgb, box)
                        rel = _calibrate(box, pts)
                        since_detect = 0
                if box is not None:
                    prev_box, last_seen = box, len(points)
                points.append(pts)
                boxes.append(box)
                prev_pts = pts
                i = start + k
                if debug is not None and debug_every > 0 and i % debug_every == 0:
                    _write_overlay(debug / f"overlay_{i:05d}.png", rgb, pts, box, i)
                task.advance(1)
    finally:
        ctx.__exit__(None, None, None)

    if size is None:
        raise ZeroDuration("no frames to find landmarks in")
    return _finish(points, boxes, size, smooth=smooth, max_missing=max_missing, max_gap=max_gap)


def _spread(pts: np.ndarray) -> tuple[np.ndarray, float]:
    c = pts.mean(axis=0)
    return c, float(np.sqrt(((pts - c) ** 2).sum(axis=1).mean())) + 1e-6


def _calibrate(box: Box, pts: np.ndarray) -> np.ndarray:
    """Detector box expressed in the landmarks' frame: centre offset and size over their RMS radius."""
    c, s = _spread(pts)
    return np.array([((box[0] + box[2]) / 2 - c[0]) / s, ((box[1] + box[3]) / 2 - c[1]) / s,
                     (box[2] - box[0]) / s, (box[3] - box[1]) / s], dtype=np.float32)  # fmt: skip


def _box_from_points(pts: np.ndarray, rel: np.ndarray) -> Box:
    c, s = _spread(pts)
    cx, cy, w, h = c[0] + rel[0] * s, c[1] + rel[1] * s, rel[2] * s, rel[3] * s
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float32)


def _track_step(lm: Landmarker, rgb: np.ndarray, prev_pts: np.ndarray, rel: np.ndarray):
    """Fit landmarks in the box derived from the previous frame's landmarks; None when the fit degrades."""
    box = _box_from_points(prev_pts, rel)
    pts = lm.landmarks(rgb, box)
    box = _box_from_points(pts, rel)  # one refinement: re-centre on the new fit
    pts = lm.landmarks(rgb, box)
    (c0, s0), (c1, s1) = _spread(prev_pts), _spread(pts)
    if np.hypot(*(c1 - c0)) > 0.35 * s0 or not 0.8 < s1 / s0 < 1.25:
        return None, None  # landmark box jumped
    if not lm.verify(rgb, box):
        return None, None  # no face left there
    return pts, box


def _chunks(frames: Iterator[np.ndarray], n: int) -> Iterator[list[np.ndarray]]:
    chunk: list[np.ndarray] = []
    for f in frames:
        chunk.append(f)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _name_frames(frames: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(f) for f in frames[:limit])
    return shown + (f", ... ({len(frames) - limit} more)" if len(frames) > limit else "")


def _finish(
    points: list[np.ndarray | None],
    boxes: list[Box | None],
    size: tuple[int, int],
    smooth: float,
    max_missing: float,
    max_gap: int | None,
) -> LandmarkTrack:
    n = len(points)
    detected = np.array([p is not None for p in points], dtype=bool)
    missing = [int(i) for i in np.flatnonzero(~detected)]
    if len(missing) == n:
        raise NoFaceFound(f"no face found in any of the {n} frames", frames=missing)
    if len(missing) > max_missing * n:
        raise NoFaceFound(
            f"no face found in {len(missing)} of {n} frames (more than {max_missing:.0%}): "
            f"frames {_name_frames(missing)}",
            hint="use a clip where one face is visible throughout, or raise the allowed missing fraction",
            frames=missing,
        )
    if max_gap is not None:
        long_runs = [run for run in _runs(missing) if len(run) > max_gap]
        if long_runs:
            bad = [f for run in long_runs for f in run]
            raise NoFaceFound(
                f"face lost for more than {max_gap} consecutive frames: frames {_name_frames(bad)}", frames=bad
            )
    pts = np.full((n, N_POINTS, 2), np.nan, dtype=np.float32)
    bxs = np.full((n, 4), np.nan, dtype=np.float32)
    for i in np.flatnonzero(detected):
        pts[i] = points[i]
        bxs[i] = boxes[i]
    if missing:
        t = np.arange(n)
        good = np.flatnonzero(detected)
        flat = pts.reshape(n, -1)
        for c in range(flat.shape[1]):
            flat[:, c] = np.interp(t, good, flat[good, c])
        for c in range(4):
            bxs[:, c] = np.interp(t, good, bxs[good, c])
    if smooth and smooth > 0 and n > 1:
        from scipy.ndimage import gaussian_filter1d

        pts = gaussian_filter1d(pts, sigma=float(smooth), axis=0, mode="nearest").astype(np.float32)
        bxs = gaussian_filter1d(bxs, sigma=float(smooth), axis=0, mode="nearest").astype(np.float32)
    return LandmarkTrack(pts, bxs, detected, size)


def _runs(indices: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def draw_landmarks(rgb: np.ndarray, points: np.ndarray | None, box: Box | None = None, label: str = "") -> np.ndarray:
    """A copy of ``rgb`` with the 68 points (jaw/brows/nose/eyes/mouth coloured) and the box drawn."""
    import cv2

    out = np.ascontiguousarray(rgb.copy())
    r = max(1, round(max(out.shape[:2]) / 256))
    if box is not None:
        cv2.rectangle(out, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), (255, 255, 0), r)
    if points is not None:
        groups = [(0, 17, (255, 255, 255)), (17, 27, (255, 128, 0)), (27, 36, (0, 255, 0)), (36, 48, (0, 160, 255)),
                  (48, 68, (255, 0, 80))]  # fmt: skip
        for a, b, colour in groups:
            for x, y in points[a:b]:
                cv2.circle(out, (round(x), round(y)), r + 1, colour, -1, cv2.LINE_AA)
    cv2.putText(out, label or ("no face" if points is None else ""), (8, 12 + 12 * r), cv2.FONT_HERSHEY_SIMPLEX,
                0.4 * r, (255, 0, 0), r, cv2.LINE_AA)  # fmt: skip
    return out


def _write_overlay(path: Path, rgb: np.ndarray, pts: np.ndarray | None, box: Box | None, index: int) -> None:
    import cv2

    img = draw_landmarks(rgb, pts, box, f"frame {index}" + ("" if pts is not None else ": no face"))
    tmp = path.with_name(f".{path.name}.tmp.png")
    cv2.imwrite(str(tmp), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    tmp.replace(path)
