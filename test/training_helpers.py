# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""Small real-format datasets and configs that the training tests write."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import cv2
import numpy as np
import pytest
import torch
from torch import nn
import yaml

# RGB colours of the toy scenes; class ids as in the FS class table.
SKY = (90, 140, 200)
TRACK = (70, 70, 75)
CONE_RGB = {2: (20, 60, 230), 3: (240, 210, 20), 4: (250, 120, 10), 5: (230, 50, 10)}


def toy_scene(h: int, w: int, rng: np.random.Generator):
    """Return (RGB image, mask): sky/grass background, a track band, a few cones."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = SKY
    mask = np.zeros((h, w), np.uint8)
    top = int(h * rng.uniform(0.35, 0.55))
    img[top:] = (60, 140, 60)
    x0, x1 = sorted(rng.integers(0, w, 2))
    x1 = max(x1, x0 + w // 3)
    img[top:, x0:x1] = TRACK
    mask[top:, x0:x1] = 1
    for _ in range(int(rng.integers(1, 4))):
        cid = int(rng.choice(list(CONE_RGB)))
        cx, cy = int(rng.integers(2, w - 2)), int(rng.integers(top, h - 2))
        s = int(rng.integers(3, max(4, h // 5)))
        pts = np.array([[cx, max(0, cy - s)], [max(0, cx - s // 2), cy],
                        [min(w - 1, cx + s // 2), cy]], np.int32)
        cv2.fillPoly(img, [pts], CONE_RGB[cid])
        cv2.fillPoly(mask, [pts], cid)
    noise = rng.integers(-6, 7, img.shape)
    img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return img, mask


def write_folder_dataset(root: Path, count: int, h: int = 32, w: int = 48, seed: int = 0,
                         labelled: Optional[list] = None) -> Path:
    """Write ``count`` toy scenes as ``root/images/*.png`` + ``root/masks/*.png``."""
    rng = np.random.default_rng(seed)
    (root / 'images').mkdir(parents=True, exist_ok=True)
    (root / 'masks').mkdir(parents=True, exist_ok=True)
    for i in range(count):
        img, mask = toy_scene(h, w, rng)
        cv2.imwrite(str(root / 'images' / f's{seed}_{i:04d}.png'),
                    cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / 'masks' / f's{seed}_{i:04d}.png'), mask)
    if labelled is not None:
        (root / 'dataset.yaml').write_text(yaml.safe_dump({'labelled': labelled}))
    return root


TINY_MODEL = {'variant': 'fast', 'widths': [8, 16, 16], 'stem': 'spd2', 'attention': False,
              'input_size': [32, 48]}


def write_config(path: Path, train_root: Path, val_root: Path, out: Path,
                 **train: Any) -> Path:
    """Write a tiny training config (tiny EUnet, 32x48, CPU, no workers)."""
    cfg: Dict[str, Any] = {
        'name': 'tiny',
        'output_dir': str(out),
        'model': dict(TINY_MODEL),
        'data': {'train': [{'type': 'folder', 'root': str(train_root)}],
                 'val': [{'type': 'folder', 'root': str(val_root)}]},
        'optim': {'lr': 3e-3, 'pct_start': 0.2},
        'train': dict({'epochs': 2, 'batch_size': 4, 'patience': 20, 'workers': 0,
                       'device': 'cpu', 'checkpoint_every': 0, 'log_every': 1}, **train),
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """Tiny models run fastest (and steadiest on a shared machine) on one thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class PaletteModel(nn.Module):
    """Known answer: the logit of class k is minus the distance to its palette colour."""

    def __init__(self, palette):
        super().__init__()
        centres = torch.tensor(palette, dtype=torch.float32) / 127.5 - 1.0
        self.register_buffer('centres', centres.view(1, -1, 3, 1, 1))

    def forward(self, x):
        return -10.0 * ((x.unsqueeze(1) - self.centres) ** 2).sum(2)
