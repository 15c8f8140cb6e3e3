"""``tfk demo``: the whole LawDNet pipeline on built-in media, offline, on CPU, in a few minutes.

It makes a talking-face template from the real portrait that ships with scikit-image (its mouth moves
with a synthetic voice), a second synthetic voice to dub it with, preprocesses the template, trains
LawDNet's ``tiny`` preset on it and dubs it. Published weights cannot be bundled, so the demo's audio
front-end is an *untrained* deepspeech.pytorch network (seeded, deterministic) and the generator is the
tiny model trained on the spot: the output shows that every stage runs end to end, not the quality of
the published model. Everything lives under ``--out`` (the weights store is not touched).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfk.plugin import StageContext


@dataclass
class _DemoContext(StageContext):
    demo_weights: dict[str, Path] | None = None

    def require(self, artifact_id: str) -> Path:
        if self.demo_weights and artifact_id in self.demo_weights:
            return self.demo_weights[artifact_id]
        return super().require(artifact_id)


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


def run_demo(out: Path, seconds: float, device: str, video: Path | None = None, audio: Path | None = None) -> Path:
    from tfk.cli.stages import run_guard
    from tfk.console import info
    from tfk.media import write_wav
    from tfk.plugins import load_registry
    from tfk.progress import make_progress
    from tfk.testing.synth import make_talking_clip, synthetic_speech
    from tfk.workspace import Run, Workspace

    reg = load_registry()
    lp = reg.get("lawdnet")
    from tfk_lawdnet.artifacts import DP2_CHECKPOINT

    out.mkdir(parents=True, exist_ok=True)
    template = Path(video) if video is not None else out / "template.mp4"
    if video is None and not template.exists():
        make_talking_clip(template, seconds=seconds, size=256, seed=0)
    speech = Path(audio) if audio is not None else out / "speech.wav"
    if audio is None and not speech.exists():
        write_wav(speech, synthetic_speech(seconds * 0.75, 16000, seed=7), 16000)
    weights = {DP2_CHECKPOINT: _untrained_dp2(out / "weights" / "dp2_untrained.pt")}
    ws = Workspace.for_subject("lawdnet", "demo", out / "workspace")
    progress = make_progress(os.environ.get("TFK_PROGRESS", "auto"))

    def stage(verb: str, options: dict[str, Any]) -> Any:
        run = None
        if verb != "preprocess":
            run = Run.create(
                "lawdnet", verb, uid="demo", root=out / "runs" / verb, plugin_version=lp.version, device=device
            )
            run.set_config(options)
        ctx = _DemoContext(
            model="lawdnet",
            stage=verb,
            home=out,
            device=device,
            workspace=ws,
            run=run,
            progress=progress,
            demo_weights=weights,
        )
        t0 = time.monotonic()
        with run_guard(run, verb, plugin="lawdnet"):
            result = reg.dispatch("lawdnet", verb, ctx, options)
        info(f"demo: {verb} done in {time.monotonic() - t0:.1f}s")
        return result

    try:
        stage(
            "preprocess", {"input": template, "features": "dp2", "resolution": 180, "landmarks": "dlib", "smooth": 1.0}
        )
        generator = stage("train", {"preset": "tiny", "resume": True, "out": out / "train", "nproc_per_node": 1})
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
    finally:
        progress.close()
    info(f"demo: dubbed video written to {result} (tiny model trained on the spot, untrained audio front-end)")
    return Path(result)
