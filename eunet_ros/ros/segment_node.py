# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
segment_node: EUnet segmentation of one or several cameras as a ROS 2 node.

A thin rclpy adapter over :class:`eunet_ros.core.engine.SegmentationEngine`:

* subscription callbacks only store the newest message per camera
  (:class:`~eunet_ros.ros.frame_slots.LatestFrameSlots`); a frame that arrives while
  an older one still waits replaces it and is counted as dropped;
* one inference thread takes the frames waiting at that moment (one per camera,
  up to ``max_batch``), converts them (cv_bridge or the built-in conversion),
  runs them through the engine as one batch and publishes, per camera,
  ``<camera>/mask`` (mono8 class ids, the input's header and size),
  ``<camera>/overlay`` (bgr8, only computed while subscribed) and
  ``<camera>/<group>/mask`` (mono8 0/255, only computed while subscribed);
* ``<camera>/cones`` (sensor_msgs/PointCloud2 in ``base_frame``, one point per cone:
  class, confidence, base pixel and, with intrinsics from ``<camera>/camera_info``
  or a fallback and the camera's pose, the position on the ground) and
  ``<camera>/cone_markers`` (MarkerArray, only while subscribed), computed by
  :mod:`eunet_ros.core.cones` in the inference thread; a bad CameraInfo leaves
  the cones without positions and the camera's diagnostics say why;
* ``~/class_table`` (std_msgs/String, JSON, transient local) describes the class
  ids, names and colours; ``/diagnostics`` reports rates, latencies and drops;
  ``~/enable`` (std_srvs/SetBool) pauses and resumes inference;
* a camera that sends nothing for ``no_frames_warning_s`` gets a throttled warning
  naming its topic, whether a publisher is matched and the QoS of the publishers
  seen there (a wrong topic, or a reliability or type mismatch, is otherwise
  silent), and its diagnostics turn WARN.

Bad frames are dropped with a throttled log line and counted; the node keeps
running. Parameters are declared from :mod:`eunet_ros.ros.node_params`.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
import traceback
from typing import Any, Dict, List, Optional, TYPE_CHECKING

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from eunet_ros.core.cones import cones_to_array, extract_cones, locate_cones
from eunet_ros.core.ground import Intrinsics, IntrinsicsError, load_calibration
from eunet_ros.ros import dds_profile
from eunet_ros.ros.cone_msgs import (camera_info_intrinsics, cloud_msg, marker_array,
                                     MarkerArray, MARKERS_NOTE)
from eunet_ros.ros.frame_slots import LatestFrameSlots
from eunet_ros.ros.image_conversion import ImageConversionError, make_converter
from eunet_ros.ros.node_params import (all_specs, asks_for_help, camera_params, CameraSettings,
                                       check_names, ConfigError, GLOBAL_PARAMS, group_param,
                                       NodeSettings, parameters_help, parse_settings,
                                       RESERVED_NAMES, resolve_groups, runtime_check)
from eunet_ros.ros.outputs import (group_luts, group_mask, group_topic, mask_topic,
                                   overlay_topic)
from eunet_ros.ros.ros_util import declare, image_msg, run_node
from eunet_ros.ros.stats import CameraStats, LatencyWindow, LogThrottle
import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import NameValidationException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header, String
from std_srvs.srv import SetBool

if TYPE_CHECKING:  # torch is imported when the node starts, after rclpy.init (see main)
    from eunet_ros.core.engine import SegmentationEngine

__all__ = ['SegmentNode', 'StartupError', 'resolve_checkpoint', 'main']

_RELIABILITY = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
                'reliable': ReliabilityPolicy.RELIABLE}


class StartupError(RuntimeError):
    """The node cannot start (bad parameter, checkpoint or device); the message says why."""


def resolve_checkpoint(value: str, lookup=None) -> str:
    """
    Return the checkpoint to load: the parameter, else the packaged model.

    :param value: the ``checkpoint`` parameter.
    :param lookup: finds the packaged model (default
        :func:`eunet_ros.resources.default_checkpoint_path`).
    :raises ConfigError: no parameter and no packaged model.
    """
    if value:
        return value
    if lookup is None:
        from eunet_ros.resources import default_checkpoint_path as lookup
    found = lookup()
    if found is None:
        raise ConfigError(
            'checkpoint', 'no checkpoint given and no packaged model found (looked for '
            '$EUNET_CHECKPOINT and eunet_fs_synthetic.pt in share/eunet_ros/models). Give one: '
            '--ros-args -p checkpoint:=/path/to/model.pt (or checkpoint:=... with ros2 launch).')
    return str(found)


class _Camera:
    """Publishers, subscription, conversion and statistics of one camera."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stats = CameraStats()
        self.topic = ''
        self.convert = None
        self.sub = None
        self.mask_pub = None
        self.overlay_pub = None
        self.group_pubs: Dict[str, Any] = {}
        self.last_frame_t: Optional[float] = None  # monotonic time of the newest frame
        self.silence_reported = False
        # cones: CameraInfo (newest valid one, or why the newest is refused), fallback
        self.info_sub = None
        self.info_topic = ''
        self.cones_pub = None
        self.markers_pub = None
        self.info_key: Any = None
        self.info: Optional[Intrinsics] = None
        self.info_problem: Optional[str] = None
        self.fallback: Optional[Intrinsics] = None
        self.fallback_problem: Optional[str] = None
        self.settings: Optional[CameraSettings] = None
        self.cones_note = 'no frame yet'
        self.cones_warn = False
        self.cones_found = 0
        self.cones_placed = 0


class SegmentNode(Node):
    """
    The segmentation node; see the module docstring.

    :param node_name: ROS node name.
    :param engine: use this engine instead of loading ``checkpoint`` (tests, tools).
    :param converter: use this image converter instead of :func:`make_converter`.
    :param dds_note: a line about the DDS profile to log at start-up.
    :param kwargs: passed to :class:`rclpy.node.Node` (namespace, context,
        parameter_overrides, ...).

    :raises StartupError: a parameter, the checkpoint or the device is unusable.

    """

    def __init__(self, node_name: str = 'segment_node', *,
                 engine: Optional['SegmentationEngine'] = None, converter: Any = None,
                 dds_note: str = '', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._ready = False
        self._stop = threading.Event()
        self._worker: Optional[threading.Thread] = None
        self._slots: Optional[LatestFrameSlots] = None
        try:
            self._setup(engine, converter, dds_note)
        except ConfigError as e:
            self.destroy_node()
            raise StartupError(str(e)) from None
        except BaseException:
            self.destroy_node()
            raise

    # ------------------------------------------------------------------ set-up
    def _setup(self, engine, converter, dds_note: str) -> None:
        """Build the node in order; on an error ``__init__`` destroys what was created."""
        self._settings = self._declare_parameters()
        self._engine = self._load_engine() if engine is None else engine
        self._resolve_groups()
        self._choose_converter(converter)
        self._init_state()
        self._create_cameras()
        self._create_node_interfaces()
        self._start_worker()
        self._log_ready(dds_note)

    def _declare_parameters(self) -> NodeSettings:
        """Declare the global, camera and group parameters; return the validated settings."""
        values: Dict[str, Any] = {}
        declared = []
        for spec in GLOBAL_PARAMS:
            values[spec.name] = declare(self, spec)
            declared.append(spec.name)
        cams = check_names('cameras', values['cameras'], what='camera',
                           reserved=sorted(RESERVED_NAMES))
        groups = check_names('class_groups', values['class_groups'], what='class group',
                             allow_empty=True)
        more = [s for c in cams for s in camera_params(c)] + [group_param(g) for g in groups]
        for spec in more:
            values[spec.name] = declare(self, spec)
            declared.append(spec.name)
        settings = parse_settings(values)
        self._warn_unused_overrides(set(declared))
        return settings

    def _load_engine(self) -> 'SegmentationEngine':
        """Load the checkpoint of the settings into a new engine."""
        settings = self._settings
        path = resolve_checkpoint(settings.checkpoint)
        self.get_logger().info(f'loading {path} on {settings.device} ({settings.precision}) ...')
        # torch loads here, not at import: a Ctrl-C meanwhile is a clean shutdown
        from eunet_ros.core.checkpoint import CheckpointError
        from eunet_ros.core.engine import EngineError, SegmentationEngine
        try:
            return SegmentationEngine(path, device=settings.device,
                                      precision=settings.precision,
                                      input_size=settings.input_size, warmup=True,
                                      num_threads=settings.cpu_threads,
                                      cuda_graphs=settings.cuda_graphs,
                                      backend=settings.backend)
        except (CheckpointError, EngineError) as e:
            raise StartupError(str(e)) from None

    def _resolve_groups(self) -> None:
        """Map the class groups to the engine's class ids and build their mask lookup tables."""
        group_ids = resolve_groups(self._settings.groups, self._engine.class_names)
        self._group_ids = group_ids
        self._luts = group_luts(group_ids)

    def _choose_converter(self, converter) -> None:
        """Use the given image converter, else pick one with :func:`make_converter`."""
        if converter is None:
            converter, why = make_converter()
        else:
            why = getattr(converter, 'name', type(converter).__name__)
        self._converter = converter
        self._converter_note = why

    def _init_state(self) -> None:
        """Set the run-time changeable settings and the empty statistics."""
        settings = self._settings
        self._enabled = True
        self._publish_overlay = settings.publish_overlay
        self._overlay_alpha = settings.overlay_alpha
        self._max_batch = settings.max_batch
        self._publish_cones = settings.publish_cones
        self._cone_min_pixels = settings.cone_min_pixels
        self._cone_max_range = settings.cone_max_range
        self._throttle = LogThrottle(5.0)
        # the same silence is reported again after this long; a new situation at once
        self._silence_throttle = LogThrottle(30.0)
        self._no_frames_warning_s = settings.no_frames_warning_s
        self._infer_latency = LatencyWindow()
        self._batch_lock = threading.Lock()
        self._batches = 0
        self._batched_frames = 0

    def _create_cameras(self) -> None:
        """Create each camera's subscription and publishers, then the frame slots."""
        settings = self._settings
        in_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=settings.input_depth,
                            reliability=_RELIABILITY[settings.input_reliability],
                            durability=DurabilityPolicy.VOLATILE)
        out_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                             reliability=_RELIABILITY[settings.output_reliability],
                             durability=DurabilityPolicy.VOLATILE)
        self._cams: Dict[str, _Camera] = {}
        for cs in settings.cameras:
            self._cams[cs.name] = self._create_camera(cs, in_qos, out_qos)
        self._slots = LatestFrameSlots(self._cams)
        self._subscribed_t = time.monotonic()

    def _create_camera(self, cs: CameraSettings, in_qos: QoSProfile,
                       out_qos: QoSProfile) -> _Camera:
        """Create one camera's subscription, mask, overlay and group-mask publishers."""
        cam = _Camera(cs.name)
        compressed = cs.transport == 'compressed'
        cam.convert = self._converter.compressed if compressed else self._converter.image
        msg_type = CompressedImage if compressed else Image
        try:
            cam.sub = self.create_subscription(
                msg_type, cs.input_topic, lambda m, c=cs.name: self._on_frame(c, m),
                in_qos)
        except (NameValidationException, ValueError) as e:
            raise ConfigError(f'{cs.name}.topic', f'{cs.input_topic!r} is not a valid '
                              f'topic name ({str(e).splitlines()[0]}).') from None
        cam.topic = cam.sub.topic_name
        cam.mask_pub = self.create_publisher(Image, mask_topic(cs.name), out_qos)
        cam.overlay_pub = self.create_publisher(Image, overlay_topic(cs.name), out_qos)
        for g in self._group_ids:
            cam.group_pubs[g] = self.create_publisher(Image, group_topic(cs.name, g), out_qos)
        self._create_cone_interfaces(cam, cs, out_qos)
        return cam

    def _create_cone_interfaces(self, cam: _Camera, cs: CameraSettings,
                                out_qos: QoSProfile) -> None:
        """Subscribe to CameraInfo, load the fallback intrinsics, create the cone publishers."""
        cam.settings = cs
        info_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                              reliability=ReliabilityPolicy.BEST_EFFORT,
                              durability=DurabilityPolicy.VOLATILE)
        try:
            cam.info_sub = self.create_subscription(
                CameraInfo, cs.info_topic, lambda m, c=cam: self._on_camera_info(c, m), info_qos)
        except (NameValidationException, ValueError) as e:
            raise ConfigError(f'{cs.name}.camera_info_topic', f'{cs.info_topic!r} is not a '
                              f'valid topic name ({str(e).splitlines()[0]}).') from None
        cam.info_topic = cam.info_sub.topic_name
        cam.cones_pub = self.create_publisher(PointCloud2, f'{cs.name}/cones', out_qos)
        if MarkerArray is not None:
            cam.markers_pub = self.create_publisher(MarkerArray, f'{cs.name}/cone_markers',
                                                    out_qos)
        elif not getattr(self, '_markers_noted', False):
            self._markers_noted = True
            self.get_logger().warning(MARKERS_NOTE)
        cam.fallback = cs.intrinsics
        if cs.camera_info_url:
            try:
                cam.fallback = load_calibration(cs.camera_info_url)
            except IntrinsicsError as e:   # the node runs on; diagnostics say why
                cam.fallback_problem = str(e)
                self.get_logger().error(f'camera {cs.name!r}: {e}; cone positions come only '
                                        f'from CameraInfo on {cam.info_topic}')

    def _create_node_interfaces(self) -> None:
        """Create the class table, diagnostics, enable service and parameter callback."""
        latched = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                             reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._class_table_pub = self.create_publisher(String, '~/class_table', latched)
        self._class_table_pub.publish(String(data=self.class_table_json()))
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diag_timer = self.create_timer(self._settings.diagnostics_period,
                                             self._publish_diagnostics)
        self._enable_srv = self.create_service(SetBool, '~/enable', self._on_enable)
        self._silence_timer = self.create_timer(1.0, self._check_silence)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    def _start_worker(self) -> None:
        """Start the inference thread; parameter changes are checked from now on."""
        self._worker = threading.Thread(target=self._work, name='eunet_inference', daemon=True)
        self._ready = True
        self._worker.start()

    def _log_ready(self, dds_note: str) -> None:
        """Log the model, backend, conversion, DDS profile, camera topics and the ready line."""
        log = self.get_logger()
        engine = self._engine
        settings = self._settings
        log.info(f'model: {engine.description}')
        if getattr(engine, 'backend_note', ''):
            log.info(f'backend: {engine.backend_note}')
        if getattr(engine, 'graphs_error', None):
            log.warn(f'CUDA graphs are off, the network runs eagerly: {engine.graphs_error}')
        log.info(f'image conversion: {self._converter_note}')
        if dds_note:
            log.info(dds_note)
        for cam in self._cams.values():
            outs = [cam.mask_pub.topic_name, cam.overlay_pub.topic_name] + [
                p.topic_name for p in cam.group_pubs.values()] + [
                p.topic_name for p in (cam.cones_pub, cam.markers_pub) if p is not None]
            log.info(f'camera {cam.name!r}: {cam.topic} -> {", ".join(outs)}')
        log.info(f'ready: max_batch {self._max_batch}, input QoS {settings.input_reliability} '
                 f'depth {settings.input_depth}, class table on '
                 f'{self._class_table_pub.topic_name}')

    def _warn_unused_overrides(self, declared) -> None:
        overrides = getattr(self, '_parameter_overrides', {}) or {}
        unused = sorted(n for n in overrides if n not in declared and n != 'use_sim_time'
                        and not n.startswith('qos_overrides.'))
        if unused:
            self.get_logger().warning(
                f'parameters given but not used by this node (misspelt, or a camera/group not '
                f'listed in cameras/class_groups?): {", ".join(unused)}')

    # ----------------------------------------------------------------- accessors
    @property
    def settings(self) -> NodeSettings:
        """Return the validated start-up settings."""
        return self._settings

    @property
    def engine(self) -> 'SegmentationEngine':
        """Return the inference engine."""
        return self._engine

    @property
    def enabled(self) -> bool:
        """Return whether inference runs (see ``~/enable``)."""
        return self._enabled

    def camera_stats(self, camera: str) -> CameraStats:
        """Return the statistics of one camera."""
        return self._cams[camera].stats

    def class_table_json(self) -> str:
        """Return the class table published on ``~/class_table``."""
        e = self._engine
        table = {
            'checkpoint': e.checkpoint.name,
            'classes': [{'id': i, 'name': n, 'color_rgb': [int(c) for c in e.palette_rgb[i]]}
                        for i, n in enumerate(e.class_names)],
            'groups': {g: list(ids) for g, ids in self._group_ids.items()},
            'mask': 'mono8, pixel value = class id',
            'group_mask': "mono8, 255 where the pixel's class is in the group, else 0",
        }
        return json.dumps(table)

    # ---------------------------------------------------------------- callbacks
    def _on_frame(self, camera: str, msg: Any) -> None:
        cam = self._cams[camera]
        cam.stats.count('received')
        cam.last_frame_t = time.monotonic()
        if cam.silence_reported:
            cam.silence_reported = False
            self.get_logger().info(f'camera {cam.name!r}: frames arrive on {cam.topic}')
        if not self._enabled:
            cam.stats.count('paused')
            return
        if self._slots.put(camera, (msg, time.monotonic())):
            cam.stats.count('dropped')

    def _on_camera_info(self, cam: _Camera, msg: CameraInfo) -> None:
        """Check a CameraInfo when it differs from the last one; keep it or say why not."""
        key = (tuple(msg.k), tuple(msg.d), msg.distortion_model, msg.width, msg.height,
               msg.binning_x, msg.binning_y, msg.roi.width, msg.roi.height)
        if key == cam.info_key:
            return
        cam.info_key = key
        try:
            cam.info = camera_info_intrinsics(msg, source=f'CameraInfo on {cam.info_topic}')
            cam.info_problem = None
        except IntrinsicsError as e:
            cam.info = None
            cam.info_problem = str(e)
            self.get_logger().warning(f'camera {cam.name!r}: {e}; cones get no position from '
                                      'it (the node runs on)')

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response):
        self._enabled = bool(request.data)
        if not self._enabled:
            for camera, _ in self._slots.clear():
                self._cams[camera].stats.count('paused')
            response.message = 'inference paused: frames are discarded until enabled again'
        else:
            response.message = 'inference enabled'
        response.success = True
        self.get_logger().info(response.message)
        return response

    def _on_set_parameters(self, params: List[Any]) -> SetParametersResult:
        if not self._ready:
            return SetParametersResult(successful=True)
        for p in params:
            reason = runtime_check(p.name, p.value)
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
        for p in params:
            if p.name == 'publish_overlay':
                self._publish_overlay = bool(p.value)
            elif p.name == 'overlay_alpha':
                self._overlay_alpha = float(p.value)
            elif p.name == 'max_batch':
                self._max_batch = int(p.value)
            elif p.name == 'no_frames_warning_s':
                self._no_frames_warning_s = float(p.value)
            elif p.name == 'publish_cones':
                self._publish_cones = bool(p.value)
            elif p.name == 'cones.min_pixels':
                self._cone_min_pixels = int(p.value)
            elif p.name == 'cones.max_range':
                self._cone_max_range = float(p.value)
            self.get_logger().info(f'parameter {p.name} = {p.value}')
        return SetParametersResult(successful=True)

    # ---------------------------------------------------------------- inference
    def _work(self) -> None:
        while not self._stop.is_set():
            batch = self._slots.take(self._max_batch, timeout=0.25)
            if not batch or self._stop.is_set():
                continue
            try:
                self._process(batch)
            except Exception as e:  # noqa: B902 - the inference thread must survive
                if self._stop.is_set() or not self.context.ok():
                    return
                for camera, _ in batch:
                    self._cams[camera].stats.count('failed')
                    self._cams[camera].stats.error(f'{type(e).__name__}: {e}')
                if self._throttle.allow(('worker', type(e).__name__)) is not None:
                    self.get_logger().error(
                        f'inference failed for {[c for c, _ in batch]}: {type(e).__name__}: '
                        f'{e}\n{traceback.format_exc()}')

    def _reject(self, cam: _Camera, problem: str) -> None:
        cam.stats.count('rejected')
        cam.stats.error(problem)
        held = self._throttle.allow((cam.name, 'rejected'))
        if held is not None:
            more = f' ({held} more rejected since the last message)' if held else ''
            self.get_logger().warning(
                f'camera {cam.name!r} ({cam.topic}): frame rejected: {problem}{more}')

    def _process(self, batch) -> None:
        items = []
        for camera, (msg, arrived) in batch:
            cam = self._cams[camera]
            try:
                frame, order = cam.convert(msg)
            except ImageConversionError as e:
                self._reject(cam, str(e))
                continue
            items.append([cam, msg, arrived, frame, order])
        if not items:
            return
        orders = {it[4] for it in items}
        if len(orders) == 1:
            order = orders.pop()
        else:
            order = 'bgr'
            for it in items:
                if it[4] == 'rgb':
                    it[3] = it[3][:, :, ::-1]
        overlay = self._publish_overlay
        want = [overlay and it[0].overlay_pub.get_subscription_count() > 0 for it in items]
        t0 = time.monotonic()
        # cones (and the probability they need) only while someone listens: ~5-8 ms of a
        # 1280x720 frame on 2 CPU cores, which the mask alone would miss its 30 Hz for
        cones = [self._wants_cones(it[0]) for it in items]
        kw = {'confidence': cones} if any(cones) else {}
        results = self._engine.infer([it[3] for it in items], color_order=order,
                                     overlay=want, alpha=self._overlay_alpha, **kw)
        self._infer_latency.add(time.monotonic() - t0)
        with self._batch_lock:
            self._batches += 1
            self._batched_frames += len(items)
        for (cam, msg, arrived, _, _), res, c in zip(items, results, cones):
            self._publish(cam, msg, arrived, res, c)

    def _wants_cones(self, cam: _Camera) -> bool:
        """Whether ``cam``'s cones are to be computed: on, and a subscriber to them."""
        if not self._publish_cones:
            return False
        subs = cam.cones_pub.get_subscription_count()
        if cam.markers_pub is not None:
            subs += cam.markers_pub.get_subscription_count()
        return subs > 0

    def _publish(self, cam: _Camera, msg: Any, arrived: float, res: Any,
                 cones: Optional[bool] = None) -> None:
        h, w = res.mask.shape
        cam.mask_pub.publish(image_msg(res.mask, 'mono8', msg.header))
        if res.overlay is not None:
            cam.overlay_pub.publish(image_msg(res.overlay, 'bgr8', msg.header))
        for g, pub in cam.group_pubs.items():
            if pub.get_subscription_count() > 0:
                pub.publish(image_msg(group_mask(res.mask, self._luts[g]), 'mono8', msg.header))
        if self._wants_cones(cam) if cones is None else cones:
            self._publish_cones_of(cam, msg.header, res)
        cam.stats.arrival_latency.add(time.monotonic() - arrived)
        stamp = msg.header.stamp
        if stamp.sec or stamp.nanosec:
            now = self.get_clock().now()
            age = now - Time.from_msg(stamp, clock_type=now.clock_type)
            cam.stats.stamp_latency.add(age.nanoseconds * 1e-9)
        cam.stats.count('processed')
        cam.stats.last_frame = f'{w}x{h} {getattr(msg, "encoding", None) or msg.format}'

    def _geometry(self, cam: _Camera, width: int, height: int) -> Any:
        """
        Return (intrinsics or None, note, warn) for a ``width`` x ``height`` frame.

        ``note`` says where positions come from or why there are none; ``warn``: a
        bad input (CameraInfo, calibration file, image size) rather than none given.
        """
        cs = cam.settings
        bad_info = (f'bad CameraInfo on {cam.info_topic}: {cam.info_problem}'
                    if cam.info_problem else '')
        bad_file = cam.fallback_problem or ''
        pose_problem = cs.pose.problem()
        if pose_problem:
            return None, (f'no positions: {pose_problem}; set {cs.name}.pose.z (and x, y, '
                          'roll, pitch, yaw)'), bool(bad_info or bad_file)
        intr = cam.info or cam.fallback
        if intr is None:
            why = '; '.join(w for w in (bad_info, bad_file) if w) or (
                f'no CameraInfo on {cam.info_topic} yet, and no {cs.name}.camera_info_url or '
                f'{cs.name}.K')
            return None, f'no positions: {why}', bool(bad_info or bad_file)
        size = intr.size_problem(width, height)
        if size:
            return None, f'no positions: {size}', True
        note = f'positions from {intr.source or "camera_info"}'
        if bad_info:
            return intr, f'{note} ({bad_info})', True
        return intr, note, False

    def _publish_cones_of(self, cam: _Camera, header: Any, res: Any) -> None:
        """Find, place and publish the cones of one result (<camera>/cones, markers)."""
        h, w = res.mask.shape
        names = self._engine.class_names
        intr, note, warn = self._geometry(cam, w, h)
        found = extract_cones(res.mask, names, probability=res.probability,
                              min_pixels=self._cone_min_pixels)
        if intr is not None:
            locate_cones(found, names, intr, cam.settings.pose, max_range=self._cone_max_range)
        points = cones_to_array(found)
        out = Header(stamp=header.stamp, frame_id=self._settings.base_frame)
        cam.cones_pub.publish(cloud_msg(points, out))
        if cam.markers_pub is not None and cam.markers_pub.get_subscription_count() > 0:
            cam.markers_pub.publish(marker_array(points, out, names, self._engine.palette_rgb,
                                                 ns=cam.name))
        cam.cones_found = len(found)
        cam.cones_placed = int(np.isfinite(points['x']).sum())
        cam.cones_note, cam.cones_warn = note, warn

    # ------------------------------------------------------------ silent cameras
    def _silent_for(self, cam: _Camera, now: Optional[float] = None) -> Optional[float]:
        """Return the seconds ``cam`` has gone without a frame, once past the grace period."""
        grace = self._no_frames_warning_s
        if grace <= 0 or not self._enabled:
            return None
        since = cam.last_frame_t if cam.last_frame_t is not None else self._subscribed_t
        silent = (time.monotonic() if now is None else now) - since
        return silent if silent >= grace else None

    def _describe_publishers(self, cam: _Camera) -> '_Publishers':
        """Describe the publishers on ``cam``'s topic as the graph shows them."""
        try:
            infos = list(self.get_publishers_info_by_topic(cam.topic))
        except Exception:  # noqa: B902 - the graph query failed (shutting down): say nothing
            infos = []
        count = getattr(cam.sub, 'get_publisher_count', None)  # rclpy of Iron and later
        matched = count() if count is not None else None
        return _Publishers(infos, matched, cam.sub.msg_type, self._settings.input_reliability)

    def _check_silence(self) -> None:
        """Warn (throttled) about every camera silent for longer than no_frames_warning_s."""
        for cam in self._cams.values():
            silent = self._silent_for(cam)
            if silent is None:
                continue
            seen = self._describe_publishers(cam)
            # a new situation (publishers, their QoS, matching) is reported at once
            if self._silence_throttle.allow((cam.name, seen.key)) is None:
                continue
            cam.silence_reported = True
            since = 'since the node started' if cam.last_frame_t is None else 'since the last one'
            self.get_logger().warning(
                f'camera {cam.name!r}: no frames on {cam.topic} for {silent:.1f} s ({since}): '
                f'{seen.explain()}')

    # -------------------------------------------------------------- diagnostics
    def _camera_status(self, cam: _Camera) -> DiagnosticStatus:
        s = cam.stats.snapshot()
        period = s['period_s']
        silent = self._silent_for(cam)
        seen = self._describe_publishers(cam) if silent is not None else None
        if not self._enabled:
            level, text = DiagnosticStatus.OK, 'paused (~/enable false)'
        elif s['failed_period']:
            level, text = DiagnosticStatus.ERROR, (f'{s["failed_period"]} frame(s) lost to '
                                                   f'inference errors: {cam.stats.last_error}')
        elif s['rejected_period'] and not s['processed_period']:
            level, text = DiagnosticStatus.ERROR, (f'all frames rejected '
                                                   f'({s["rejected_period"]}): '
                                                   f'{cam.stats.last_error}')
        elif s['rejected_period']:
            level, text = DiagnosticStatus.WARN, (f'{s["rejected_period"]} frame(s) rejected: '
                                                  f'{cam.stats.last_error}')
        elif s['dropped_period']:
            level, text = DiagnosticStatus.WARN, (
                f'dropped {s["dropped_period"]} of {s["received_period"]} frames: inference is '
                'slower than the input')
        elif silent is not None and not s['received_period']:
            level, text = DiagnosticStatus.WARN, (
                f'no frames on {cam.topic} for {silent:.1f} s'
                f'{"" if s["received"] else " since start"}: {seen.summary}')
        elif not s['received']:
            level, text = DiagnosticStatus.OK, f'waiting for frames on {cam.topic}'
        elif not s['received_period']:
            level, text = DiagnosticStatus.WARN, (f'no frames on {cam.topic} for the last '
                                                  f'{period:.1f} s')
        else:
            level, text = DiagnosticStatus.OK, (f'{s["input_rate_hz"]:.1f} Hz in, '
                                                f'{s["output_rate_hz"]:.1f} Hz out')
        if self._publish_cones and self._enabled and s['processed']:
            if cam.cones_warn:   # a bad CameraInfo or calibration: WARN, whatever else
                if level == DiagnosticStatus.OK:
                    level = DiagnosticStatus.WARN
                text = f'{text}; cones: {cam.cones_note}'
            elif cam.cones_note.startswith('no positions') and level == DiagnosticStatus.OK:
                text = f'{text}; cones: {cam.cones_note}'
        kv = [
            ('topic', cam.topic),
            ('input_rate_hz', f'{s["input_rate_hz"]:.2f}'),
            ('output_rate_hz', f'{s["output_rate_hz"]:.2f}'),
            ('latency_stamp_p50_ms', _ms(s['stamp_p50_ms'])),
            ('latency_stamp_p99_ms', _ms(s['stamp_p99_ms'])),
            ('latency_arrival_p50_ms', _ms(s['arrival_p50_ms'])),
            ('latency_arrival_p99_ms', _ms(s['arrival_p99_ms'])),
            ('latency_samples', str(s['latency_samples'])),
            ('overlay_subscribers', str(cam.overlay_pub.get_subscription_count())),
            ('frames_received', str(s['received'])),
            ('frames_processed', str(s['processed'])),
            ('frames_dropped', str(s['dropped'])),
            ('frames_rejected', str(s['rejected'])),
            ('frames_failed', str(s['failed'])),
            ('frames_paused', str(s['paused'])),
            ('dropped_last_period', str(s['dropped_period'])),
            ('rejected_last_period', str(s['rejected_period'])),
            ('period_s', f'{period:.2f}'),
            ('last_frame', cam.stats.last_frame),
            ('last_error', cam.stats.last_error),
            ('device', str(self._engine.device)),
            ('checkpoint', self._engine.checkpoint.name),
            ('enabled', str(self._enabled).lower()),
            ('camera_info_topic', cam.info_topic),
            ('cones_last_frame', str(cam.cones_found) if self._publish_cones else 'off'),
            ('cones_placed_last_frame', str(cam.cones_placed) if self._publish_cones else 'off'),
            ('cone_positions', cam.cones_note if self._publish_cones else 'publish_cones false'),
        ]
        if seen is not None:
            kv += [('seconds_without_frames', f'{silent:.1f}'),
                   ('publishers', str(len(seen.infos))),
                   ('publishers_matched', '-' if seen.matched is None else str(seen.matched)),
                   ('publisher_qos', seen.qos or '-')]
        return DiagnosticStatus(level=level, name=f'{self.get_name()}: camera {cam.name}',
                                message=text, hardware_id=str(self._engine.device),
                                values=[KeyValue(key=k, value=v) for k, v in kv])

    def _engine_status(self) -> DiagnosticStatus:
        p50, p99, n = self._infer_latency.summary_ms()  # NaN (shown '-') before any frame
        with self._batch_lock:
            mean_batch = self._batched_frames / self._batches if self._batches else 0.0
            batches = self._batches
        kv = [
            ('model', self._engine.description),
            ('checkpoint', self._engine.checkpoint.name),
            ('device', str(self._engine.device)),
            ('precision', self._engine.precision),
            ('backend', str(getattr(self._engine, 'backend', 'torch'))),
            ('input_size', f'{self._engine.input_size[1]}x{self._engine.input_size[0]}'),
            ('inference_p50_ms', _ms(p50)),
            ('inference_p99_ms', _ms(p99)),
            ('batches', str(batches)),
            ('mean_batch_size', f'{mean_batch:.2f}'),
            ('max_batch', str(self._max_batch)),
            ('image_conversion', self._converter_note),
            ('enabled', str(self._enabled).lower()),
        ]
        if not self._enabled:
            text = 'paused (~/enable false)'
        elif n:
            text = f'{self._engine.description}; inference p50 {_ms(p50)} ms'
        else:
            text = f'{self._engine.description}; no frame inferred yet'
        return DiagnosticStatus(level=DiagnosticStatus.OK, name=f'{self.get_name()}: engine',
                                message=text, hardware_id=str(self._engine.device),
                                values=[KeyValue(key=k, value=v) for k, v in kv])

    def _publish_diagnostics(self) -> None:
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        arr.status = [self._camera_status(c) for c in self._cams.values()]
        arr.status.append(self._engine_status())
        self._diag_pub.publish(arr)

    # ------------------------------------------------------------------ shutdown
    def destroy_node(self):
        """Stop the inference thread, then destroy the node."""
        self._stop.set()
        if self._slots is not None:
            self._slots.close()
        w = self._worker
        if w is not None and w.is_alive() and w is not threading.current_thread():
            w.join(timeout=30.0)
        return super().destroy_node()


class _Publishers:
    """
    The publishers the graph shows on a silent camera's topic, and why none delivers.

    :param infos: ``get_publishers_info_by_topic`` of the topic.
    :param matched: publishers the subscription is matched with (None: this rclpy cannot
        tell; then compatibility is judged from type and reliability).
    :param msg_type: the message class the camera subscribes with.
    :param reliability: the subscription's reliability (best_effort or reliable).
    """

    def __init__(self, infos: List[Any], matched: Optional[int], msg_type: Any,
                 reliability: str) -> None:
        self.infos = infos
        self.matched = matched
        self.reliability = reliability
        self.wanted_type = (f'{msg_type.__module__.split(".")[0]}/msg/{msg_type.__name__}')
        self.entries = [(f'{i.node_namespace.rstrip("/")}/{i.node_name}', i.topic_type,
                         _reliability_name(i.qos_profile)) for i in infos]

    @property
    def key(self) -> tuple:
        """Return what identifies the situation (publishers, types, QoS, matching)."""
        return (tuple(sorted(self.entries)), self.matched)

    @property
    def qos(self) -> str:
        """Return the publishers' reliability, e.g. ``best_effort x2``; '' without publishers."""
        names = [r for _, _, r in self.entries]
        return ', '.join(f'{r} x{names.count(r)}' for r in sorted(set(names)))

    @property
    def summary(self) -> str:
        """One short line for diagnostics."""
        n = len(self.infos)
        if not n:
            return 'no publisher on this topic'
        matched = '?' if self.matched is None else self.matched
        return f'{n} publisher(s), {matched} matched ({self.qos})'

    def explain(self) -> str:
        """Say what the graph shows and the likely cause, for the console."""
        if not self.infos:
            return ('no publisher on this topic. Is the camera running, and is this its topic? '
                    'Compare with `ros2 topic list -t` and set camera_topic (or '
                    '<camera>.topic).')
        shown = '; '.join(f'{node} ({typ}, {rel})' for node, typ, rel in self.entries[:3])
        more = f' and {len(self.entries) - 3} more' if len(self.entries) > 3 else ''
        matched = 'an unknown number' if self.matched is None else str(self.matched)
        head = (f'{len(self.infos)} publisher(s) on this topic, {matched} matched: {shown}{more}. '
                f'This camera subscribes {self.wanted_type}, {self.reliability}.')
        wrong_type = [e for e in self.entries if e[1] != self.wanted_type]
        if wrong_type:
            return (f'{head} A publisher sends {wrong_type[0][1]}: set <camera>.transport '
                    '(raw: sensor_msgs/msg/Image, compressed: sensor_msgs/msg/CompressedImage on '
                    '<topic>/compressed) or the topic to the right one.')
        if self.reliability == 'reliable' and any(r == 'best_effort' for _, _, r in self.entries):
            return (f'{head} A reliable subscription does not match best-effort publishers: '
                    'set qos.reliability:=best_effort (the default).')
        return (f'{head} Matched but nothing arrived: the publisher may not publish yet, or '
                'large best-effort images are lost between processes (README: Large images '
                'over DDS).')


def _reliability_name(qos: Any) -> str:
    """Return ``best_effort``, ``reliable`` or what else a QoS profile's reliability says."""
    rel = getattr(qos, 'reliability', None)
    name = getattr(rel, 'name', None) or str(rel)
    return name.lower()


def _ms(v: float) -> str:
    """Format milliseconds; '-' when there is no figure (never 'nan' in diagnostics)."""
    return '-' if not math.isfinite(v) else f'{v:.1f}'


HELP_SUMMARY = (
    'EUnet segmentation of one or several cameras: per camera <camera>/mask (mono8 class ids), '
    '<camera>/overlay, <camera>/<group>/mask, <camera>/cones (PointCloud2) and '
    '<camera>/cone_markers; ~/class_table, /diagnostics and the '
    '~/enable service (std_srvs/SetBool). With no checkpoint it loads the packaged model.')
HELP_EXAMPLES = (
    'ros2 run eunet_ros segment_node --ros-args -p camera_topic:=/my_cam/image_raw',
    'segment_node --ros-args --params-file config/default.yaml -p device:=cpu',
)


def run_segmentation_node(name: str, node_class: Any, summary: str, examples: Any,
                          args: Optional[List[str]] = None) -> int:
    """
    ``--help`` or run ``node_class`` (segment_node or its lifecycle form) until Ctrl-C.

    Both executables share this: the parameter help, the large-message DDS profile
    applied before rclpy starts, and :func:`run_node`'s shutdown.
    """
    if asks_for_help(sys.argv[1:] if args is None else args):
        print(parameters_help(name, summary, all_specs(), examples))
        return 0
    _, dds_note = dds_profile.apply_large_message_profile()
    return run_node(name, lambda: node_class(dds_note=dds_note),
                    lambda node, executor: executor.spin(), (StartupError,), args)


def main(args: Optional[List[str]] = None) -> int:
    """Run segment_node until Ctrl-C or an external shutdown; return the exit status."""
    return run_segmentation_node('segment_node', SegmentNode, HELP_SUMMARY, HELP_EXAMPLES, args)


if __name__ == '__main__':
    sys.exit(main())
