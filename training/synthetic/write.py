# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Writing synthetic folder datasets and drives: atomic per file, resumable.

A dataset folder holds, per sample::

    images/<stem>.jpg|png      the camera image
    masks/<stem>.png           uint8 class ids (255 = ignore: cones under min_cone_px)
    instances/<stem>.png       uint16 cone instances: 0 = none, k = entry k of the JSON
    scene/<stem>.json          camera (K, D, pose in base_link) and the cones in view

and ``meta.json``. A drive's frame folder (``--frames``) holds ``images/`` and
``masks/`` likewise, with ``<stem>_instances.png`` and ``<stem>.json`` beside
``meta.json``. Every file is written atomically and the mask last, so a mask on
disk means a complete sample; a re-run skips complete samples.
:func:`write_drive` also writes an MP4 through a temporary file renamed when
complete.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import cv2
from eunet_ros.core.checkpoint import DEFAULT_PALETTE
from eunet_ros.fileio import atomic_write_bytes
import numpy as np
from training.datasets.base import FS_CLASSES
from training.synthetic.samples import (_check_format, _check_labels, _check_seed,
                                        _check_size, _number, drive_frame_count,
                                        GENERATOR_VERSION, MIN_CONE_PX, render_drive,
                                        render_sample, sample_stem, SUPERSAMPLE)
from training.synthetic.scene import LAYOUT_P, LAYOUTS


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (no fsync: bulk)."""
    atomic_write_bytes(path, data, durable=False)


def _encode(img_rgb: Optional[np.ndarray], mask: np.ndarray, image_format: str,
            quality: int) -> Tuple[Optional[bytes], bytes]:
    img_bytes = None
    if img_rgb is not None:
        bgr = cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR)
        params = [cv2.IMWRITE_JPEG_QUALITY, quality] if image_format == 'jpg' else [
            cv2.IMWRITE_PNG_COMPRESSION, 1]
        ok, buf = cv2.imencode('.' + image_format, bgr, params)
        if not ok:
            raise RuntimeError(f'OpenCV could not encode a {image_format} image')
        img_bytes = buf.tobytes()
    ok, buf = cv2.imencode('.png', mask, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError('OpenCV could not encode a mask PNG')
    return img_bytes, buf.tobytes()


def _truth_paths(out: Path, stem: str, frames: bool) -> Tuple[Path, Path]:
    """Return (instance map, scene JSON) paths of a sample (dataset or frame folder)."""
    if frames:
        return out / f'{stem}_instances.png', out / f'{stem}.json'
    return out / 'instances' / f'{stem}.png', out / 'scene' / f'{stem}.json'


def _write_sample(out: Path, stem: str, image_format: str, quality: int, img: np.ndarray,
                  mask: np.ndarray, inst: np.ndarray, truth: Dict[str, Any],
                  frames: bool = False) -> None:
    img_bytes, mask_bytes = _encode(img, mask, image_format, quality)
    ok, inst_buf = cv2.imencode('.png', inst, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError('OpenCV could not encode an instance PNG')
    inst_path, json_path = _truth_paths(out, stem, frames)
    # image and ground truth first, mask last: a mask on disk means the sample is complete
    _atomic_write(out / 'images' / f'{stem}.{image_format}', img_bytes)
    _atomic_write(inst_path, inst_buf.tobytes())
    _atomic_write(json_path, (json.dumps(truth) + '\n').encode())
    _atomic_write(out / 'masks' / f'{stem}.png', mask_bytes)


def _complete(out: Path, stem: str, image_format: str, frames: bool = False) -> bool:
    return ((out / 'masks' / f'{stem}.png').is_file()
            and (out / 'images' / f'{stem}.{image_format}').is_file()
            and all(p.is_file() for p in _truth_paths(out, stem, frames)))


def _remove_stale_temps(out: Path) -> None:
    for sub in ('.', 'images', 'masks', 'instances', 'scene'):
        for p in (out / sub).glob('.*.tmp'):
            try:
                p.unlink()
            except OSError:
                pass


def _meta(seed: int, count: int, width: int, height: int, image_format: str,
          min_cone_px: float, supersample: int,
          extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    meta = {
        'generator': 'training.synthetic',
        'generator_version': GENERATOR_VERSION,
        'classes': list(FS_CLASSES),
        'palette': [list(c) for c in DEFAULT_PALETTE],
        'seed': int(seed),
        'count': int(count),
        'resolution': {'width': int(width), 'height': int(height)},
        'image_format': image_format,
        'min_cone_px': _number(min_cone_px),
        'supersample': int(supersample),
        'ignore_id': 255,
        'layouts': dict(zip(LAYOUTS, LAYOUT_P)),
        'created': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
    }
    meta.update(extra or {})
    return meta


def _prepare_folder(out: Path, meta: Dict[str, Any], keys: Sequence[str],
                    frames: bool = False) -> None:
    """Create ``out``; refuse to mix into a folder rendered with other settings."""
    if out.exists() and not out.is_dir():
        raise ValueError(f'{out} exists and is not a folder; choose another output path')
    meta_path = out / 'meta.json'
    if meta_path.is_file():
        try:
            old = json.loads(meta_path.read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f'{meta_path} is unreadable ({e}); remove it or choose another '
                             'output folder') from e
        for key in keys:
            if old.get(key) != meta.get(key):
                raise ValueError(
                    f'{out} already holds a dataset with {key}={old.get(key)!r}, not '
                    f'{meta.get(key)!r}; resume only with the same settings, or choose '
                    'another output folder')
    for sub in ('images', 'masks') if frames else ('images', 'masks', 'instances', 'scene'):
        (out / sub).mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(out)


def _write_meta(out: Path, meta: Dict[str, Any]) -> None:
    _atomic_write(out / 'meta.json', (json.dumps(meta, indent=2) + '\n').encode())


def _dataset_job(job: Tuple[str, int, int, int, int, str, int, float, int]) -> bool:
    """Render and write one sample unless complete (worker entry point); True if written."""
    out, seed, index, width, height, image_format, quality, min_cone_px, supersample = job
    out_p = Path(out)
    stem = sample_stem(seed, index)
    if _complete(out_p, stem, image_format):
        return False
    img, mask, inst, truth = render_sample(seed, index, width, height, min_cone_px=min_cone_px,
                                           supersample=supersample, truth=True)
    _write_sample(out_p, stem, image_format, quality, img, mask, inst, truth)
    return True


def _progress(iterable: Any, total: int, desc: str, quiet: bool) -> Any:
    if quiet:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, unit='img', dynamic_ncols=True)


def write_dataset(out: Path, count: int, seed: int = 0, width: int = 640, height: int = 384,
                  image_format: str = 'jpg', quality: int = 95, workers: int = 1,
                  quiet: bool = False, min_cone_px: float = MIN_CONE_PX,
                  supersample: int = SUPERSAMPLE) -> Dict[str, int]:
    """
    Write samples 0..count-1 of ``seed`` as a folder dataset; skip complete samples.

    :param out: output folder (``images/``, ``masks/``, ``instances/``, ``scene/``,
        ``meta.json``).
    :param count: number of samples.
    :param seed: dataset seed.
    :param width: image width.
    :param height: image height.
    :param image_format: ``jpg`` or ``png``.
    :param quality: JPEG quality.
    :param workers: processes rendering in parallel.
    :param quiet: no progress bar.
    :param min_cone_px: cones projected fewer pixels high are 255 in the masks (0: none).
    :param supersample: supersampling factor of the geometry (1-4).
    :returns: counts of ``written`` and ``skipped`` samples.
    """
    _check_seed(seed)
    _check_size(width, height)
    if count < 1:
        raise ValueError(f'--count must be at least 1, got {count}')
    _check_format(image_format, quality)
    _check_labels(min_cone_px, supersample)
    out = Path(out)
    meta = _meta(seed, count, width, height, image_format, min_cone_px, supersample,
                 {'stem_format': 'synth_s{seed}_{index:07d}',
                  'files': {'image': 'images/{stem}.' + image_format,
                            'mask': 'masks/{stem}.png', 'instances': 'instances/{stem}.png',
                            'scene': 'scene/{stem}.json'},
                  'complete': False})
    _prepare_folder(out, meta, ('generator_version', 'seed', 'resolution', 'image_format',
                                'min_cone_px', 'supersample'))
    _write_meta(out, meta)
    jobs = [(str(out), seed, i, width, height, image_format, quality, min_cone_px, supersample)
            for i in range(count)]
    written = 0
    if workers > 1:
        import multiprocessing
        # spawn, not fork: forking a process whose threads (torch, OpenCV) hold locks
        # deadlocks the children; spawned workers start clean on every platform.
        ctx = multiprocessing.get_context('spawn')
        with ctx.Pool(workers, initializer=_worker_init) as pool:
            for w in _progress(pool.imap(_dataset_job, jobs, chunksize=4), count,
                               'synthetic', quiet):
                written += int(w)
    else:
        for job in _progress(jobs, count, 'synthetic', quiet):
            written += int(_dataset_job(job))
    meta['complete'] = True
    _write_meta(out, meta)
    return {'written': written, 'skipped': count - written}


def _worker_init() -> None:
    cv2.setNumThreads(1)


def write_drive(seed: int, seconds: float, fps: float, width: int, height: int,
                video: Optional[Path] = None, frames: Optional[Path] = None,
                image_format: str = 'jpg', quality: int = 95,
                quiet: bool = False, min_cone_px: float = MIN_CONE_PX,
                supersample: int = SUPERSAMPLE) -> Dict[str, Any]:
    """
    Render a drive to an MP4 (``mp4v``) and/or a frame folder.

    The frame folder holds ``images/``, ``masks/``, and per frame
    ``<stem>_instances.png`` and ``<stem>.json`` (the scene JSON, index = frame).
    The video is written to a temporary file and renamed when complete; the frame
    folder is written per file and resumes like a dataset.

    :returns: frame count and paths written.
    """
    if video is None and frames is None:
        raise ValueError('write_drive needs a video path, a frame folder, or both')
    _check_seed(seed)
    _check_size(width, height)
    _check_format(image_format, quality)
    _check_labels(min_cone_px, supersample)
    if not (seconds > 0 and fps > 0):
        raise ValueError(f'drive duration and fps must be positive, got {seconds} s at {fps} fps')
    if video is not None:
        video = Path(video)
        if video.suffix.lower() != '.mp4':
            raise ValueError(f'--video {video}: the file name must end in .mp4')
        if width % 2 or height % 2:
            raise ValueError(f'--video needs an even width and height (MP4 encoders halve '
                             f'the chroma resolution), got {width}x{height}')
    n = drive_frame_count(seconds, fps)
    if frames is not None:
        frames = Path(frames)
        meta = _meta(seed, n, width, height, image_format, min_cone_px, supersample,
                     {'drive_seconds': seconds, 'fps': fps,
                      'stem_format': 'drive_s{seed}_{frame:05d}',
                      'files': {'image': 'images/{stem}.' + image_format,
                                'mask': 'masks/{stem}.png', 'instances': '{stem}_instances.png',
                                'scene': '{stem}.json'},
                      'complete': False})
        meta.pop('layouts')   # a drive goes round a trackdrive loop
        _prepare_folder(frames, meta, ('generator_version', 'seed', 'resolution',
                                       'image_format', 'fps', 'min_cone_px', 'supersample'),
                        frames=True)
        _write_meta(frames, meta)
    writer = None
    tmp_video = None
    if video is not None:
        video.parent.mkdir(parents=True, exist_ok=True)
        tmp_video = video.with_name(f'.{video.stem}.{os.getpid()}.partial.mp4')
        writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*'mp4v'), float(fps),
                                 (width, height))
        if not writer.isOpened():
            raise RuntimeError(f'OpenCV cannot write MP4 (mp4v) to {video}; render a frame '
                               'folder with --frames instead')
    first = 0
    if writer is None:   # frames only: resume after the last complete frame
        while first < n and _complete(frames, f'drive_s{seed}_{first:05d}', image_format,
                                      frames=True):
            first += 1
    try:
        for k, img, mask, inst, truth in _progress(render_drive(
                seed, seconds, fps, width, height, first, min_cone_px=min_cone_px,
                supersample=supersample, truth=True), n - first, 'drive', quiet):
            if writer is not None:
                writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            if frames is not None:
                stem = f'drive_s{seed}_{k:05d}'
                if not _complete(frames, stem, image_format, frames=True):
                    _write_sample(frames, stem, image_format, quality, img, mask, inst, truth,
                                  frames=True)
        if writer is not None:
            writer.release()
            writer = None
            os.replace(tmp_video, video)
    finally:
        if writer is not None:
            writer.release()
        if tmp_video is not None and tmp_video.exists():
            tmp_video.unlink()
    if frames is not None:
        meta['complete'] = True
        _write_meta(frames, meta)
    return {'frames': n, 'video': str(video) if video else None,
            'frame_dir': str(frames) if frames else None}
