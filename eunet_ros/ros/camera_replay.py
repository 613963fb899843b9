# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
camera_replay: publish a video, an image folder or a looped sequence as a camera.

Frames go out as sensor_msgs/Image on ``topic`` and, when asked, as
sensor_msgs/CompressedImage on ``<topic>/compressed``, at ``rate`` Hz, stamped
with the node's clock (``use_sim_time`` applies) and ``frame_id``, optionally
resized. Sensor-data QoS (best effort, depth 1) by default, as camera drivers do.
With ``loop`` false (or ``max_frames`` reached) it exits when done.

Example::

    ros2 run eunet_ros camera_replay --ros-args -p source:=drive.mp4 -p rate:=30.0
        -p width:=640 -p height:=480 -p topic:=/camera/image   (one line)
"""

from __future__ import annotations

import sys
import time
from typing import Any, List, Optional

import cv2
from eunet_ros.core.options import check_choice
from eunet_ros.ros import dds_profile
from eunet_ros.ros.frame_source import FrameSource, FrameSourceError
from eunet_ros.ros.image_conversion import to_byte_array
from eunet_ros.ros.node_params import asks_for_help, ConfigError, parameters_help, ParamSpec
from eunet_ros.ros.ros_util import declare, image_msg, run_node
from rclpy.exceptions import NameValidationException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.task import Future
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

__all__ = ['CameraReplay', 'REPLAY_PARAMS', 'main']

ENCODINGS = ('bgr8', 'rgb8', 'mono8')

REPLAY_PARAMS = (
    ParamSpec('source', '', 'Video file, image folder, glob pattern (quote it) or image to '
              'replay.', constraints='an existing video, folder, glob or image'),
    ParamSpec('rate', 30.0, 'Frames per second.', min_value=0.1, max_value=1000.0),
    ParamSpec('loop', True, 'Start again at the end; false: exit after one pass.'),
    ParamSpec('max_frames', 0, 'Exit after publishing this many frames; 0: no limit.',
              min_value=0, max_value=2**31 - 1),
    ParamSpec('topic', 'camera/image', 'Image topic (CompressedImage goes to <topic>/compressed).',
              constraints='a topic name'),
    ParamSpec('frame_id', 'camera', 'header.frame_id of every frame.'),
    ParamSpec('encoding', 'bgr8', 'Encoding of the raw images.', choices=ENCODINGS),
    ParamSpec('width', 0, 'Resize to this width; 0: keep (or keep the aspect ratio when '
              'height is set).', min_value=0, max_value=16384),
    ParamSpec('height', 0, 'Resize to this height; 0: keep (or keep the aspect ratio when '
              'width is set).', min_value=0, max_value=16384),
    ParamSpec('publish_raw', True, 'Publish sensor_msgs/Image on <topic>.'),
    ParamSpec('publish_compressed', False, 'Also publish sensor_msgs/CompressedImage on '
              '<topic>/compressed.'),
    ParamSpec('compressed_format', 'jpeg', 'Compression of <topic>/compressed.',
              choices=('jpeg', 'png')),
    ParamSpec('jpeg_quality', 90, 'JPEG quality.', min_value=1, max_value=100),
    ParamSpec('wait_for_subscribers', 0, 'Hold the first frame until this many subscribers '
              'are matched on each topic (demos, tests); 0: start at once, as a camera does.',
              min_value=0, max_value=1000),
    ParamSpec('reliability', 'best_effort', 'QoS reliability of the publishers (depth 1).',
              choices=('best_effort', 'reliable')),
)


class CameraReplay(Node):
    """
    Publish frames of a :class:`~eunet_ros.ros.frame_source.FrameSource` at a fixed rate.

    :ivar done: a Future that completes when replay has finished (end of a
        non-looping source or ``max_frames``).
    :param node_name: ROS node name.
    :param dds_note: a line about the DDS profile to log at start-up.
    :param kwargs: passed to :class:`rclpy.node.Node`.

    :raises ConfigError: a parameter is invalid.
    :raises FrameSourceError: the source cannot be read.

    """

    def __init__(self, node_name: str = 'camera_replay', *, dds_note: str = '',
                 **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.done = Future()
        self._source: Optional[FrameSource] = None
        try:
            self._setup(dds_note)
        except BaseException:
            self.destroy_node()
            raise

    def _setup(self, dds_note: str) -> None:
        p = {s.name: declare(self, s) for s in REPLAY_PARAMS}
        for spec in REPLAY_PARAMS:
            if spec.choices:
                check_choice(spec.name, p[spec.name], spec.choices)
        if not p['publish_raw'] and not p['publish_compressed']:
            raise ConfigError('publish_raw', 'publish_raw and publish_compressed are both '
                                             'false: nothing to publish.')
        self._p = p
        self._source = FrameSource(p['source'], loop=p['loop'], size=(p['width'], p['height']))
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=(ReliabilityPolicy.BEST_EFFORT
                                      if p['reliability'] == 'best_effort'
                                      else ReliabilityPolicy.RELIABLE),
                         durability=DurabilityPolicy.VOLATILE)
        self._raw_pub = None
        self._comp_pub = None
        topic = p['topic'].rstrip('/') or 'camera/image'
        try:
            if p['publish_raw']:
                self._raw_pub = self.create_publisher(Image, topic, qos)
            if p['publish_compressed']:
                self._comp_pub = self.create_publisher(CompressedImage, topic + '/compressed',
                                                       qos)
        except (NameValidationException, ValueError) as e:
            raise ConfigError('topic', f'{topic!r} is not a valid topic name '
                                       f'({str(e).splitlines()[0]}).') from None
        self.published = 0
        self._warned = set()
        self._said_waiting = False
        self._t0: Optional[float] = None
        self._timer = self.create_timer(1.0 / p['rate'], self._tick)
        log = self.get_logger()
        n = self._source.count
        w, h = self._source.frame_size()
        topics: List[str] = [pub.topic_name for pub in (self._raw_pub, self._comp_pub) if pub]
        log.info(f'replaying {self._source.kind} {p["source"]!r} ({n if n else "?"} frames, '
                 f'{w}x{h}) at {p["rate"]:g} Hz{" in a loop" if p["loop"] else ""} on '
                 f'{", ".join(topics)} ({p["reliability"]})')
        if dds_note:
            log.info(dds_note)

    def _finish(self, why: str) -> None:
        if self.done.done():
            return
        self._timer.cancel()
        dt = time.monotonic() - self._t0 if self._t0 is not None else 0.0
        rate = f', {self.published / dt:.1f} Hz' if dt > 0 else ''
        self.get_logger().info(f'{why}: published {self.published} frames in {dt:.1f} s{rate}')
        self.done.set_result(self.published)

    def _waiting(self) -> bool:
        want = self._p['wait_for_subscribers']
        if not want or self.published:
            return False
        pubs = [pub for pub in (self._raw_pub, self._comp_pub) if pub is not None]
        if all(pub.get_subscription_count() >= want for pub in pubs):
            return False
        if not self._said_waiting:
            self._said_waiting = True
            self.get_logger().info(f'waiting for {want} subscriber(s) on '
                                   f'{", ".join(pub.topic_name for pub in pubs)}')
        return True

    def _tick(self) -> None:
        p = self._p
        if self._waiting():
            return
        if p['max_frames'] and self.published >= p['max_frames']:
            self._finish('max_frames reached')
            return
        try:
            frame = self._source.read()
        except FrameSourceError as e:
            self.get_logger().error(str(e))
            self._finish('source failed')
            return
        if frame is None:
            self._finish('end of source')
            return
        if self._t0 is None:
            self._t0 = time.monotonic()
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=p['frame_id'])
        if self._raw_pub is not None:
            enc = p['encoding']
            if enc == 'rgb8':
                img = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            elif enc == 'mono8':
                img = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            else:
                img = frame
            self._raw_pub.publish(image_msg(img, enc, header))
        if self._comp_pub is not None:
            fmt = p['compressed_format']
            params = [cv2.IMWRITE_JPEG_QUALITY, p['jpeg_quality']] if fmt == 'jpeg' else []
            ok, buf = cv2.imencode('.jpg' if fmt == 'jpeg' else '.png', frame, params)
            if ok:
                self._comp_pub.publish(CompressedImage(header=header, format=fmt,
                                                       data=to_byte_array(buf)))
        self.published += 1
        for f in self._source.skipped:
            if f not in self._warned:
                self._warned.add(f)
                self.get_logger().warning(f'skipped unreadable image {f}')

    def destroy_node(self):
        """Release the source, then destroy the node."""
        if self._source is not None:
            self._source.close()
        return super().destroy_node()


HELP_SUMMARY = (
    'Publish a video, an image folder, a glob or one image as a camera: sensor_msgs/Image on '
    '<topic> (and CompressedImage on <topic>/compressed when asked) at <rate> Hz, stamped with '
    'the node clock. It exits after one pass with loop:=false, or after max_frames.')
HELP_EXAMPLES = (
    'camera_replay --ros-args -p source:=.cache/demo/drive_1280x720_30fps_20s_seed2026.mp4 '
    '-p rate:=30.0 -p topic:=/camera/image',
)


def main(args: Optional[List[str]] = None) -> int:
    """Run camera_replay until done, Ctrl-C or an external shutdown; return the exit status."""
    if asks_for_help(sys.argv[1:] if args is None else args):
        print(parameters_help('camera_replay', HELP_SUMMARY, REPLAY_PARAMS, HELP_EXAMPLES))
        return 0
    _, dds_note = dds_profile.apply_large_message_profile()
    return run_node('camera_replay', lambda: CameraReplay(dds_note=dds_note),
                    lambda node, executor: executor.spin_until_future_complete(node.done),
                    (ConfigError, FrameSourceError), args)


if __name__ == '__main__':
    sys.exit(main())
