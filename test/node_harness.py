# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Helpers shared by the node tests: a ROS context with a spinning executor, engines, frames.

Real rclpy and DDS throughout. The engines are real :class:`SegmentationEngine`
objects; :class:`PaletteModel` is a network with a known answer (each pixel gets
the class whose palette colour is nearest), so masks, overlays and group masks can
be checked pixel by pixel, and :class:`RecordingEngine` only records what the node
asked for (batch sizes, overlay flags) and can hold the first batch to make frames
wait.
"""

import threading
import time

from eunet_ros.core.checkpoint import (Checkpoint, DEFAULT_CLASSES, DEFAULT_PALETTE,
                                       save_checkpoint)
from eunet_ros.core.engine import SegmentationEngine
from eunet_ros.core.model import build_eunet, config_for_variant
from eunet_ros.ros.image_conversion import to_byte_array
from eunet_ros.ros.spin import SpinningNode
import numpy as np
import rclpy
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from training_helpers import PaletteModel

CLASSES = list(DEFAULT_CLASSES)
PALETTE = [tuple(p) for p in DEFAULT_PALETTE]
CONE_IDS = [2, 3, 4, 5, 6]


def wait_for(cond, timeout=15.0, what='a condition'):
    """Poll ``cond`` until it is true; fail the test after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError(f'timed out after {timeout} s waiting for {what}')


def publish_until(pub, msg, cond, timeout=15.0, what='a condition', period=0.25):
    """
    Publish ``msg`` every ``period`` s until ``cond`` holds.

    Best-effort DDS drops a message sent before the subscriber's side has matched
    the publisher, even when the publisher already counts the subscriber; under CPU
    load that window is long enough to lose a single publish.
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pub.publish(msg)
        t = time.monotonic() + period
        while time.monotonic() < t:
            if cond():
                return
            time.sleep(0.01)
    raise AssertionError(f'timed out after {timeout} s waiting for {what}')


def random_checkpoint(path):
    """Write a random-weight fast EUnet checkpoint with a small input size (fast on CPU)."""
    return save_checkpoint(path, model=build_eunet(variant='fast'), input_size=(96, 128))


class RecordingEngine(SegmentationEngine):
    """A real engine that records each batch and can hold the first one at a gate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []
        self.gate = None
        self.entered = threading.Event()

    def infer(self, frames, *, color_order, overlay=False, alpha=0.5, **kwargs):
        flags = list(overlay) if not isinstance(overlay, bool) else [overlay] * len(frames)
        self.calls.append({'n': len(frames), 'overlay': flags, 'alpha': alpha,
                           'sizes': [f.shape[:2] for f in frames], **kwargs})
        self.entered.set()
        gate, self.gate = self.gate, None
        if gate is not None:
            assert gate.wait(30), 'the test never opened the gate'
        return super().infer(frames, color_order=color_order, overlay=overlay, alpha=alpha,
                             **kwargs)


def palette_engine():
    """Return a RecordingEngine over :class:`PaletteModel` (7 FS classes, 96 x 128 input)."""
    ckpt = Checkpoint(config=config_for_variant('fast', num_classes=len(CLASSES)),
                      state_dict={}, class_names=CLASSES, palette=PALETTE,
                      mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), color_order='rgb',
                      input_size=(96, 128), variant='palette-test')
    return RecordingEngine(ckpt, device='cpu', model=PaletteModel(PALETTE), warmup=False)


def bands(h, w):
    """Return a bgr frame: blue-cone colour | track colour | background, in vertical thirds."""
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, :w // 3] = PALETTE[2]
    rgb[:, w // 3:2 * w // 3] = PALETTE[1]
    return rgb[:, :, ::-1].copy()


def check_bands(mask):
    """Assert the class ids of a mask of :func:`bands` (1 px tolerance at the borders)."""
    h, w = mask.shape
    assert np.all(mask[:, :w // 3 - 1] == 2)
    assert np.all(mask[:, w // 3 + 1:2 * w // 3 - 1] == 1)
    assert np.all(mask[:, 2 * w // 3 + 1:] == 0)


def image(array, encoding='bgr8', stamp=(0, 0), frame_id='cam_optical'):
    """Build a sensor_msgs/Image."""
    a = np.ascontiguousarray(array)
    m = Image(height=a.shape[0], width=a.shape[1], encoding=encoding,
              step=a.shape[1] * (a.shape[2] if a.ndim == 3 else 1), data=to_byte_array(a))
    m.header.stamp.sec, m.header.stamp.nanosec = stamp
    m.header.frame_id = frame_id
    return m


def as_array(msg):
    """Image message -> numpy (H x W or H x W x C)."""
    a = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)
    ch = msg.step // msg.width
    return a.reshape(msg.height, msg.width, ch) if ch > 1 else a


class Ros:
    """A private ROS context, a spinning executor and a probe node for the test's own I/O."""

    def __init__(self):
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx)
        self._spinning = SpinningNode('probe', context=self.ctx, num_threads=3)
        self.probe = self._spinning.node

    @property
    def nodes(self):
        """Return the nodes given to :meth:`add`, in order."""
        return self._spinning.added

    def add(self, node):
        """Spin ``node`` too; it is destroyed at :meth:`close`."""
        return self._spinning.add(node)

    def segment_node(self, namespace, engine=None, **params):
        """Start a SegmentNode in ``namespace`` with parameter overrides."""
        from eunet_ros.ros.segment_node import SegmentNode
        overrides = [Parameter(k, value=v) for k, v in params.items()]
        return self.add(SegmentNode(namespace=namespace, context=self.ctx, engine=engine,
                                    parameter_overrides=overrides))

    def collect(self, msg_type, topic, qos=1):
        """Subscribe and return (list of received messages, subscription)."""
        got = []
        sub = self.probe.create_subscription(msg_type, topic, got.append, qos)
        return got, sub

    def call(self, srv_type, name, request, timeout=10.0):
        """Call a service from the probe node and return the response."""
        client = self.probe.create_client(srv_type, name)
        try:
            assert client.wait_for_service(timeout_sec=timeout), f'no service {name}'
            future = client.call_async(request)
            wait_for(future.done, timeout, f'the response of {name}')
            return future.result()
        finally:
            self.probe.destroy_client(client)

    def close(self):
        """Stop spinning, destroy every node, shut the context down."""
        self._spinning.close()
        rclpy.try_shutdown(context=self.ctx)
