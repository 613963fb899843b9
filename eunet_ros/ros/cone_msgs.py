# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Cone messages: PointCloud2 in and out of numpy, rviz markers, CameraInfo to intrinsics.

Only messages that exist both on a ROS install and as PyPI wheels (no custom .msg):

* ``<camera>/cones``: ``sensor_msgs/PointCloud2``, one point per cone in the layout
  :data:`eunet_ros.core.cones.CONE_DTYPE` (x y z float32, class_id uint8,
  confidence u v range float32; 32 bytes a point). :func:`cloud_msg` packs a
  structured array, :func:`cloud_to_array` reads one back by the message's own
  field list (what ``sensor_msgs_py.point_cloud2.read_points`` does on a ROS install);
* ``<camera>/cone_markers``: ``visualization_msgs/MarkerArray`` of cylinders in the
  class colours (:func:`marker_array`);
* :func:`camera_info_intrinsics` checks a ``sensor_msgs/CameraInfo``.
"""

from __future__ import annotations

from typing import Any, Sequence

from eunet_ros.core.cones import CONE_FIELDS
from eunet_ros.core.ground import check_intrinsics, Intrinsics, IntrinsicsError
from eunet_ros.ros.image_conversion import to_byte_array
import numpy as np
from sensor_msgs.msg import PointCloud2, PointField

try:  # rviz markers only; the cone cloud works without them
    from visualization_msgs.msg import Marker, MarkerArray
    MARKERS_NOTE = ''
except ImportError:  # pragma: no cover - an environment without the package
    Marker = MarkerArray = None
    MARKERS_NOTE = ('visualization_msgs is not installed, so <camera>/cone_markers is not '
                    'published (apt install ros-$ROS_DISTRO-visualization-msgs, or pip install '
                    'ros-visualization-msgs)')

__all__ = ['cloud_msg', 'cloud_to_array', 'marker_array', 'camera_info_intrinsics',
           'POINT_FIELDS', 'MarkerArray', 'MARKERS_NOTE']

# numpy type <-> sensor_msgs/PointField datatype
_TO_FIELD = {'<f4': PointField.FLOAT32, 'u1': PointField.UINT8, '<f8': PointField.FLOAT64,
             '<u2': PointField.UINT16, '<u4': PointField.UINT32, 'i1': PointField.INT8,
             '<i2': PointField.INT16, '<i4': PointField.INT32}
_FROM_FIELD = {v: k for k, v in _TO_FIELD.items()}
POINT_FIELDS = [PointField(name=n, offset=o, datatype=_TO_FIELD[t], count=1)
                for n, t, o in CONE_FIELDS]
# class name -> marker height and radius (m): FS small and large cones
_SIZE = {'large_orange_cone': (0.505, 0.1425)}
_SMALL = (0.325, 0.114)


def cloud_msg(points: np.ndarray, header: Any) -> PointCloud2:
    """Return a PointCloud2 (height 1, one point per row) of a CONE_DTYPE array."""
    m = PointCloud2()
    m.header = header
    m.height = 1
    m.width = int(len(points))
    m.fields = list(POINT_FIELDS)
    m.is_bigendian = False
    m.point_step = int(points.dtype.itemsize)
    m.row_step = m.point_step * m.width
    m.data = to_byte_array(np.ascontiguousarray(points).view(np.uint8).reshape(-1))
    m.is_dense = bool(len(points) == 0 or np.isfinite(points['x']).all())
    return m


def cloud_to_array(msg: PointCloud2) -> np.ndarray:
    """
    Read a PointCloud2 into a numpy structured array, using the message's field list.

    :raises ValueError: big-endian data, a field type numpy cannot take, or a data
        size that does not match width x height x point_step.
    """
    if msg.is_bigendian:
        raise ValueError('big-endian point clouds are not supported')
    names, formats, offsets = [], [], []
    for f in msg.fields:
        if f.datatype not in _FROM_FIELD:
            raise ValueError(f'field {f.name}: unknown PointField datatype {f.datatype}')
        names.append(f.name)
        formats.append(_FROM_FIELD[f.datatype] if f.count <= 1
                       else (_FROM_FIELD[f.datatype], f.count))
        offsets.append(f.offset)
    dtype = np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                      'itemsize': msg.point_step})
    n = msg.width * msg.height
    data = bytes(msg.data)
    if len(data) != n * msg.point_step:
        raise ValueError(f'{len(data)} bytes for {n} points of {msg.point_step} bytes')
    return np.frombuffer(data, dtype=dtype, count=n)


def marker_array(points: np.ndarray, header: Any, class_names: Sequence[str],
                 palette_rgb: np.ndarray, ns: str) -> Any:
    """
    Return rviz cylinders for the cones with a position, after a DELETEALL of ``ns``.

    Each cylinder stands on the ground at the cone's (x, y), as tall and wide as an
    FS cone of its class, in the class colour.
    """
    arr = MarkerArray()
    clear = Marker()
    clear.header = header
    clear.ns = ns
    clear.action = Marker.DELETEALL
    arr.markers.append(clear)
    for i, p in enumerate(points):
        if not np.isfinite(p['x']):
            continue
        cid = int(p['class_id'])
        height, radius = _SIZE.get(class_names[cid] if cid < len(class_names) else '', _SMALL)
        m = Marker()
        m.header = header
        m.ns = ns
        m.id = i
        m.type = Marker.CYLINDER
        m.action = Marker.ADD
        m.pose.position.x = float(p['x'])
        m.pose.position.y = float(p['y'])
        m.pose.position.z = float(p['z']) + height / 2
        m.pose.orientation.w = 1.0
        m.scale.x = m.scale.y = 2 * radius
        m.scale.z = height
        rgb = palette_rgb[cid] if cid < len(palette_rgb) else (255, 255, 255)
        m.color.r, m.color.g, m.color.b = (float(c) / 255.0 for c in rgb)
        m.color.a = 0.9
        arr.markers.append(m)
    return arr


def camera_info_intrinsics(msg: Any, source: str = 'camera_info') -> Intrinsics:
    """
    Return the intrinsics of a sensor_msgs/CameraInfo.

    :raises IntrinsicsError: zero or negative focal length, NaN, a wrong coefficient
        count, zero image size, binning or a region of interest (not supported: the
        image would not be the one K describes).
    """
    w, h = int(msg.width), int(msg.height)
    if w <= 0 or h <= 0:
        raise IntrinsicsError(f'{source}: image size {w}x{h} (an uncalibrated camera '
                              'publishes zeros)')
    if max(msg.binning_x, 1) > 1 or max(msg.binning_y, 1) > 1:
        raise IntrinsicsError(f'{source}: binning {msg.binning_x}x{msg.binning_y} is not '
                              'supported')
    roi = msg.roi
    if roi.width and roi.height and (roi.width, roi.height) != (w, h):
        raise IntrinsicsError(f'{source}: a region of interest ({roi.width}x{roi.height} at '
                              f'{roi.x_offset},{roi.y_offset}) is not supported')
    return check_intrinsics(list(msg.k), list(msg.d), msg.distortion_model, w, h,
                            source=source)
