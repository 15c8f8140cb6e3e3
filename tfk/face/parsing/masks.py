"""Parsing label maps, the AD-NeRF four-region colour masks, and the landmark-based offline fallback.

AD-NeRF/ER-NeRF/DFRF colour convention (values of the *cv2 array*, i.e. BGR order on disk):
background (255,255,255); head = classes 1-13, 17, 18 -> (255,0,0); neck = 14, 15 -> (0,255,0);
torso = 16 -> (0,0,255). In an RGB viewer the head looks blue and the torso red; the files must be
written BGR-ordered (``cv2.imwrite``) to stay compatible with the originals.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfk.errors import BadInput

CLASSES = ("background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r", "nose",
           "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat")  # fmt: skip
HEAD_CLASSES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 17, 18)
NECK_CLASSES = (14, 15)
TORSO_CLASSES = (16,)

BISENET_ARTIFACT = "shared/face_parsing_79999"
BACKGROUND, HEAD, NECK, TORSO = 0, 1, 2, 3
REGION_NAMES = ("background", "head", "neck", "torso")
#: region -> colour as stored in the cv2 (BGR-ordered) array
ADNERF_COLOURS = {BACKGROUND: (255, 255, 255), HEAD: (255, 0, 0), NECK: (0, 255, 0), TORSO: (0, 0, 255)}

_LUT = np.zeros(256, dtype=np.uint8)
_LUT[list(HEAD_CLASSES)] = HEAD
_LUT[list(NECK_CLASSES)] = NECK
_LUT[list(TORSO_CLASSES)] = TORSO


@dataclass
class ParsingResult:
    """Four-region map (0 background, 1 head, 2 neck, 3 torso) and how it was made.

    ``quality`` is ``"bisenet"`` (the originals' network) or ``"fallback"`` (landmarks + colour
    statistics; lower quality, to be shown as such in records and ``tfk doctor``).
    """

    regions: np.ndarray
    quality: str
    labels: np.ndarray | None = None  # the 19-class map when BiSeNet made it
    info: dict = field(default_factory=dict)


def labels_to_regions(labels: np.ndarray) -> np.ndarray:
    """19-class CelebAMask-HQ labels -> four regions (uint8)."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise BadInput(f"expected a 2-D label map, got shape {labels.shape}")
    return _LUT[labels.astype(np.uint8)]


def regions_colour_mask(regions: np.ndarray) -> np.ndarray:
    """Four-region map -> AD-NeRF colour mask (uint8 HxWx3 in cv2/BGR channel order, ready for ``cv2.imwrite``)."""
    regions = np.asarray(regions)
    lut = np.array([ADNERF_COLOURS[i] for i in range(4)], dtype=np.uint8)
    if regions.ndim != 2 or regions.max(initial=0) > 3:
        raise BadInput("expected a 2-D region map with values 0..3")
    return lut[regions]


def adnerf_colour_mask(labels: np.ndarray) -> np.ndarray:
    """19-class labels -> AD-NeRF colour mask (uint8 HxWx3, cv2/BGR channel order)."""
    return regions_colour_mask(labels_to_regions(labels))


def colour_mask_to_regions(mask_bgr: np.ndarray) -> np.ndarray:
    """Read back an AD-NeRF colour mask (as ``cv2.imread`` returns it) into regions, as the originals test it."""
    m = np.asarray(mask_bgr)
    if m.ndim != 3 or m.shape[2] < 3:
        raise BadInput(f"expected an HxWx3 colour mask, got shape {m.shape}")
    b, g, r = m[..., 0], m[..., 1], m[..., 2]
    out = np.zeros(m.shape[:2], np.uint8)
    bg = (b == 255) & (g == 255) & (r == 255)
    out[(b == 255) & (g == 0) & (r == 0)] = HEAD
    out[(b == 0) & (g == 255) & (r == 0)] = NECK
    out[(b == 0) & (g == 0) & (r == 255)] = TORSO
    out[bg] = BACKGROUND
    return out


def write_parsing_png(path: str | Path, regions: np.ndarray) -> Path:
    """Write ``parsing/<i>.png`` exactly as the originals (cv2, BGR-ordered colours), atomically."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if not cv2.imwrite(str(tmp), regions_colour_mask(regions)):
        raise BadInput(f"could not write {path}")
    tmp.replace(path)
    return path


# ---------------------------------------------------------------------------------------------- BiSeNet
def parse_frames(
    frames: Iterable[np.ndarray],
    model=None,
    device: str = "cpu",
    batch_size: int = 4,
    weights: str | Path | None = None,
) -> Iterator[np.ndarray]:
    """19-class label maps (uint8, frame size) with BiSeNet at 512x512, streamed in small batches."""
    import cv2
    import torch

    from tfk.face._frames import iter_rgb
    from tfk.face.parsing.bisenet import load_bisenet, preprocess

    net = model if model is not None else load_bisenet(weights, device=device)

    def run(batch: list[np.ndarray]) -> Iterator[np.ndarray]:
        with torch.inference_mode():
            logits = net(preprocess(batch).to(device))
        lab = logits.argmax(1).to(torch.uint8).cpu().numpy()
        for f, lbl in zip(batch, lab, strict=True):
            yield cv2.resize(lbl, (f.shape[1], f.shape[0]), interpolation=cv2.INTER_NEAREST)

    batch: list[np.ndarray] = []
    for f in iter_rgb(frames):
        batch.append(f)
        if len(batch) >= batch_size:
            yield from run(batch)
            batch = []
    if batch:
        yield from run(batch)


# ---------------------------------------------------------------------------------------------- fallback
def _face_geometry(lm: np.ndarray) -> dict:
    jaw = lm[0:17]
    brows = lm[17:27]
    chin = lm[8]
    face_w = float(np.linalg.norm(lm[16] - lm[0]))
    brow_y = float(brows[:, 1].min())
    face_h = float(chin[1] - brow_y)
    if face_w < 4 or face_h < 4:
        raise BadInput("landmarks describe a degenerate face")
    return {"jaw": jaw, "brows": brows, "chin": chin, "w": face_w, "h": face_h, "brow_y": brow_y,
            "cx": float(lm[27:36, 0].mean())}  # fmt: skip


def _jaw_boundary(g: dict, width: int) -> np.ndarray:
    """Per image column: the y of the jaw line (3..13), extended flat beyond the jaw sides."""
    pts = g["jaw"][3:14]
    order = np.argsort(pts[:, 0])
    xs, ys = pts[order, 0], pts[order, 1]
    return np.interp(np.arange(width), xs, ys, left=ys[0], right=ys[-1])


def landmark_parsing(
    frame: np.ndarray, lm: np.ndarray, background: np.ndarray | None = None, iterations: int = 3
) -> ParsingResult:
    """Offline fallback for BiSeNet: four regions from 68 landmarks, colour statistics and the background.

    Foreground comes from the difference to ``background`` when given, otherwise from GrabCut seeded by
    landmark priors (face hull and neck certain, a head ellipse and the lower centre probable). The
    foreground is split by geometry: above the jaw line -> head, a neck band under the chin -> neck,
    the rest -> torso. Marked ``quality="fallback"``: lower quality than BiSeNet.
    """
    import cv2

    frame = np.asarray(frame)
    lm = np.asarray(lm, dtype=np.float64)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise BadInput(f"expected an RGB uint8 frame, got {frame.shape} {frame.dtype}")
    if lm.shape != (68, 2) or not np.isfinite(lm).all():
        raise BadInput(f"expected 68 finite landmarks, got shape {lm.shape}")
    h, w = frame.shape[:2]
    g = _face_geometry(lm)
    fw, fh, chin = g["w"], g["h"], g["chin"]

    hull = cv2.convexHull(np.vstack([g["jaw"], g["brows"] - [0, 0.25 * fh]]).astype(np.int32))
    face = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(face, hull, 1)
    head_ellipse = np.zeros((h, w), np.uint8)
    centre = (round(g["cx"]), round(g["brow_y"] + 0.2 * fh))
    cv2.ellipse(head_ellipse, centre, (round(0.8 * fw), round(0.95 * fh)), 0, 0, 360, 1, -1)
    yy, xx = np.mgrid[0:h, 0:w]
    below_jaw = yy > _jaw_boundary(g, w)[None, :]
    neck_band = below_jaw & (np.abs(xx - chin[0]) < 0.3 * fw) & (yy < chin[1] + 0.45 * fh)
    lower = yy > chin[1] + 0.3 * fh

    if background is not None:
        bg = np.asarray(background)
        if bg.shape != frame.shape:
            raise BadInput(f"background {bg.shape} does not match frame {frame.shape}")
        diff = np.abs(frame.astype(np.int16) - bg.astype(np.int16)).max(axis=2)
        fg = (diff > 25).astype(np.uint8)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
        fg = fg.astype(bool) | face.astype(bool)
        method = "landmarks+background-difference"
    else:
        fg = _grabcut_foreground(frame, face, head_ellipse, neck_band, lower, chin, fw, iterations)
        method = "landmarks+grabcut"

    regions = np.zeros((h, w), np.uint8)
    regions[fg & ~below_jaw] = HEAD
    regions[fg & below_jaw] = TORSO
    regions[fg & neck_band] = NECK
    regions[face.astype(bool) & ~below_jaw] = HEAD
    regions[face.astype(bool) & below_jaw & ~neck_band] = HEAD
    return ParsingResult(regions=regions, quality="fallback", info={"method": method})


def _grabcut_foreground(frame, face, head_ellipse, neck_band, lower, chin, fw, iterations) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    scale = min(1.0, 256.0 / max(h, w))
    mask = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    mask[head_ellipse.astype(bool)] = cv2.GC_PR_FGD
    torso_prior = lower & (np.abs(np.mgrid[0:h, 0:w][1] - chin[0]) < 1.2 * fw)
    mask[torso_prior] = cv2.GC_PR_FGD
    mask[neck_band] = cv2.GC_FGD
    mask[face.astype(bool)] = cv2.GC_FGD
    edge = max(2, round(0.02 * max(h, w)))
    top = np.zeros((h, w), bool)
    top[:edge, :] = True
    top[:, :edge] = True
    top[:, -edge:] = True
    top &= ~lower  # the image border beside/above the head is background; the torso may touch the bottom
    mask[top & ~face.astype(bool)] = cv2.GC_BGD
    small = cv2.resize(frame, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    m = cv2.resize(mask, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), m, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        m = np.where(mask == cv2.GC_BGD, 0, mask)  # degenerate colour model: keep the priors
        return (m == cv2.GC_FGD) | (m == cv2.GC_PR_FGD)
    fg_small = ((m == cv2.GC_FGD) | (m == cv2.GC_PR_FGD)).astype(np.uint8)
    fg = cv2.resize(fg_small, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    return fg | face.astype(bool)


def parse_regions(
    frames: Iterable[np.ndarray],
    landmarks: Iterable[np.ndarray] | None = None,
    prefer: str = "auto",
    background: np.ndarray | None = None,
    device: str = "cpu",
) -> Iterator[ParsingResult]:
    """Four-region maps per frame: BiSeNet when its weights are in the store (``prefer="auto"``), else the
    landmark fallback (needs ``landmarks``). ``prefer`` is ``auto``, ``bisenet`` or ``fallback``."""
    if prefer not in ("auto", "bisenet", "fallback"):
        raise BadInput(f"prefer must be auto, bisenet or fallback, got {prefer!r}")
    use_net = prefer == "bisenet" or (prefer == "auto" and bisenet_available())
    if use_net:
        for lbl in parse_frames(frames, device=device):
            yield ParsingResult(labels_to_regions(lbl), "bisenet", labels=lbl, info={"method": "bisenet-79999"})
        return
    if landmarks is None:
        raise BadInput("the landmark parsing fallback needs landmarks for every frame")
    from tfk.face._frames import iter_rgb

    for f, lm in zip(iter_rgb(frames), landmarks, strict=False):
        yield landmark_parsing(f, lm, background)


def bisenet_available() -> bool:
    """Whether the BiSeNet checkpoint is in the weights store (never downloads)."""
    from tfk import weights

    return weights.find(BISENET_ARTIFACT) is not None
