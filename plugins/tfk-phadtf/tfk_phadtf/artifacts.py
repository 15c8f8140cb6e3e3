"""PHADTF weights manifest (light: standard library and tfk only)."""

from __future__ import annotations

from tfk.weights.artifact import Artifact

ATCNET = "phadtf/atcnet_lstm_general"
NET_G = "phadtf/net_g"
NET_D = "phadtf/net_d"
NET_MEM = "phadtf/net_mem"
ARCFACE = "phadtf/arcface_r100"

_INSTRUCTIONS = (
    "PHADTF's pretrained archive is published only on Google Drive (file 17xMNjNEsM0DhS9SKDdUQue0wlbz4Ww9o) "
    "and BaiduYun (14-M5TQhNc24275W1ez-gJw, code usdm), for research use only. Download it, unpack it, and import "
    "the file named here from the unpacked tree ({path})."
)
_FILES = [  # (id, filename, path inside the archive, description)
    (ATCNET, "atcnet_lstm_general.pth", "Audio/model/", "audio -> expression + pose LSTM init"),
    (NET_G, "0_net_G.pth", "render-to-video/checkpoints/memory_seq_p2p/", "memory-augmented GAN generator"),
    (NET_D, "0_net_D.pth", "render-to-video/checkpoints/memory_seq_p2p/", "memory-augmented GAN discriminator"),
    (NET_MEM, "0_net_mem.pth", "render-to-video/checkpoints/memory_seq_p2p/", "memory network"),
]

ARTIFACTS = [
    Artifact(
        id=aid,
        filename=fn,
        manual=True,
        license="research only (patent notice upstream)",
        instructions=_INSTRUCTIONS.format(path=path + fn),
        description=desc,
        used_by=("phadtf",),
    )
    for aid, fn, path, desc in _FILES
] + [
    Artifact(
        id=ARCFACE,
        filename="backbone.pth",
        manual=True,
        license="insightface model licence (non-commercial research)",
        instructions=(
            "Substitute for the original MXNet model-r100-ii: download insightface arcface_torch "
            "ms1mv3_arcface_r100_fp16/backbone.pth (or any arcface_torch IResNet backbone.pth) from the insightface "
            "model zoo and import it."
        ),
        description="ArcFace IResNet identity features (PyTorch substitute for MXNet model-r100-ii)",
        used_by=("phadtf",),
    )
]
