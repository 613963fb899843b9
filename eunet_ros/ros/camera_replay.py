# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
camera_replay: publish a video, an image folder, a looped sequence or a bag as a camera.

Frames go out as sensor_msgs/Image on ``topic`` and, when asked, as
sensor_msgs/CompressedImage on ``<topic>/compressed``, at ``rate`` Hz, stamped
with the node's clock (``use_sim_time`` applies) and ``frame_id``, optionally
resized. Sensor-data QoS (best effort, depth 1) by default, as camera drivers do.
With ``loop`` false (or ``max_frames`` reached) it exits when done.

A rosbag2 ``source`` (a folder with metadata.yaml, or a .db3 / .mcap file; read
with ``rosbags``, see :mod:`eunet_ros.ros.bag_reader`) is played instead: its
sensor_msgs/Image and CompressedImage topics (or those in ``topics``) are
published under their recorded names and types, at the recorded pace (``rate``,
``topic``, ``frame_id``, ``encoding``, resizing and compression do not apply),
with the recorded header stamps or, with ``restamp``, the node's clock. So the node
runs on real recordings where ``ros2 bag play`` is not available.

Example::

    ros2 run eunet_ros camera_replay --ros-args -p source:=drive.mp4 -p rate:=30.0
        -p width:=640 -p height:=480 -p topic:=/camera/image   (one line)
    ros2 run eunet_ros camera_replay --ros-args -p source:=bags/lap3 -p topics:=/front/image
"""

from __future__ import annotations

import sys
import time
from typing import Any, List, Optional

import cv2
from eunet_ros.core.options import check_choice
from eunet_ros.ros import dds_profile
from eunet_ros.ros.bag_reader import Bag, BagError, IMAGE_TYPES, is_bag
from eunet_ros.ros.frame_source import FrameSource, FrameSourceError
from eunet_ros.ros.image_conversion import to_byte_array
from eunet_ros.ros.node_params import asks_for_help, ConfigError, parameters_help, ParamSpec
from eunet_ros.ros.ros_util import declare, image_msg, run_node
from rclpy.exceptions import NameValidationException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rclpy.task import Future
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

__all__ = ['CameraReplay', 'REPLAY_PARAMS', 'main']

ENCODINGS = ('bgr8', 'rgb8', 'mono8')

REPLAY_PARAMS = (
    ParamSpec('source', '', 'Video file, image folder, glob pattern (quote it), image or '
              'rosbag2 (folder with metadata.yaml, .db3 or .mcap) to replay.',
              constraints='an existing video, folder, glob, image or bag'),
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
    ParamSpec('topics', '', 'Bag source: comma-separated image topics to play; empty: every '
              'sensor_msgs/Image and CompressedImage topic of the bag.',
              constraints='recorded topic names, or empty'),
    ParamSpec('restamp', False, 'Bag source: stamp each header with the node clock when it is '
              'published; false keeps the recorded stamps.'),
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
        self.published = 0
        self._t0: Optional[float] = None
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=(ReliabilityPolicy.BEST_EFFORT
                                      if p['reliability'] == 'best_effort'
                                      else ReliabilityPolicy.RELIABLE),
                         durability=DurabilityPolicy.VOLATILE)
        self._bag: Optional[Bag] = None
        if is_bag(p['source']):
            self._setup_bag(qos, dds_note)
            return
        self._source = FrameSource(p['source'], loop=p['loop'], size=(p['width'], p['height']))
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
        self._warned = set()
        self._said_waiting = False
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

    # ------------------------------------------------------------------ bags
    def _setup_bag(self, qos: QoSProfile, dds_note: str) -> None:
        """Open the bag, pick its image topics and create one publisher per topic."""
        p = self._p
        self._bag = Bag(p['source'])
        images = self._bag.image_topics()
        wanted = [t.strip() for t in p['topics'].split(',') if t.strip()]
        if wanted:
            chosen = []
            for name in wanted:
                found = [t for t in images if t.topic == name]
                if not found:
                    raise ConfigError('topics', f'{name!r} is not an image topic of the bag '
                                      f'{p["source"]!r} (image topics: '
                                      f'{", ".join(t.topic for t in images) or "none"}).')
                chosen.append(found[0])
        else:
            chosen = images
        if not chosen:
            raise ConfigError('source', f'the bag {p["source"]!r} has no sensor_msgs/Image or '
                              'CompressedImage topic to play.')
        if self._bag.message_count == 0:
            raise ConfigError('source', f'the bag {p["source"]!r} is empty.')
        self._bag_topics = chosen
        self._bag_pubs = {}
        for t in chosen:
            cls = Image if IMAGE_TYPES[t.msgtype] == 'raw' else CompressedImage
            self._bag_pubs[t.connection.id] = (self.create_publisher(cls, t.topic, qos), cls)
        self._raw_pub = self._comp_pub = None
        self._said_waiting = False
        self._bag_iter = None
        self._pending = None
        self._bag_t0: Optional[int] = None
        self._wall_t0 = 0.0
        self._timer = self.create_timer(0.002, self._tick_bag)
        n = sum(t.count for t in chosen)
        self.get_logger().info(
            f'replaying bag {p["source"]!r} ({self._bag.storage}, {n} frames in '
            f'{self._bag.duration_ns / 1e9:.1f} s) at the recorded pace'
            f'{" in a loop" if p["loop"] else ""} on {", ".join(t.topic for t in chosen)} '
            f'({p["reliability"]}, {"restamped" if p["restamp"] else "recorded stamps"})')
        if dds_note:
            self.get_logger().info(dds_note)

    def _next_bag_message(self):
        """Return the next (topic info, bag time, raw) to play, or None at the end."""
        if self._bag_iter is None:
            self._bag_iter = self._bag.messages(self._bag_topics)
            self._bag_t0 = None
        item = next(self._bag_iter, None)
        if item is None and self._p['loop'] and self.published:
            self._bag_iter = self._bag.messages(self._bag_topics)
            self._bag_t0 = None
            item = next(self._bag_iter, None)
        return item

    def _tick_bag(self) -> None:
        """Publish every bag message whose recorded time has come."""
        p = self._p
        pubs = [pub for pub, _ in self._bag_pubs.values()]
        if not self.published and self._waiting_for(pubs):
            return
        while True:
            if p['max_frames'] and self.published >= p['max_frames']:
                self._finish('max_frames reached')
                return
            if self._pending is None:
                try:
                    self._pending = self._next_bag_message()
                except BagError as e:
                    self.get_logger().error(str(e))
                    self._finish('bag failed')
                    return
                if self._pending is None:
                    self._finish('end of bag')
                    return
            info, t_ns, raw = self._pending
            now = time.monotonic()
            if self._bag_t0 is None:
                self._bag_t0, self._wall_t0 = t_ns, now
                if self._t0 is None:
                    self._t0 = now
            if (t_ns - self._bag_t0) * 1e-9 > now - self._wall_t0:
                return
            self._pending = None
            pub, cls = self._bag_pubs[info.connection.id]
            msg = deserialize_message(bytes(raw), cls)
            if p['restamp']:
                msg.header.stamp = self.get_clock().now().to_msg()
            pub.publish(msg)
            self.published += 1

    def _waiting_for(self, pubs) -> bool:
        want = self._p['wait_for_subscribers']
        if not want or all(pub.get_subscription_count() >= want for pub in pubs):
            return False
        if not self._said_waiting:
            self._said_waiting = True
            self.get_logger().info(f'waiting for {want} subscriber(s) on '
                                   f'{", ".join(pub.topic_name for pub in pubs)}')
        return True

    def _finish(self, why: str) -> None:
        if self.done.done():
            return
        self._timer.cancel()
        dt = time.monotonic() - self._t0 if self._t0 is not None else 0.0
        rate = f', {self.published / dt:.1f} Hz' if dt > 0 else ''
        self.get_logger().info(f'{why}: published {self.published} frames in {dt:.1f} s{rate}')
        self.done.set_result(self.published)

    def _waiting(self) -> bool:
        if self.published:
            return False
        return self._waiting_for([pub for pub in (self._raw_pub, self._comp_pub)
                                  if pub is not None])

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
        if self._bag is not None:
            self._bag.close()
        return super().destroy_node()


HELP_SUMMARY = (
    'Publish a video, an image folder, a glob or one image as a camera: sensor_msgs/Image on '
    '<topic> (and CompressedImage on <topic>/compressed when asked) at <rate> Hz, stamped with '
    'the node clock. It exits after one pass with loop:=false, or after max_frames. A rosbag2 '
    'source plays its image topics (or <topics>) as recorded, at the recorded pace, with the '
    'recorded stamps unless restamp:=true.')
HELP_EXAMPLES = (
    'camera_replay --ros-args -p source:=.cache/demo/drive_1280x720_30fps_20s_seed2026.mp4 '
    '-p rate:=30.0 -p topic:=/camera/image',
    'camera_replay --ros-args -p source:=bags/lap3 -p topics:=/front/image,/rear/image/compressed '
    '-p loop:=false',
)


def main(args: Optional[List[str]] = None) -> int:
    """Run camera_replay until done, Ctrl-C or an external shutdown; return the exit status."""
    if asks_for_help(sys.argv[1:] if args is None else args):
        print(parameters_help('camera_replay', HELP_SUMMARY, REPLAY_PARAMS, HELP_EXAMPLES))
        return 0
    _, dds_note = dds_profile.apply_large_message_profile()
    return run_node('camera_replay', lambda: CameraReplay(dds_note=dds_note),
                    lambda node, executor: executor.spin_until_future_complete(node.done),
                    (ConfigError, FrameSourceError, BagError), args)


if __name__ == '__main__':
    sys.exit(main())
