# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Recorded drives: ``python -m eunet_ros.bag info | segment | export | compare``.

Reads and writes rosbag2 (sqlite3 and MCAP storage) with the pure-Python
``rosbags``: no ROS install, no rclpy.

* ``info IN``: storage, duration, topics with types and counts, and what
  ``segment`` would do with each image topic.
* ``segment IN OUT``: every sensor_msgs/Image and CompressedImage topic (or
  ``--topics``) through :class:`~eunet_ros.core.engine.SegmentationEngine` in
  batches, in time order (bag timestamps); OUT holds per camera the topics segment_node
  publishes live (``<camera>/mask``, ``<camera>/<group>/mask``, with
  ``--overlay`` ``<camera>/overlay``), with the input's headers and the names,
  types and fields of :mod:`eunet_ros.ros.outputs`. ``--copy-input`` copies the
  original topics too. Storage, compression and QoS follow the input unless
  ``--storage`` / ``--compression`` / ``--qos`` say otherwise. The bag is written under a
  hidden temporary name beside OUT and renamed when complete.
* ``export IN DIR``: frames to ``DIR/images`` at a ``--stride`` or ``--min-gap``;
  ``--pre-label`` writes the model's masks to ``DIR/masks`` (the folder-dataset
  layout of ``training/datasets/folder.py``), 255 (ignore) where the model's
  largest class probability is under ``--min-confidence``.
* ``compare IN --checkpoints A.pt B.pt``: the same frames through both models;
  per-class pixel agreement, the frames where they disagree most, and a contact
  sheet PNG of those frames (image | A | B | disagreement).

The camera of an image topic is its namespace, as a camera driver names them:
``/front/image`` and ``/front/image/compressed`` are camera ``/front``, whose
mask goes to ``/front/mask`` (a topic with no namespace, ``/image``, gives
``/image/mask``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import heapq
import os
from pathlib import Path
import queue
import shutil
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple
import warnings

import cv2
from eunet_ros.argtypes import at_least
from eunet_ros.fileio import atomic_write_bytes
from eunet_ros.ros.bag_reader import Bag, BagError, IMAGE_TYPES, STORAGES, TopicInfo
from eunet_ros.ros.image_conversion import BuiltinConverter, ImageConversionError
from eunet_ros.ros.node_params import DEFAULT_GROUPS, resolve_groups
from eunet_ros.ros.outputs import (group_luts, group_mask, group_topic, image_fields,
                                   mask_topic, overlay_topic)
from eunet_ros.tools.common import text_table
import numpy as np

__all__ = ['main', 'camera_namespace', 'BagError', 'segment_bag', 'export_frames',
           'compare_checkpoints']

IMAGE = 'sensor_msgs/msg/Image'
# topics ending so are segment_node outputs: never taken as cameras unless named
_OUTPUT_SUFFIXES = ('/mask', '/overlay')
COMPRESSION_MODES = ('input', 'none', 'file', 'message')
_converter = BuiltinConverter()


# ------------------------------------------------------------------ small helpers
def _warn(text: str) -> None:
    try:
        from tqdm import tqdm
        tqdm.write(f'warning: {text}', file=sys.stderr)
    except ImportError:  # pragma: no cover - tqdm is a requirement of the tool
        print(f'warning: {text}', file=sys.stderr)


def _progress(total: int, desc: str, quiet: bool) -> Any:
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit='frame', disable=quiet, dynamic_ncols=True,
                mininterval=0.5, file=sys.stderr)


def camera_namespace(topic: str) -> str:
    """
    Return the camera an image topic belongs to: its namespace.

    ``/front/image`` and ``/front/image/compressed`` -> ``/front``; ``/image`` ->
    ``/image`` (no namespace: the topic itself).
    """
    base = topic.rstrip('/')
    if base.endswith('/compressed'):
        base = base[:-len('/compressed')]
    parent = base.rsplit('/', 1)[0]
    return parent if parent.strip('/') else base


def select_cameras(bag: Bag, topics: Optional[Sequence[str]]) -> Dict[str, TopicInfo]:
    """
    Return {camera namespace: image topic} of the topics to segment.

    :param topics: the topics asked for (None: every image topic of the bag except
        those ending in ``/mask`` or ``/overlay``, the node's outputs).
    :raises BagError: a topic is missing or not an image, no image topic, or two
        topics would write the same camera's outputs.
    """
    images = bag.image_topics()
    listing = ', '.join(f'{t.topic} ({t.msgtype})' for t in bag.topics) or 'none'
    if topics:
        chosen = []
        for name in topics:
            found = [t for t in bag.topics if t.topic == name]
            if not found:
                raise BagError(f'{bag.path}: topic {name!r} is not in the bag (topics: '
                               f'{listing}).')
            img = [t for t in found if t.is_image]
            if not img:
                raise BagError(f'{bag.path}: topic {name!r} is {found[0].msgtype}, not one of '
                               f'{", ".join(IMAGE_TYPES)}.')
            chosen.append(img[0])
    else:  # segment_node's own outputs (a segmented bag) are not cameras
        chosen = [t for t in images if not t.topic.endswith(_OUTPUT_SUFFIXES)]
    if not chosen:
        raise BagError(f'{bag.path}: no sensor_msgs/Image or CompressedImage topic to segment '
                       f'(topics: {listing}).')
    cams: Dict[str, TopicInfo] = {}
    for t in chosen:
        cam = camera_namespace(t.topic)
        if cam in cams and cams[cam].topic != t.topic:
            raise BagError(f'{bag.path}: topics {cams[cam].topic} and {t.topic} are the same '
                           f'camera {cam} and would both write {mask_topic(cam)}; choose one '
                           'with --topics.')
        cams[cam] = t
    return cams


def _stamp_ns(msg: Any, t_ns: int) -> int:
    """Return the header stamp of ``msg`` in ns, or the bag time when the stamp is zero."""
    st = msg.header.stamp
    ns = int(st.sec) * 1_000_000_000 + int(st.nanosec)
    return ns if ns else t_ns


def _check_not_empty(bag: Bag) -> None:
    if bag.message_count == 0:
        raise BagError(f'{bag.path}: the bag is empty (no messages).')


# --------------------------------------------------------------- reading frames
@dataclass
class Item:
    """One message of the bag on its way through a command, in the bag's order."""

    info: TopicInfo
    t_ns: int
    raw: bytes
    camera: Optional[str] = None       # set for the image topics being processed
    msg: Any = None                    # the deserialised image message
    frame: Optional[np.ndarray] = None  # uint8 H x W x 3
    order: str = 'bgr'
    error: str = ''                    # why the frame was skipped
    results: List[Any] = field(default_factory=list)  # one Segmentation per engine


class FrameReader:
    """
    Read a bag's messages in its order, deserialising and decoding frames in a thread.

    Reading and decoding (JPEG/PNG, colour conversion) run ahead of the consumer,
    so they overlap with inference and writing.

    :param cameras: {camera: image topic} whose frames are decoded.
    :param others: further topics to pass through undecoded (``--copy-input``).
    :param select: ``select(item) -> bool`` picks the frames to decode (the others
        are dropped); None: all.
    """

    _END = object()

    def __init__(self, bag: Bag, cameras: Dict[str, TopicInfo],
                 others: Sequence[TopicInfo] = (), select: Optional[Callable[[Item], bool]] = None,
                 prefetch: int = 16) -> None:
        self.bag = bag
        self._cam_of = {t.connection.id: cam for cam, t in cameras.items()}
        topics = list(cameras.values()) + [t for t in others
                                           if t.connection.id not in self._cam_of]
        self._topics = topics
        self._select = select
        self._q: 'queue.Queue[Any]' = queue.Queue(maxsize=max(2, prefetch))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='bag_reader', daemon=True)

    def _put(self, x: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for info, t_ns, raw in self.bag.messages(self._topics):
                item = Item(info, t_ns, raw, camera=self._cam_of.get(info.connection.id))
                if item.camera is not None:
                    item.msg = self.bag.deserialize(raw, info, t_ns)
                    if self._select is not None and not self._select(item):
                        continue
                    try:
                        if IMAGE_TYPES[info.msgtype] == 'raw':
                            item.frame, item.order = _converter.image(item.msg)
                        else:
                            item.frame, item.order = _converter.compressed(item.msg)
                    except ImageConversionError as e:
                        item.error = str(e)
                if not self._put(item):
                    return
            self._put(self._END)
        except BaseException as e:  # noqa: B902 - handed to the consumer, raised there
            self._put(e)

    def __iter__(self) -> Iterator[Item]:
        self._thread.start()
        try:
            while True:
                x = self._q.get()
                if x is self._END:
                    return
                if isinstance(x, BaseException):
                    raise x
                yield x
        finally:
            self._stop.set()
            self._thread.join(timeout=5.0)


class SkipCounter:
    """Frames skipped per topic (unsupported encoding, undecodable): a warning each first time."""

    def __init__(self) -> None:
        self.counts: Dict[str, int] = {}
        self.reasons: Dict[str, str] = {}

    def add(self, item: Item) -> None:
        """Count a skipped frame; warn about the first one of its topic."""
        topic = item.info.topic
        if topic not in self.counts:
            _warn(f'{topic}: frame at {item.t_ns / 1e9:.3f} s skipped: {item.error} '
                  '(further frames of this topic that fail are skipped and counted)')
            self.reasons[topic] = item.error
        self.counts[topic] = self.counts.get(topic, 0) + 1

    @property
    def total(self) -> int:
        """Return the number of frames skipped."""
        return sum(self.counts.values())

    def summary(self) -> List[str]:
        """Return one line per topic with skipped frames."""
        return [f'skipped {n} frame(s) of {t}: {self.reasons[t]}' for t, n in self.counts.items()]


def batched(items: Iterator[Item], engines: Sequence[Any], batch: int, *,
            overlay: bool = False, alpha: float = 0.5, confidence: bool = False,
            skipped: Optional[SkipCounter] = None) -> Iterator[Item]:
    """
    Yield the items in their order, each frame with one Segmentation per engine.

    Frames go through every engine ``batch`` at a time (across cameras); items
    that are not frames (copied topics, skipped frames) keep their place.
    """
    pending: List[Item] = []
    frames = 0

    def flush() -> List[Item]:
        todo = [it for it in pending if it.frame is not None]
        if todo:
            orders = {it.order for it in todo}
            order = orders.pop() if len(orders) == 1 else 'bgr'
            imgs = [it.frame if it.order == order else it.frame[:, :, ::-1] for it in todo]
            for eng in engines:
                kwargs = {'confidence': True} if confidence else {}
                out = eng.infer(imgs, color_order=order, overlay=overlay, alpha=alpha,
                                **kwargs)
                for it, res in zip(todo, out):
                    it.results.append(res)
        done = list(pending)
        pending.clear()
        return done

    for it in items:
        if it.camera is not None and it.frame is None and skipped is not None:
            skipped.add(it)
        pending.append(it)
        if it.frame is not None:
            frames += 1
            if frames >= batch:
                frames = 0
                yield from flush()
    yield from flush()


# ---------------------------------------------------------------------- engines
def load_engine(checkpoint: Optional[str], args: argparse.Namespace) -> Any:
    """
    Return a SegmentationEngine of ``checkpoint`` (None: the packaged model).

    :raises BagError: no checkpoint, or it does not load (the message says why).
    """
    from eunet_ros.core.checkpoint import CheckpointError
    from eunet_ros.core.engine import EngineError, SegmentationEngine
    if not checkpoint:
        from eunet_ros.resources import default_checkpoint_path
        found = default_checkpoint_path()
        if found is None:
            raise BagError('no --checkpoint given and no packaged model found ($EUNET_CHECKPOINT '
                           'or models/eunet_fs_synthetic.pt).')
        checkpoint = str(found)
    try:
        return SegmentationEngine(checkpoint, device=args.device, precision=args.precision,
                                  backend=args.backend, num_threads=args.threads or None)
    except (CheckpointError, EngineError, OSError) as e:
        raise BagError(f'checkpoint {checkpoint}: {e}') from None


# ------------------------------------------------------------------------- info
def bag_info(path: str, topics: Optional[Sequence[str]] = None,
             groups: Sequence[str] = tuple(DEFAULT_GROUPS)) -> str:
    """Return the description ``info`` prints."""
    with Bag(path) as bag:
        comp = (f'{bag.compression_mode} ({bag.compression_format})'
                if bag.compression_mode else 'none')
        ver = f', rosbag2 version {bag.version}' if bag.version is not None else ''
        lines = [f'bag: {bag.path}', f'storage: {bag.storage}{ver}; compression: {comp}',
                 f'messages: {bag.message_count} in {bag.duration_ns / 1e9:.3f} s'
                 + (f' (from {bag.start_ns / 1e9:.3f} to {bag.end_ns / 1e9:.3f} s since the '
                    'epoch)' if bag.message_count else ' (empty bag: nothing to process)')]
        try:
            cams = select_cameras(bag, topics) if bag.topics else {}
            note = ''
        except BagError as e:
            cams, note = {}, str(e)
        by_topic = {t.topic: c for c, t in cams.items()}
        rows = [('topic', 'type', 'messages', 'segment writes')]
        for t in bag.topics:
            cam = by_topic.get(t.topic)
            outs = '-'
            if cam is not None and by_topic and cams[cam] is t:
                outs = ', '.join([mask_topic(cam)] + [group_topic(cam, g) for g in groups])
            rows.append((t.topic, t.msgtype, str(t.count), outs))
        lines.append(text_table(rows))
        if note:
            lines.append(f'segment: {note}')
        elif cams:
            lines.append(f'segment would process {len(cams)} camera(s), '
                         f'{sum(t.count for t in cams.values())} frame(s); --overlay '
                         'adds <camera>/overlay')
        return '\n'.join(lines)


# ---------------------------------------------------------------------- segment
class OutputBag:
    """
    A rosbag2 being written under a hidden temporary name beside ``out``.

    :meth:`commit` renames it to ``out``; :meth:`discard` (also on any exception
    in a ``with`` block, Ctrl-C included) removes it. Nothing ever exists under
    ``out`` that is not a complete bag.
    """

    def __init__(self, out: Path, storage: str, version: int, compression: Optional[str],
                 overwrite: bool) -> None:
        from rosbags.rosbag2 import Writer
        from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin
        self.out = out
        if out.exists() and not overwrite:
            raise BagError(f'{out} exists; give --overwrite to replace it, or another name.')
        out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f'.{out.name}.', suffix='.partial',
                                         dir=out.parent))
        self.path = self.tmp / out.name   # the files inside are named after the bag
        self.writer = Writer(self.path, version=version,
                             storage_plugin=StoragePlugin[storage.upper()])
        if compression:
            self.writer.set_compression(CompressionMode[compression.upper()],
                                        CompressionFormat.ZSTD)
        self.writer.open()
        self._open = True

    def commit(self) -> None:
        """Close the bag and rename it to its final name (replacing an old one)."""
        self.writer.close()
        self._open = False
        old = None
        if self.out.exists():
            old = self.tmp / 'replaced'
            os.rename(self.out, old)
        os.rename(self.path, self.out)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def discard(self) -> None:
        """Remove the unfinished bag."""
        if self._open:
            self._open = False
            try:
                self.writer.close()
            except Exception:  # noqa: B902 - removed anyway
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> 'OutputBag':
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None:
            self.discard()


@dataclass
class SegmentReport:
    """What ``segment`` did."""

    out: Path
    frames: int = 0
    skipped: Dict[str, int] = field(default_factory=dict)
    written: Dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        """Return frames segmented per second of the whole run."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _output_version(bag: Bag) -> int:
    return 8 if bag.version == 8 else 9


def segment_bag(inp: str, out: str, engine: Any, *, topics: Optional[Sequence[str]] = None,
                copy_input: bool = False, overlay: bool = False, alpha: float = 0.5,
                groups: Sequence[str] = tuple(DEFAULT_GROUPS), batch: int = 4,
                storage: str = 'input', compression: str = 'input', qos: str = 'input',
                overwrite: bool = False, quiet: bool = False) -> SegmentReport:
    """
    Segment the image topics of bag ``inp`` into a new bag ``out``; see the module docstring.

    :param qos: the offered QoS recorded for the output topics: ``input`` (the input
        camera's) or ``node`` (what segment_node offers by default: reliable, keep
        last 1, volatile).

    :raises BagError: bad input or output, naming the bag, topic or message.
    """
    out_path = Path(out).expanduser()
    group_ids = resolve_groups({g: DEFAULT_GROUPS[g] for g in groups}, engine.class_names)
    luts = group_luts(group_ids)
    report = SegmentReport(out_path)
    t0 = time.monotonic()
    with Bag(inp) as bag:
        if out_path.resolve() == bag.path.resolve():
            raise BagError(f'{out_path}: the output would replace the input bag.')
        _check_not_empty(bag)
        cams = select_cameras(bag, topics)
        st = bag.storage if storage == 'input' else storage
        comp = bag.compression_mode if compression == 'input' else (
            None if compression == 'none' else compression)
        ts = bag.typestore
        image_cls = ts.types[IMAGE]
        with OutputBag(out_path, st, _output_version(bag), comp, overwrite) as ob:
            w = ob.writer
            conns: Dict[Tuple[str, str], Any] = {}
            for cam, t in cams.items():
                profiles = (list(t.connection.ext.offered_qos_profiles) if qos == 'input'
                            else [_node_output_qos()])
                names = [('mask', mask_topic(cam))] + [
                    (g, group_topic(cam, g)) for g in group_ids]
                if overlay:
                    names.append(('overlay', overlay_topic(cam)))
                for key, name in names:
                    conns[(cam, key)] = w.add_connection(name, IMAGE, typestore=ts,
                                                         offered_qos_profiles=profiles)
            copied: Dict[int, Any] = {}
            if copy_input:
                for t in bag.topics:
                    c = _copy_connection(w, t, ts)
                    if c is not None:
                        copied[t.connection.id] = c

            def emit(key: Tuple[str, str], a: np.ndarray, enc: str, it: Item) -> None:
                m = image_cls(header=it.msg.header, data=np.ascontiguousarray(a).reshape(-1),
                              **image_fields(a, enc))
                w.write(conns[key], it.t_ns, ts.serialize_cdr(m, IMAGE))
                topic = conns[key].topic
                report.written[topic] = report.written.get(topic, 0) + 1

            skipped = SkipCounter()
            total = sum(t.count for t in cams.values())
            reader = FrameReader(bag, cams, list(bag.topics) if copy_input else ())
            with _progress(total, 'segment', quiet) as bar:
                for it in batched(iter(reader), [engine], batch, overlay=overlay, alpha=alpha,
                                  skipped=skipped):
                    c = copied.get(it.info.connection.id)
                    if c is not None:
                        w.write(c, it.t_ns, it.raw)
                    if it.camera is None:
                        continue
                    bar.update(1)
                    if not it.results:
                        continue
                    res = it.results[0]
                    emit((it.camera, 'mask'), res.mask, 'mono8', it)
                    for g, lut in luts.items():
                        emit((it.camera, g), group_mask(res.mask, lut), 'mono8', it)
                    if overlay:
                        emit((it.camera, 'overlay'), res.overlay, 'bgr8', it)
                    report.frames += 1
            if report.frames == 0:
                raise BagError(f'{bag.path}: no frame could be segmented; '
                               + '; '.join(skipped.summary()))
            ob.commit()
        report.skipped = dict(skipped.counts)
        for line in skipped.summary():
            _warn(line)
    report.seconds = time.monotonic() - t0
    return report


def _node_output_qos() -> Any:
    """Return segment_node's default output QoS as a rosbags Qos (reliable, last 1)."""
    from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                    QosReliability, QosTime)
    zero = QosTime(0, 0)
    return Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.VOLATILE, zero,
               zero, QosLiveliness.SYSTEM_DEFAULT, zero, False)


def _copy_connection(w: Any, t: TopicInfo, ts: Any) -> Any:
    """Add ``t``'s connection to writer ``w`` as recorded; None (with a warning) if impossible."""
    c = t.connection
    kw = {'serialization_format': c.ext.serialization_format,
          'offered_qos_profiles': list(c.ext.offered_qos_profiles)}
    try:
        if c.msgdef.data and c.digest:
            return w.add_connection(t.topic, t.msgtype, msgdef=c.msgdef.data, rihs01=c.digest,
                                    **kw)
        return w.add_connection(t.topic, t.msgtype, typestore=ts, **kw)
    except Exception as e:  # noqa: B902 - an unknown type without a definition in the bag
        _warn(f'{t.topic} ({t.msgtype}) is not copied: its message definition is unknown '
              f'({type(e).__name__}: {e}).')
        return None


# ----------------------------------------------------------------------- export
def _slug(topic: str) -> str:
    return topic.strip('/').replace('/', '_') or 'image'


def _selector(stride: int, min_gap: float) -> Callable[[Item], bool]:
    """Return the frame selection of ``--stride`` / ``--min-gap`` (per topic)."""
    seen: Dict[str, int] = {}
    last: Dict[str, int] = {}
    gap_ns = int(round(min_gap * 1e9))

    def select(it: Item) -> bool:
        topic = it.info.topic
        if gap_ns > 0:
            t = _stamp_ns(it.msg, it.t_ns)
            if topic in last and t - last[topic] < gap_ns:
                return False
            last[topic] = t
            return True
        n = seen.get(topic, 0)
        seen[topic] = n + 1
        return n % stride == 0
    return select


def export_frames(inp: str, out_dir: str, *, engine: Any = None, topics=None, stride: int = 1,
                  min_gap: float = 0.0, min_confidence: float = 0.5, batch: int = 4,
                  quiet: bool = False) -> Dict[str, Any]:
    """
    Write frames (and with ``engine`` pre-labels) as a folder dataset; return a summary.

    ``DIR/images/<topic>_<stamp ns>.png``; with an engine also
    ``DIR/masks/<same>.png`` (class ids, 255 where the largest class probability is
    under ``min_confidence``) and ``DIR/dataset.yaml`` (the model's class names).
    """
    root = Path(out_dir).expanduser()
    images = root / 'images'
    masks = root / 'masks'
    summary = {'images': 0, 'masks': 0, 'ignored_fraction': 0.0, 'dir': str(root)}
    ignored = 0
    pixels = 0
    with Bag(inp) as bag:
        _check_not_empty(bag)
        cams = select_cameras(bag, topics)
        images.mkdir(parents=True, exist_ok=True)
        if engine is not None:
            masks.mkdir(parents=True, exist_ok=True)
            import yaml
            atomic_write_bytes(root / 'dataset.yaml', yaml.safe_dump({
                'classes': list(engine.class_names),
                'description': f'pre-labels of {bag.path.name} by {engine.checkpoint.name}; '
                               f'255 = ignore (confidence under {min_confidence:g})'},
                sort_keys=False).encode(), durable=False)
        skipped = SkipCounter()
        reader = FrameReader(bag, cams, select=_selector(stride, min_gap))
        items = iter(reader)
        if engine is not None:
            items = batched(items, [engine], batch, confidence=True, skipped=skipped)
        total = sum(t.count for t in cams.values())
        with _progress(total // max(1, stride) if not min_gap else None, 'export', quiet) as bar:
            for it in items:
                if it.frame is None:
                    if engine is None:
                        skipped.add(it)
                    continue
                bar.update(1)
                stem = f'{_slug(it.info.topic)}_{_stamp_ns(it.msg, it.t_ns):019d}'
                bgr = it.frame if it.order == 'bgr' else it.frame[:, :, ::-1]
                ok, png = cv2.imencode('.png', np.ascontiguousarray(bgr))
                atomic_write_bytes(images / f'{stem}.png', png.tobytes(), durable=False)
                summary['images'] += 1
                if engine is None:
                    continue
                res = it.results[0]
                label = res.mask.copy()
                unsure = res.confidence() < min_confidence
                label[unsure] = 255
                ignored += int(unsure.sum())
                pixels += label.size
                ok, png = cv2.imencode('.png', label)
                atomic_write_bytes(masks / f'{stem}.png', png.tobytes(), durable=False)
                summary['masks'] += 1
        for line in skipped.summary():
            _warn(line)
    summary['skipped'] = skipped.total
    summary['ignored_fraction'] = ignored / pixels if pixels else 0.0
    if summary['images'] == 0:
        raise BagError(f'{inp}: no frame exported' + (
            '; ' + '; '.join(skipped.summary()) if skipped.total else ''))
    return summary


# ---------------------------------------------------------------------- compare
@dataclass
class CompareReport:
    """What ``compare`` found."""

    class_names: List[str]
    frames: int = 0
    both: Optional[np.ndarray] = None     # per class: pixels both models give it
    either: Optional[np.ndarray] = None   # per class: pixels either model gives it
    equal: int = 0
    pixels: int = 0
    worst: List[Tuple[float, int, str, float]] = field(default_factory=list)
    sheet: Optional[str] = None

    @property
    def agreement(self) -> float:
        """Return the fraction of all pixels with the same class from both models."""
        return self.equal / self.pixels if self.pixels else float('nan')

    def per_class(self) -> List[Tuple[str, float, int]]:
        """Return (class, agreement = both / either, pixels of either) per class."""
        out = []
        for i, n in enumerate(self.class_names):
            e = int(self.either[i])
            out.append((n, float(self.both[i]) / e if e else float('nan'), e))
        return out

    def table(self) -> str:
        """Return the per-class agreement table and the worst frames."""
        rows = [('class', 'agreement', 'pixels (either model)')]
        rows += [(n, '-' if a != a else f'{a:.3f}', str(e)) for n, a, e in self.per_class()]
        rows.append(('all pixels', f'{self.agreement:.3f}', str(self.pixels)))
        lines = [text_table(rows), 'frames with the largest disagreement:']
        lines += [f'  {frac * 100:5.1f} % of pixels differ: {topic} at {t:.3f} s'
                  for frac, _, topic, t in self.worst]
        if self.sheet:
            lines.append(f'contact sheet: {self.sheet}')
        return '\n'.join(lines)


def _thumb(img: np.ndarray, width: int) -> np.ndarray:
    h, w = img.shape[:2]
    if w <= width:
        return img
    return cv2.resize(img, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def compare_checkpoints(inp: str, engines: Sequence[Any], *, names: Sequence[str],
                        topics=None, stride: int = 1, max_frames: int = 0, top: int = 8,
                        sheet: Optional[str] = None, thumb_width: int = 320, batch: int = 4,
                        quiet: bool = False) -> CompareReport:
    """Run the same frames through two engines; see the module docstring."""
    a, b = engines
    if list(a.class_names) != list(b.class_names):
        raise BagError(f'the checkpoints have different class tables ({names[0]}: '
                       f'{a.class_names}; {names[1]}: {b.class_names}): pixel agreement '
                       'needs the same class ids.')
    k = len(a.class_names)
    rep = CompareReport(list(a.class_names), both=np.zeros(k, np.int64),
                        either=np.zeros(k, np.int64))
    heap: List[Tuple[float, int, str, float, np.ndarray]] = []
    with Bag(inp) as bag:
        _check_not_empty(bag)
        cams = select_cameras(bag, topics)
        skipped = SkipCounter()
        reader = FrameReader(bag, cams, select=_selector(stride, 0.0))
        total = sum(t.count for t in cams.values()) // max(1, stride)
        if max_frames:
            total = min(total, max_frames)
        with _progress(total, 'compare', quiet) as bar:
            for it in batched(iter(reader), engines, batch, overlay=sheet is not None,
                              skipped=skipped):
                if not it.results:
                    continue
                ra, rb = it.results
                same = ra.mask == rb.mask
                rep.equal += int(same.sum())
                rep.pixels += same.size
                ca = np.bincount(ra.mask.reshape(-1), minlength=k)[:k]
                cb = np.bincount(rb.mask.reshape(-1), minlength=k)[:k]
                cboth = np.bincount(ra.mask[same], minlength=k)[:k]
                rep.both += cboth
                rep.either += ca + cb - cboth
                diff = 1.0 - float(same.mean())
                rep.frames += 1
                bar.update(1)
                t = _stamp_ns(it.msg, it.t_ns) / 1e9
                if sheet is not None and (len(heap) < top or diff > heap[0][0]):
                    bgr = it.frame if it.order == 'bgr' else it.frame[:, :, ::-1]
                    dis = np.zeros_like(ra.overlay)
                    dis[~same] = (255, 0, 255)
                    row = np.hstack([_label(_thumb(bgr, thumb_width), f'{it.info.topic} '
                                                                      f'{t:.3f} s'),
                                     _label(_thumb(ra.overlay, thumb_width), names[0]),
                                     _label(_thumb(rb.overlay, thumb_width), names[1]),
                                     _label(_thumb(dis, thumb_width),
                                            f'differ {diff * 100:.1f} %')])
                    entry = (diff, rep.frames, it.info.topic, t, row)
                    if len(heap) < top:
                        heapq.heappush(heap, entry)
                    else:
                        heapq.heapreplace(heap, entry)
                elif sheet is None:
                    entry = (diff, rep.frames, it.info.topic, t, None)
                    if len(heap) < top:
                        heapq.heappush(heap, entry)
                    elif diff > heap[0][0]:
                        heapq.heapreplace(heap, entry)
                if max_frames and rep.frames >= max_frames:
                    break
        for line in skipped.summary():
            _warn(line)
    if rep.frames == 0:
        raise BagError(f'{inp}: no frame could be compared.')
    ranked = sorted(heap, key=lambda e: (-e[0], e[1]))
    rep.worst = [(d, i, topic, t) for d, i, topic, t, _ in ranked]
    if sheet is not None:
        rows = [e[4] for e in ranked]
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0))) for r in rows]
        ok, png = cv2.imencode('.png', np.vstack(rows))
        atomic_write_bytes(sheet, png.tobytes(), durable=False)
        rep.sheet = str(sheet)
    return rep


# ------------------------------------------------------------------ command line
def _engine_args(p: argparse.ArgumentParser, checkpoint: bool = True) -> None:
    if checkpoint:
        p.add_argument('--checkpoint', default='', help='checkpoint to run (default: the '
                       'packaged model, as segment_node)')
    p.add_argument('--device', default='auto', help='auto, cpu, cuda or cuda:N')
    p.add_argument('--precision', default='auto', help='auto, fp32, fp16, bf16')
    p.add_argument('--backend', default='auto', help='auto, torch or onnxruntime')
    p.add_argument('--threads', type=at_least(0), default=0,
                   help='CPU threads of torch / ONNX Runtime (0: their default)')
    p.add_argument('--batch', type=at_least(1), default=4,
                   help='frames per network batch, across cameras (default 4, as max_batch)')


BAG_HELP = 'a rosbag2 folder (metadata.yaml with sqlite3 or MCAP files) or one .db3 / .mcap file'


def get_args_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python -m eunet_ros.bag``."""
    p = argparse.ArgumentParser(
        prog='eunet_bag', description='Recorded drives: segment, export, compare and describe '
        'rosbag2 bags (sqlite3 or MCAP) without ROS.')
    sub = p.add_subparsers(dest='command', required=True)
    i = sub.add_parser('info', help='topics, counts, duration, what segment would process')
    i.add_argument('bag', help=BAG_HELP)
    i.add_argument('--topics', nargs='+', help='image topics segment would take')
    s = sub.add_parser('segment', help='segment the image topics into a new bag')
    s.add_argument('bag', help=BAG_HELP)
    s.add_argument('out', help='the new bag (a folder; must not exist unless --overwrite)')
    s.add_argument('--topics', nargs='+', help='image topics to segment (default: all)')
    s.add_argument('--copy-input', action='store_true', help='copy every input topic too')
    s.add_argument('--overlay', action='store_true', help='also write <camera>/overlay')
    s.add_argument('--alpha', type=float, default=0.5, help='overlay opacity (0..1)')
    s.add_argument('--groups', nargs='*', default=list(DEFAULT_GROUPS),
                   choices=sorted(DEFAULT_GROUPS),
                   help='class groups with a binary mask topic each (default: all, as the node)')
    s.add_argument('--storage', default='input', choices=('input',) + STORAGES)
    s.add_argument('--compression', default='input', choices=COMPRESSION_MODES,
                   help='zstd compression of the output (default: as the input)')
    s.add_argument('--qos', default='input', choices=('input', 'node'),
                   help="offered QoS recorded for the outputs: the input camera's (default) or "
                   "segment_node's (reliable, keep last 1)")
    s.add_argument('--overwrite', action='store_true', help='replace OUT when it exists')
    s.add_argument('--quiet', action='store_true', help='no progress bar')
    _engine_args(s)
    e = sub.add_parser('export', help='frames (and pre-labels) to a folder dataset')
    e.add_argument('bag', help=BAG_HELP)
    e.add_argument('dir', help='dataset folder: DIR/images, DIR/masks (created or added to)')
    e.add_argument('--topics', nargs='+', help='image topics to export (default: all)')
    g = e.add_mutually_exclusive_group()
    g.add_argument('--stride', type=at_least(1), default=1, help='every Nth frame per topic')
    g.add_argument('--min-gap', type=at_least(0.0, float), default=0.0,
                   help='at least this many seconds (header stamps) between frames of a topic')
    e.add_argument('--pre-label', action='store_true',
                   help="write the model's masks to DIR/masks (255 = ignore where unsure)")
    e.add_argument('--min-confidence', type=float, default=0.5,
                   help='pre-labels: pixels whose largest class probability is under this '
                   'become 255 (ignore); default 0.5')
    e.add_argument('--quiet', action='store_true')
    _engine_args(e)
    c = sub.add_parser('compare', help='the same frames through two checkpoints')
    c.add_argument('bag', help=BAG_HELP)
    c.add_argument('--checkpoints', nargs=2, required=True, metavar=('A.pt', 'B.pt'))
    c.add_argument('--topics', nargs='+')
    c.add_argument('--stride', type=at_least(1), default=1)
    c.add_argument('--max-frames', type=at_least(0), default=0, help='0: all')
    c.add_argument('--top', type=at_least(1), default=8, help='frames on the contact sheet')
    c.add_argument('--sheet', default='compare_sheet.png',
                   help='contact sheet PNG to write (empty: none)')
    c.add_argument('--quiet', action='store_true')
    _engine_args(c, checkpoint=False)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; return the exit status (1: bad input, 130: interrupted)."""
    args = get_args_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    # frames are views of the bag's read-only buffers; the engine only reads them
    warnings.filterwarnings('ignore', message='The given NumPy array is not writable')
    try:
        if args.command == 'info':
            print(bag_info(args.bag, args.topics))
        elif args.command == 'segment':
            if not 0.0 <= args.alpha <= 1.0:
                raise BagError(f'--alpha must be within 0..1, got {args.alpha}')
            engine = load_engine(args.checkpoint, args)
            rep = segment_bag(args.bag, args.out, engine, topics=args.topics,
                              copy_input=args.copy_input, overlay=args.overlay,
                              alpha=args.alpha, groups=args.groups, batch=args.batch,
                              storage=args.storage, compression=args.compression,
                              qos=args.qos, overwrite=args.overwrite, quiet=args.quiet)
            print(f'wrote {rep.out}: {rep.frames} frame(s) in {rep.seconds:.1f} s '
                  f'({rep.fps:.1f} frames/s); '
                  + ', '.join(f'{t} x{n}' for t, n in sorted(rep.written.items())))
        elif args.command == 'export':
            if not 0.0 <= args.min_confidence <= 1.0:
                raise BagError(f'--min-confidence must be within 0..1, got '
                               f'{args.min_confidence}')
            engine = load_engine(args.checkpoint, args) if args.pre_label else None
            s = export_frames(args.bag, args.dir, engine=engine, topics=args.topics,
                              stride=args.stride, min_gap=args.min_gap,
                              min_confidence=args.min_confidence, batch=args.batch,
                              quiet=args.quiet)
            print(f'wrote {s["images"]} image(s)'
                  + (f' and {s["masks"]} pre-label(s) ({s["ignored_fraction"] * 100:.1f} % '
                     'of pixels 255 = ignore)' if engine is not None else '')
                  + f' to {s["dir"]}' + (f'; skipped {s["skipped"]}' if s['skipped'] else ''))
        else:
            engines = [load_engine(ck, args) for ck in args.checkpoints]
            names = [Path(ck).name for ck in args.checkpoints]
            if names[0] == names[1]:
                names = list(args.checkpoints)
            rep = compare_checkpoints(args.bag, engines, names=names, topics=args.topics,
                                      stride=args.stride, max_frames=args.max_frames,
                                      top=args.top, sheet=args.sheet or None,
                                      batch=args.batch, quiet=args.quiet)
            print(f'{rep.frames} frame(s) compared, {names[0]} vs {names[1]}')
            print(rep.table())
    except BagError as e:
        print(f'eunet_bag {args.command}: error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f'eunet_bag {args.command}: interrupted; no output bag was left behind'
              if args.command == 'segment' else f'eunet_bag {args.command}: interrupted',
              file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
