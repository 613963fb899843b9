# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The contract every data source of training/ fulfils.

A source is an indexable list of samples. ``load(i)`` returns

* ``image``: uint8 H x W x 3, **RGB**;
* ``mask``: uint8 H x W of class ids into ``source.classes``, where
  ``IGNORE`` (255) marks pixels that are not trained or scored at all, and
  ``UNLABELLED`` (254) marks pixels the source cannot tell apart among the
  classes it does not label (``source.labelled``).

Partial labels: FSOCO labels cones but not the track, so a non-cone pixel there is
"background or track". Such a source sets ``labelled`` to the ids it does label
and writes ``UNLABELLED`` for the rest; the marginal loss then sums the
probabilities of every class not in ``labelled`` for those pixels.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from eunet_ros.core.checkpoint import DEFAULT_CLASSES
import numpy as np

IGNORE = 255
UNLABELLED = 254
FS_CLASSES: Tuple[str, ...] = tuple(DEFAULT_CLASSES)


class SegmentationSource:
    """
    Base class: ``classes``, ``labelled``, ``__len__``, ``load(i)``, ``name(i)``.

    :ivar classes: class names; index = id used in masks.
    :ivar labelled: ids this source labels; None means all of ``classes``.
    """

    classes: Sequence[str] = FS_CLASSES
    labelled: Optional[Sequence[int]] = None

    def __len__(self) -> int:
        raise NotImplementedError

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Return (RGB uint8 H x W x 3 image, uint8 H x W mask) of sample ``index``."""
        raise NotImplementedError

    def name(self, index: int) -> str:
        """Return a stable, human-readable id of sample ``index`` (e.g. its file stem)."""
        return str(index)

    def labelled_ids(self) -> List[int]:
        """Return the ids this source labels (all classes when ``labelled`` is None)."""
        if self.labelled is None:
            return list(range(len(self.classes)))
        return sorted(int(i) for i in self.labelled)
