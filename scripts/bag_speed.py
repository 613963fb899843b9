#!/usr/bin/env python3
# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Frames per second of ``eunet_bag segment`` against the engine alone (issue 13 item 4).

Writes two MCAP bags of the same generated drive into ``--work`` (default a
temporary folder): one camera of raw bgr8 frames and one of JPEG frames. For
each it times

* the engine alone: the decoded frames, already in memory, through
  ``SegmentationEngine.infer`` in batches of ``--batch``;
* ``segment``: the whole tool (read, deserialise, decode, infer, group masks,
  serialise, write) on the bag, with the same engine and batch;

and prints both figures and their ratio. One engine serves both runs, so the
network, its backend and its threads are the same::

    python scripts/bag_speed.py --frames 120 --size 1280x720 --device cpu
"""

import argparse
from pathlib import Path
import sys
import tempfile
import time
import warnings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
from eunet_ros.tools.bag import segment_bag  # noqa: E402
from eunet_ros.tools.common import parse_resolution, text_table  # noqa: E402
import numpy as np  # noqa: E402


def drive_frame(i: int, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Return a bgr frame with sky, grass, a track and a few cones, moving with ``i``."""
    img = np.empty((h, w, 3), np.uint8)
    img[:h // 2] = (200, 140, 90)
    img[h // 2:] = (60, 140, 60)
    shift = int(40 * np.sin(i / 10))
    pts = np.array([[w // 2 - w // 20 + shift, h // 2], [w // 2 + w // 20 + shift, h // 2],
                    [w - 1, h - 1], [0, h - 1]], np.int32)
    cv2.fillPoly(img, [pts], (75, 70, 70))
    for k in range(6):
        x = int((k + 0.5) * w / 6 + shift)
        y = h // 2 + (k % 3 + 1) * h // 8
        s = h // 20 + k * 2
        cv2.fillPoly(img, [np.array([[x, y - s], [x - s // 2, y], [x + s // 2, y]], np.int32)],
                     (230, 60, 20) if k % 2 else (20, 210, 240))
    noise = rng.integers(-8, 9, img.shape, dtype=np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def write_bag(path: Path, frames, jpeg: bool) -> None:
    """Write ``frames`` as /cam/image (bgr8) or /cam/image/compressed (JPEG q90), 30 Hz."""
    from rosbags.rosbag2 import Writer
    from rosbags.rosbag2.enums import StoragePlugin
    from rosbags.typesys import get_typestore, Stores
    ts = get_typestore(Stores.LATEST)
    types = ts.types
    kind = 'sensor_msgs/msg/CompressedImage' if jpeg else 'sensor_msgs/msg/Image'
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as wr:
        conn = wr.add_connection('/cam/image/compressed' if jpeg else '/cam/image', kind,
                                 typestore=ts)
        for i, f in enumerate(frames):
            t = 1_700_000_000_000_000_000 + i * 33_333_333
            hdr = types['std_msgs/msg/Header'](
                stamp=types['builtin_interfaces/msg/Time'](sec=t // 10**9, nanosec=t % 10**9),
                frame_id='cam')
            if jpeg:
                ok, buf = cv2.imencode('.jpg', f, [cv2.IMWRITE_JPEG_QUALITY, 90])
                msg = types[kind](header=hdr, format='jpeg', data=buf.reshape(-1))
            else:
                msg = types[kind](header=hdr, height=f.shape[0], width=f.shape[1],
                                  encoding='bgr8', is_bigendian=0, step=f.shape[1] * 3,
                                  data=f.reshape(-1))
            wr.write(conn, t, ts.serialize_cdr(msg, kind))


def engine_fps(engine, frames, batch: int) -> float:
    """Return frames per second of the engine alone on decoded frames in memory."""
    t0 = time.perf_counter()
    for i in range(0, len(frames), batch):
        engine.infer(frames[i:i + batch], color_order='bgr')
    return len(frames) / (time.perf_counter() - t0)


def main(argv=None) -> int:
    """Generate the two bags, time the engine and segment on each, print the table."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--frames', type=int, default=120)
    p.add_argument('--size', type=parse_resolution, default=(1280, 720), help='WxH')
    p.add_argument('--checkpoint', default='', help='default: the packaged model')
    p.add_argument('--device', default='auto')
    p.add_argument('--backend', default='auto')
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--work', default='', help='folder for the bags (default: temporary)')
    args = p.parse_args(argv)
    # frames decoded from a bag are views of its read-only buffers; the engine only reads them
    warnings.filterwarnings('ignore', message='The given NumPy array is not writable')
    from eunet_ros.core.engine import SegmentationEngine
    from eunet_ros.resources import default_checkpoint_path
    ckpt = args.checkpoint or str(default_checkpoint_path())
    engine = SegmentationEngine(ckpt, device=args.device, backend=args.backend)
    w, h = args.size
    rng = np.random.default_rng(0)
    frames = [drive_frame(i, w, h, rng) for i in range(args.frames)]
    rows = [('bag', 'frames', 'engine alone (frames/s)', 'segment (frames/s)',
             'segment / engine')]
    with tempfile.TemporaryDirectory(dir=args.work or None) as tmp:
        for jpeg in (False, True):
            name = f'{w}x{h}_{"jpeg" if jpeg else "raw"}'
            bag = Path(tmp) / name
            write_bag(bag, frames, jpeg)
            decoded = frames if not jpeg else [
                cv2.imdecode(cv2.imencode('.jpg', f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1],
                             cv2.IMREAD_COLOR) for f in frames]
            engine_fps(engine, decoded[:args.batch], args.batch)   # warm-up
            alone = engine_fps(engine, decoded, args.batch)
            rep = segment_bag(bag, Path(tmp) / f'{name}_out', engine, batch=args.batch,
                              quiet=True)
            rows.append((name, str(len(frames)), f'{alone:.1f}', f'{rep.fps:.1f}',
                         f'{rep.fps / alone:.2f}'))
    print(engine.description)
    print(text_table(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
