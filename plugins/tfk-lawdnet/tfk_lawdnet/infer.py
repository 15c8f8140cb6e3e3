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
from tfk.progress import ensure
from tfk_lawdnet import artifacts as arts
from tfk_lawdnet.crop import paste_back
from tfk_lawdnet.features import FRONTENDS, frame_windows, frames_for_audio, frontend_runner
from tfk_lawdnet.template import Template, pingpong_indices, prepare_template

if TYPE_CHECKING:
    import torch

    from tfk.progress import Progress

__all__ = ["Dubber", "InferStats", "check_device", "infer", "infer_stage", "load_dubber", "resolve_checkpoint"]

_FRONTEND_NAMES = {"dp1": "DP1 (TF DeepSpeech v0.1.0)", "dp2": "DP2 (deepspeech.pytorch V3)"}

#: frames per generator batch when --batch-size is not given, per device type. On a CPU, batches only add
#: memory traffic (the original's 20 was the slowest choice there); measured with
#: ``benchmarks/bench_lawdnet_generator.py`` (see the plugin README).
DEFAULT_BATCH = {"cpu": 1, "cuda": 20, "mps": 8}


#: the reduced-precision CPU path is kept only while its output stays this close to fp32
BF16_MIN_PSNR = 40.0


def default_batch_size(device: str) -> int:
    return DEFAULT_BATCH.get(str(device).split(":")[0], 1)


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


def choose_frontend(checkpoint_name: str, known: str | None, requested: str | None, conflict: str = "") -> str:
    """The audio front-end to use; a request that contradicts the checkpoint is refused, and where the
    checkpoint's evidence disagrees (``conflict``) only an explicit request decides."""
    req = (requested or "").lower() or None
    if req is not None and req not in FRONTENDS:
        raise UsageError(f"unknown audio front-end {requested!r}; choose dp1 or dp2")
    if known is None and conflict and req is None:
        raise UsageError(
            f"cannot tell which audio front-end {checkpoint_name} was trained with ({conflict})",
            hint="pass --audio-frontend dp1 (DeepSpeech v0.1.0) or dp2 (deepspeech.pytorch) as used in training",
        )
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
        batch_size: int | None = None,
        seed: int = 456,
        meta: dict[str, Any] | None = None,
        channels_last: bool | None = None,
        precision: str = "fp32",
    ):
        if precision not in ("fp32", "bf16"):
            raise UsageError(f"--precision must be fp32 or bf16, not {precision!r}")
        if precision == "bf16" and not str(device).startswith("cpu"):
            raise UsageError("--precision bf16 is a CPU option (on CUDA the original's fp16 autocast is used)")
        #: bf16 autocast on a CPU, kept only while it stays >= BF16_MIN_PSNR dB from fp32 (checked per clip)
        self.precision = precision
        if batch_size is None:
            batch_size = default_batch_size(device)
        if batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
        import torch

        # channels-last (NHWC) convolutions: ~1.4x on a CPU at equal output (oneDNN); GPUs keep NCHW here
        self.channels_last = str(device).startswith("cpu") if channels_last is None else bool(channels_last)
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
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
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        with torch.inference_mode():  # the reference branch, once for the whole clip (not per frame)
            refs = _encode_references(self.net, ref.contiguous(memory_format=layout))
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
        task_cm = ensure(progress).task("lawdnet: dubbing", total=n_out)
        task = task_cm.__enter__()
        mats = template.matrices
        parity = template.parity

        def write(item: tuple[int, list[np.ndarray], np.ndarray]) -> None:
            start, frames, gen = item
            for k, (frame, g) in enumerate(zip(frames, gen, strict=True)):
                out = paste_back(frame, g, mats[order[start + k]], parity=parity)
                writer_cm.write(out)
            task.advance(len(frames))

        reader = _Prefetch(batches(), maxsize=2)
        try:
            with writer_cm:
                wt = _Writer(write, maxsize=2)
                bf16 = self.precision == "bf16"

                def generate(s: torch.Tensor, a: torch.Tensor, low: bool) -> torch.Tensor:
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=low):
                        if refs is not None:
                            return self.net(s, None, a, refs=refs).float()
                        return self.net(s, ref.expand(s.shape[0], -1, -1, -1), a).float()

                try:
                    with torch.inference_mode():
                        for start, frames, src in reader:
                            tg = time.perf_counter()
                            n = src.shape[0]
                            s = (src.to(dev, non_blocking=True) * keep).contiguous(memory_format=layout)
                            a = torch.from_numpy(windows[start : start + n]).to(dev)
                            g = generate(s, a, bf16)
                            if bf16 and "bf16_psnr_db" not in st.extra:  # the first batch checks bf16 against fp32
                                g32 = generate(s, a, False)
                                psnr = _psnr(g, g32)
                                st.extra["bf16_psnr_db"] = psnr
                                if psnr < BF16_MIN_PSNR:
                                    from tfk.console import warn

                                    warn(
                                        f"bf16 output is {psnr:.1f} dB from fp32 here (< {BF16_MIN_PSNR:g}): using fp32"
                                    )
                                    bf16, g = False, g32
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
            task_cm.__exit__(None, None, None)
        st.frames += n_out
        st.wall += time.perf_counter() - t0
        return Path(output)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR (dB) of two [0,1] images."""
    import math

    mse = float(((a.float() - b.float()) ** 2).mean())
    return 10 * math.log10(1.0 / max(mse, 1e-20))


def _encode_references(net: Any, ref: torch.Tensor) -> Any:
    """The generator's reference features for ``ref`` (None for a network without that split)."""
    import torch

    encode = getattr(net, "encode_references", None)
    if encode is None:
        return None
    if getattr(net, "autocast_fp16", False) and ref.is_cuda:
        with torch.autocast("cuda", dtype=torch.float16):
            return encode(ref)
    return encode(ref)


def load_dubber(
    checkpoint: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    audio_frontend: str | None = None,
    batch_size: int | None = None,
    seed: int = 456,
    mouth: int | None = None,
    grid_size: int | None = None,
    fp16: bool | None = None,
    require: Callable[[str], Path] | None = None,
    frontend_weights: str | os.PathLike[str] | None = None,
    precision: str = "fp32",
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
    source = str(meta.get("frontend_source") or "")
    conflict = source.partition("conflict: ")[2] if artifact_id is None else ""
    frontend = choose_frontend(name, known, audio_frontend, conflict)
    weights = frontend_weights or require(arts.FRONTEND_ARTIFACT[frontend])
    runner = frontend_runner(frontend, weights, device=dev)
    m = int(mouth or meta.get("mouth") or 288)
    if fp16 is None:
        fp16 = dev.startswith("cuda")  # the original runs under fp16 autocast on CUDA
    if hasattr(net, "autocast_fp16"):
        net.autocast_fp16 = bool(fp16)
    torch.manual_seed(seed)
    meta = dict(meta, checkpoint=str(path), artifact=artifact_id, audio_frontend=frontend)
    return Dubber(
        net, frontend, runner, mouth=m, device=dev, batch_size=batch_size, seed=seed, meta=meta, precision=precision
    )


def default_output(video: Path, audio: Path) -> Path:
    return Path.cwd() / f"{Path(video).stem}_{Path(audio).stem}_lawdnet.mp4"


def infer(
    video: str | os.PathLike[str],
    audio: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    batch_size: int | None = None,
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
    face: str | None = None,
    precision: str = "fp32",
) -> Path:
    """``tfk infer lawdnet``: dub ``video`` with ``audio``; returns the output path.

    ``face``: which face of a template with several (largest [default], left, right, or an index from the left).
    """
    from tfk.media import preflight
    from tfk_lawdnet.faces import parse_face

    video, audio = Path(video), Path(audio)
    # header checks only for the template: its landmark pass checks the decoded length (one decode)
    parse_face(face)  # a bad --face is a usage error before any work
    preflight(video, video=True, audio=False, decode=False)
    preflight(audio, video=False, audio=True)  # once per process: the stage runner's check is reused
    out = Path(output) if output else default_output(video, audio)
    if out.suffix.lower() not in (".mp4", ".mov", ".mkv", ".m4v"):
        raise UsageError(f"output {out} must end in .mp4 (or .mov/.mkv)")
    from tfk.fsutil import check_writable

    check_writable(out)  # a read-only or full location fails now, naming the path, not after the work
    st = stats if stats is not None else InferStats()
    dubber = load_dubber(
        checkpoint, device, audio_frontend, batch_size, seed, mouth, grid_size, require=require, precision=precision
    )
    t = time.perf_counter()
    tpl = prepare_template(
        video,
        mouth=dubber.mouth,
        landmarks=landmarks,
        smooth=smooth,
        progress=progress,
        cache_root=cache_root,
        face=face,
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
        face=options["face"],
        precision=options["precision"],
    )
    if ctx.run is not None:
        ctx.run.record_output("video", out)
    return out
