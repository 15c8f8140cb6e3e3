"""The shared AD-NeRF preprocessing as named, resumable :class:`~tfk.workspace.Step` s.

:func:`build_steps` returns, in order (``after`` lists what each step depends on, so a changed option redoes only
its dependants)::

    normalize      input_temp.mp4 (H.264, 25 fps, optional length cap)           <- the input video
    matting        alpha.mp4, input.mp4 (RVM matte, background replaced)         <- normalize
    head_region    head_bbox.json (one square for the clip; one-person check)    <- normalize, matting
    head_video     face_data.mp4 (the head region at head_size²)                 <- head_region (+ its sources)
    audio          aud.wav (16 kHz mono)                                         <- normalize
    audio_features aud_ds|hu|eo.npy (ER-NeRF) / aud.npy (DFRF)                   <- audio
    frames         ori_imgs/<i>.jpg                                              <- head_video
    landmarks      ori_imgs/<i>.lms, landmarks.npy                               <- frames
    parsing        parsing/<i>.png (BGR colour codes), parsing_label/<i>.png     <- frames, landmarks
    background     bc.jpg                                                        <- frames, parsing
    images         gt_imgs + torso_imgs/*.png (ER-NeRF) | com_imgs, head_imgs,
                   torso_imgs/*.jpg (DFRF)                                       <- frames, parsing, background
    blinks         au.csv (ER-NeRF only)                                         <- head_video, landmarks
    track_*        tfk.tdmm tracking stages -> track_params.pt, transforms_*.json <- frames, landmarks
    dataset        the original on-disk layout + model_data.json (+ DFRF config.txt)

Steps that need weights or tools that are absent (RVM, the audio front-end, BFM 2009) complete as *skipped* with
the reason recorded (``.done.json`` info and ``model_data.json``); their availability is part of their parameters,
so importing the weights later makes them (and only their dependants) stale.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from tfk.errors import BadInput, MissingWeights
from tfk.nerfprep.config import DFRF_REFERENCES, PrepConfig
from tfk.workspace.pipeline import Step, StepContext
from tfk.workspace.workspace import Workspace

SKIPPED = "SKIPPED.txt"
DATASET = "dataset"
FORMAT = "tfk-nerfprep/1"


# ------------------------------------------------------------------------------------------------ helpers
def _skip(sc: StepContext, reason: str) -> None:
    sc.info["skipped"] = reason
    (sc.out / SKIPPED).write_text(reason + "\n")


def skipped_reason(step_dir: Path) -> str | None:
    """Why a published step was skipped, or ``None`` when it produced its outputs."""
    p = Path(step_dir) / SKIPPED
    return p.read_text().strip() if p.is_file() else None


def _video(sc: StepContext) -> Path:
    """The clip the later steps work on: the matted one when matting ran, else the normalised one."""
    m = sc.step_dir("matting") / "input.mp4"
    return m if m.is_file() else sc.step_dir("normalize") / "input_temp.mp4"


def _alpha(sc: StepContext) -> Path | None:
    a = sc.step_dir("matting") / "alpha.mp4"
    return a if a.is_file() else None


def iter_images(directory: Path, suffix: str = ".jpg", flags: int | None = None) -> Iterator[Any]:
    """``<i><suffix>`` files of a directory in index order, read with cv2 (RGB for colour images)."""
    import cv2

    files = sorted((p for p in directory.glob(f"*{suffix}") if p.stem.isdigit()), key=lambda p: int(p.stem))
    for p in files:
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED if flags is None else flags)
        if img is None:
            raise BadInput(f"{p}: unreadable image")
        yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if flags is None and img.ndim == 3 and img.shape[2] == 3 else img


def _imwrite(path: Path, img, rgb: bool = True, quality: int = 95) -> None:
    import cv2

    arr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if rgb and img.ndim == 3 and img.shape[2] == 3 else img
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), arr, params):
        raise BadInput(f"could not write {path}")


def _n_frames(directory: Path) -> int:
    return sum(1 for p in directory.glob("*.jpg") if p.stem.isdigit())


def _task(sc: StepContext, what: str, total: int | None):
    from tfk.progress import ensure

    return ensure(sc.progress).task(what, total=total)


def _weights_state(path: Path | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    st = Path(path).stat()
    return f"{Path(path).resolve()}:{st.st_size}:{st.st_mtime_ns}"


def rvm_weights(cfg: PrepConfig) -> tuple[Path | None, str]:
    """The RVM checkpoint to use and, when there is none, why."""
    if cfg.matting == "none":
        return None, "matting disabled (--matting none)"
    if cfg.matting_weights is not None:
        p = Path(cfg.matting_weights)
        return (p, "") if p.is_file() else (None, f"RVM checkpoint not found: {p}")
    from tfk import weights
    from tfk.nerfprep.artifacts import RVM_ARTIFACT

    p = weights.find(RVM_ARTIFACT)
    if p is None:
        return None, f"RVM weights are not in the weights store (tfk weights pull {RVM_ARTIFACT.id})"
    return Path(p), ""


def bfm_model(cfg: PrepConfig) -> tuple[Path | None, str]:
    """The 3DMM file for tracking and, when there is none, why."""
    if cfg.bfm is not None:
        p = Path(cfg.bfm)
        return (p, "") if p.is_file() else (None, f"3DMM file not found: {p}")
    from tfk.tdmm.bfm import adnerf_model_path

    try:
        return adnerf_model_path(), ""
    except MissingWeights as exc:
        return None, f"{exc.message} ({exc.hint})" if exc.hint else exc.message


# ------------------------------------------------------------------------------------------------ steps
def _normalize(video: Path, cfg: PrepConfig):
    def fn(sc: StepContext) -> None:
        from tfk.media import count_frames, normalize_video, preflight, probe, run_ffmpeg

        preflight(video, video=True, audio=True)
        src = video
        if cfg.max_seconds is not None:
            src = sc.out / ".trimmed.mkv"
            run_ffmpeg(
                [
                    "-y",
                    "-i",
                    video,
                    "-t",
                    f"{cfg.max_seconds:.3f}",
                    "-map",
                    "0:v:0",
                    "-map",
                    "0:a:0",
                    "-c",
                    "copy",
                    src,
                ],
                what=f"cutting {video} to {cfg.max_seconds} s",
            )
        out = normalize_video(src, sc.out / "input_temp.mp4", fps=cfg.fps, audio=True)
        if src != video:
            src.unlink()
        n = count_frames(out, exact=True)
        if n < cfg.min_frames:
            raise BadInput(
                f"clip too short: {n} frames ({n / cfg.fps:.2f} s at {cfg.fps} fps); {cfg.layout} preprocessing "
                f"needs at least {cfg.min_frames} frames ({cfg.min_frames / cfg.fps:.2f} s)"
            )
        check_references(cfg, n)
        info = probe(out)
        sc.info.update(frames=n, width=info.width, height=info.height, seconds=round(n / cfg.fps, 3))

    params = {"fps": cfg.fps, "max_seconds": cfg.max_seconds, "min_frames": cfg.min_frames}
    return Step("normalize", fn, "1", params, [video], after=[], description="H.264 at 25 fps (input_temp.mp4)")


def _matting(cfg: PrepConfig):
    weights, reason = rvm_weights(cfg)

    def fn(sc: StepContext) -> None:
        import numpy as np

        from tfk.media import VideoWriter, iter_frames, load_audio
        from tfk.nerfprep.rvm import load_rvm, matte_frames

        if weights is None:
            _skip(sc, reason)
            return
        src = sc.step_dir("normalize") / "input_temp.mp4"
        net = load_rvm(weights, cfg.device)
        bg = np.array(cfg.background, np.float32) / 255.0
        wav = load_audio(src, sr=16000)
        n = 0
        with (
            VideoWriter(sc.out / "input.mp4", fps=cfg.fps, audio=wav, audio_rate=16000) as comp,
            VideoWriter(sc.out / "alpha.mp4", fps=cfg.fps) as alpha,
            _task(sc, "matting", None) as task,
        ):
            for fgr, pha in matte_frames(net, iter_frames(src), device=cfg.device):
                a = pha[..., None]
                comp.write(np.clip((fgr * a + bg * (1 - a)) * 255 + 0.5, 0, 255).astype(np.uint8))
                alpha.write(np.repeat(np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8), 3, axis=2))
                n += 1
                task.advance(1)
        sc.info.update(frames=n, weights=str(weights), background=list(cfg.background))

    params = {
        "matting": cfg.matting,
        "weights": _weights_state(weights) or f"missing: {reason}",
        "background": list(cfg.background),
    }
    return Step("matting", fn, "1", params, after=["normalize"], description="RVM matting + background (input.mp4)")


def _head_region(cfg: PrepConfig):
    def fn(sc: StepContext) -> None:
        from tfk.media import count_frames, iter_frames
        from tfk.nerfprep.head import find_head_region

        src, alpha = _video(sc), _alpha(sc)
        region = find_head_region(
            iter_frames(src),
            iter_frames(alpha) if alpha is not None else None,
            backend=cfg.landmarks,
            head_crop=cfg.head_crop,
            n_frames=count_frames(src),
        )
        (sc.out / "head_bbox.json").write_text(json.dumps(region.to_json(), indent=1))
        sc.info.update(region.to_json())

    params = {"head_crop": cfg.head_crop, "landmarks": cfg.landmarks}
    return Step("head_region", fn, "1", params, after=["normalize", "matting"], description="square head box")


def _head_video(cfg: PrepConfig):
    def fn(sc: StepContext) -> None:
        from tfk.media import count_frames, normalize_video

        box = json.loads((sc.step_dir("head_region") / "head_bbox.json").read_text())
        x1, y1, x2, y2 = box["head_bbox"]
        w, h = box["frame_size"]
        crop = None if (x1, y1, x2, y2) == (0, 0, w, h) else (x1, y1, x2 - x1, y2 - y1)
        size = (cfg.head_size, cfg.head_size)
        out = normalize_video(_video(sc), sc.out / "face_data.mp4", fps=cfg.fps, crop=crop, size=size, audio=True)
        alpha = _alpha(sc)
        if alpha is not None:  # the matte of the head video, for parsing
            normalize_video(alpha, sc.out / "face_alpha.mp4", fps=cfg.fps, crop=crop, size=size, audio=False)
        sc.info.update(frames=count_frames(out, exact=True), size=cfg.head_size, crop=crop)

    return Step(
        "head_video",
        fn,
        "1",
        {"head_size": cfg.head_size, "fps": cfg.fps},
        after=["normalize", "matting", "head_region"],
        description=f"head video {cfg.head_size}² (face_data.mp4)",
    )


def _audio(cfg: PrepConfig):
    def fn(sc: StepContext) -> None:
        from tfk.media import extract_audio, load_audio

        out = extract_audio(sc.step_dir("normalize") / "input_temp.mp4", sc.out / "aud.wav", sr=16000)
        wav = load_audio(out, sr=16000)
        if wav.size == 0 or float(abs(wav).max()) == 0.0:
            raise BadInput("the clip's audio is silent: the NeRF models learn lip motion from speech")
        sc.info.update(samples=int(wav.size), seconds=round(wav.size / 16000, 3), sample_rate=16000)

    return Step("audio", fn, "1", {"sr": 16000}, after=["normalize"], description="16 kHz mono audio (aud.wav)")


def _audio_features(cfg: PrepConfig):
    from tfk.nerfprep import features

    fs = features.spec(cfg.audio_features, cfg.layout)
    state, reason = features.availability(cfg.audio_features, cfg.audio_model)

    def fn(sc: StepContext) -> None:
        import numpy as np

        from tfk.media import load_audio

        sc.info.update(kind=fs.kind, file=fs.file, layout=fs.layout, dim=fs.dim, asr_model=fs.asr_model)
        if state is None:
            _skip(sc, reason)
            return
        wav = load_audio(sc.step_dir("audio") / "aud.wav", sr=16000)
        feats = features.extract(fs.kind, wav, state, cfg.device)
        np.save(sc.out / fs.file, feats)  # the originals' dtypes: DeepSpeech float64, HuBERT/wav2vec2 float32
        sc.info.update(shape=list(feats.shape), dtype=str(feats.dtype))

    params = {"kind": fs.kind, "file": fs.file, "weights": state or f"missing: {reason}"}
    return Step("audio_features", fn, "2", params, after=["audio"], description=f"{fs.kind} features ({fs.file})")


def _frames(cfg: PrepConfig):
    def fn(sc: StepContext) -> None:
        from tfk.media import iter_frames

        d = sc.out / "ori_imgs"
        d.mkdir()
        n = 0
        with _task(sc, "frames", None) as task:
            for i, f in enumerate(iter_frames(sc.step_dir("head_video") / "face_data.mp4")):
                _imwrite(d / f"{i}.jpg", f, quality=98)
                n += 1
                task.advance(1)
        sc.info.update(frames=n)

    return Step("frames", fn, "1", {"jpeg_quality": 98}, after=["head_video"], description="ori_imgs/<i>.jpg")


def _landmarks(cfg: PrepConfig):
    def fn(sc: StepContext) -> None:
        import numpy as np

        from tfk.face.tracking import track_landmarks

        frames = sc.step_dir("frames") / "ori_imgs"
        track = track_landmarks(
            iter_images(frames),
            backend=cfg.landmarks,
            smooth=cfg.landmark_smooth,
            max_missing=cfg.max_missing,
            progress=sc.progress,
        )
        n = _n_frames(frames)
        if len(track) != n:
            raise BadInput(f"{len(track)} landmark frames for {n} frames")
        track.to_lms_dir(sc.out / "ori_imgs")
        track.save_npy(sc.out / "landmark_track.npy")  # tfk.face format (boxes, detected flags)
        np.save(sc.out / "landmarks.npy", np.ascontiguousarray(track.points, dtype=np.float32))  # [N,68,2]
        sc.info.update(frames=n, interpolated=track.interpolated, backend=cfg.landmarks)

    params = {"backend": cfg.landmarks, "smooth": cfg.landmark_smooth, "max_missing": cfg.max_missing}
    return Step("landmarks", fn, "2", params, after=["frames"], description="68-point landmarks (ori_imgs/<i>.lms)")


def _matte_backgrounds(frames: Iterator[Any], alphas: Iterator[Any], colour) -> Iterator[tuple[Any, Any]]:
    """(frame, background) pairs that encode the matte for the landmark parsing fallback: the known solid colour
    where the matte is background, the frame's negative (maximally different) where it is the person."""
    import numpy as np

    bg = np.array(colour, np.uint8)
    for f, a in zip(frames, alphas, strict=False):
        person = a[..., 0] >= 128
        yield f, np.where(person[..., None], 255 - f, bg).astype(np.uint8)


def _parsing(cfg: PrepConfig):
    def fn(sc: StepContext) -> None:
        import cv2
        import numpy as np

        from tfk.face.parsing import bisenet_available, landmark_parsing, parse_regions, write_parsing_png
        from tfk.media import iter_frames

        frames = sc.step_dir("frames") / "ori_imgs"
        lms = np.load(sc.step_dir("landmarks") / "landmarks.npy")
        alpha = sc.step_dir("head_video") / "face_alpha.mp4"
        use_net = cfg.parsing == "bisenet" or (cfg.parsing == "auto" and bisenet_available())
        if use_net:
            results = parse_regions(iter_images(frames), lms, "bisenet", None, cfg.device)
        elif alpha.is_file():  # matted clip: the matte separates the person from the background
            pairs = _matte_backgrounds(iter_images(frames), iter_frames(alpha), cfg.background)
            results = (landmark_parsing(f, lm, bg) for (f, bg), lm in zip(pairs, lms, strict=False))
        else:
            results = (landmark_parsing(f, lm) for f, lm in zip(iter_images(frames), lms, strict=False))
        (sc.out / "parsing").mkdir()
        quality = method = None
        n = 0
        with _task(sc, "parsing", len(lms)) as task:
            for i, res in enumerate(results):
                write_parsing_png(sc.out / "parsing" / f"{i}.png", res.regions)
                if res.labels is not None:
                    (sc.out / "parsing_label").mkdir(exist_ok=True)
                    cv2.imwrite(str(sc.out / "parsing_label" / f"{i}.png"), res.labels)
                quality, method = res.quality, res.info.get("method")
                n += 1
                task.advance(1)
        if n != len(lms):
            raise BadInput(f"parsing produced {n} masks for {len(lms)} frames")
        if method and alpha.is_file() and not use_net:
            method = "landmarks+matte"
        sc.info.update(quality=quality, method=method)

    return Step(
        "parsing",
        fn,
        "1",
        {"prefer": cfg.parsing},
        after=["frames", "landmarks", "head_video"],
        description="face parsing (parsing/<i>.png)",
    )


def _regions(path: Path):
    import cv2

    from tfk.face.parsing import colour_mask_to_regions

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise BadInput(f"{path}: unreadable parsing image")
    return colour_mask_to_regions(img)


def _background(cfg: PrepConfig):
    def fn(sc: StepContext) -> None:
        import cv2

        from tfk.face.parsing import estimate_background

        masks = iter_images(sc.step_dir("parsing") / "parsing", ".png", cv2.IMREAD_COLOR)
        plate = estimate_background(iter_images(sc.step_dir("frames") / "ori_imgs"), masks, step=20)
        _imwrite(sc.out / "bc.jpg", plate, quality=95)
        sc.info.update(every=20)

    return Step(
        "background", fn, "1", {"every": 20}, after=["frames", "parsing"], description="background plate bc.jpg"
    )


def _images(cfg: PrepConfig):
    def fn(sc: StepContext) -> None:
        import cv2

        from tfk.face.parsing import gt_image, head_image, torso_and_gt_images
        from tfk.nerfprep.images import dfrf_torso_image

        bc = cv2.cvtColor(cv2.imread(str(sc.step_dir("background") / "bc.jpg")), cv2.COLOR_BGR2RGB)
        parsing = sc.step_dir("parsing") / "parsing"
        names = ("gt_imgs", "torso_imgs") if cfg.layout == "ernerf" else ("com_imgs", "head_imgs", "torso_imgs")
        for n in names:
            (sc.out / n).mkdir()
        n = 0
        with _task(sc, "gt/torso images", None) as task:
            for i, frame in enumerate(iter_images(sc.step_dir("frames") / "ori_imgs")):
                regions = _regions(parsing / f"{i}.png")
                if cfg.layout == "ernerf":
                    gt, torso = torso_and_gt_images(frame, regions, bc)
                    _imwrite(sc.out / "gt_imgs" / f"{i}.jpg", gt)
                    bgra = torso[..., [2, 1, 0, 3]]
                    _imwrite(sc.out / "torso_imgs" / f"{i}.png", bgra, rgb=False)
                else:
                    com = gt_image(frame, regions, bc)
                    _imwrite(sc.out / "com_imgs" / f"{i}.jpg", com)
                    _imwrite(sc.out / "head_imgs" / f"{i}.jpg", head_image(frame, regions, bc))
                    _imwrite(sc.out / "torso_imgs" / f"{i}.jpg", dfrf_torso_image(com, regions, bc))
                n += 1
                task.advance(1)
        sc.info.update(frames=n, folders=list(names))

    return Step(
        "images",
        fn,
        "1",
        {"layout": cfg.layout},
        after=["frames", "parsing", "background"],
        description="ground-truth and torso images",
    )


def _blinks(cfg: PrepConfig):
    from tfk.nerfprep import blinks as bl

    use_openface = cfg.blinks == "openface" or (cfg.blinks == "auto" and bl.openface_available())

    def fn(sc: StepContext) -> None:
        import numpy as np

        out = sc.out / "au.csv"
        if use_openface:
            bl.run_openface(sc.step_dir("head_video") / "face_data.mp4", out)
            sc.info.update(source=bl.OPENFACE_SOURCE, column="AU45_r")
            return
        lms = np.load(sc.step_dir("landmarks") / "landmarks.npy")
        bl.write_au_csv(out, bl.ear_au45(lms), fps=cfg.fps)
        sc.info.update(
            source=bl.EAR_SOURCE,
            column="AU45_r",
            note="estimated from the landmarks' eye aspect ratio (2 x closure), not OpenFace",
        )

    params = {"source": bl.OPENFACE_SOURCE if use_openface else bl.EAR_SOURCE}
    return Step("blinks", fn, "1", params, after=["head_video", "landmarks"], description="blink AU45 (au.csv)")


def _tracking(ws: Workspace, cfg: PrepConfig) -> list[Step]:
    model, reason = bfm_model(cfg)
    if model is None:

        def skipped(sc: StepContext) -> None:
            _skip(sc, reason)

        return [
            Step(
                "track",
                skipped,
                "1",
                {"bfm": f"missing: {reason}"},
                after=["landmarks"],
                description="BFM 2009 face tracking (skipped: no BFM)",
            )
        ]
    from tfk.nerfprep.config import TRACK_PRESETS
    from tfk.tdmm.pipeline import tracking_steps
    from tfk.tdmm.tracker import TrackerConfig

    tc = TrackerConfig(focal=cfg.focal, **TRACK_PRESETS[cfg.track_preset])
    if cfg.extra.get("tracker"):
        tc = replace(tc, **cfg.extra["tracker"])
    steps = tracking_steps(
        ws.step_dir("frames") / "ori_imgs",
        "landmarks",
        model,
        mode=cfg.tracking,
        split=cfg.split,
        device=cfg.device,
        config=tc,
    )
    out, prev = [], None
    for s in steps:
        after = ["frames", "landmarks"] + ([prev] if prev else [])
        if s.name == "track_write":
            after = ["frames", "landmarks", "track_photometric" if cfg.tracking == "full" else "track_smooth"]
        out.append(replace(s, after=after, params={**s.params, "bfm_state": _weights_state(model)}))
        prev = s.name
    return out


def _dataset(ws: Workspace, cfg: PrepConfig, video: Path, track_names: list[str]):
    def fn(sc: StepContext) -> None:
        from tfk.nerfprep.layout import assemble

        assemble(sc, ws, cfg, video, track_names)

    after = [
        "normalize",
        "matting",
        "head_region",
        "head_video",
        "audio",
        "audio_features",
        "frames",
        "landmarks",
        "parsing",
        "background",
        "images",
        *(["blinks"] if cfg.layout == "ernerf" else []),
        *track_names,
    ]
    params = {"layout": cfg.layout, "split": str(cfg.split), "references": list(cfg.references or ())}
    return Step(DATASET, fn, "1", params, after=after, description=f"{cfg.layout} data folder + model_data.json")


def check_references(cfg: PrepConfig, n_frames: int) -> tuple[int, ...] | None:
    """DFRF's reference frames must be training frames: the default ``50,100,150,200`` needs 201 of them."""
    if cfg.layout != "dfrf":
        return None
    from tfk.tdmm.transforms import split_ids

    n_train = len(split_ids(n_frames, cfg.split)[0])
    refs = cfg.references or DFRF_REFERENCES
    bad = [r for r in refs if r >= n_train]
    if bad:
        if cfg.references is None:
            need = int((max(DFRF_REFERENCES) + 1) / float(cfg.split)) + 1
            raise BadInput(
                f"clip too short for DFRF's reference frames {','.join(map(str, DFRF_REFERENCES))}: "
                f"{n_frames} frames give {n_train} training frames (needs at least {max(DFRF_REFERENCES) + 1}, "
                f"i.e. about {need / cfg.fps:.1f} s)",
                hint="use a longer clip or choose four training frames with --references i,j,k,l",
            )
        raise BadInput(
            f"--references {','.join(map(str, refs))}: frames {bad} are not training frames "
            f"(the clip has {n_train} training frames, 0..{n_train - 1})"
        )
    return tuple(refs)


def build_steps(workspace: Workspace, video: str | os.PathLike[str], cfg: PrepConfig) -> list[Step]:
    """Every preprocessing step for ``video`` in ``workspace`` (see the module docstring)."""
    video = Path(video)
    steps = [
        _normalize(video, cfg),
        _matting(cfg),
        _head_region(cfg),
        _head_video(cfg),
        _audio(cfg),
        _audio_features(cfg),
        _frames(cfg),
        _landmarks(cfg),
        _parsing(cfg),
        _background(cfg),
        _images(cfg),
    ]
    if cfg.layout == "ernerf":
        steps.append(_blinks(cfg))
    track = _tracking(workspace, cfg)
    steps += track
    names = [s.name for s in track if s.name != "track_debug"]
    steps.append(_dataset(workspace, cfg, video, names))
    return steps
