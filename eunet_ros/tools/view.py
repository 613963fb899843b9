# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Look at what segment_node publishes, and pause or resume it, without rviz or the ros2 CLI.

``python -m eunet_ros.tools.view [options]`` subscribes to one camera's
``<camera>/overlay`` (bgr8, the node computes it only while someone subscribes)
or ``<camera>/mask`` (class ids, coloured with the palette of the node's
``~/class_table``) over DDS, and writes the frames as PNGs (``--out DIR``) or as an
MP4 (``--video FILE``), until ``--frames`` frames or ``--duration`` seconds.
``--enable false`` / ``--enable true`` call the node's ``~/enable`` service
(std_srvs/SetBool) first, as ``ros2 service call <node>/enable
std_srvs/srv/SetBool "{data: false}"`` would. With neither ``--out`` nor ``--video``
it only calls the service, or, without ``--enable``, counts the frames it receives.

When no frame arrives within ``--timeout`` it exits with status 1 and says which
topic it listened on and how many publishers it saw there. Examples::

    python -m eunet_ros.tools.view --video overlay.mp4 --frames 90
    python -m eunet_ros.tools.view --what mask --out masks/ --frames 10
    python -m eunet_ros.tools.view --enable false        # pause inference
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import threading
import time
from typing import Any, List, Optional, Sequence

from eunet_ros.argtypes import at_least
from eunet_ros.ros.spin import SpinningNode
import numpy as np

__all__ = ['Viewer', 'get_args_parser', 'main']


class ViewError(RuntimeError):
    """The viewer cannot do what was asked; the message says why (exit status 1)."""


def _topic(namespace: str, name: str) -> str:
    ns = '/' + namespace.strip('/') if namespace.strip('/') else ''
    return f'{ns}/{name}'


def to_array(msg: Any) -> np.ndarray:
    """Return a bgr8 or mono8 sensor_msgs/Image as an H x W x 3 (bgr) or H x W array."""
    ch = {'mono8': 1, 'bgr8': 3, 'rgb8': 3}.get(msg.encoding)
    if ch is None:
        raise ViewError(f'cannot show encoding {msg.encoding!r} (expected bgr8, rgb8 or mono8)')
    a = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)
    a = a[:, :msg.width * ch].reshape(msg.height, msg.width, ch)
    if msg.encoding == 'rgb8':
        a = a[..., ::-1]
    return a[..., 0].copy() if ch == 1 else np.ascontiguousarray(a)


class Viewer(SpinningNode):
    """
    A node that keeps the frames of one output topic and calls ``~/enable``.

    :param args: the parsed options (namespace, camera, what, node, ...).
    """

    def __init__(self, args: argparse.Namespace) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
        super().__init__('eunet_view', num_threads=2)
        self.args = args
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.frames: List[Optional[np.ndarray]] = []  # None: only counted
        self.received = 0
        self.keep = bool(args.out or args.video)
        self.palette: Optional[np.ndarray] = None
        self.topic = _topic(args.namespace, f'{args.camera}/{args.what}')
        self.table_topic = _topic(args.namespace, f'{args.node.strip("/")}/class_table')
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(String, self.table_topic, self._on_table, latched)
        qos = QoSProfile(depth=10, reliability=(ReliabilityPolicy.BEST_EFFORT
                                                if args.best_effort
                                                else ReliabilityPolicy.RELIABLE))
        self.node.create_subscription(Image, self.topic, self._on_image, qos)

    def _on_table(self, msg: Any) -> None:
        try:
            classes = json.loads(msg.data)['classes']
            lut = np.zeros((256, 3), np.uint8)
            for c in classes:
                lut[int(c['id'])] = [int(v) for v in c['color_rgb'][::-1]]  # bgr
        except (ValueError, KeyError, TypeError, IndexError):
            return
        self.palette = lut

    def _on_image(self, msg: Any) -> None:
        frame = to_array(msg) if self.keep else None
        with self.cond:
            self.received += 1
            self.frames.append(frame)
            self.cond.notify_all()

    def take(self, timeout: float) -> List[Optional[np.ndarray]]:
        """Wait up to ``timeout`` s for frames; return (and forget) those received."""
        with self.cond:
            if not self.frames:
                self.cond.wait(timeout)
            out, self.frames = self.frames, []
        return out

    def colour(self, frame: np.ndarray) -> np.ndarray:
        """Return a mask coloured with the class table's palette (grey levels without one)."""
        if frame.ndim == 3:
            return frame
        if self.palette is not None:
            return self.palette[frame]
        grey = np.clip(frame.astype(np.int32) * 40, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)

    def publishers(self) -> int:
        """Return how many publishers the graph shows on the viewed topic."""
        return len(self.node.get_publishers_info_by_topic(self.topic))

    def enable(self, value: bool, timeout: float) -> str:
        """Call ``<node>/enable`` with ``value``; return the node's answer."""
        from std_srvs.srv import SetBool
        name = _topic(self.args.namespace, f'{self.args.node.strip("/")}/enable')
        client = self.node.create_client(SetBool, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise ViewError(f'no service {name} within {timeout:g} s: is segment_node '
                                'running (in this namespace, on this ROS_DOMAIN_ID)?')
            future = client.call_async(SetBool.Request(data=value))
            end = time.monotonic() + timeout
            while not future.done() and time.monotonic() < end:
                time.sleep(0.02)
            if not future.done():
                raise ViewError(f'{name} did not answer within {timeout:g} s')
            res = future.result()
        finally:
            self.node.destroy_client(client)
        if not res.success:
            raise ViewError(f'{name} refused: {res.message}')
        return res.message


class _Sink:
    """Where frames go: PNG files in a folder, an MP4 file, or nowhere (only counted)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.out: Optional[Path] = Path(args.out) if args.out else None
        self.video: Optional[Path] = Path(args.video) if args.video else None
        self.fps = args.fps
        self.writer = None
        self.count = 0
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
        if self.video is not None:
            self.video.parent.mkdir(parents=True, exist_ok=True)

    def write(self, frame: np.ndarray, what: str) -> None:
        import cv2
        if self.out is not None:
            path = self.out / f'{what}_{self.count:05d}.png'
            if not cv2.imwrite(str(path), frame):
                raise ViewError(f'cannot write {path}')
        if self.video is not None:
            if self.writer is None:
                self.writer = cv2.VideoWriter(str(self.video), cv2.VideoWriter_fourcc(*'mp4v'),
                                              self.fps, (frame.shape[1], frame.shape[0]))
                if not self.writer.isOpened():
                    raise ViewError(f'cannot write the video {self.video} (OpenCV has no '
                                    'mp4v encoder here); use --out DIR for PNGs')
            self.writer.write(frame)
        self.count += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


def get_args_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(
        prog='python -m eunet_ros.tools.view', description=__doc__.split('\n\n')[0].strip(),
        epilog='Run it where the node is reachable: the same ROS_DOMAIN_ID (and, with the '
               'PyPI ROS wheels, the same .venv).',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--camera', default='camera', help="the node's camera name")
    p.add_argument('--namespace', default='/', help="the node's namespace")
    p.add_argument('--node', default='segment_node', help="the node's name")
    p.add_argument('--what', default='overlay', choices=['overlay', 'mask'],
                   help='which output: the overlay (bgr8) or the class-id mask (coloured)')
    p.add_argument('--out', default=None, metavar='DIR', help='write every frame as a PNG here')
    p.add_argument('--video', default=None, metavar='FILE', help='write the frames as an MP4')
    p.add_argument('--fps', type=at_least(0.1, float), default=30.0,
                   help='frame rate of the MP4')
    p.add_argument('--frames', type=at_least(1), default=30,
                   help='stop after this many frames')
    p.add_argument('--duration', type=at_least(0.1, float), default=None,
                   metavar='S', help='stop after S seconds instead (what arrived by then)')
    p.add_argument('--timeout', type=at_least(0.1, float), default=60.0,
                   help='fail when no frame (or no ~/enable service) within this many seconds')
    p.add_argument('--enable', choices=['true', 'false'], default=None,
                   help="call the node's ~/enable service first (false pauses inference)")
    p.add_argument('--best-effort', action='store_true',
                   help='subscribe best effort (for a node with output_qos.reliability '
                        'best_effort)')
    return p


def record(viewer: Viewer, args: argparse.Namespace) -> int:
    """Write frames until ``--frames`` or ``--duration``; return how many were written."""
    sink = _Sink(args)
    start = time.monotonic()
    first_deadline = start + args.timeout
    end = start + args.duration if args.duration is not None else None
    try:
        while True:
            now = time.monotonic()
            if end is not None and now >= end:
                break
            if viewer.received == 0 and now >= first_deadline:
                raise ViewError(
                    f'no frame on {viewer.topic} within {args.timeout:g} s '
                    f'({viewer.publishers()} publisher(s) on it). Is segment_node running with '
                    'a camera that sends frames (its log warns when none arrive), in this '
                    'namespace and ROS_DOMAIN_ID? Paused (--enable true resumes)?')
            for frame in viewer.take(0.2):
                if frame is None:
                    sink.count += 1
                else:
                    sink.write(viewer.colour(frame), args.what)
                if end is None and sink.count >= args.frames:
                    return sink.count
            if end is None and sink.count >= args.frames:
                return sink.count
        return sink.count
    finally:
        sink.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the viewer; return the exit status (0, 1 on a failure it explains, 130 on Ctrl-C)."""
    args = get_args_parser().parse_args(argv)
    import rclpy
    rclpy.init()
    viewer = None
    try:
        viewer = Viewer(args)
        if args.enable is not None:
            print(viewer.enable(args.enable == 'true', args.timeout), flush=True)
            if not (args.out or args.video):
                return 0
        n = record(viewer, args)
        where = ', '.join(str(x) for x in (args.out, args.video) if x) or 'nowhere (counted)'
        print(f'{n} frame(s) of {viewer.topic} -> {where}', flush=True)
        return 0
    except ViewError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if viewer is not None:
            viewer.close()
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
