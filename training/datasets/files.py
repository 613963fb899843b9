# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
File helpers shared by the data sources: decoding, atomic writes, stable splits.

Every failure is a :class:`DatasetError` whose message names the file and says
what to do, so a broken file in a dataset of 100 000 is found in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
import struct
from typing import Any, Union

import cv2
from eunet_ros.fileio import atomic_write_bytes
import numpy as np
from PIL import Image

PathLike = Union[str, 'os.PathLike[str]']

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


class DatasetError(RuntimeError):
    """A dataset file is missing, unreadable or inconsistent; the message names it."""


class MissingFileError(DatasetError):
    """
    A file of an indexed sample is gone (deleted or moved after the dataset was indexed).

    :ivar path: the file that is gone.
    """

    def __init__(self, message: str, path: str = '') -> None:
        super().__init__(message)
        self.path = str(path)

    def __reduce__(self):
        return type(self), (str(self), self.path)


# What Pillow raises on a damaged PNG besides OSError: SyntaxError ('broken PNG file'
# for a bad chunk after the header), EOFError, struct.error, ValueError, and its
# DecompressionBombError for a header that claims a huge image.
PIL_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error,
              Image.DecompressionBombError)


def read_rgb(path: PathLike) -> np.ndarray:
    """
    Read an image file as RGB uint8 H x W x 3.

    EXIF orientation is ignored on purpose: annotations (COCO, Supervisely) refer
    to the stored pixel grid, not to the rotated view an image viewer shows.
    """
    p = str(path)
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    img = cv2.imread(p, flags) if os.path.isfile(p) else None
    if img is None:
        if not os.path.exists(p):
            raise MissingFileError(f'image {p} does not exist; restore it or remove it (and its '
                                   'annotation) from the dataset.', p)
        raise DatasetError(f'image {p} could not be decoded (truncated or not an image); '
                           're-extract or re-download it, or delete it and its annotation.')
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_mask(path: PathLike) -> np.ndarray:
    """Read a class-id mask PNG (8-bit grayscale or paletted) as uint8 H x W."""
    p = Path(path)
    try:
        with Image.open(p) as im:
            im.load()
            mode = im.mode
            arr = np.array(im)
    except FileNotFoundError:
        raise MissingFileError(f'mask {p} does not exist.', str(p)) from None
    except PIL_ERRORS as e:
        raise DatasetError(f'mask {p} could not be decoded ({e}); write it again as an 8-bit '
                           'PNG of class ids.') from None
    if mode in ('L', 'P'):
        return arr.astype(np.uint8, copy=False)
    if mode in ('I', 'I;16', 'I;16B', 'I;16L') and arr.ndim == 2:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise DatasetError(f'mask {p} holds values outside 0..255 (mode {mode}); class ids '
                               'must fit in 8 bits.')
        return arr.astype(np.uint8)
    raise DatasetError(f'mask {p} has image mode {mode} ({arr.shape}); a mask must be a '
                       'single-channel PNG of class ids (mode L or P), not a colour image.')


def atomic_write_png(path: PathLike, array: np.ndarray) -> Path:
    """Encode ``array`` (uint8 H x W, or H x W x 3 BGR) as PNG and write it atomically."""
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise DatasetError(f'could not encode {path} as PNG')
    return atomic_write_bytes(path, buf.tobytes())


def read_json(path: PathLike, what: str = 'annotation file') -> Any:
    """Parse a JSON file; errors name the file, the position and what to do."""
    p = Path(path)
    try:
        with open(p, 'rb') as f:
            return json.loads(f.read())
    except FileNotFoundError:
        raise DatasetError(f'{what} {p} does not exist.') from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetError(f'{what} {p} is not valid JSON ({e}); it is probably truncated: '
                           're-extract or re-download it.') from None


def hash_fraction(key: str) -> float:
    """Map ``key`` to a stable number in [0, 1) (SHA-1 based, same on every machine)."""
    return int(hashlib.sha1(key.encode('utf-8')).hexdigest()[:12], 16) / float(16 ** 12)


def in_split(key: str, split: str, val_fraction: float = 0.2) -> bool:
    """
    Tell whether ``key`` (a file name) belongs to ``split``.

    ``train`` takes the keys whose hash lies above ``val_fraction``, ``val`` (alias
    ``test``) the rest, ``all`` everything. A file's split depends on its name only, so
    adding or removing other files never moves it.
    """
    if split == 'all':
        return True
    is_val = hash_fraction(key) < float(val_fraction)
    if split == 'train':
        return not is_val
    if split in ('val', 'test'):
        return is_val
    raise DatasetError(f'split must be one of train, val, test, all; got {split!r}')
