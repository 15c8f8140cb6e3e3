"""Synthetic test media, offline: a real face (skimage astronaut) whose mouth opens with synthetic speech.

Recipe (docs: reference/dependency-stack.md §5.1, with synthetic audio instead of espeak): 256x256 crop of
``skimage.data.astronaut()`` centred on the face (222, 128); per frame the mouth region (centre (128, 150) in
the crop) is stretched vertically by ``6 * env[i]`` px with ``cv2.remap``, where ``env`` is the per-frame RMS of
the audio (hop ``sr / fps``), max-normalised and 3-tap smoothed; then a small head-motion affine jitter. The
audio is a speech-like signal: a ~120 Hz voiced harmonic buzz shaped by vowel formants, syllable-rate
amplitude modulation and pauses between words. It is band-limited (< 4 kHz) and defined in continuous time, so
``synthetic_speech(s, 48000)`` resampled to 16 kHz equals ``synthetic_speech(s, 16000)``: tests use it as the
reference for audio decoded from any format.

Also makers of bad inputs for preflight tests: video-only, truncated, not-media and zero-length files.
"""

from __future__ import annotations

import os
import struct
import wave
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "FACE_CENTER",
    "MOUTH_CENTER",
    "make_audio_file",
    "make_not_media",
    "make_odd_clip",
    "make_talking_clip",
    "make_truncated",
    "make_video_only",
    "make_zero_length",
    "mouth_envelope",
    "synthetic_speech",
]

FACE_CENTER = (222, 128)  #: (x, y) of the face in the 512x512 astronaut image
MOUTH_CENTER = (128, 150)  #: (x, y) of the mouth in the 256x256 crop
_CROP = 256

# (F1, F2, F3) in Hz of a few vowels, and formant bandwidths.
_VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410))
_BANDWIDTHS = (90.0, 110.0, 170.0)
_FMAX = 4000.0  # harmonics above this are dropped: the signal is identical at any rate >= 8 kHz


def _schedule(seconds: float, rng: np.random.Generator) -> list[tuple[float, float, int, float]]:
    """Syllables as (start, duration, vowel index, loudness); words of 1-4 syllables with pauses between."""
    out: list[tuple[float, float, int, float]] = []
    t = 0.15
    while t < seconds - 0.2:
        for _ in range(int(rng.integers(1, 5))):
            dur = float(rng.uniform(0.14, 0.28))
            if t + dur > seconds - 0.05:
                break
            out.append((t, dur, int(rng.integers(len(_VOWELS))), float(rng.uniform(0.6, 1.0))))
            t += dur + float(rng.uniform(0.0, 0.04))
        t += float(rng.uniform(0.15, 0.4))  # pause between words
    return out


def synthetic_speech(seconds: float = 4.0, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Speech-like float32 mono audio at ``sr`` Hz, peak 0.5, deterministic for a given ``seed``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = round(seconds * sr)
    t = np.arange(n, dtype=np.float64) / sr
    f0 = 120.0 * (1.0 + 0.08 * np.sin(2 * np.pi * 0.5 * t + 1.0) + 0.03 * np.sin(2 * np.pi * 3.1 * t))
    # phase = 2*pi * integral of f0, in closed form so that it does not depend on the sample rate
    w1, w2 = 2 * np.pi * 0.5, 2 * np.pi * 3.1
    phase = (
        2 * np.pi * 120.0 * (t - 0.08 / w1 * (np.cos(w1 * t + 1.0) - np.cos(1.0)) - 0.03 / w2 * (np.cos(w2 * t) - 1.0))
    )
    env = np.zeros(n)
    knots_t, knots_f = [0.0], [_VOWELS[0]]
    for start, dur, vowel, loud in _schedule(seconds, rng):
        i0, i1 = int(start * sr), min(int((start + dur) * sr), n)
        u = (np.arange(i0, i1) / sr - start) / dur
        env[i0:i1] += loud * np.sin(np.pi * np.clip(u, 0, 1)) ** 1.5
        knots_t.append(start + dur / 2)
        knots_f.append(_VOWELS[vowel])
    knots_t.append(seconds)
    knots_f.append(knots_f[-1])
    formants = np.stack([np.interp(t, knots_t, [f[j] for f in knots_f]) for j in range(3)])  # (3, n)
    sig = np.zeros(n)
    for k in range(1, int(_FMAX / 100.0) + 1):
        fk = k * f0
        gain = sum(1.0 / np.sqrt(1.0 + ((fk - formants[j]) / _BANDWIDTHS[j]) ** 2) for j in range(3))
        taper = np.clip((_FMAX - fk) / 300.0, 0.0, 1.0)  # smooth band limit
        sig += gain * taper / k**0.7 * np.sin(k * phase)
    sig *= env
    peak = float(np.abs(sig).max()) or 1.0
    return (0.5 * sig / peak).astype(np.float32)


def mouth_envelope(audio: np.ndarray, n_frames: int, sr: int = 16000, fps: float = 25) -> np.ndarray:
    """Per-frame RMS (hop ``sr / fps``), divided by its max (+1e-8), 3-tap moving average: values in [0, 1]."""
    import numpy as np

    hop = sr / fps
    rms = np.zeros(n_frames)
    for i in range(n_frames):
        seg = audio[round(i * hop) : round((i + 1) * hop)]
        rms[i] = float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) if seg.size else 0.0
    rms /= rms.max() + 1e-8
    return np.convolve(np.pad(rms, 1, mode="edge"), np.ones(3) / 3, mode="valid")


def _face_crop() -> np.ndarray:
    from skimage import data

    img = data.astronaut()  # (512, 512, 3) RGB
    cx, cy = FACE_CENTER
    x0 = min(max(cx - _CROP // 2, 0), img.shape[1] - _CROP)
    y0 = min(max(cy - _CROP // 2, 0), img.shape[0] - _CROP)
    return img[y0 : y0 + _CROP, x0 : x0 + _CROP].copy()


def make_talking_clip(
    path: str | os.PathLike[str],
    seconds: float = 4.0,
    size: int = 256,
    fps: int = 25,
    seed: int = 0,
    audio: bool = True,
    jitter: bool = True,
) -> Path:
    """Write an H.264 (+ AAC 16 kHz) talking-face clip of ``round(seconds * fps)`` frames; return its path.

    ``jitter=False`` drops the head motion, leaving the audio-driven mouth as the only motion.
    """
    import cv2
    import numpy as np

    from tfk.media import VideoWriter

    sr = 16000
    n = round(seconds * fps)
    speech = synthetic_speech(seconds, sr, seed)
    env = mouth_envelope(speech, n, sr, fps)
    face = _face_crop()
    ys, xs = np.mgrid[0:_CROP, 0:_CROP].astype(np.float32)
    mx, my = MOUTH_CENTER
    g = np.exp(-(((xs - mx) / 22.0) ** 2 + ((ys - my) / 14.0) ** 2))
    stretch = (g * np.tanh((ys - my) / 6.0)).astype(np.float32)
    rng = np.random.default_rng(seed)
    centre = (_CROP / 2, _CROP / 2)
    with VideoWriter(path, fps=fps, audio=speech if audio else None, audio_rate=sr) as writer:
        for i in range(n):
            map_y = ys - np.float32(6.0 * env[i]) * stretch
            frame = cv2.remap(face, xs, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            angle = 2.0 * np.sin(2 * np.pi * 1.3 * i / n) + rng.normal(0, 0.3)
            scale = 1.0 + 0.02 * np.sin(2 * np.pi * 0.7 * i / n)
            m = cv2.getRotationMatrix2D(centre, float(angle), float(scale))
            m[0, 2] += 3.0 * np.sin(2 * np.pi * i / n) + rng.normal(0, 0.5)
            m[1, 2] += 2.0 * np.cos(2 * np.pi * 1.1 * i / n)
            if jitter:
                frame = cv2.warpAffine(frame, m, (_CROP, _CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            if size != _CROP:
                interp = cv2.INTER_AREA if size < _CROP else cv2.INTER_CUBIC
                frame = cv2.resize(frame, (size, size), interpolation=interp)
            writer.write(frame)
    return Path(path)


def make_video_only(path: str | os.PathLike[str], seconds: float = 2.0, size: int = 128, fps: int = 25) -> Path:
    """A talking clip without an audio stream."""
    return make_talking_clip(path, seconds=seconds, size=size, fps=fps, audio=False)


def make_odd_clip(
    path: str | os.PathLike[str],
    width: int = 161,
    height: int = 121,
    fps: int = 30,
    seconds: float = 2.0,
    audio: bool = True,
) -> Path:
    """A clip with odd dimensions and a non-25 frame rate (H.264 4:4:4, which allows odd sizes; AAC 44.1 kHz):
    the face crop resized to ``width x height``, drifting sideways, for normalisation tests."""
    import av
    import cv2
    import numpy as np

    n = round(seconds * fps)
    base = cv2.resize(_face_crop(), (width, height), interpolation=cv2.INTER_AREA)
    speech = synthetic_speech(seconds, 44100) if audio else None
    with av.open(str(path), "w", format="mp4") as container:
        vs = container.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv444p"
        vs.options = {"crf": "18", "preset": "veryfast"}
        astream = None
        if speech is not None:
            astream = container.add_stream("aac", rate=44100)
            astream.layout = "mono"
        for i in range(n):
            frame = np.roll(base, i, axis=1)
            container.mux(vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(vs.encode(None))
        if astream is not None and speech is not None:
            af = av.AudioFrame.from_ndarray(speech[None, :], format="fltp", layout="mono")
            af.sample_rate, af.pts = 44100, 0
            container.mux(astream.encode(af))
            container.mux(astream.encode(None))
    return Path(path)


def _pcm16(x: np.ndarray) -> bytes:
    import numpy as np

    return (np.clip(x, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()


def make_audio_file(
    path: str | os.PathLike[str],
    seconds: float = 2.0,
    rate: int = 48000,
    channels: int = 2,
    fmt: str = "wav",
    seed: int = 0,
) -> Path:
    """Write :func:`synthetic_speech` as ``fmt``: ``wav`` (16-bit PCM), ``wav_float`` (32-bit IEEE float),
    ``wav_extensible`` (WAVE_FORMAT_EXTENSIBLE, 16-bit PCM), ``mp3`` or ``m4a`` (AAC in MP4).

    Channel ``c`` carries the speech times ``1 - 0.2 c``, so the channel mean is the speech times a constant.
    """
    import numpy as np

    mono = synthetic_speech(seconds, rate, seed)
    data = np.stack([mono * (1.0 - 0.2 * c) for c in range(channels)], axis=1).astype(np.float32)  # (n, ch)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "wav":
        with wave.open(str(p), "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(_pcm16(data))
    elif fmt == "wav_float":
        from tfk.media import write_wav

        write_wav(p, data, rate)
    elif fmt == "wav_extensible":
        pcm = _pcm16(data)
        mask = {1: 0x4, 2: 0x3}.get(channels, (1 << channels) - 1)
        subformat_pcm = b"\x01\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt_chunk = struct.pack(
            "<HHIIHHHHI", 0xFFFE, channels, rate, rate * channels * 2, channels * 2, 16, 22, 16, mask
        )
        fmt_chunk += subformat_pcm
        body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + b"data" + struct.pack("<I", len(pcm))
        p.write_bytes(b"RIFF" + struct.pack("<I", len(body) + len(pcm)) + body + pcm)
    elif fmt in ("mp3", "m4a"):
        _encode_audio(
            p, data, rate, codec="libmp3lame" if fmt == "mp3" else "aac", fmt="mp3" if fmt == "mp3" else "mp4"
        )
    else:
        raise ValueError(f"unknown audio format {fmt!r}")
    return p


def _encode_audio(path: Path, data: np.ndarray, rate: int, codec: str, fmt: str) -> None:
    import av
    import numpy as np

    layout = {1: "mono", 2: "stereo"}[data.shape[1]]
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = layout
        stream.bit_rate = 192_000
        planar = np.ascontiguousarray(data.T)
        block = 4096
        for start in range(0, planar.shape[1], block):
            frame = av.AudioFrame.from_ndarray(planar[:, start : start + block].copy(), format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _remux(src: Path, dst: Path, faststart: bool) -> None:
    import av

    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4", options=options) as out:
        mapping = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux(*[s for s in inp.streams if s.index in mapping]):
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)


def make_truncated(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], keep: float = 0.6, faststart: bool = True
) -> Path:
    """Copy the first ``keep`` fraction of the bytes of an MP4 ``src`` (remuxed first).

    With ``faststart`` the index (moov) comes first, so the cut file still probes fine and only a full decode
    shows it is truncated; without, the index is cut off and the file no longer opens.
    """
    src, dst = Path(src), Path(dst)
    tmp = dst.with_name(dst.name + ".remux.mp4")
    _remux(src, tmp, faststart)
    data = tmp.read_bytes()
    tmp.unlink()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def make_not_media(path: str | os.PathLike[str]) -> Path:
    """A text file with a media suffix (whatever ``path`` says)."""
    p = Path(path)
    p.write_text("This is not a video. It is a plain text file pretending to be one.\n" * 50)
    return p


def make_zero_length(path: str | os.PathLike[str], kind: str = "mp4") -> Path:
    """Zero-length media. ``kind``: ``"mp4"`` (a valid MP4 whose H.264 track has no samples: preflight says
    ``ZeroDuration``), ``"wav"`` (a WAV header with no samples: ``ZeroDuration``) or ``"empty"`` (a 0-byte
    file: ``NotMediaFile``, since there is no container at all)."""
    import av

    p = Path(path)
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "wav":
        with wave.open(str(p), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(b"")
    elif kind == "mp4":
        container = av.open(str(p), "w", format="mp4")
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        container.start_encoding()
        container.close()
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return p
