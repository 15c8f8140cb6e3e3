"""Training pairs from the lmdb layouts (``tfk_styleheat.preprocess``), sampled statelessly from
``(seed, iteration, rank)`` so that a resumed run draws exactly the batches an uninterrupted one would.

Each item (PIRender ``VoxDataset`` / StyleHEAT ``VideoDataset``): a random person, one of their videos, two random
frames (source, target) with their radius-13 semantics windows (PIRender's ``transform_semantic`` slicing of the
N×260 coefficients, not the original StyleHEAT VoxDataset's inconsistent DECA slicing) and 256-px keypoints;
the HDTF layout adds the FFHQ-aligned frames (the inversion input, resized to 256).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tfk.errors import BadInput

__all__ = ["LmdbPairs"]


class LmdbPairs:
    def __init__(self, root: Path, layout: str, image_size: int, split: str = "train"):
        import lmdb

        from tfk_styleheat.preprocess import LAYOUTS, coeff_to_semantics, read_video

        self.root = Path(root)
        env_dir = self.root / str(LAYOUTS[layout])
        if not env_dir.is_dir():
            raise BadInput(f"no {layout} lmdb at {env_dir} (run `tfk preprocess styleheat VIDEO_DIR` first)")
        self.env = lmdb.open(str(env_dir), readonly=True, lock=False, readahead=False)
        names = (
            (self.root / f"{split}_list.txt").read_text().split() if (self.root / f"{split}_list.txt").exists() else []
        )
        if not names:
            raise BadInput(f"{self.root}: the {split} list is empty")
        self.align = layout == "hdtf"
        self.image_size = image_size
        self.videos = {n: read_video(self.env, n) for n in names}
        for v in self.videos.values():
            v["semantics"] = coeff_to_semantics(v["coeff_3dmm"])
        self.persons: dict[str, list[str]] = {}
        for n in names:
            self.persons.setdefault(n.split("#", 1)[0], []).append(n)
        self.person_ids = sorted(self.persons)

    def __len__(self) -> int:
        return len(self.person_ids) * 100  # the original's epoch length

    def _image(self, key: bytes, size: int) -> torch.Tensor:
        import cv2

        with self.env.begin() as txn:
            buf = txn.get(key)
        img = cv2.cvtColor(cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        if img.shape[0] != size:
            img = cv2.resize(
                img, (size, size), interpolation=cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_CUBIC
            )
        return torch.from_numpy(img).permute(2, 0, 1).float() / 127.5 - 1

    def sample(self, rng: np.random.Generator, batch: int) -> dict[str, torch.Tensor]:
        from tfk_styleheat.inputs import windows
        from tfk_styleheat.preprocess import key

        items: dict[str, list] = {}
        ids: list[tuple[str, str]] = []
        for _ in range(batch):
            person = self.person_ids[int(rng.integers(len(self.person_ids)))]
            name = self.persons[person][int(rng.integers(len(self.persons[person])))]
            v = self.videos[name]
            i, j = (int(x) for x in rng.integers(v["length"], size=2))
            ids.append((f"{name}-{i}", f"{name}-{j}"))
            row = {
                "source_image": self._image(key(name, i), self.image_size),
                "target_image": self._image(key(name, j), self.image_size),
                "source_semantics": torch.from_numpy(windows(v["semantics"], i, i + 1)[0]),
                "target_semantics": torch.from_numpy(windows(v["semantics"], j, j + 1)[0]),
                "source_keypoint": torch.from_numpy(v["keypoint"][i].copy()),
                "target_keypoint": torch.from_numpy(v["keypoint"][j].copy()),
            }
            if self.align:
                row["source_align"] = self._image(key(name, "align", i), 256)
                row["target_align"] = self._image(key(name, "align", j), 256)
            for k, t in row.items():
                items.setdefault(k, []).append(t)
        out: dict = {k: torch.stack(v) for k, v in items.items()}
        out["ids"] = ids  # frame identities (the frozen inversion is cached by them)
        return out
