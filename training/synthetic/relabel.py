# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Change the small-cone rule of a rendered dataset without rendering it again.

``python -m training.synthetic.relabel FOLDER --min-cone-px N`` rewrites the masks and
scene JSON of a dataset folder as if it had been rendered with ``--min-cone-px N``.
Every cone keeps its pixels in ``instances/`` and its projected height in the JSON, so
a cone under ``N`` px becomes 255 (ignore) and one at or above ``N`` gets its class
back: the result is byte-for-byte what the renderer writes with ``--min-cone-px N``
(the tests check it).

Why: the rule is meant at the camera's resolution. A 640x360 training frame is a
1280x720 camera at half scale, so the 8 px rule of the 1280x720 test set is 4 px there.

Each file is replaced atomically and ``meta.json`` is written last; the masks are
recomputed from the instances and the cones' heights every time, so an interrupted run
is finished by running it again.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
import sys
from typing import Any, Dict, Optional, Sequence, Tuple

import cv2
from eunet_ros.argtypes import at_least
from eunet_ros.fileio import atomic_write_bytes
import numpy as np
from training.synthetic.samples import _check_labels, _number

LOG = logging.getLogger('training.synthetic.relabel')
IGNORE = 255


class RelabelError(ValueError):
    """A folder or file that cannot be relabelled; the message names it."""


def _read_json(path: Path) -> Dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RelabelError(f'{path} is unreadable ({e}); render that sample again '
                           '(python -m training.synthetic resumes a folder) or remove it') from e


def _read_png(path: Path, dtype: type) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None or img.dtype != dtype or img.ndim != 2:
        raise RelabelError(f'{path} is missing or not a single-channel {np.dtype(dtype).name} '
                           'PNG; render that sample again or remove it')
    return img


def relabel_sample(folder: Path, stem: str, min_cone_px: float) -> bool:
    """Apply ``min_cone_px`` to one sample; return whether a file changed."""
    json_path = folder / 'scene' / f'{stem}.json'
    mask_path = folder / 'masks' / f'{stem}.png'
    truth = _read_json(json_path)
    cones = truth.get('cones')
    if not isinstance(cones, list):
        raise RelabelError(f'{json_path} has no "cones" list; it is not a scene file of '
                           'training.synthetic')
    mask = _read_png(mask_path, np.uint8)
    inst = _read_png(folder / 'instances' / f'{stem}.png', np.uint16)
    if inst.shape != mask.shape:
        raise RelabelError(f'{folder}/instances/{stem}.png is {inst.shape[1]}x{inst.shape[0]}, '
                           f'its mask {mask.shape[1]}x{mask.shape[0]}; render that sample again')
    # the wanted label of every cone's pixels, from its height; the mask is compared with
    # it rather than trusting the JSON's flags, so a run killed between the two files is
    # finished by the next one
    lut = np.full(len(cones) + 1, -1, np.int32)   # instance -> label (-1: not a cone)
    for cone in cones:
        cone['ignored'] = bool(min_cone_px > 0 and cone['height_px'] < min_cone_px)
        lut[cone['instance']] = IGNORE if cone['ignored'] else cone['class_id']
    truth['min_cone_px'] = _number(min_cone_px)
    new = lut[np.minimum(inst, len(cones))]
    relabelled = np.where(new >= 0, new, mask).astype(np.uint8)
    mask_changed = not np.array_equal(relabelled, mask)
    text = json.dumps(truth) + '\n'
    json_changed = text != json_path.read_text()
    if mask_changed:
        ok, buf = cv2.imencode('.png', relabelled, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        if not ok:
            raise RuntimeError('OpenCV could not encode a mask PNG')
        atomic_write_bytes(mask_path, buf.tobytes(), durable=False)
    if json_changed:
        atomic_write_bytes(json_path, text.encode(), durable=False)
    return mask_changed or json_changed


def relabel_dataset(folder: Path, min_cone_px: float) -> Tuple[int, int]:
    """Apply ``min_cone_px`` to every sample of ``folder``; return (changed, samples)."""
    folder = Path(folder)
    _check_labels(min_cone_px, 1)
    meta_path = folder / 'meta.json'
    if not meta_path.is_file():
        raise RelabelError(f'{folder} has no meta.json; it is not a dataset folder written by '
                           'python -m training.synthetic')
    meta = _read_json(meta_path)
    if meta.get('generator') != 'training.synthetic' or 'fps' in meta:
        raise RelabelError(f'{folder} is not a dataset folder of training.synthetic (drive '
                           'frame folders are not supported); render it with --min-cone-px')
    stems = sorted(p.stem for p in (folder / 'scene').glob('*.json'))
    if len(stems) < int(meta.get('count', 0)):
        raise RelabelError(f'{folder} holds {len(stems)} of {meta.get("count")} samples; '
                           'finish the render first (run the same command again)')
    changed = sum(relabel_sample(folder, stem, min_cone_px) for stem in stems)
    meta['min_cone_px'] = _number(min_cone_px)
    atomic_write_bytes(meta_path, (json.dumps(meta, indent=2) + '\n').encode(), durable=False)
    return changed, len(stems)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='python -m training.synthetic.relabel',
        description='Apply another --min-cone-px to a rendered dataset folder (masks and '
                    'scene JSON), exactly as rendering it again would.')
    p.add_argument('folder', type=Path, help='dataset folder (with meta.json)')
    p.add_argument('--min-cone-px', type=at_least(0), required=True, metavar='PX',
                   help='cones projected fewer pixels high become 255 (ignore); 0 keeps all')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_args_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='[relabel] %(message)s')
    try:
        changed, total = relabel_dataset(args.folder, args.min_cone_px)
    except (RelabelError, ValueError) as e:
        LOG.error('%s', e)
        return 2
    LOG.info('%s: min_cone_px %s, %d of %d samples changed', args.folder,
             _number(args.min_cone_px), changed, total)
    return 0


if __name__ == '__main__':
    sys.exit(main())
