"""Count how often ``tfk infer lawdnet`` decodes the template and the audio (cold, then warm template cache).

Every decoding entry point of ``tfk.media`` is wrapped (``iter_frames``, the preflight's full decode,
``load_audio``, ``extract_audio``, ``normalize_video``) and calls are counted per file. Tiny random weights
(published layout) make it run on CPU in about a minute; nothing is downloaded.

    python benchmarks/count_decodes.py            # prints {"cold": {...}, "warm": {...}}
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path


def _instrument(counts: Counter) -> None:
    import tfk.media
    from tfk.media import audio as m_audio
    from tfk.media import frames as m_frames
    from tfk.media import info as m_info
    from tfk.media import normalize as m_norm

    def counting(name, fn):
        def wrapper(*a, **k):
            target = a[0] if a else next(iter(k.values()))
            target = getattr(target, "path", target)
            counts[f"{Path(str(target)).name}:{name}"] += 1
            return fn(*a, **k)

        return wrapper

    for mod, name in (
        (m_frames, "iter_frames"),
        (m_audio, "load_audio"),
        (m_audio, "extract_audio"),
        (m_norm, "normalize_video"),
    ):
        wrapped = counting(name, getattr(mod, name))
        setattr(mod, name, wrapped)
        setattr(tfk.media, name, wrapped)
    m_info._decode_check = counting("preflight-decode", m_info._decode_check)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="tfk-decodes-"))
    os.environ.update(TFK_HOME=str(work / "home"), TFK_OFFLINE="1", TFK_PROGRESS="none")
    os.environ["TFK_PLUGIN_MODULES"] = "lawdnet=tfk_lawdnet.plugin"
    import torch
    from tfk_lawdnet.models.lawdnet import LawDNet

    from tfk.audio.deepspeech_pt import DeepSpeech2
    from tfk.cli.main import main as tfk
    from tfk.testing.synth import make_audio_file, make_talking_clip

    torch.manual_seed(0)
    gen = work / "checkpoint_epoch_170.pth"
    sd = {"module." + k: v for k, v in LawDNet().state_dict().items()}
    torch.save({"epoch": 171, "state_dict": {"net_g": sd}}, gen)
    dp2 = work / "dp2.pt"
    torch.save(DeepSpeech2(hidden_size=16, hidden_layers=2).state_dict(), dp2)
    assert tfk(["weights", "import", "shared/deepspeech_pytorch_v3", str(dp2)]) == 0
    tpl = make_talking_clip(work / "template.mp4", seconds=1.0, size=192)
    wav = make_audio_file(work / "speech.wav", seconds=0.6)
    counts: Counter = Counter()
    _instrument(counts)
    args = ["infer", "lawdnet", "--video", str(tpl), "--audio", str(wav), "--checkpoint", str(gen)]
    args += ["--mouth-size", "64", "--grid-size", "8", "--device", "cpu", "--batch-size", "8"]
    result = {}
    for label in ("cold", "warm"):
        counts.clear()
        code = tfk([*args, "-o", str(work / f"{label}.mp4")])
        assert code == 0, code
        per_file: dict[str, dict[str, int]] = {}
        for key, n in counts.items():
            f, what = key.split(":")
            per_file.setdefault(f, {})[what] = n
        result[label] = {f: {"total": sum(d.values()), **d} for f, d in per_file.items()}
    print(json.dumps(result, indent=1, sort_keys=True))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
