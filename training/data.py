# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
From data sources to batches: the torch Dataset, resumable samplers, the loaders.

* :class:`SegmentationDataset` concatenates sources with one class table, applies a
  transform with a per-sample seed derived from (run seed, epoch, index), so the
  augmentation of every sample is the same however many workers or ranks load it
  and after a resume; it returns uint8 images (normalised on the device), uint8
  masks (the loss and the metrics take them as class ids on the device, so
  workers, pinned memory and the copy to the GPU move 1/8 of int64's bytes) and
  the sample's labelled classes (C bool).
* :class:`EpochSampler` shuffles per epoch like ``DistributedSampler`` and can start
  mid-epoch (resume after ``k`` steps yields exactly the batches that were left). It
  yields ``(epoch, index)`` pairs, so persistent workers know the epoch without
  being told.
* :func:`loader_context`: data-loader workers start from a clean fork server, never
  by forking the training process, whose threads (OpenCV, TensorBoard, ONNX
  Runtime, ...) may hold locks that would deadlock a forked child.
* :class:`ShardSampler` splits evaluation data over ranks without padding, so every
  image is scored exactly once.

A sample whose files are broken (:class:`~training.datasets.files.DatasetError`) is
replaced by the next one with a warning naming the file: a long run keeps going. A
sample whose image or mask vanished after indexing
(:class:`~training.datasets.files.MissingFileError`) is replaced the same way, warned
about once per file and loading process, and counted across the loader's workers
(:meth:`SegmentationDataset.take_vanished`), so the training loop can report it per
epoch.
"""

from __future__ import annotations

import bisect
import logging
import math
import multiprocessing as mp
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler
from training.datasets.base import SegmentationSource
from training.datasets.files import DatasetError, MissingFileError

log = logging.getLogger(__name__)

Transform = Callable[[np.ndarray, np.ndarray, int], Tuple[np.ndarray, np.ndarray]]


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """Return a well-mixed 32-bit seed for one sample of one epoch."""
    return int(np.random.SeedSequence([int(seed), int(epoch), int(index)]).generate_state(1)[0])


class SegmentationDataset(Dataset):
    """
    Sources with a common class table, transformed, as (image, mask, labelled) tensors.

    :param sources: the data sources; all must have the same ``classes``.
    :param transform: ``f(image, mask, seed) -> (image, mask)`` (RGB uint8, uint8).
    :param seed: the run seed (per-sample seeds derive from it).
    :param max_skips: broken samples tolerated in a row before giving up.

    """

    def __init__(self, sources: Sequence[SegmentationSource], transform: Transform, *,
                 seed: int = 0, max_skips: int = 16) -> None:
        if not sources:
            raise ValueError('SegmentationDataset needs at least one source')
        classes = list(sources[0].classes)
        for s in sources[1:]:
            if list(s.classes) != classes:
                raise DatasetError(f'data sources disagree on the class table: {classes} vs '
                                   f'{list(s.classes)}; all sources of a run need the same '
                                   'classes.')
        self.sources = list(sources)
        self.classes = classes
        self.transform = transform
        self.seed = int(seed)
        self.epoch = 0
        self.max_skips = int(max_skips)
        # samples skipped for a vanished file, shared with the loader's worker processes
        # (they receive the dataset pickled at their start, which shares this value)
        self._vanished = mp.get_context('spawn').Value('q', 0)
        self._warned: set = set()  # vanished files this process has warned about
        self._ends = list(np.cumsum([len(s) for s in self.sources]))
        self._labelled = []
        for s in self.sources:
            lab = torch.zeros(len(classes), dtype=torch.bool)
            lab[s.labelled_ids()] = True
            self._labelled.append(lab)

    def __len__(self) -> int:
        return int(self._ends[-1])

    def take_vanished(self) -> int:
        """Return the samples replaced for a vanished file since the last call; reset to 0."""
        with self._vanished.get_lock():
            n, self._vanished.value = int(self._vanished.value), 0
        return n

    def _skip_vanished(self, e: MissingFileError, count: bool) -> None:
        if count:
            with self._vanished.get_lock():
                self._vanished.value += 1
        if e.path not in self._warned:
            self._warned.add(e.path)
            log.warning('skipping a sample whose file vanished after the dataset was indexed '
                        '(%s); it is counted and reported at the end of the epoch', e)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentations ``__getitem__`` draws."""
        self.epoch = int(epoch)

    def locate(self, index: int) -> Tuple[int, int]:
        """Return (source number, index within the source) of a global index."""
        k = bisect.bisect_right(self._ends, index)
        return k, index - (int(self._ends[k - 1]) if k else 0)

    def name(self, index: int) -> str:
        """Return the sample's name in its source."""
        k, i = self.locate(index)
        return self.sources[k].name(i)

    def labelled_union(self) -> List[int]:
        """Ids labelled by at least one source (the classes worth scoring)."""
        union = torch.stack(self._labelled).any(0)
        return [int(i) for i in torch.nonzero(union).flatten()]

    def __getitem__(self, item) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return sample ``item`` (an index, or ``(epoch, index)`` from EpochSampler)."""
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        n = len(self)
        last: Optional[Exception] = None
        for attempt in range(self.max_skips + 1):
            j = (index + attempt) % n
            k, i = self.locate(j)
            try:
                image, mask = self.sources[k].load(i)
            except MissingFileError as e:
                # counted once per requested sample, not again for a stand-in that is gone too
                self._skip_vanished(e, count=attempt == 0)
                last = e
                continue
            except DatasetError as e:
                log.warning('skipping a broken sample (%s)', e)
                last = e
                continue
            image, mask = self.transform(image, mask, sample_seed(self.seed, epoch, j))
            img = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()
            return img, torch.from_numpy(np.ascontiguousarray(mask)), self._labelled[k]
        raise DatasetError(f'{self.max_skips + 1} samples in a row could not be loaded; the '
                           f'last error: {last}')


class EpochSampler(Sampler):
    """
    Per-epoch shuffled indices for one rank, optionally starting mid-epoch.

    Same order as ``DistributedSampler`` semantics: a permutation seeded by
    ``seed + epoch``, padded to a multiple of ``num_replicas``, strided by rank.

    :param size: dataset length.
    :param num_replicas: world size.
    :param rank: this rank.
    :param shuffle: permute (training) or keep order.
    :param seed: run seed.

    """

    def __init__(self, size: int, *, num_replicas: int = 1, rank: int = 0,
                 shuffle: bool = True, seed: int = 0) -> None:
        self.size = int(size)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0
        self.start = 0
        self.num_samples = math.ceil(self.size / self.num_replicas)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch and skip this rank's first ``start`` indices of it."""
        self.epoch = int(epoch)
        self.start = int(start)

    def indices(self) -> List[int]:
        """Return all of this rank's indices of the current epoch."""
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=g).tolist()
        else:
            order = list(range(self.size))
        total = self.num_samples * self.num_replicas
        while len(order) < total:
            order += order[:total - len(order)]
        return order[self.rank:total:self.num_replicas]

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        return iter([(self.epoch, i) for i in self.indices()[self.start:]])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


class ShardSampler(Sampler):
    """Indices ``rank, rank + world, ...`` in order: every sample on exactly one rank."""

    def __init__(self, size: int, *, num_replicas: int = 1, rank: int = 0) -> None:
        self.idx = list(range(int(rank), int(size), int(num_replicas)))

    def __iter__(self) -> Iterator[int]:
        return iter(self.idx)

    def __len__(self) -> int:
        return len(self.idx)


PRELOAD = ['training.data', 'training.transforms', 'training.datasets.coco',
           'training.datasets.folder', 'training.datasets.fsoco']


def loader_context():
    """
    Return the multiprocessing context for data-loader workers.

    ``forkserver`` (a clean server process forks the workers; the training modules
    are preloaded there once) where available, else ``spawn``.
    """
    methods = mp.get_all_start_methods()
    if 'forkserver' in methods:
        ctx = mp.get_context('forkserver')
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return mp.get_context('spawn')


def worker_init(worker_id: int) -> None:
    """Keep data-loader workers single-threaded; their warnings (skipped files) shown."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING,
                        format=f'%(asctime)s %(levelname)s [data worker {worker_id}] '
                        '%(message)s', datefmt='%H:%M:%S')
