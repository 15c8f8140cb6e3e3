"""Shared audio artifacts (plain declarations; importing this module is cheap)."""

from __future__ import annotations

from tfk.hookspecs import hookimpl
from tfk.weights.artifact import Artifact

_HUBERT = "https://huggingface.co/facebook/hubert-large-ls960-ft/resolve/main/"
_W2V_EO = "https://huggingface.co/cpierse/wav2vec2-large-xlsr-53-esperanto/resolve/main/"

ARTIFACTS: list[Artifact] = [
    Artifact(
        id="shared/deepspeech_v010",
        filename="output_graph.pb",
        sources=("https://github.com/mozilla/DeepSpeech/releases/download/v0.1.0/deepspeech-0.1.0-models.tar.gz",),
        kind="archive",
        member="models/output_graph.pb",
        license="MPL-2.0",
        description="Mozilla DeepSpeech v0.1.0 frozen TF graph (DP1 features: AD-NeRF, ER-NeRF, DFRF, DINet, "
        "LawDNet epoch 120); needs TensorFlow. Same graph as osmr's deepspeech-0_1_0-b90017e8.pb. No sha256 or "
        "size is published: the archive's own records and the validator (a complete GraphDef) catch a cut-short file.",
        validator="tfk.audio.validators:validate_deepspeech_graph",
        used_by=("lawdnet", "ernerf", "dfrf"),
        meta={
            "sha1_osmr_pb": "b90017e816572ddce84f5843f1fa21e6a377975e",
            "input": "deepspeech/input_node:0",
            "lengths": "deepspeech/input_lengths:0",
            "logits": "deepspeech/logits:0",
        },
    ),
    Artifact(
        id="shared/deepspeech_pytorch_v3",
        filename="librispeech_pretrained_v3.ckpt",
        sources=(
            "https://github.com/SeanNaren/deepspeech.pytorch/releases/download/V3.0/librispeech_pretrained_v3.ckpt",
        ),
        license="MIT",
        description="deepspeech.pytorch V3 LibriSpeech Lightning checkpoint (DP2 features of LawDNet epoch 170); "
        "only its state_dict is read.",
        validator="tfk.audio.deepspeech_pt:validate_checkpoint",
        used_by=("lawdnet",),
    ),
    Artifact(
        id="shared/hubert_large_ls960_ft_config",
        filename="config.json",
        sources=(_HUBERT + "config.json",),
        license="Apache-2.0",
        description="facebook/hubert-large-ls960-ft config (ER-NeRF HuBERT features); no sha256 or size is "
        "published: the validator requires a complete JSON object with model_type 'hubert'",
        validator="tfk.audio.validators:validate_hubert_config",
        used_by=("ernerf",),
        optional=True,
    ),
    Artifact(
        id="shared/hubert_large_ls960_ft_preprocessor",
        filename="preprocessor_config.json",
        sources=(_HUBERT + "preprocessor_config.json",),
        license="Apache-2.0",
        description="facebook/hubert-large-ls960-ft feature-extractor config; no sha256 or size is published: "
        "the validator requires a complete JSON object (16 kHz)",
        validator="tfk.audio.validators:validate_preprocessor_config",
        used_by=("ernerf",),
        optional=True,
    ),
    Artifact(
        id="shared/hubert_large_ls960_ft_weights",
        filename="pytorch_model.bin",
        sources=(_HUBERT + "pytorch_model.bin",),
        license="Apache-2.0",
        description="facebook/hubert-large-ls960-ft weights (about 1.26 GB); no sha256 is known here: the "
        "validator requires a complete PyTorch zip archive",
        validator="tfk.audio.validators:validate_hf_weights",
        used_by=("ernerf",),
        optional=True,
    ),
    Artifact(
        id="shared/wav2vec2_xlsr53_esperanto_config",
        filename="config.json",
        sources=(_W2V_EO + "config.json",),
        description="cpierse/wav2vec2-large-xlsr-53-esperanto config (ER-NeRF 'esperanto' features); no sha256 "
        "or size is published: the validator requires a complete JSON object with model_type 'wav2vec2'",
        validator="tfk.audio.validators:validate_wav2vec2_config",
        used_by=("ernerf",),
        optional=True,
    ),
    Artifact(
        id="shared/wav2vec2_xlsr53_esperanto_weights",
        filename="pytorch_model.bin",
        sources=(_W2V_EO + "pytorch_model.bin",),
        description="cpierse/wav2vec2-large-xlsr-53-esperanto weights (about 1.26 GB); no sha256 is known here: "
        "the validator requires a complete PyTorch zip archive",
        validator="tfk.audio.validators:validate_hf_weights",
        used_by=("ernerf",),
        optional=True,
    ),
]

#: Artifacts that together form a Hugging Face snapshot directory (see ``tfk.audio.hubert.snapshot_dir``).
HF_SNAPSHOTS: dict[str, tuple[str, ...]] = {
    "hubert-large-ls960-ft": (
        "shared/hubert_large_ls960_ft_config",
        "shared/hubert_large_ls960_ft_preprocessor",
        "shared/hubert_large_ls960_ft_weights",
    ),
    "wav2vec2-large-xlsr-53-esperanto": (
        "shared/wav2vec2_xlsr53_esperanto_config",
        "shared/wav2vec2_xlsr53_esperanto_weights",
    ),
}


@hookimpl
def tfk_artifacts() -> list[Artifact]:
    """This toolbox's shared artifacts (collected by :mod:`tfk.registry`)."""
    return list(ARTIFACTS)
