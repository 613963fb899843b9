# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
rclpy helpers shared by the nodes and tools.

Parameter declarations, sensor_msgs/Image from an array, SIGTERM, running a node.
"""

from __future__ import annotations

import signal
from typing import Any, Callable, List, Optional, Tuple

from eunet_ros.ros.image_conversion import to_byte_array
from eunet_ros.ros.node_params import ConfigError, ParamSpec
from eunet_ros.ros.outputs import image_fields
import numpy as np
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)
from sensor_msgs.msg import Image

__all__ = ['descriptor', 'declare', 'image_msg', 'exit_cleanly_on_sigterm', 'run_node']


# ParamSpec.type_name -> the ROS parameter type
_PARAMETER_TYPES = {
    'bool': ParameterType.PARAMETER_BOOL,
    'integer': ParameterType.PARAMETER_INTEGER,
    'double': ParameterType.PARAMETER_DOUBLE,
    'string': ParameterType.PARAMETER_STRING,
    'integer[]': ParameterType.PARAMETER_INTEGER_ARRAY,
    'double[]': ParameterType.PARAMETER_DOUBLE_ARRAY,
    'bool[]': ParameterType.PARAMETER_BOOL_ARRAY,
    'string[]': ParameterType.PARAMETER_STRING_ARRAY,
}


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """Build the ParameterDescriptor of ``spec``: type, description, range, read-only."""
    ptype = _PARAMETER_TYPES[spec.type_name]
    text = spec.description
    if spec.read_only:
        text += ' Read-only: fixed at start-up, restart the node to change it.'
    desc = ParameterDescriptor(name=spec.name, type=ptype, description=text,
                               read_only=spec.read_only,
                               additional_constraints=spec.allowed)
    if spec.min_value is not None and ptype == ParameterType.PARAMETER_INTEGER:
        desc.integer_range = [IntegerRange(from_value=int(spec.min_value),
                                           to_value=int(spec.max_value), step=1)]
    elif spec.min_value is not None and ptype == ParameterType.PARAMETER_DOUBLE:
        desc.floating_point_range = [FloatingPointRange(
            from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0)]
    return desc


def declare(node: Any, spec: ParamSpec) -> Any:
    """
    Declare ``spec`` on ``node`` (YAML / command-line overrides apply); return its value.

    :raises ConfigError: the override has the wrong type or is out of range.
    """
    try:
        return node.declare_parameter(spec.name, spec.default, descriptor(spec)).value
    except Exception as e:  # noqa: B902 - rclpy's type/range exceptions differ by distro
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        allowed = f', {spec.allowed}' if spec.allowed else ''
        raise ConfigError(spec.name, f'{detail} (expected a {spec.type_name}{allowed}).') \
            from None


def image_msg(a: np.ndarray, encoding: str, header: Any = None) -> Image:
    """
    Build a sensor_msgs/Image of a uint8 H x W or H x W x C array (its pixels copied once).

    :param encoding: the ROS encoding of ``a`` (``bgr8``, ``mono8``, ...).
    :param header: the message's header (default: an empty one).
    """
    m = Image()
    if header is not None:
        m.header = header
    for name, value in image_fields(a, encoding).items():
        setattr(m, name, value)
    m.data = to_byte_array(a)
    return m


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def exit_cleanly_on_sigterm() -> bool:
    """
    Make SIGTERM end the process like Ctrl-C where rclpy does not handle it.

    rclpy (Humble and later) shuts its contexts down on SIGTERM, so spinning ends with
    ExternalShutdownException; then nothing is done here. Where rclpy handles only
    SIGINT (or no signal), SIGTERM would kill the process without cleaning up, so a
    handler that raises KeyboardInterrupt is installed. Call after ``rclpy.init`` from
    the main thread.

    :returns: True when a handler was installed.
    """
    try:
        from rclpy.signals import get_current_signal_handlers_options, SignalHandlerOptions
        if get_current_signal_handlers_options() in (SignalHandlerOptions.ALL,
                                                     SignalHandlerOptions.SIGTERM):
            return False
    except (ImportError, AttributeError):  # an rclpy without these: decide below
        pass
    try:
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
            return True
    except ValueError:  # not the main thread
        pass
    return False


def run_node(name: str, make_node: Callable[[], Any], spin: Callable[[Any, Any], None],
             startup_errors: Tuple[type, ...], args: Optional[List[str]] = None) -> int:
    """
    Run a node the way that works on Humble and later; return the exit status.

    ``rclpy.init``; build the node; ``spin(node, executor)`` until done, Ctrl-C or an external
    shutdown (no traceback for either); a ``startup_errors`` exception is logged as
    fatal with its message and gives status 1; always destroy the node and
    ``try_shutdown``. Load the DDS profile (eunet_ros.ros.dds_profile) before calling.

    The executor is made before the node, not lazily by ``rclpy.spin``: a SIGTERM that
    shuts the context down between the node's start and its first spin would otherwise
    make rclpy build its global executor on a dead context, which prints a traceback.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.logging import get_logger
    rclpy.init(args=args)
    exit_cleanly_on_sigterm()
    node = None
    rc = 0
    executor = SingleThreadedExecutor()
    try:
        node = make_node()
        executor.add_node(node)
        spin(node, executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as e:  # noqa: B902 - sorted out below
        if not rclpy.ok():
            pass  # shut down (Ctrl-C, SIGTERM) while starting: not an error
        elif isinstance(e, startup_errors):
            get_logger(name).fatal(f'cannot start: {e}')
            rc = 1
        else:
            raise
    finally:
        executor.shutdown(timeout_sec=1.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return rc
