# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
segment_lifecycle_node: segment_node as a managed node (rclpy.lifecycle).

The same parameters, topics, services and diagnostics as :mod:`segment_node`,
started and stopped by the team's state machine through the standard
``lifecycle_msgs`` services (``~/change_state``, ``~/get_state``, ...; ``ros2
lifecycle set /segment_node configure``):

* unconfigured: the parameters are declared and checked, nothing else exists;
* configure: loads the checkpoint and warms the engine (a bad checkpoint or
  device fails the transition with the reason in the log);
* activate: creates the subscriptions, the publishers, ``~/class_table``,
  ``/diagnostics``, ``~/enable`` and the inference thread;
* deactivate: removes them again; the engine stays loaded, so activating again
  is immediate;
* cleanup: unloads the engine and frees its device memory;
* shutdown: all of the above, from any state.

The plain node (``segment_node``) stays the default; ``ros2 launch eunet_ros
segment.launch.py lifecycle:=true`` starts this one.
"""

from __future__ import annotations

import gc
import sys
import threading
from typing import Any, List, Optional

from eunet_ros.ros.node_params import ConfigError
from eunet_ros.ros.segment_node import run_segmentation_node, SegmentNode, StartupError
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn

__all__ = ['SegmentLifecycleNode', 'main']


class SegmentLifecycleNode(SegmentNode, LifecycleNode):
    """
    segment_node as a managed node; see the module docstring.

    :param engine: use this engine at every configure instead of loading the
        checkpoint (tests, tools); cleanup then only drops the reference.
    :param converter: use this image converter instead of :func:`make_converter`.
    :param dds_note: a line about the DDS profile to log at activation.
    :param kwargs: passed to :class:`rclpy.lifecycle.LifecycleNode`.
    :raises StartupError: a parameter is invalid (checked when the node is created).

    """

    def __init__(self, node_name: str = 'segment_node', *, engine: Any = None,
                 converter: Any = None, dds_note: str = '', **kwargs: Any) -> None:
        self._given_engine = engine
        self._given_converter = converter
        self._dds_note = dds_note
        self._active = False
        super().__init__(node_name, engine=engine, converter=converter, dds_note=dds_note,
                         **kwargs)

    def _setup(self, engine, converter, dds_note: str) -> None:
        """Unconfigured: only declare and check the parameters."""
        self._settings = self._declare_parameters()
        self._engine = None
        self._cams = {}
        self.get_logger().info('unconfigured: configure loads the model, activate subscribes')

    # ------------------------------------------------------------- transitions
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        """Load the checkpoint and warm the engine."""
        try:
            self._engine = (self._load_engine() if self._given_engine is None
                            else self._given_engine)
            self._resolve_groups()
            self._choose_converter(self._given_converter)
            self._init_state()
        except (StartupError, ConfigError) as e:
            self.get_logger().error(f'configure failed: {e}')
            self._engine = None
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(f'configured: {self._engine.description}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        """Create the subscriptions, publishers, services and the inference thread."""
        self._stop = threading.Event()
        try:
            self._create_cameras()
            self._create_node_interfaces()
        except ConfigError as e:
            self.get_logger().error(f'activate failed: {e}')
            self._deactivate_interfaces()
            return TransitionCallbackReturn.FAILURE
        self._start_worker()
        self._active = True
        self._log_ready(self._dds_note)
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        """Remove what activate created; the engine stays loaded."""
        self._deactivate_interfaces()
        self.get_logger().info('inactive: the engine stays loaded; activate to resume')
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        """Unload the engine and free its device memory."""
        self._unload()
        self.get_logger().info('unconfigured: the engine is unloaded')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        """Stop everything, from any state."""
        self._deactivate_interfaces()
        self._unload()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: State) -> TransitionCallbackReturn:
        """Recover to unconfigured: stop and unload everything."""
        self._deactivate_interfaces()
        self._unload()
        return TransitionCallbackReturn.SUCCESS

    # ----------------------------------------------------------------- helpers
    @property
    def active(self) -> bool:
        """Return True while the node is in the active state (subscribed, publishing)."""
        return self._active

    def _deactivate_interfaces(self) -> None:
        """Stop the inference thread; destroy subscriptions, publishers, timers, services."""
        self._active = False
        self._ready = False
        self._stop.set()
        if self._slots is not None:
            self._slots.close()
        w = self._worker
        if w is not None and w.is_alive() and w is not threading.current_thread():
            w.join(timeout=30.0)
        self._worker = None
        self._slots = None
        for cam in getattr(self, '_cams', {}).values():
            if cam.sub is not None:
                self.destroy_subscription(cam.sub)
            for pub in [cam.mask_pub, cam.overlay_pub] + list(cam.group_pubs.values()):
                if pub is not None:
                    self.destroy_publisher(pub)
        self._cams = {}
        for name, destroy in (('_class_table_pub', self.destroy_publisher),
                              ('_diag_pub', self.destroy_publisher),
                              ('_diag_timer', self.destroy_timer),
                              ('_silence_timer', self.destroy_timer),
                              ('_enable_srv', self.destroy_service)):
            entity = getattr(self, name, None)
            if entity is not None:
                destroy(entity)
                setattr(self, name, None)
        try:
            self.remove_on_set_parameters_callback(self._on_set_parameters)
        except ValueError:  # not added (never activated)
            pass

    def _unload(self) -> None:
        """Drop the engine; on CUDA return its cached memory to the device."""
        engine, self._engine = self._engine, None
        device = getattr(engine, 'device', None)
        cuda = getattr(device, 'type', '') == 'cuda'
        del engine
        gc.collect()
        if cuda:
            import torch
            torch.cuda.empty_cache()


HELP_SUMMARY = (
    'segment_node as a managed (lifecycle) node: the same parameters and topics, driven by the '
    'lifecycle_msgs services. configure loads the checkpoint, activate subscribes and '
    'publishes, deactivate pauses (the model stays loaded), cleanup unloads it.')
HELP_EXAMPLES = (
    'ros2 run eunet_ros segment_lifecycle_node --ros-args -p camera_topic:=/my_cam/image_raw',
    'ros2 lifecycle set /segment_node configure && ros2 lifecycle set /segment_node activate',
)


def main(args: Optional[List[str]] = None) -> int:
    """Run segment_lifecycle_node until Ctrl-C or an external shutdown; return the status."""
    return run_segmentation_node('segment_lifecycle_node', SegmentLifecycleNode, HELP_SUMMARY,
                                 HELP_EXAMPLES, args)


if __name__ == '__main__':
    sys.exit(main())
