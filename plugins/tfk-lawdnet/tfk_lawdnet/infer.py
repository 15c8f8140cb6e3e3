"""LawDNet inference: dub a template video with new audio.

Policy (reference notes §6.2 item 5, decided explicitly):

* the output has ``ceil(25 * audio duration)`` frames; the template is ping-pong looped when shorter and
  cut when longer; the audio is muxed trimmed/padded to the video duration (A/V within one frame);
* feature rows are start-anchored, index to index, with edge padding (no time shift);
* the 5 reference frames are drawn with a seeded generator from frames with detected landmarks;
* paste-back is an inverse warp with a feathered mask, clipped to the frame (never the original splat).

Frames stream through three stages: a reader thread (decode + cached crops + masking), the generator on
the calling thread, and a writer thread (paste-back + encode), joined by small bounded queues, so memory
does not grow with the clip length.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tfk.errors import InputNotFound, UsageError
from tfk_lawdnet import artifacts as arts
from tfk_lawdnet.crop import paste_back
from tfk_lawdnet.features import FRONTENDS, frame_windows, frames_for_audio, frontend_runner
from tfk_lawdnet.template import Template, pingpong_indices, prepare_template

if TYPE_CHECKING:
    import torch

    from tfk.progress import Progress

__all__ = ["Dubber", "InferStats", "check_device", "infer", "infer_stage", "load_dubber", "resolve_checkpoint"]

_FRONTEND_NAMES = {"dp1": "DP1 (TF DeepSpeech v0.1.0)", "dp2": "DP2 (deepspeech.pytorch V3)"}


def check_device(device: str | None) -> str:
    """A validated torch device string (:func:`tfk.device.resolve_device`)."""
    from tfk.device import resolve_device

    return resolve_device(device)


def resolve_checkpoint(
    checkpoint: str | os.PathLike[str] | None, require: Callable[[str], Path] | None = None
) -> tuple[Path, str | None]:
    """``(path, artifact id or None)`` for an artifact id (``lawdnet/checkpoint_epoch_170``), a short name
    (``170``, ``checkpoint_epoch_120``) or a file path. Default: the DP2 checkpoint 170."""
    if require is None:
        from tfk.weights import require as _require

        require = _require
    if checkpoint is None or str(checkpoint).strip() == "":
        return require(arts.DEFAULT_CHECKPOINT), arts.DEFAULT_CHECKPOINT
    text = str(checkpoint).strip()
    aliases = {a.split("/", 1)[1]: a for a in arts.CHECKPOINT_FRONTEND}
    aliases.update({a.rsplit("_", 1)[1]: a for a in arts.CHECKPOINT_FRONTEND})
    if text in arts.CHECKPOINT_FRONTEND:
        return require(text), text
    p = Path(text).expanduser()
    if p.exists():
        if not p.is_file():
            raise InputNotFound(f"checkpoint {p} is not a file")
        return p, None
    if text in aliases:
        return require(aliases[text]), aliases[text]
    raise InputNotFound(
        f"checkpoint {text!r} is neither a file nor a known artifact",
        hint="use a path, or one of: " + ", ".join(sorted(arts.CHECKPOINT_FRONTEND)),
    )


def choose_frontend(checkpoint_name: str, known: str | None, requested: str | None) -> str:
    """The audio front-end to use; a request that contradicts the checkpoint is refused."""
    req = (requested or "").lower() or None
    if req is not None and req not in FRONTENDS:
        raise UsageError(f"unknown audio front-end {requested!r}; choose dp1 or dp2")
    if known is not None and req is not None and req != known:
        raise UsageError(
            f"{checkpoint_name} was trained with {_FRONTEND_NAMES[known]} features; running it on "
            f"{_FRONTEND_NAMES[req]} features would load without error but produce wrong mouth shapes",
            hint=f"drop --audio-frontend (it is {known} for this checkpoint) or use a checkpoint trained with {req}",
        )
    chosen = known or req
    if chosen is None:
        raise UsageError(
            f"cannot tell which audio front-end {checkpoint_name} was trained with",
            hint="pass --audio-frontend dp1 (DeepSpeech v0.1.0) or dp2 (deepspeech.pytorch)",
        )
    return chosen


@dataclass
class InferStats:
    """Timings of one dubbing call (seconds) for benchmarks and logs."""

    frames: int = 0
    wall: float = 0.0
    generator: float = 0.0
    features: float = 0.0
    template: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.wall if self.wall > 0 else 0.0


class _Prefetch:
    """Run an iterator in a daemon thread, handing items over through a bounded queue."""

    _END = object()

    def __init__(self, it: Iterator[Any], maxsize: int = 2):
        self._q: queue.Queue = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._it = it
        self._t = threading.Thread(target=self._run, daemon=True, name="lawdnet-reader")
        self._t.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._it:
                if not self._put((None, item)):
                    return
        except BaseException as exc:  # re-raised in the consumer
            self._put((exc, None))
            return
        self._put((None, self._END))

    def __iter__(self) -> Iterator[Any]:
        while True:
            exc, item = self._q.get()
            if exc is not None:
                raise exc
            if item is self._END:
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._t.join(timeout=10)


class _Writer:
    """Paste-back + encode in a background thread; errors surface on the next ``put`` or on ``finish``."""

    def __init__(self, fn: Callable[[Any], None], maxsize: int = 2):
        self._q: queue.Queue = queue.Queue(maxsize)
        self._fn = fn
        self._exc: BaseException | None = None
        self._t = threading.Thread(target=self._run, daemon=True, name="lawdnet-writer")
        self._t.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            if self._exc is not None:
                continue  # drain after a failure
            try:
                self._fn(item)
            except BaseException as exc:
                self._exc = exc

    def put(self, item: Any) -> None:
        if self._exc is not None:
            raise self._exc
        self._q.put(item)

    def finish(self) -> None:
        self._q.put(None)
        self._t.join()
        if self._exc is not None:
            raise self._exc


class Dubber:
    """A loaded generator + audio front-end, ready to dub templates with any number of audio files."""

    def __init__(
        self,
        net: torch.nn.Module,
        frontend: str,
        runner: Callable[[np.ndarray], np.ndarray],
        mouth: int = 288,
        device: str = "cpu",
        batch_size: int = 20,
        seed: int = 456,
        meta: dict[str, Any] | None = None,
    ):
        if batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
        self.net = net
        self.frontend = frontend
        self.runner = runner
        self.mouth = int(mouth)
        self.device = device
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.meta = dict(meta or {})

    # -- template --------------------------------------------------------------------------------
    def prepare(self, video: str | os.PathLike[str], progress: Progress | None = None, **kwargs: Any) -> Template:
        return prepare_template(video, mouth=self.mouth, progress=progress, **kwargs)

    # -- dubbing ---------------------------------------------------------------------------------
    def dub(
        self,
        template: Template,
        audio: str | os.PathLike[str] | np.ndarray,
        output: str | os.PathLike[str],
        progress: Progress | None = None,
        stats: InferStats | None = None,
        reference_indices: list[int] | None = None,
        n_frames: int | None = None,
    ) -> Path:
        """Write the dubbed MP4 to ``output`` (atomically) and return its path.

        ``n_frames`` overrides the output length (default: what the audio needs at 25 fps); the audio is
        trimmed or padded to it.
        """
        import torch

        from tfk.media import VideoWriter, load_audio

        st = stats if stats is not None else InferStats()
        t0 = time.perf_counter()
        wav = audio if isinstance(audio, np.ndarray) else load_audio(audio, sr=16000)
        n_out = frames_for_audio(int(wav.size)) if n_frames is None else int(n_frames)
        if n_out < 1:
            raise UsageError(f"n_frames must be at least 1, got {n_out}")
        ds25 = self.runner(np.asarray(wav, np.float32))
        windows = frame_windows(ds25, n_out)
        st.features += time.perf_counter() - t0

        order = pingpong_indices(n_out, template.n_frames)
        refs = reference_indices or template.reference_indices(self.seed)
        if len(refs) != 5 or any(not 0 <= r < template.n_frames for r in refs):
            raise UsageError(f"need 5 reference frame indices in 0..{template.n_frames - 1}, got {refs}")
        dev = torch.device(self.device)
        ref = torch.from_numpy(np.concatenate(list(template.read_crops(refs)), axis=-1).copy())  # H, W, 15
        ref = ref.permute(2, 0, 1)[None].to(dev, torch.float32).div_(255.0)
        from tfk_lawdnet.mask import source_mask

        h, w = template.crop_hw
        keep = torch.from_numpy(1.0 - np.asarray(source_mask(h, w))).to(dev)
        bs = self.batch_size

        def batches() -> Iterator[tuple[int, list[np.ndarray], Any]]:
            frames = template.iter_frames(order)
            for start in range(0, n_out, bs):
                idx = order[start : start + bs]
                fr = [next(frames) for _ in idx]
                c = template.read_crops(idx)  # (B, H, W, 3) uint8
                src = torch.from_numpy(c).permute(0, 3, 1, 2).float().div_(255.0)
                if dev.type == "cuda":
                    src = src.pin_memory()
                yield start, fr, src

        writer_cm = VideoWriter(output, fps=25, audio=np.asarray(wav, np.float32), audio_rate=16000)
        task_cm = progress.task("lawdnet: dubbing", total=n_out) if progress is not None else None
        task = task_cm.__enter__() if task_cm is not None else None
        mats = template.matrices
        parity = template.parity

        def write(item: tuple[int, list[np.ndarray], np.ndarray]) -> None:
            start, frames, gen = item
            for k, (frame, g) in enumerate(zip(frames, gen, strict=True)):
                out = paste_back(frame, g, mats[order[start + k]], parity=parity)
                writer_cm.write(out)
            if task is not None:
                task.advance(len(frames))

        reader = _Prefetch(batches(), maxsize=2)
        try:
            with writer_cm:
                wt = _Writer(write, maxsize=2)
                try:
                    with torch.inference_mode():
                        for start, frames, src in reader:
                            tg = time.perf_counter()
                            n = src.shape[0]
                            s = src.to(dev, non_blocking=True) * keep
                            a = torch.from_numpy(windows[start : start + n]).to(dev)
                            g = self.net(s, ref.expand(n, -1, -1, -1), a)
                            g = g.float().clamp_(0, 1).mul_(255.0).round_().to(torch.uint8)
                            gen = g.permute(0, 2, 3, 1).contiguous().cpu().numpy()
                            st.generator += time.perf_counter() - tg
                            wt.put((start, frames, gen))
                finally:
                    wt.finish()
                if writer_cm.frames_written != n_out:
                    raise RuntimeError(f"wrote {writer_cm.frames_written} frames, expected {n_out}")
        finally:
            reader.close()
            if task_cm is not None:
                task_cm.__exit__(None, None, None)
        st.frames += n_out
        st.wall += time.perf_counter() - t0
        return Path(output)


def load_dubber(
    checkpoint: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    audio_frontend: str | None = None,
    batch_size: int = 20,
    seed: int = 456,
    mouth: int | None = None,
    grid_size: int | None = None,
    fp16: bool | None = None,
    require: Callable[[str], Path] | None = None,
    frontend_weights: str | os.PathLike[str] | None = None,
) -> Dubber:
    """Load the generator and its audio front-end; refuses a front-end that contradicts the checkpoint."""
    import torch

    from tfk_lawdnet.models.checkpoint import load_generator

    dev = check_device(device)
    if require is None:
        from tfk.weights import require as _require

        require = _require
    path, artifact_id = resolve_checkpoint(checkpoint, require)
    known = arts.CHECKPOINT_FRONTEND.get(artifact_id) if artifact_id else None
    net, meta = load_generator(path, dev, grid_size=grid_size)
    if known is None:
        known = meta.get("audio_frontend")
    elif meta.get("audio_frontend") not in (None, known):
        known = meta["audio_frontend"]  # what the file itself records wins
    name = artifact_id or Path(path).name
    frontend = choose_frontend(name, known, audio_frontend)
    weights = frontend_weights or require(arts.FRONTEND_ARTIFACT[frontend])
    runner = frontend_runner(frontend, weights, device=dev)
    m = int(mouth or meta.get("mouth") or 288)
    if fp16 is None:
        fp16 = dev.startswith("cuda")  # the original runs under fp16 autocast on CUDA
    if hasattr(net, "autocast_fp16"):
        net.autocast_fp16 = bool(fp16)
    torch.manual_seed(seed)
    meta = dict(meta, checkpoint=str(path), artifact=artifact_id, audio_frontend=frontend)
    return Dubber(net, frontend, runner, mouth=m, device=dev, batch_size=batch_size, seed=seed, meta=meta)


def default_output(video: Path, audio: Path) -> Path:
    return Path.cwd() / f"{Path(video).stem}_{Path(audio).stem}_lawdnet.mp4"


def infer(
    video: str | os.PathLike[str],
    audio: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    batch_size: int = 20,
    audio_frontend: str | None = None,
    seed: int = 456,
    mouth: int | None = None,
    grid_size: int | None = None,
    landmarks: str = "dlib",
    smooth: float = 1.0,
    progress: Progress | None = None,
    require: Callable[[str], Path] | None = None,
    stats: InferStats | None = None,
    cache_root: str | os.PathLike[str] | None = None,
) -> Path:
    """``tfk infer lawdnet``: dub ``video`` with ``audio``; returns the output path."""
    from tfk.media import preflight

    video, audio = Path(video), Path(audio)
    # header checks only for the template: its landmark pass checks the decoded length (one decode)
    preflight(video, video=True, audio=False, decode=False)
    preflight(audio, video=False, audio=True)  # once per process: the stage runner's check is reused
    out = Path(output) if output else default_output(video, audio)
    if out.suffix.lower() not in (".mp4", ".mov", ".mkv", ".m4v"):
        raise UsageError(f"output {out} must end in .mp4 (or .mov/.mkv)")
    st = stats if stats is not None else InferStats()
    dubber = load_dubber(checkpoint, device, audio_frontend, batch_size, seed, mouth, grid_size, require=require)
    t = time.perf_counter()
    tpl = prepare_template(
        video, mouth=dubber.mouth, landmarks=landmarks, smooth=smooth, progress=progress, cache_root=cache_root
    )
    st.template += time.perf_counter() - t
    return dubber.dub(tpl, audio, out, progress=progress, stats=st)


def infer_stage(ctx: Any, options: dict[str, Any]) -> Path:
    """The ``tfk_infer`` hook body."""
    out = infer(
        video=options["video"],
        audio=options["audio"],
        output=options["output"],
        checkpoint=options["checkpoint"],
        device=ctx.device,
        batch_size=options["batch_size"],
        audio_frontend=options["audio_frontend"],
        seed=options["seed"],
        mouth=options["mouth_size"],
        grid_size=options["grid_size"],
        landmarks=options["landmarks"],
        smooth=options["smooth"],
        progress=ctx.progress,
        require=ctx.require,
    )
    if ctx.run is not None:
        ctx.run.record_output("video", out)
    return out
