"""PHADTF plugin entry module: model description and weights manifest (light imports only)."""

from __future__ import annotations

from tfk.plugin import ModelInfo, hookimpl
from tfk.weights.artifact import Artifact

_INSTRUCTIONS = (
    "PHADTF's pretrained archive is published only on Google Drive (file 17xMNjNEsM0DhS9SKDdUQue0wlbz4Ww9o) "
    "and BaiduYun (14-M5TQhNc24275W1ez-gJw, code usdm), for research use only. Download it, unpack it, and import "
    "the file named here from the unpacked tree ({path})."
)
_FILES = [  # (name, filename, path inside the archive, description)
    ("atcnet_lstm_general", "atcnet_lstm_general.pth", "Audio/model/", "audio -> expression + pose LSTM init"),
    ("net_g", "0_net_G.pth", "render-to-video/checkpoints/memory_seq_p2p/", "memory-augmented GAN generator"),
    ("net_d", "0_net_D.pth", "render-to-video/checkpoints/memory_seq_p2p/", "memory-augmented GAN discriminator"),
    ("net_mem", "0_net_mem.pth", "render-to-video/checkpoints/memory_seq_p2p/", "memory network"),
]


@hookimpl
def tfk_model() -> ModelInfo:
    return ModelInfo(
        summary="PHADTF: audio -> personalised head pose + expression (3DMM), refined by a memory-augmented GAN",
        version="0.1.0",
        homepage="https://github.com/yiranran/Audio-driven-TalkingFace-HeadPose",
        paper="Audio-driven Talking Face Video Generation with Learning-based Personalized Head Pose (2020)",
    )


@hookimpl
def tfk_artifacts() -> list[Artifact]:
    return [
        Artifact(
            id=f"phadtf/{name}",
            filename=fn,
            manual=True,
            license="research only (patent notice upstream)",
            instructions=_INSTRUCTIONS.format(path=path + fn),
            description=desc,
            used_by=("phadtf",),
        )
        for name, fn, path, desc in _FILES
    ]
