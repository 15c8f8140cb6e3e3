"""``tfk demo [lawdnet]``: the whole LawDNet pipeline on built-in media, offline, on CPU, in a few minutes.

It makes a talking-face template from the real portrait that ships with scikit-image (its mouth moves
with a synthetic voice), a second synthetic voice to dub it with, preprocesses the template, trains
LawDNet's ``tiny`` preset on it and dubs it, each stage through :func:`tfk.runner.run_stage`. Published
weights cannot be bundled, so the demo's audio front-end is an *untrained* deepspeech.pytorch network
(seeded, deterministic) and the generator is the tiny model trained on the spot: the output shows that
every stage runs end to end, not the quality of the published model. Everything lives under ``--out``
(the weights store is not touched).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfk.progress import Progress


def _untrained_dp2(path: Path) -> Path:
    """A seeded, untrained deepspeech.pytorch network in the published key layout (small hidden size)."""
    import torch

    from tfk.audio.deepspeech_pt import DeepSpeech2

    if not path.exists():
        torch.manual_seed(0)
        from tfk.fsutil import atomic_path

        with atomic_path(path) as tmp:
            torch.save(DeepSpeech2(hidden_size=64, hidden_layers=2).state_dict(), tmp)
    return path


def run_demo(
    out: Path,
    seconds: float = 4.0,
    device: str = "cpu",
    video: Path | None = None,
    audio: Path | None = None,
    progress: Progress | None = None,
) -> Path:
    """Preprocess, train (tiny) and dub under ``out``; return the dubbed video."""
    from tfk.console import info
    from tfk.media import write_wav
    from tfk.runner import run_stage
    from tfk.testing.synth import make_talking_clip, synthetic_speech
    from tfk_lawdnet.artifacts import DP2_CHECKPOINT

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    template = Path(video) if video is not None else out / "template.mp4"
    if video is None and not template.exists():
        make_talking_clip(template, seconds=seconds, size=256, seed=0)
    speech = Path(audio) if audio is not None else out / "speech.wav"
    if audio is None and not speech.exists():
        write_wav(speech, synthetic_speech(seconds * 0.75, 16000, seed=7), 16000)
    weights = {DP2_CHECKPOINT: _untrained_dp2(out / "weights" / "dp2_untrained.pt")}

    def stage(verb: str, options: dict[str, Any]) -> Any:
        t0 = time.monotonic()
        result = run_stage(
            "lawdnet",
            verb,
            options,
            uid="demo",
            workspace=out / "workspace",
            device=device,
            progress=progress,
            home=out,
            runs_root=out / "runs" / verb,
            weights=weights,
        )
        info(f"demo: {verb} done in {time.monotonic() - t0:.1f}s")
        return result

    stage("preprocess", {"input": template, "features": "dp2", "resolution": 180})
    generator = stage("train", {"preset": "tiny", "out": out / "train"})
    result = stage(
        "infer",
        {
            "video": template,
            "audio": speech,
            "output": out / "dubbed.mp4",
            "checkpoint": str(generator),
            "batch_size": 8,
        },
    )
    info(f"demo: dubbed video written to {result} (tiny model trained on the spot, untrained audio front-end)")
    return Path(result)
