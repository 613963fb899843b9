# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Frames from a video file, an image folder, a glob or one image; ROS-free.

:class:`FrameSource` yields uint8 H x W x 3 bgr frames in order, optionally
looping and resized. camera_replay publishes them as a camera would.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
import re
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['FrameSource', 'FrameSourceError', 'IMAGE_EXTENSIONS', 'resize_to']

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')


class FrameSourceError(ValueError):
    """The source cannot be read; the message names it and says what to do."""


def _natural_key(path: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r'(\d+)', path)]


def resize_to(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """
    Resize ``frame`` to ``width`` x ``height``; a 0 side keeps the aspect ratio.

    Both 0: unchanged.
    """
    h, w = frame.shape[:2]
    if width <= 0 and height <= 0:
        return frame
    if width <= 0:
        width = max(1, int(round(w * height / h)))
    if height <= 0:
        height = max(1, int(round(h * width / w)))
    if (width, height) == (w, h):
        return frame
    interp = cv2.INTER_AREA if width < w and height < h else cv2.INTER_LINEAR
    return cv2.resize(frame, (width, height), interpolation=interp)


class FrameSource:
    """
    Read frames in order from a video, a folder of images, a glob pattern or one image.

    :param source: a video file (anything OpenCV's FFmpeg backend opens), a folder
        (its images in natural order: 2.png before 10.png), a glob (``run1/*.jpg``)
        or an image file.
    :param loop: start again at the end (else :meth:`read` returns None).
    :param size: ``(width, height)`` to resize to; 0 keeps the aspect ratio, (0, 0)
        keeps the size.

    :raises FrameSourceError: nothing readable at ``source``.

    """

    def __init__(self, source: str, *, loop: bool = True,
                 size: Sequence[int] = (0, 0)) -> None:
        self.source = str(source)
        self.loop = bool(loop)
        self.size = (int(size[0]), int(size[1]))
        self.skipped: List[str] = []
        self._files: List[str] = []
        self._index = 0
        self._cap = None
        if not self.source:
            raise FrameSourceError('no source given: set it to a video file, an image folder, '
                                   'a glob pattern or an image.')
        p = Path(self.source).expanduser()
        if any(c in self.source for c in '*?['):
            self._files = sorted((f for f in glob.glob(os.path.expanduser(self.source))
                                  if f.lower().endswith(IMAGE_EXTENSIONS)), key=_natural_key)
            if not self._files:
                raise FrameSourceError(f'glob {self.source!r} matches no image files '
                                       f'({", ".join(IMAGE_EXTENSIONS)}).')
            self.kind = 'images'
        elif p.is_dir():
            self._files = sorted((str(f) for f in p.iterdir()
                                  if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()),
                                 key=_natural_key)
            if not self._files:
                raise FrameSourceError(f'folder {self.source!r} holds no image files '
                                       f'({", ".join(IMAGE_EXTENSIONS)}).')
            self.kind = 'images'
        elif p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
            self._files = [str(p)]
            self.kind = 'images'
        elif p.is_file():
            self.kind = 'video'
            self._open_video()
        else:
            raise FrameSourceError(f'source {self.source!r} does not exist (give a video file, '
                                   'an image folder, a glob pattern or an image).')

    @property
    def count(self) -> Optional[int]:
        """Frames in one pass (None when a video does not say)."""
        if self.kind == 'images':
            return len(self._files)
        n = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) if self._cap is not None else 0
        return n if n > 0 else None

    def _open_video(self) -> None:
        cap = cv2.VideoCapture(str(Path(self.source).expanduser()))
        if not cap.isOpened():
            raise FrameSourceError(f'cannot open video {self.source!r}: not a video OpenCV can '
                                   'decode (FFmpeg backend), or not readable.')
        self._cap = cap

    def _read_video(self) -> Optional[np.ndarray]:
        ok, frame = self._cap.read()
        if ok:
            return frame
        if not self.loop:
            return None
        self._cap.release()
        self._open_video()
        ok, frame = self._cap.read()
        if not ok:
            raise FrameSourceError(f'video {self.source!r} has no readable frames.')
        return frame

    def _read_image(self) -> Optional[np.ndarray]:
        tried = 0
        while tried < len(self._files):
            if self._index >= len(self._files):
                if not self.loop:
                    return None
                self._index = 0
            f = self._files[self._index]
            self._index += 1
            tried += 1
            frame = cv2.imread(f, cv2.IMREAD_COLOR)
            if frame is not None:
                return frame
            if f not in self.skipped:
                self.skipped.append(f)
        raise FrameSourceError(f'none of the {len(self._files)} image files of '
                               f'{self.source!r} could be read.')

    def read(self) -> Optional[np.ndarray]:
        """Return the next bgr frame, or None at the end when not looping."""
        frame = self._read_video() if self.kind == 'video' else self._read_image()
        if frame is None:
            return None
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        return resize_to(frame, *self.size)

    def frame_size(self) -> Tuple[int, int]:
        """Return (width, height) of the frames this source yields (reads one frame)."""
        probe = FrameSource(self.source, loop=False, size=self.size)
        try:
            f = probe.read()
        finally:
            probe.close()
        if f is None:
            raise FrameSourceError(f'{self.source!r} yields no frames.')
        return f.shape[1], f.shape[0]

    def close(self) -> None:
        """Release the video, if any."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
