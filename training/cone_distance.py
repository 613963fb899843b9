# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Cones found by distance: the held-out table per cone class and range.

A folder dataset rendered by ``training.synthetic`` (scene format
``generator_version`` 2) holds, beside ``images/`` and ``masks/``::

    <root>/instances/<stem>.png   uint16 PNG aligned with the mask: 0 = no cone,
                                  k = the k-th entry (1-based) of the scene's cones
    <root>/scene/<stem>.json      {"generator_version": 2, "width": W, "height": H,
                                   "min_cone_px": 8, "cones": [{"instance": k,
                                   "class_id": c, "class": "blue_cone",
                                   "distance_m": d, "ignored": false, ...}], ...}

A cone is **found** when at least half of its pixels (its pixels in ``instances/``)
get its class in the predicted mask. Cones marked ``ignored`` (under
``min_cone_px`` tall in the frame; 255 in the mask) and cones without a visible
pixel are not counted, only reported as skipped. Distance bins are half-open,
``[lo, hi)`` in metres, from ``--distance-bins`` edges (default 0 10 20 35); a
``>35 m`` (above the last edge) or ``<lo`` (below the first) column appears only
when such cones exist.

The same rule applied to the ground-truth mask instead of the prediction finds
every cone by construction; that share is kept in ``metrics.json``
(``by_distance.ground_truth``) as a check that masks and instance maps agree.

Per frame the bookkeeping is one ``flatnonzero`` over the instance map and three
``np.bincount`` calls over the cone pixels' ids; no Python loop over pixels or cones.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import logging
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from training.datasets.files import DatasetError, read_json

log = logging.getLogger(__name__)

__all__ = ['FOUND_FRACTION', 'DEFAULT_BINS', 'ALL', 'ALL_CONES', 'Scene', 'DistanceBins',
           'ConeDetection', 'folder_scenes', 'read_scene', 'read_instances', 'min_cone_px_of',
           'label_rule_of',
           'format_distance_table', 'markdown_distance_table', 'rule_text']

FOUND_FRACTION = 0.5
DEFAULT_BINS = (0.0, 10.0, 20.0, 35.0)
ALL = 'all'              # the column over every distance
ALL_CONES = 'all cones'  # the row over every cone class
GENERATOR_VERSION = 2
REDO = ('re-render the dataset with python -m training.synthetic (it writes scene/ and '
        'instances/ for every frame), or move scene/ and instances/ away to evaluate '
        'without the distance table.')


@dataclass
class Scene:
    """The cones of one frame, as arrays indexed by instance id - 1."""

    path: Path
    width: Optional[int]
    height: Optional[int]
    min_cone_px: Optional[int]
    class_ids: np.ndarray  # int64
    distance: np.ndarray   # float64, metres
    ignored: np.ndarray    # bool


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def read_scene(path: Path, class_names: Sequence[str]) -> Scene:
    """
    Parse and check one scene JSON.

    :raises DatasetError: missing, not JSON, or not the schema (the message names the
        file, the entry and what to do).
    """
    def bad(what: str) -> DatasetError:
        return DatasetError(f'scene file {path}: {what}; {REDO}')

    try:
        raw = json.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise DatasetError(f'scene file {path} does not exist; {REDO}') from None
    except OSError as e:
        raise bad(f'cannot be read ({e})') from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise bad(f'not valid JSON ({e})') from None

    if not isinstance(raw, dict):
        raise bad('not a JSON object')
    ver = raw.get('generator_version')
    if not _int(ver) or ver < GENERATOR_VERSION:
        raise bad(f'generator_version is {ver!r}, the distance table needs '
                  f'{GENERATOR_VERSION} or newer')
    cones = raw.get('cones')
    if not isinstance(cones, list):
        raise bad('"cones" must be a list')
    for key in ('width', 'height', 'min_cone_px'):
        if raw.get(key) is not None and (not _int(raw[key]) or raw[key] < 0):
            raise bad(f'"{key}" must be a non-negative integer, got {raw[key]!r}')
    n = len(class_names)
    ids, dist, ign = [], [], []
    for k, cone in enumerate(cones, 1):
        where = f'cones[{k - 1}]'
        if not isinstance(cone, dict):
            raise bad(f'{where} is not an object')
        missing = [f for f in ('instance', 'class_id', 'distance_m', 'ignored') if f not in cone]
        if missing:
            raise bad(f'{where} lacks {", ".join(missing)}')
        if cone['instance'] != k or not _int(cone['instance']):
            raise bad(f'{where} has instance {cone["instance"]!r}; entry k must have '
                      f'instance k (1-based), here {k}')
        c = cone['class_id']
        if not _int(c) or not 0 <= c < n:
            raise bad(f'{where} has class_id {c!r}, outside 0..{n - 1} ({", ".join(class_names)})')
        if 'class' in cone and cone['class'] != class_names[c]:
            raise bad(f'{where} has class {cone["class"]!r} but class_id {c} is '
                      f'{class_names[c]!r} in the class table')
        d = cone['distance_m']
        if not isinstance(d, (int, float)) or isinstance(d, bool) or not math.isfinite(d) \
                or d < 0:
            raise bad(f'{where} has distance_m {d!r}; it must be a finite number >= 0')
        if not isinstance(cone['ignored'], bool):
            raise bad(f'{where} has ignored {cone["ignored"]!r}; it must be true or false')
        ids.append(c)
        dist.append(float(d))
        ign.append(cone['ignored'])
    return Scene(path=Path(path), width=raw.get('width'), height=raw.get('height'),
                 min_cone_px=raw.get('min_cone_px'), class_ids=np.asarray(ids, np.int64),
                 distance=np.asarray(dist, np.float64), ignored=np.asarray(ign, bool))


def read_instances(path: Path, scene: Scene, shape: Sequence[int]) -> np.ndarray:
    """
    Read the instance map of ``scene`` (uint16 or uint8 PNG) and check it against the mask.

    :param shape: (H, W) of the frame's mask.
    :raises DatasetError: missing, undecodable, wrong size, or ids beyond the scene's cones.
    """
    p = Path(path)
    arr = cv2.imread(str(p), cv2.IMREAD_UNCHANGED) if p.is_file() else None
    if arr is None:
        what = 'does not exist' if not p.exists() else 'could not be decoded'
        raise DatasetError(f'instance map {p} {what}; {REDO}')
    if arr.ndim != 2 or arr.dtype not in (np.uint16, np.uint8):
        raise DatasetError(f'instance map {p} is {arr.dtype} with shape {arr.shape}; it must '
                           f'be a single-channel 16-bit PNG of instance ids; {REDO}')
    h, w = int(shape[0]), int(shape[1])
    if arr.shape != (h, w):
        raise DatasetError(f'instance map {p} is {arr.shape[1]}x{arr.shape[0]} but its mask is '
                           f'{w}x{h}; {REDO}')
    if None not in (scene.width, scene.height) and (scene.width, scene.height) != (w, h):
        raise DatasetError(f'scene file {scene.path} says {scene.width}x{scene.height} but the '
                           f'frame is {w}x{h}; {REDO}')
    top = int(arr.max()) if arr.size else 0
    if top > len(scene.class_ids):
        raise DatasetError(f'instance map {p} holds id {top} but {scene.path} lists '
                           f'{len(scene.class_ids)} cones; {REDO}')
    return arr


def folder_scenes(root: Path, stems: Sequence[str],
                  class_names: Sequence[str]) -> Optional[Dict[str, Scene]]:
    """
    Return {stem: Scene} for a folder dataset with ``scene/`` and ``instances/``, else None.

    Every scene JSON is parsed here, before any inference, so a broken or missing
    file stops the evaluation at once with its name.

    :raises DatasetError: only one of the two folders exists, or a frame lacks its files.
    """
    root = Path(root)
    sdir, idir = root / 'scene', root / 'instances'
    if not sdir.is_dir() and not idir.is_dir():
        return None
    if not sdir.is_dir() or not idir.is_dir():
        have, lack = (sdir, idir) if sdir.is_dir() else (idir, sdir)
        raise DatasetError(f'dataset folder {root} has {have.name}/ but no {lack.name}/; '
                           f'{REDO}')
    for stem in stems:
        p = idir / f'{stem}.png'
        if not p.is_file():
            raise DatasetError(f'instance map {p} does not exist; {REDO}')
    return {stem: read_scene(sdir / f'{stem}.json', class_names) for stem in stems}


def min_cone_px_of(root: Path) -> Optional[int]:
    """Return ``min_cone_px`` of the first scene JSON of a folder dataset (None: none there)."""
    return label_rule_of(root)[0]


def label_rule_of(root: Path) -> Tuple[Optional[int], Optional[int]]:
    """Return (``min_cone_px``, frame height) of a folder dataset's first scene JSON."""
    sdir = Path(root) / 'scene'
    first = next(iter(sorted(sdir.glob('*.json'))), None) if sdir.is_dir() else None
    if first is None:
        return None, None
    try:
        raw = read_json(first, 'scene file')
    except DatasetError:
        return None, None
    if not isinstance(raw, dict):
        return None, None
    v, h = raw.get('min_cone_px'), raw.get('height')
    return (v if _int(v) else None), (h if _int(h) and h > 0 else None)


class DistanceBins:
    """
    Half-open bins ``[e_i, e_i+1)`` from increasing edges, plus one below and one above.

    :param edges: at least two increasing, non-negative edges in metres.
    """

    def __init__(self, edges: Sequence[float] = DEFAULT_BINS) -> None:
        e = [float(x) for x in edges]
        if len(e) < 2 or any(b <= a for a, b in zip(e, e[1:])) or e[0] < 0 or \
                not all(math.isfinite(x) for x in e):
            raise ValueError(f'distance bins {list(edges)}: give at least two increasing, '
                             'non-negative edges in metres, e.g. 0 10 20 35')
        self.edges = e

    @property
    def labels(self) -> List[str]:
        """Return the names of every bin: below, the regular ones, above."""
        e = self.edges
        return ([f'<{e[0]:g} m'] + [f'{a:g}-{b:g} m' for a, b in zip(e, e[1:])]
                + [f'>{e[-1]:g} m'])

    def __len__(self) -> int:
        return len(self.edges) + 1

    def index(self, distance: np.ndarray) -> np.ndarray:
        """Return the bin of each distance: 0 below the first edge, len - 1 above the last."""
        return np.searchsorted(np.asarray(self.edges), distance, side='right')


class ConeDetection:
    """
    Count cones and found cones per (class, distance bin), for a prediction and the truth.

    :param class_names: the class table (a scene's class ids index it).
    :param edges: distance bin edges in metres.

    """

    def __init__(self, class_names: Sequence[str], edges: Sequence[float] = DEFAULT_BINS) -> None:
        self.class_names = list(class_names)
        self.bins = DistanceBins(edges)
        shape = (len(self.class_names), len(self.bins))
        self.cones = np.zeros(shape, np.int64)
        self.found = np.zeros(shape, np.int64)
        self.truth_found = np.zeros(shape, np.int64)
        self.frames = 0
        self.ignored = 0
        self.no_pixels = 0
        self.min_cone_px: set = set()
        self.heights: set = set()
        self.seen_classes: set = set()

    def update(self, pred: np.ndarray, truth: np.ndarray, instances: np.ndarray,
               scene: Scene) -> None:
        """
        Count the cones of one frame.

        :param pred: H x W predicted class ids.
        :param truth: H x W ground-truth mask (the same frame).
        :param instances: H x W instance ids (0 none, k the k-th cone of ``scene``).
        """
        n = len(scene.class_ids)
        self.frames += 1
        if scene.min_cone_px is not None:
            self.min_cone_px.add(int(scene.min_cone_px))
        if scene.height is not None:
            self.heights.add(int(scene.height))
        if n == 0:
            return
        flat = instances.reshape(-1)
        at = np.flatnonzero(flat)
        ids = flat[at].astype(np.intp)
        want = np.concatenate(([-1], scene.class_ids))[ids]
        size = np.bincount(ids, minlength=n + 1)[1:]
        hit = np.bincount(ids[pred.reshape(-1)[at] == want], minlength=n + 1)[1:]
        hit_t = np.bincount(ids[truth.reshape(-1)[at] == want], minlength=n + 1)[1:]
        keep = ~scene.ignored & (size > 0)
        self.ignored += int(scene.ignored.sum())
        self.no_pixels += int((~scene.ignored & (size == 0)).sum())
        self.seen_classes.update(scene.class_ids.tolist())
        nb = len(self.bins)
        cell = (scene.class_ids * nb + self.bins.index(scene.distance))
        k = self.cones.size
        self.cones += np.bincount(cell[keep], minlength=k).reshape(self.cones.shape)
        ok = keep & (hit >= FOUND_FRACTION * size)
        self.found += np.bincount(cell[ok], minlength=k).reshape(self.cones.shape)
        ok_t = keep & (hit_t >= FOUND_FRACTION * size)
        self.truth_found += np.bincount(cell[ok_t], minlength=k).reshape(self.cones.shape)

    def _rows(self) -> List[int]:
        cones = [i for i, n in enumerate(self.class_names) if n.endswith('cone')]
        return sorted(set(cones) | self.seen_classes)

    def _table(self, found: np.ndarray, rows: List[int], cols: List[int]) -> Dict[str, Any]:
        labels = self.bins.labels

        def cell(c: int, f: int) -> Dict[str, Any]:
            return {'cones': int(c), 'found': int(f), 'share': int(f) / int(c) if c else None}

        out: Dict[str, Any] = {}
        for name, sel in [(self.class_names[r], [r]) for r in rows] + [(ALL_CONES, rows)]:
            cn, fn = self.cones[sel].sum(0), found[sel].sum(0)
            row = {labels[j]: cell(cn[j], fn[j]) for j in cols}
            row[ALL] = cell(cn.sum(), fn.sum())
            out[name] = row
        return out

    def summary(self) -> Dict[str, Any]:
        """JSON-friendly results (the ``by_distance`` section of ``metrics.json``)."""
        rows = self._rows()
        per_bin = self.cones[rows].sum(0)
        last = len(self.bins) - 1
        cols = [j for j in range(len(self.bins)) if 0 < j < last or per_bin[j] > 0]
        px = sorted(self.min_cone_px)
        heights = sorted(self.heights)
        return {
            'rule': rule_text(),
            'found_fraction': FOUND_FRACTION,
            'bin_edges_m': self.bins.edges,
            'bins': [self.bins.labels[j] for j in cols],
            'classes': [self.class_names[r] for r in rows],
            'frames': self.frames,
            'cones': int(self.cones.sum()),
            'found': int(self.found.sum()),
            'skipped': {'ignored': self.ignored, 'no_pixels': self.no_pixels},
            'min_cone_px': (px[0] if len(px) == 1 else px) if px else None,
            'frame_height': (heights[0] if len(heights) == 1 else heights) if heights else None,
            'table': self._table(self.found, rows, cols),
            'ground_truth': self._table(self.truth_found, rows, cols),
        }


def rule_text() -> str:
    """Return the sentence that defines a found cone."""
    return (f'a cone is found when at least {100 * FOUND_FRACTION:.0f}% of its pixels get '
            'its class')


def skipped_text(by: Dict[str, Any]) -> str:
    """Say how many cones were not counted, and why."""
    s = by.get('skipped', {})
    ign, nop = int(s.get('ignored', 0)), int(s.get('no_pixels', 0))
    px = by.get('min_cone_px')
    why = f'under {px} px tall, 255 in the masks' if isinstance(px, int) else '255 in the masks'
    return (f'not counted: {ign} ignored cone{"s" * (ign != 1)} ({why}), {nop} without a '
            'visible pixel')


def format_distance_table(by: Dict[str, Any], title: str = '') -> str:
    """Render a ``by_distance`` summary as a fixed-width text table."""
    cols = list(by['bins']) + [ALL]
    names = list(by['table'])
    cells = {n: [_cell_text(by['table'][n][c]) for c in cols] for n in names}
    width = max(len(n) for n in names + ['class'])
    cw = max([len(c) for c in cols] + [len(x) for v in cells.values() for x in v])
    lines = [title] if title else []
    lines.append(f'cones found by distance ({rule_text()}): found/cones  %')
    lines.append(f'{"class":<{width}}' + ''.join(f'  {c:>{cw}}' for c in cols))
    for n in names:
        lines.append(f'{n:<{width}}' + ''.join(f'  {x:>{cw}}' for x in cells[n]))
    lines.append(skipped_text(by))
    return '\n'.join(lines)


def _cell_text(cell: Dict[str, Any]) -> str:
    if not cell['cones']:
        return '-'
    return f'{cell["found"]}/{cell["cones"]} {100 * cell["share"]:5.1f}%'


def markdown_distance_table(by: Dict[str, Any], title: str = '') -> str:
    """Render a ``by_distance`` summary as a Markdown table (% found, found/cones)."""
    cols = list(by['bins']) + [ALL]
    lines = [title, ''] if title else []
    lines += ['| cones found % (found/cones) | ' + ' | '.join(cols) + ' |',
              '|---|' + '---:|' * len(cols)]
    for n, row in by['table'].items():
        cells = []
        for c in cols:
            v = row[c]
            cells.append('–' if not v['cones'] else
                         f'{100 * v["share"]:.1f} ({v["found"]}/{v["cones"]})')
        name = f'**{n}**' if n == ALL_CONES else n
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    lines += ['', f'Found: {rule_text()}; {skipped_text(by)}.']
    return '\n'.join(lines) + '\n'
