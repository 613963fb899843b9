# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
One camera of the node benchmark: pre-built bgr8 frames, best effort, on a fixed schedule.

Started by :mod:`eunet_ros.tools.bench_node` as a process of its own per camera
(``python -m eunet_ros.tools.bench_camera --topic ... --rate ...``). Each frame is
stamped with the wall clock just before it goes out; every stamp sent is saved to
``--out`` (.npy) when the process stops, so the benchmark can count what was sent
in its window. A camera that falls behind skips the ticks it missed instead of
catching up in a burst, and a camera whose parent died gives up by itself.
"""

from __future__ import annotations

import argparse
import array
import io
import os
import sys
import time
from typing import Any, Optional, Sequence

from eunet_ros.fileio import atomic_write_bytes
from eunet_ros.ros import dds_profile
import numpy as np

__all__ = ['main']

NS = 1_000_000_000


def _camera_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog='python -m eunet_ros.tools.bench_camera',
                                description='One camera of the node benchmark (started by it).')
    p.add_argument('--topic', required=True)
    p.add_argument('--frame-id', required=True)
    p.add_argument('--width', type=int, required=True)
    p.add_argument('--height', type=int, required=True)
    p.add_argument('--rate', type=float, required=True)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', required=True, help='.npy file of the stamps (ns) sent')
    p.add_argument('--max-seconds', type=float, default=3600.0)
    return p.parse_args(argv)


def _publish(node: Any, a: argparse.Namespace) -> None:
    """Publish pre-built frames on a fixed schedule until stopped; save the stamps sent."""
    from eunet_ros.ros.ros_util import image_msg
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    pub = node.create_publisher(Image, a.topic, qos_profile_sensor_data)
    rng = np.random.default_rng(a.seed)
    msgs = []
    for _ in range(4):
        msg = image_msg(rng.integers(0, 256, (a.height, a.width, 3), dtype=np.uint8), 'bgr8')
        msg.header.frame_id = a.frame_id
        msgs.append(msg)
    period = int(round(NS / a.rate))
    sent = array.array('q')
    missed = 0
    parent = os.getppid()
    t_next = time.monotonic_ns()
    t_end = t_next + int(a.max_seconds * NS)
    try:
        while rclpy.ok(context=node.context) and os.getppid() == parent:
            now = time.monotonic_ns()
            if now >= t_end:
                break
            if now < t_next:
                time.sleep((t_next - now) / NS)
                continue
            msg = msgs[len(sent) % len(msgs)]
            stamp = time.time_ns()
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, NS)
            pub.publish(msg)
            sent.append(stamp)
            t_next += period
            behind = time.monotonic_ns() - t_next
            if behind >= period:  # a camera never catches up in a burst: skip what it missed
                missed += behind // period
                t_next += (behind // period) * period
    finally:
        buf = io.BytesIO()
        np.save(buf, np.frombuffer(sent, np.int64) if sent else np.zeros(0, np.int64))
        atomic_write_bytes(a.out, buf.getvalue(), durable=False)
        print(f'{a.frame_id}: published {len(sent)} frames on {a.topic}, missed {missed} '
              'ticks', flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one camera publisher of the benchmark until SIGINT/SIGTERM; return the status."""
    a = _camera_args(argv)
    from eunet_ros.ros.ros_util import run_node
    import rclpy
    dds_profile.apply_large_message_profile()  # 2.7 MB best-effort frames between processes
    return run_node(f'bench_camera_{a.frame_id}',
                    lambda: rclpy.create_node(f'bench_camera_{a.frame_id}_{os.getpid()}'),
                    lambda node, executor: _publish(node, a), (), [])


if __name__ == '__main__':
    sys.exit(main())
