# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Copy-paste augmentation of cones: more (and more small, far) cones per training image.

Cones cover well under 1 % of a frame, and the far ones, a few pixels tall, are the
hardest and the rarest in the loss. ``augment.copy_paste`` pastes cones cut from
other training samples into the frame before the camera augmentations
(:class:`~training.transforms.TrainTransform`):

* :class:`ConeBank` is built once per run from the training sources: the connected
  components (8-connected) of each cone class's pixels that are whole (at least
  ``min_source_px`` tall, not touching the frame's border or an IGNORE pixel), each
  kept as its image patch and its component mask, and its height relative to its
  frame (so banks mix resolutions). At most ``bank_images`` samples are scanned
  (evenly spaced), and patches taller than :data:`MAX_PATCH_PX` are stored
  downscaled, which bounds the bank's memory (every data-loader worker holds it);
* :meth:`CopyPaste.__call__` pastes 1..``max_cones`` of them, each of a class drawn
  uniformly (rare classes, orange and large orange, as often as blue), at a
  log-uniform random ``scale`` of its relative height (small cones are frequent),
  randomly mirrored, standing at a random pixel of the ground: below the highest
  track pixel (the lower half without a labelled track), not on a cone or an IGNORE
  pixel. Smaller ones are pasted first, so nearer (larger) cones occlude farther
  ones. The patch is resampled with premultiplied alpha (the donor's ground does
  not fringe the cone) and alpha-blended with its resampled, feathered component
  mask; pixels with alpha >= 0.5 take the cone's class, or IGNORE (255) when the pasted
  cone is less than ``min_cone_px`` tall (too small to tell its colour, like a far
  cone of the renderer).

Randomness comes only from the generator the caller passes (seeded per sample by
:class:`~training.transforms.TrainTransform`), so a sample looks the same in any
data-loader worker and after a resume.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np
from training.datasets.base import IGNORE, SegmentationSource
from training.datasets.files import DatasetError

log = logging.getLogger(__name__)

__all__ = ['DEFAULT_COPY_PASTE', 'copy_paste_config', 'cone_class_ids', 'ConePatch',
           'ConeBank', 'CopyPaste', 'MAX_PATCH_PX']

DEFAULT_COPY_PASTE: Dict[str, Any] = {
    'prob': 0.5,            # share of training samples that get pasted cones
    'max_cones': 6,         # 1..max_cones per such sample
    'scale': [0.2, 1.0],    # log-uniform factor on the source cone's relative height
    'min_cone_px': 8,       # pasted cones shorter than this (frame pixels) are labelled 255
    'min_source_px': 12,    # source cones shorter than this are not cut (too few pixels)
    'bank_images': 1000,    # training samples scanned for cones (evenly spaced)
    'classes': None,        # class names or ids to cut; None: every class named *_cone
}
MAX_PATCH_PX = 128          # patches are stored at most this tall


def cone_class_ids(classes: Sequence[str], chosen: Optional[Sequence[Any]] = None) -> List[int]:
    """
    Resolve class names or ids to ids of ``classes``; None: every class named ``*_cone``.

    :raises ValueError: an unknown name or an id out of range.
    """
    if chosen is None:
        return [i for i, n in enumerate(classes) if str(n).endswith('_cone')]
    ids = []
    for c in chosen:
        if isinstance(c, str) and not c.isdigit():
            if c not in classes:
                raise ValueError(f'unknown class {c!r}; the classes are {list(classes)}')
            ids.append(list(classes).index(c))
        else:
            i = int(c)
            if not 0 <= i < len(classes):
                raise ValueError(f'class id {i} out of range 0..{len(classes) - 1}')
            ids.append(i)
    return sorted(set(ids))


def copy_paste_config(raw: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """
    Return the copy-paste settings with defaults filled in (None: off), checked.

    :raises ValueError: unknown keys or out-of-range values.
    """
    if raw is None or raw is False:
        return None
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ValueError(f'augment.copy_paste must be a mapping or null, got {raw!r}')
    unknown = sorted(set(raw) - set(DEFAULT_COPY_PASTE))
    if unknown:
        raise ValueError(f'unknown augment.copy_paste keys {unknown}; known: '
                         f'{sorted(DEFAULT_COPY_PASTE)}')
    cfg = dict(DEFAULT_COPY_PASTE, **raw)
    lo, hi = (float(v) for v in cfg['scale'])
    checks = [
        (0.0 <= float(cfg['prob']) <= 1.0, 'prob must be within [0, 1]'),
        (int(cfg['max_cones']) >= 1, 'max_cones must be >= 1'),
        (0.0 < lo <= hi, 'scale must be [lo, hi] with 0 < lo <= hi'),
        (int(cfg['min_cone_px']) >= 0, 'min_cone_px must be >= 0'),
        (int(cfg['min_source_px']) >= 2, 'min_source_px must be >= 2'),
        (int(cfg['bank_images']) >= 1, 'bank_images must be >= 1'),
    ]
    for ok, msg in checks:
        if not ok:
            raise ValueError(f'augment.copy_paste: {msg}')
    cfg['scale'] = [lo, hi]
    return cfg


@dataclass
class ConePatch:
    """One cone cut from a training frame."""

    cls: int
    image: np.ndarray       # h x w x 3 uint8 RGB, the component's bounding box
    alpha: np.ndarray       # h x w uint8, 255 on the component's pixels, else 0
    rel_height: float       # the component's height / its frame's height


class ConeBank:
    """
    The cones :class:`CopyPaste` draws from, by class (see module docstring).

    :param patches: the cones.
    :param classes: the class table (names; index = id).

    """

    def __init__(self, patches: Sequence[ConePatch], classes: Sequence[str]) -> None:
        self.classes = list(classes)
        self.by_class: Dict[int, List[ConePatch]] = {}
        for p in patches:
            self.by_class.setdefault(int(p.cls), []).append(p)
        self.class_ids = sorted(self.by_class)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_class.values())

    def nbytes(self) -> int:
        """Return the memory the patches take."""
        return sum(p.image.nbytes + p.alpha.nbytes for v in self.by_class.values() for p in v)

    @classmethod
    def from_sources(cls, sources: Sequence[SegmentationSource], class_ids: Sequence[int],
                     min_source_px: int = 12, bank_images: int = 1000) -> 'ConeBank':
        """Scan (at most ``bank_images``, evenly spaced) samples of ``sources`` for cones."""
        sizes = [len(s) for s in sources]
        total = sum(sizes)
        picks = range(total) if total <= bank_images else \
            np.unique(np.linspace(0, total - 1, int(bank_images)).round().astype(int))
        ends = np.cumsum(sizes)
        patches: List[ConePatch] = []
        for j in picks:
            k = int(np.searchsorted(ends, j, side='right'))
            i = int(j) - (int(ends[k - 1]) if k else 0)
            try:
                image, mask = sources[k].load(i)
            except DatasetError as e:
                log.warning('copy-paste bank: skipping a broken sample (%s)', e)
                continue
            patches.extend(cut_cones(image, mask, class_ids, min_source_px))
        bank = cls(patches, sources[0].classes)
        log.info('copy-paste: %d cones from %d samples (%s), %.1f MB', len(bank), len(picks),
                 ', '.join(f'{bank.classes[c]} {len(v)}' for c, v in sorted(
                     bank.by_class.items())), bank.nbytes() / 1e6)
        return bank


def cut_cones(image: np.ndarray, mask: np.ndarray, class_ids: Sequence[int],
              min_source_px: int) -> List[ConePatch]:
    """Return the whole cones of one frame (see module docstring) as patches."""
    h_frame, w_frame = mask.shape
    out = []
    bad = mask == IGNORE
    for c in class_ids:
        binary = (mask == c).astype(np.uint8)
        if not binary.any():
            continue
        n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        for comp in range(1, n):
            x, y, w, h, _ = (int(v) for v in stats[comp])
            if h < min_source_px or x == 0 or y == 0 or x + w >= w_frame or \
                    y + h >= h_frame:
                continue
            if bad[y - 1:y + h + 1, x - 1:x + w + 1].any():
                continue   # cut off by an ignored region: not a whole cone
            img = image[y:y + h, x:x + w]
            alpha = np.where(labels[y:y + h, x:x + w] == comp, 255, 0).astype(np.uint8)
            if h > MAX_PATCH_PX:
                size = (max(1, round(w * MAX_PATCH_PX / h)), MAX_PATCH_PX)
                img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
                alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
            out.append(ConePatch(cls=int(c), image=np.ascontiguousarray(img),
                                 alpha=np.ascontiguousarray(alpha),
                                 rel_height=h / float(h_frame)))
    return out


class CopyPaste:
    """
    Paste cones of a :class:`ConeBank` into frames (see module docstring).

    :param config: :func:`copy_paste_config` output.
    :param bank: the cones.
    :param ground_ids: classes cones stand on whose highest pixel bounds the ground
        (default: the class named ``track``).

    """

    def __init__(self, config: Mapping[str, Any], bank: ConeBank,
                 ground_ids: Optional[Sequence[int]] = None) -> None:
        self.config = dict(config)
        self.bank = bank
        classes = bank.classes
        self.cone_ids = set(cone_class_ids(classes)) | set(bank.class_ids)
        self.ground_ids = list(ground_ids) if ground_ids is not None else \
            [i for i, n in enumerate(classes) if n == 'track']

    def __call__(self, image: np.ndarray, mask: np.ndarray,
                 rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        """Return copies of (image, mask) with 1..max_cones pasted cones."""
        if not self.bank.class_ids:
            return image, mask
        cfg = self.config
        h_frame, w_frame = mask.shape
        image, mask = image.copy(), mask.copy()
        top = self._ground_top(mask)
        lo, hi = cfg['scale']
        n = int(rng.integers(1, int(cfg['max_cones']) + 1))
        draws = []
        for _ in range(n):
            cls = self.bank.class_ids[int(rng.integers(len(self.bank.class_ids)))]
            pool = self.bank.by_class[cls]
            patch = pool[int(rng.integers(len(pool)))]
            scale = math.exp(rng.uniform(math.log(lo), math.log(hi)))
            th = max(1, int(round(scale * patch.rel_height * h_frame)))
            base = self._base(mask, top, rng)
            flip = bool(rng.random() < 0.5)
            if base is not None:
                draws.append((th, patch, base, flip))
        for th, patch, (by, bx), flip in sorted(draws, key=lambda d: d[0]):
            self._paste(image, mask, patch, th, by, bx, flip)
        return image, mask

    def _ground_top(self, mask: np.ndarray) -> int:
        h = mask.shape[0]
        if self.ground_ids:
            rows = np.nonzero(np.isin(mask, self.ground_ids).any(1))[0]
            if len(rows):
                return int(rows[0])
        return h // 2

    def _base(self, mask: np.ndarray, top: int,
              rng: np.random.Generator) -> Optional[Tuple[int, int]]:
        """Return a random ground pixel (row, column) no cone stands on, or None."""
        h, w = mask.shape
        for _ in range(20):
            y = int(rng.integers(top, h))
            x = int(rng.integers(0, w))
            v = int(mask[y, x])
            if v != IGNORE and v not in self.cone_ids:
                return y, x
        return None

    def _paste(self, image: np.ndarray, mask: np.ndarray, patch: ConePatch, th: int,
               by: int, bx: int, flip: bool) -> None:
        ph, pw = patch.alpha.shape
        tw = max(1, int(round(pw * th / ph)))
        interp = cv2.INTER_AREA if th < ph else cv2.INTER_LINEAR
        # premultiplied alpha throughout: the donor's ground inside the bounding box
        # never bleeds into the cone's edge, and compositing is ``src + (1 - a) dst``
        a_src = patch.alpha.astype(np.float32) / 255.0
        premult = patch.image.astype(np.float32) * a_src[..., None]
        alpha = cv2.resize(a_src, (tw, th), interpolation=interp).reshape(th, tw)
        src = cv2.resize(premult, (tw, th), interpolation=interp).reshape(th, tw, 3)
        if th >= 16:   # feather the edge of larger cones; small ones are soft already
            alpha = cv2.GaussianBlur(alpha, (3, 3), 0).reshape(th, tw)
            src = cv2.GaussianBlur(src, (3, 3), 0).reshape(th, tw, 3)
        if flip:
            src, alpha = src[:, ::-1], alpha[:, ::-1]
        h, w = mask.shape
        y0, x0 = by - th + 1, bx - tw // 2
        ya, xa = max(0, y0), max(0, x0)
        yb, xb = min(h, y0 + th), min(w, x0 + tw)
        if ya >= yb or xa >= xb:
            return
        a = alpha[ya - y0:yb - y0, xa - x0:xb - x0]
        s = src[ya - y0:yb - y0, xa - x0:xb - x0]
        dst = image[ya:yb, xa:xb].astype(np.float32)
        image[ya:yb, xa:xb] = np.clip(s + (1.0 - a[..., None]) * dst + 0.5, 0,
                                      255).astype(np.uint8)
        label = patch.cls if th >= int(self.config['min_cone_px']) else IGNORE
        mask[ya:yb, xa:xb][a >= 0.5] = label
