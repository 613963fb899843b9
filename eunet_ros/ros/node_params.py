# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
segment_node's parameters: declarations as data, and their validation; ROS-free.

The node declares every parameter from :data:`GLOBAL_PARAMS`,
:func:`camera_params` and :func:`group_param` (description, allowed values or
range, read-only or not), so the README's table and the node cannot drift apart.
:func:`parse_settings` turns the declared values into :class:`NodeSettings` or
raises :class:`ConfigError`, whose message names the parameter, what is wrong
and the allowed values.

Parameters marked read-only are fixed at start-up (they decide which model is
loaded and which topics exist); changing one at run time is refused with that
reason. The others take effect on the next frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import re
import textwrap
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from eunet_ros.core.ground import CameraPose, check_intrinsics, Intrinsics, IntrinsicsError
from eunet_ros.core.options import (BACKENDS, check_choice, ConfigError, PRECISIONS, side_ok,
                                    SIZE_RANGE)

__all__ = [
    'ConfigError',
    'ParamSpec',
    'CameraSettings',
    'NodeSettings',
    'GLOBAL_PARAMS',
    'DEFAULT_GROUPS',
    'PRECISIONS',
    'BACKENDS',
    'TRANSPORTS',
    'RELIABILITIES',
    'RESERVED_NAMES',
    'DISTORTION_CHOICES',
    'POSE_KEYS',
    'camera_params',
    'group_param',
    'check_names',
    'parse_settings',
    'resolve_groups',
    'runtime_check',
    'markdown_table',
    'all_specs',
    'asks_for_help',
    'parameters_help',
]

TRANSPORTS = ('raw', 'compressed')
RELIABILITIES = ('best_effort', 'reliable')
NAME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')
DEVICE_RE = re.compile(r'^(auto|cpu|cuda|cuda:[0-9]+)$')
DISTORTION_CHOICES = ('plumb_bob', 'rational_polynomial', 'equidistant', 'none')
POSE_KEYS = ('x', 'y', 'z', 'roll', 'pitch', 'yaw')
_ANGLE = 'in radians (REP 103: the camera is turned by yaw, then pitch, then roll; 0 looks along x'
_POSE_UNITS = {'x': 'in metres', 'y': 'in metres',
               'z': 'in metres, the height above the ground (> 0 for cone positions)',
               'roll': f'{_ANGLE})', 'pitch': f'{_ANGLE}; > 0 looks down)', 'yaw': f'{_ANGLE})'}

# The class groups of the Formula Student class table that get a binary mask each.
DEFAULT_GROUPS: Dict[str, Tuple[str, ...]] = {
    'cones': ('blue_cone', 'yellow_cone', 'orange_cone', 'large_orange_cone', 'unknown_cone'),
    'track': ('track',),
}


@dataclass(frozen=True)
class ParamSpec:
    """
    One parameter declaration.

    :ivar name: full parameter name (``qos.depth``, ``front.transport``).
    :ivar default: default value; its Python type is the parameter's type.
    :ivar description: what it does (shown by ``ros2 param describe``).
    :ivar choices: allowed string values (empty: any).
    :ivar min_value: inclusive lower bound of a number.
    :ivar max_value: inclusive upper bound of a number.
    :ivar read_only: fixed at start-up; a run-time change is refused.
    :ivar constraints: the constraint in words (descriptor additional_constraints).

    """

    name: str
    default: Any
    description: str
    choices: Tuple[str, ...] = ()
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    read_only: bool = True
    constraints: str = ''

    @property
    def type_name(self) -> str:
        """ROS parameter type in words (bool, integer, double, string, string[], integer[])."""
        d = self.default
        if isinstance(d, bool):
            return 'bool'
        if isinstance(d, int):
            return 'integer'
        if isinstance(d, float):
            return 'double'
        if isinstance(d, str):
            return 'string'
        if isinstance(d, (list, tuple)) and d and isinstance(d[0], bool):
            return 'bool[]'
        if isinstance(d, (list, tuple)) and d and isinstance(d[0], int):
            return 'integer[]'
        if isinstance(d, (list, tuple)) and d and isinstance(d[0], float):
            return 'double[]'
        return 'string[]'

    @property
    def allowed(self) -> str:
        """Return the allowed values in words, for messages and descriptors."""
        if self.constraints:
            return self.constraints
        if self.choices:
            return 'one of ' + ', '.join(self.choices)
        if self.min_value is not None and self.max_value is not None:
            return f'{self.min_value} .. {self.max_value}'
        return ''


def _p(name, default, description, **kw) -> ParamSpec:
    return ParamSpec(name=name, default=default, description=description, **kw)


GLOBAL_PARAMS: Tuple[ParamSpec, ...] = (
    _p('checkpoint', '',
       'EUnet checkpoint file (.pt). Empty: the packaged model ($EUNET_CHECKPOINT, else '
       'share/eunet_ros/models/eunet_fs_synthetic.pt).',
       constraints='a path to an eunet_ros checkpoint, or empty'),
    _p('device', 'auto', 'Inference device: auto (CUDA when available, else CPU), cpu, cuda, '
       'cuda:N.', constraints='auto, cpu, cuda or cuda:N'),
    _p('precision', 'auto', 'Network precision: auto (fp16 on CUDA, fp32 on CPU), fp32, fp16 '
       '(CUDA only), bf16.', choices=PRECISIONS),
    _p('input_size', [0, 0], 'Network input [height, width] frames are letterboxed to; '
       '[0, 0]: the size stored in the checkpoint.',
       constraints=f'[0, 0] or [H, W] with {SIZE_RANGE}'),
    _p('backend', 'auto', 'What runs the network: auto (ONNX Runtime for an EUnet on the CPU '
       'in fp32 when onnx and onnxruntime are installed, else PyTorch; CUDA always runs '
       'PyTorch), torch, onnxruntime (CPU, fp32; the ONNX file is exported once into '
       '~/.cache/eunet_ros/onnx or $EUNET_ROS_CACHE_DIR/onnx).', choices=BACKENDS),
    _p('cpu_threads', 0, 'CPU threads of torch and ONNX Runtime for inference; 0: their '
       'default.', min_value=0, max_value=256),
    _p('cuda_graphs', True, 'On CUDA, replay the network from a CUDA graph captured per '
       'batch size (saves kernel-launch time; falls back to eager if capture fails). '
       'Ignored on the CPU.'),
    _p('cameras', ['camera'], 'Camera names. Each camera gets its own topics under '
       '<camera>/ in the node namespace and its own parameters <camera>.topic and '
       '<camera>.transport.',
       constraints='unique names of letters, digits and _ (starting with a letter)'),
    _p('camera_topic', '', 'One-camera shortcut: the input topic of the only camera '
       '(overrides <camera>.topic). Empty: unused.',
       constraints='a topic name, or empty; only with exactly one camera'),
    _p('publish_overlay', True, 'Publish <camera>/overlay (bgr8 class colours over the image); '
       'it is computed only while someone subscribes.', read_only=False),
    _p('overlay_alpha', 0.5, 'Opacity of the class colours in the overlay.',
       min_value=0.0, max_value=1.0, read_only=False),
    _p('class_groups', ['cones', 'track'], 'Class groups that get a binary mask each on '
       '<camera>/<group>/mask (mono8, 255 where the class is in the group); the classes '
       "of group <name> come from group.<name>. ['']: no groups.",
       constraints='unique names of letters, digits and _ (starting with a letter)'),
    _p('publish_cones', True, 'Publish <camera>/cones (sensor_msgs/PointCloud2, one point per '
       'cone: x y z in base_frame, class_id, confidence, base pixel u v, range) for every '
       'frame, and <camera>/cone_markers (visualization_msgs/MarkerArray) while subscribed. '
       'Positions need the camera intrinsics (<camera>/camera_info, <camera>.camera_info_url '
       'or <camera>.K) and pose (<camera>.pose.*); without them x y z and range are NaN.',
       read_only=False),
    _p('base_frame', 'base_link', 'Vehicle frame of the cone positions (REP 103: x forward, '
       'y left, z up, the ground is z = 0); <camera>.pose.* is the camera in this frame.',
       constraints='a frame id'),
    _p('cones.min_pixels', 12, 'Smallest cone blob in pixels; smaller blobs are noise.',
       min_value=1, max_value=1000000, read_only=False),
    _p('cones.max_range', 60.0, 'Cones whose base meets the ground farther than this (metres '
       'from the camera) get no position, like those at or above the horizon.',
       min_value=1.0, max_value=1000.0, read_only=False),
    _p('max_batch', 4, 'Most frames (one per camera) that go through the network together.',
       min_value=1, max_value=64, read_only=False),
    _p('qos.reliability', 'best_effort', 'Reliability of the image subscriptions '
       '(sensor-data QoS by default).', choices=RELIABILITIES),
    _p('qos.depth', 1, 'History depth of the image subscriptions (only the newest frame is '
       'ever processed).', min_value=1, max_value=100),
    _p('output_qos.reliability', 'reliable', 'Reliability of the mask and overlay '
       'publishers; reliable reaches both reliable and best-effort subscribers.',
       choices=RELIABILITIES),
    _p('diagnostics_period', 1.0, 'Seconds between two /diagnostics messages.',
       min_value=0.05, max_value=60.0),
    _p('no_frames_warning_s', 5.0, 'Seconds a camera may go without a frame (since start, '
       'or since its last frame) before the node warns, throttled, naming the topic, whether '
       'a publisher is matched and the QoS of the publishers it sees, and sets the '
       "camera's diagnostics to WARN (no frames); 0: never warn.",
       min_value=0.0, max_value=3600.0, read_only=False),
)

# Names a camera cannot have: its parameters would clash with these.
RESERVED_NAMES = frozenset({s.name.split('.')[0] for s in GLOBAL_PARAMS}
                           | {'group', 'use_sim_time', 'qos_overrides'})


def camera_params(camera: str) -> Tuple[ParamSpec, ...]:
    """Return the parameters of one camera (``<camera>.topic``, ``<camera>.transport``)."""
    return (
        _p(f'{camera}.topic', '', f'Input image topic of camera {camera!r} (with transport '
           'compressed, /compressed is appended). Empty: <camera>/image.',
           constraints='a topic name, or empty'),
        _p(f'{camera}.transport', 'raw', f'How camera {camera!r} sends images: raw '
           '(sensor_msgs/Image) or compressed (sensor_msgs/CompressedImage, jpeg or png).',
           choices=TRANSPORTS),
        _p(f'{camera}.camera_info_topic', '', f'sensor_msgs/CameraInfo of camera {camera!r} '
           '(K, D, distortion model, size of the images it describes). Empty: camera_info '
           'beside the image topic (<camera>/camera_info for the default topic).',
           constraints='a topic name, or empty'),
        _p(f'{camera}.camera_info_url', '', f'Fallback intrinsics of camera {camera!r} while '
           'no valid CameraInfo arrives: a camera_calibration YAML file (file:///path or a '
           'path). Empty: none.', constraints='a file path or file:// URL, or empty'),
        _p(f'{camera}.K', [0.0] * 9, f'Fallback camera matrix of camera {camera!r} (9 '
           'numbers, row major, of the distorted image) when there is neither CameraInfo nor '
           'camera_info_url. All zero: none.', constraints='9 numbers, fx and fy > 0, or all 0'),
        _p(f'{camera}.D', [0.0], f'Distortion coefficients that go with {camera}.K.',
           constraints='the count of <camera>.distortion_model (plumb_bob 4 or 5, '
           'rational_polynomial 8, equidistant 4), or all 0'),
        _p(f'{camera}.distortion_model', 'plumb_bob', f'Distortion model of {camera}.D.',
           choices=DISTORTION_CHOICES),
    ) + tuple(
        _p(f'{camera}.pose.{k}', 0.0, f'Pose of camera {camera!r} (its optical centre) in '
           f'base_frame: {k} {_POSE_UNITS[k]}.',
           min_value=-1000.0 if k in 'xyz' else -3.1416,
           max_value=1000.0 if k in 'xyz' else 3.1416)
        for k in POSE_KEYS)


def group_param(group: str) -> ParamSpec:
    """Return the parameter that lists a class group's class names (``group.<name>``)."""
    default = list(DEFAULT_GROUPS.get(group, ('',)))
    return _p(f'group.{group}', default, f'Class names in group {group!r} (its binary mask is '
              f'<camera>/{group}/mask).', constraints='class names of the checkpoint')


@dataclass
class CameraSettings:
    """
    One camera: name, input topic (base, without /compressed), transport, geometry.

    ``intrinsics``: the fallback from ``<camera>.K`` (None when all zero);
    ``camera_info_url``: the fallback file, loaded by the node (a bad file is a
    diagnostics message there, not a start-up error); ``pose``: ``<camera>.pose.*``.
    """

    name: str
    topic: str
    transport: str = 'raw'
    camera_info_topic: str = ''
    camera_info_url: str = ''
    intrinsics: Optional[Intrinsics] = None
    pose: CameraPose = field(default_factory=CameraPose)

    @property
    def info_topic(self) -> str:
        """Return the CameraInfo topic: the parameter, else camera_info beside the image."""
        if self.camera_info_topic:
            return self.camera_info_topic
        head = self.topic.rstrip('/').rpartition('/')[0]
        return f'{head}/camera_info' if head else 'camera_info'

    @property
    def input_topic(self) -> str:
        """Return the topic subscribed to (``<topic>/compressed`` for compressed)."""
        if self.transport == 'compressed':
            return self.topic.rstrip('/') + '/compressed'
        return self.topic


@dataclass
class NodeSettings:
    """Validated start-up settings of segment_node."""

    checkpoint: str
    device: str
    precision: str
    input_size: Optional[Tuple[int, int]]
    cpu_threads: Optional[int]
    cameras: List[CameraSettings]
    publish_overlay: bool
    overlay_alpha: float
    class_groups: List[str]
    groups: Dict[str, List[str]] = field(default_factory=dict)
    max_batch: int = 4
    input_reliability: str = 'best_effort'
    input_depth: int = 1
    output_reliability: str = 'reliable'
    diagnostics_period: float = 1.0
    no_frames_warning_s: float = 5.0
    cuda_graphs: bool = True
    backend: str = 'auto'
    publish_cones: bool = True
    base_frame: str = 'base_link'
    cone_min_pixels: int = 12
    cone_max_range: float = 60.0


def _spec(name: str) -> ParamSpec:
    for s in GLOBAL_PARAMS:
        if s.name == name:
            return s
    raise KeyError(name)


def check_names(param: str, names: Sequence[str], *, what: str,
                reserved: Sequence[str] = (), allow_empty: bool = False) -> List[str]:
    """
    Validate a list of camera or group names; return it without empty entries.

    :raises ConfigError: a name is invalid, reserved or repeated, or none is given.
    """
    out = [str(n) for n in names if str(n) != '']
    if not out and not allow_empty:
        raise ConfigError(param, f'at least one {what} name is needed, got {list(names)}.')
    for n in out:
        if not NAME_RE.match(n):
            raise ConfigError(param, f'{what} name {n!r} is invalid: use letters, digits and '
                                     '_ , starting with a letter.')
        if n in reserved:
            raise ConfigError(param, f'{what} name {n!r} is reserved (it is a parameter '
                                     f'name); reserved: {", ".join(sorted(reserved))}.')
    dup = sorted({n for n in out if out.count(n) > 1})
    if dup:
        raise ConfigError(param, f'{what} names must be unique; repeated: {dup}.')
    return out


def _choice(values: Mapping[str, Any], name: str, choices: Sequence[str]) -> str:
    return check_choice(name, values[name], choices)


def _number(values: Mapping[str, Any], name: str):
    spec = _spec(name)
    v = values[name]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(name, f'expected a {spec.type_name}, got {v!r}.')
    if not spec.min_value <= v <= spec.max_value:
        raise ConfigError(name, f'{v} is out of range; allowed {spec.allowed}.')
    return v


def _device(values: Mapping[str, Any]) -> str:
    """Return ``device`` in lower case, checked against auto, cpu, cuda and cuda:N."""
    device = str(values['device']).strip().lower()
    if not DEVICE_RE.match(device):
        raise ConfigError('device', f'{values["device"]!r} is not allowed; use auto, cpu, cuda '
                                    'or cuda:N (N = GPU index).')
    return device


def _input_size(values: Mapping[str, Any]) -> Optional[Tuple[int, int]]:
    """Return ``input_size`` as (H, W), or None for [0, 0] (the checkpoint's size)."""
    size = [int(v) for v in values['input_size']]
    if size == [0, 0]:
        return None
    if len(size) == 2 and all(side_ok(v) for v in size):
        return (size[0], size[1])
    raise ConfigError('input_size', f'{list(values["input_size"])} is not allowed; use '
                                    f"[0, 0] (the checkpoint's size) or [H, W] with "
                                    f'{SIZE_RANGE}.')


def _camera_settings(values: Mapping[str, Any], cameras: List[str]) -> List[CameraSettings]:
    """Return each camera's transport and topic, with the ``camera_topic`` shortcut applied."""
    cams = []
    for c in cameras:
        transport = _choice(values, f'{c}.transport', TRANSPORTS)
        topic = str(values[f'{c}.topic']).strip() or f'{c}/image'
        cams.append(CameraSettings(name=c, topic=topic, transport=transport,
                                   camera_info_topic=str(values.get(f'{c}.camera_info_topic',
                                                                    '')).strip(),
                                   camera_info_url=str(values.get(f'{c}.camera_info_url',
                                                                  '')).strip(),
                                   intrinsics=_inline_intrinsics(values, c),
                                   pose=_pose(values, c)))
    shortcut = str(values['camera_topic']).strip()
    if shortcut:
        if len(cams) != 1:
            raise ConfigError('camera_topic', f'is a one-camera shortcut, but cameras is '
                                              f'{cameras}; set <camera>.topic for each camera '
                                              'instead.')
        cams[0].topic = shortcut
    return cams


def _inline_intrinsics(values: Mapping[str, Any], camera: str) -> Optional[Intrinsics]:
    """Return ``<camera>.K/D/distortion_model`` as intrinsics, None when K is all zero."""
    K = [float(v) for v in values.get(f'{camera}.K', [0.0] * 9)]
    if not any(K):
        return None
    model = check_choice(f'{camera}.distortion_model',
                         values.get(f'{camera}.distortion_model', 'plumb_bob'),
                         DISTORTION_CHOICES)
    try:
        return check_intrinsics(K, [float(v) for v in values.get(f'{camera}.D', [0.0])], model,
                                source=f'parameters {camera}.K/D')
    except IntrinsicsError as e:
        raise ConfigError(f'{camera}.K', str(e)) from None


def _pose(values: Mapping[str, Any], camera: str) -> CameraPose:
    """Return ``<camera>.pose.*`` (finite numbers; the range is the descriptor's)."""
    pose = {}
    for k in POSE_KEYS:
        v = values.get(f'{camera}.pose.{k}', 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f'{camera}.pose.{k}', f'expected a finite number, got {v!r}.')
        pose[k] = float(v)
    return CameraPose(**pose)


def _group_classes(values: Mapping[str, Any], groups: List[str]) -> Dict[str, List[str]]:
    """Return each class group's class names (``group.<name>``), none of them empty."""
    group_classes = {}
    for g in groups:
        names = [str(n) for n in values[f'group.{g}'] if str(n) != '']
        if not names:
            raise ConfigError(f'group.{g}', f'class group {g!r} lists no classes; set '
                                            f'group.{g} to class names of the checkpoint, or '
                                            f'remove {g!r} from class_groups.')
        group_classes[g] = names
    return group_classes


def parse_settings(values: Mapping[str, Any]) -> NodeSettings:
    """
    Validate the declared parameter values and build :class:`NodeSettings`.

    :param values: parameter name -> value, for every global parameter, the camera
        parameters of every camera in ``cameras`` and ``group.<name>`` of every group.
    :raises ConfigError: the first invalid value, with the parameter's name.
    """
    cameras = check_names('cameras', values['cameras'], what='camera',
                          reserved=sorted(RESERVED_NAMES))
    groups = check_names('class_groups', values['class_groups'], what='class group',
                         allow_empty=True)
    device = _device(values)
    precision = _choice(values, 'precision', PRECISIONS)
    input_size = _input_size(values)
    threads = int(_number(values, 'cpu_threads'))
    cams = _camera_settings(values, cameras)
    group_classes = _group_classes(values, groups)
    return NodeSettings(
        checkpoint=str(values['checkpoint']).strip(),
        device=device,
        precision=precision,
        input_size=input_size,
        cpu_threads=threads or None,
        cameras=cams,
        publish_overlay=bool(values['publish_overlay']),
        overlay_alpha=float(_number(values, 'overlay_alpha')),
        class_groups=groups,
        groups=group_classes,
        max_batch=int(_number(values, 'max_batch')),
        input_reliability=_choice(values, 'qos.reliability', RELIABILITIES),
        input_depth=int(_number(values, 'qos.depth')),
        output_reliability=_choice(values, 'output_qos.reliability', RELIABILITIES),
        diagnostics_period=float(_number(values, 'diagnostics_period')),
        no_frames_warning_s=float(_number(values, 'no_frames_warning_s')),
        cuda_graphs=bool(values['cuda_graphs']),
        backend=_choice(values, 'backend', BACKENDS),
        publish_cones=bool(values.get('publish_cones', True)),
        base_frame=str(values.get('base_frame', 'base_link')).strip() or 'base_link',
        cone_min_pixels=int(_number(values, 'cones.min_pixels')) if 'cones.min_pixels' in values
        else 12,
        cone_max_range=float(_number(values, 'cones.max_range')) if 'cones.max_range' in values
        else 60.0,
    )


def resolve_groups(groups: Mapping[str, Sequence[str]],
                   class_names: Sequence[str]) -> Dict[str, List[int]]:
    """
    Map each group's class names to the checkpoint's class ids.

    :raises ConfigError: a class name is not in the checkpoint (naming ``group.<name>``).
    """
    index = {n: i for i, n in enumerate(class_names)}
    out = {}
    for g, names in groups.items():
        unknown = [n for n in names if n not in index]
        if unknown:
            raise ConfigError(f'group.{g}', f"class(es) {unknown} are not in the checkpoint's "
                                            f'class table {list(class_names)}.')
        out[g] = sorted({index[n] for n in names})
    return out


def runtime_check(name: str, value: Any) -> Optional[str]:
    """
    Check a run-time change of a writable parameter.

    :returns: None when it can take effect, else the reason it is refused.
    """
    try:
        read_only = _spec(name).read_only
    except KeyError:  # a camera or group parameter: they decide topics, fixed too
        read_only = True
    if read_only:
        return (f'{name} is fixed at start-up (it decides topics or the model); restart the '
                'node to change it.')
    if name in ('publish_overlay', 'publish_cones'):
        return None if isinstance(value, bool) else f'{name} must be a bool, got {value!r}'
    try:
        _number({name: value}, name)
    except ConfigError as e:
        return str(e)
    return None


def _md(text: str) -> str:
    return text.replace('<', '&lt;').replace('>', '&gt;').replace('|', '\\|')


def all_specs() -> List[ParamSpec]:
    """Return every parameter of segment_node, with ``<camera>`` and ``<group>`` as names."""
    return list(GLOBAL_PARAMS) + list(camera_params('<camera>')) + [group_param('<group>')]


def _default_text(spec: ParamSpec) -> str:
    if spec.name.startswith('group.'):
        return 'cones: the five cone classes; track: [track]'
    if spec.name.endswith('.K'):
        return '[0.0] * 9'
    if isinstance(spec.default, str):
        return f"'{spec.default}'"
    return str(spec.default)


def asks_for_help(argv: Sequence[str]) -> bool:
    """Return whether ``-h``/``--help`` comes before ``--ros-args`` in ``argv``."""
    own = list(argv)[:list(argv).index('--ros-args')] if '--ros-args' in argv else list(argv)
    return any(a in ('-h', '--help') for a in own)


def parameters_help(prog: str, summary: str, specs: Sequence[ParamSpec],
                    examples: Sequence[str] = ()) -> str:
    """
    Return the ``--help`` text of a node: usage, ``summary`` and every parameter.

    :param prog: the executable's name.
    :param summary: what the node does, one paragraph.
    :param specs: the parameters it declares (name, type, default, allowed, description).
    :param examples: command lines shown at the end.
    """
    wrap = textwrap.TextWrapper(width=92, initial_indent='      ', subsequent_indent='      ')
    out = [f'usage: {prog} [-h] [--ros-args [-p NAME:=VALUE ...] [--params-file FILE]]', '',
           textwrap.fill(summary, 92), '',
           textwrap.fill('ROS 2 parameters: set them with --ros-args -p NAME:=VALUE or '
                         '--params-file FILE (with ros2 launch: in the config file). Other '
                         'ROS arguments work too (-r __ns:=/NAMESPACE, --log-level debug).',
                         92)]
    for spec in specs:
        change = 'restart to change' if spec.read_only else 'changeable at run time'
        out.append(f'  {spec.name}  ({spec.type_name}, default {_default_text(spec)}, '
                   f'{change})')
        out.extend(wrap.wrap(spec.description))
        if spec.allowed:
            out.extend(wrap.wrap('allowed: ' + spec.allowed))
    if examples:
        out += ['', 'examples:'] + [f'  {e}' for e in examples]
    return '\n'.join(out)


def markdown_table() -> str:
    """Return the parameters as a Markdown table (for the README; it cannot drift)."""
    rows = ['| parameter | type | default | allowed | run-time change | description |',
            '|---|---|---|---|---|---|']
    for s in all_specs():
        rows.append(f'| `{s.name}` | {s.type_name} | `{_default_text(s)}` | '
                    f'{_md(s.allowed or "-")} | {"no (restart)" if s.read_only else "yes"} | '
                    f'{_md(s.description)} |')
    return '\n'.join(rows)


if __name__ == '__main__':
    print(markdown_table())
