# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""Real rosbag2 bags (sqlite3 or MCAP, written by rosbags) and tiny checkpoints for the tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import cv2
from eunet_ros.core.checkpoint import save_checkpoint
from eunet_ros.core.model import build_eunet
import numpy as np
from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness, QosReliability,
                                QosTime)
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin
from rosbags.typesys import get_typestore, Stores
import torch
from training_helpers import toy_scene

TYPESTORE = get_typestore(Stores.LATEST)
T = TYPESTORE.types
IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
STRING = 'std_msgs/msg/String'
T0 = 1_700_000_000_000_000_000
PERIOD = 50_000_000  # 20 Hz
# a camera driver's QoS (best effort, depth 1), as `ros2 bag record` stores it
CAMERA_QOS = Qos(QosHistory.KEEP_LAST, 1, QosReliability.BEST_EFFORT, QosDurability.VOLATILE,
                 QosTime(0, 0), QosTime(0, 0), QosLiveliness.AUTOMATIC, QosTime(0, 0), False)


@dataclass
class Recorded:
    """One image message as written: topic, bag time, header, the frame the node would see."""

    topic: str
    t_ns: int
    sec: int
    nanosec: int
    frame_id: str
    frame: np.ndarray   # uint8 H x W x 3 as decoded (order below)
    order: str


def tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    """Write a random-weight fast EUnet with a 32 x 48 input (milliseconds a frame on a CPU)."""
    torch.manual_seed(seed)
    return save_checkpoint(path, model=build_eunet(variant='fast'), input_size=(32, 48))


def header(t_ns: int, frame_id: str):
    """Return a rosbags std_msgs/Header stamped ``t_ns``."""
    return T['std_msgs/msg/Header'](
        stamp=T['builtin_interfaces/msg/Time'](sec=t_ns // 10**9, nanosec=t_ns % 10**9),
        frame_id=frame_id)


def raw_image(img: np.ndarray, encoding: str, t_ns: int, frame_id: str):
    """Return a rosbags sensor_msgs/Image of a uint8 array."""
    ch = img.shape[2] if img.ndim == 3 else 1
    return T[IMAGE](header=header(t_ns, frame_id), height=img.shape[0], width=img.shape[1],
                    encoding=encoding, is_bigendian=0, step=img.shape[1] * ch,
                    data=np.ascontiguousarray(img).reshape(-1).view(np.uint8))


def write_drive(path: Path, storage: str, frames: int = 6, *, h: int = 48, w: int = 64,
                compression: Optional[str] = None, extra: Sequence[str] = (),
                seed: int = 0) -> List[Recorded]:
    """
    Write a bag: ``/front/image`` (rgb8), ``/rear/image/compressed`` (jpeg), ``/chatter``.

    Cameras interleave at 20 Hz (rear 10 ms after front), the string 20 ms after.
    ``extra``: ``'depth'`` adds ``/depth/image`` (16UC1, unsupported by the node).
    :returns: the image messages in bag order, with the frames they decode to.
    """
    rng = np.random.default_rng(seed)
    out: List[Recorded] = []
    wr = Writer(path, version=9, storage_plugin=StoragePlugin[storage.upper()])
    if compression:
        wr.set_compression(CompressionMode[compression.upper()], CompressionFormat.ZSTD)
    with wr:
        front = wr.add_connection('/front/image', IMAGE, typestore=TYPESTORE,
                                  offered_qos_profiles=[CAMERA_QOS])
        rear = wr.add_connection('/rear/image/compressed', COMPRESSED, typestore=TYPESTORE)
        chat = wr.add_connection('/chatter', STRING, typestore=TYPESTORE)
        depth = (wr.add_connection('/depth/image', IMAGE, typestore=TYPESTORE)
                 if 'depth' in extra else None)
        for i in range(frames):
            t = T0 + i * PERIOD
            rgb, _ = toy_scene(h, w, rng)
            wr.write(front, t, TYPESTORE.serialize_cdr(raw_image(rgb, 'rgb8', t, 'front'), IMAGE))
            out.append(Recorded('/front/image', t, t // 10**9, t % 10**9, 'front', rgb, 'rgb'))
            t2 = t + 10_000_000
            bgr, _ = toy_scene(h, w, rng)
            ok, jpg = cv2.imencode('.jpg', bgr[:, :, ::-1])
            msg = T[COMPRESSED](header=header(t2 - 5_000_000, 'rear'), format='jpeg',
                                data=jpg.reshape(-1))
            wr.write(rear, t2, TYPESTORE.serialize_cdr(msg, COMPRESSED))
            dec = cv2.imdecode(jpg, cv2.IMREAD_COLOR)
            out.append(Recorded('/rear/image/compressed', t2, (t2 - 5_000_000) // 10**9,
                                (t2 - 5_000_000) % 10**9, 'rear', dec, 'bgr'))
            wr.write(chat, t + 20_000_000,
                     TYPESTORE.serialize_cdr(T[STRING](data=f'lap {i}'), STRING))
            if depth is not None:
                d = np.full((h, w), 1000 + i, np.uint16)
                wr.write(depth, t + 30_000_000,
                         TYPESTORE.serialize_cdr(raw_image(d, '16UC1', t, 'depth'), IMAGE))
    return out


def read_bag(path: Path) -> Dict[str, list]:
    """Return {topic: [(bag time, message type, deserialised message, raw bytes)]}."""
    from rosbags.rosbag2 import Reader
    out: Dict[str, list] = {}
    with Reader(path) as r:
        for conn, t, raw in r.messages():
            msg = TYPESTORE.deserialize_cdr(raw, conn.msgtype)
            out.setdefault(conn.topic, []).append((t, conn.msgtype, msg, bytes(raw)))
    return out


def image_array(msg) -> np.ndarray:
    """Return the pixels of a rosbags mono8 or bgr8 sensor_msgs/Image."""
    a = np.asarray(msg.data, np.uint8)
    ch = msg.step // msg.width
    return a.reshape(msg.height, msg.width, ch) if ch > 1 else a.reshape(msg.height, msg.width)
