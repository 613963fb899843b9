# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
End-to-end node benchmark: camera publishers -> segment_node -> mask subscriber, over DDS.

``python -m eunet_ros.benchmark node [options]`` runs on one machine:

* segment_node as a process of its own, started as its console script is
  (``python -m eunet_ros.ros.segment_node --ros-args -p device:=... ...``), in a
  namespace of its own, one node camera per publisher;
* one camera publisher process per camera: a few pre-built bgr8
  sensor_msgs/Image frames at ``--resolution``, published best effort (as camera
  drivers do) at ``--rate`` from a fixed schedule, each stamped with the wall
  clock just before it goes out; it keeps every stamp it sent;
* here, a subscriber to every camera's ``mask`` (and ``overlay`` with
  ``--overlay``, so that the node computes it) and to ``/diagnostics``.

Latency of a frame: the wall-clock time its mask arrived here minus its camera
stamp (the node copies the header). The run waits until every camera has had a
mask (the node is ready), lets ``--warmup`` seconds pass, then measures
``--duration`` seconds. A frame belongs to the run when its stamp lies in that
window: ``sent`` counts what the publishers sent in it, ``received`` the masks of
those frames that arrived (waiting after the window until every camera has a
newer mask); ``dropped_pct`` = 100 x (1 - received / sent), per camera and over
all. ``node_dropped`` (from the node's /diagnostics, so within about 0.25 s at the
window's edges) says how many of them the node replaced by a newer frame while
inference was busy, rather than losing them on the way. Latency growth: the
p50 of the first quarter of the window against the last quarter;
``latency_grows`` is true when the last is over 1.2 times the first and 1 ms
more.

A process that exits early fails the benchmark with the end of its log; Ctrl-C
or SIGTERM stop every process it started. Example::

    python -m eunet_ros.benchmark node --device cpu --resolution 640x480 --rate 30
    python -m eunet_ros.benchmark node --device cuda --cameras 4 --rate 60 --duration 120
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, MutableMapping, Optional, Sequence, Tuple

from eunet_ros.argtypes import at_least
from eunet_ros.core.options import PRECISIONS
from eunet_ros.fileio import atomic_write_json
from eunet_ros.ros import dds_profile
from eunet_ros.ros.spin import SpinningNode
from eunet_ros.ros.stats import percentiles
from eunet_ros.tools.child_process import ChildExited, ChildProcess
from eunet_ros.tools.common import environment, parse_resolution, text_table
import numpy as np

__all__ = ['BenchError', 'BadInput', 'NodeRun', 'add_node_options', 'check_node_options',
           'check_ros', 'environment_info', 'get_args_parser', 'main', 'resolve_checkpoint',
           'run', 'summarise', 'format_table']

NS = 1_000_000_000
PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # the folder holding eunet_ros/


class BenchError(RuntimeError):
    """The run failed (a process died, no masks came); the message says which and why."""


class BadInput(BenchError):
    """An option, a file or the environment does not allow a run; the message says what to do."""


# --------------------------------------------------------------------------- options
class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except where there is none to show (None, an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default == []:
            return action.help or ''
        return super()._get_help_string(action)


def add_node_options(p: argparse.ArgumentParser) -> None:
    """
    Add the options of the node and its cameras that the node benchmark and the soak share.

    ``--device``, ``--precision``, ``--checkpoint`` / ``--variant``, ``--cameras``,
    ``--rate``, ``--resolution``, ``--overlay``, ``--node-param``,
    ``--startup-timeout`` and ``--log-dir``: what :class:`NodeRun` reads.
    """
    from eunet_ros.core.model import VARIANTS
    p.add_argument('--device', default='auto', help='segment_node device: auto, cpu, cuda, '
                   'cuda:N')
    p.add_argument('--precision', default='auto', choices=list(PRECISIONS),
                   help='segment_node precision (auto: fp16 on CUDA, fp32 on the CPU)')
    m = p.add_mutually_exclusive_group()
    m.add_argument('--checkpoint', default=None, metavar='PATH',
                   help='checkpoint the node loads (default: the packaged '
                        'models/eunet_fs_synthetic.pt or $EUNET_CHECKPOINT)')
    m.add_argument('--variant', default=None, choices=sorted(VARIANTS), metavar='NAME',
                   help='instead of a checkpoint: a random-init EUnet of this variant ('
                        f'{", ".join(sorted(VARIANTS))}) at its default input size (timing '
                        'only)')
    p.add_argument('--cameras', type=at_least(1), default=1, metavar='N',
                   help='cameras (one publisher process each)')
    p.add_argument('--rate', type=at_least(0, float, inclusive=False), default=30.0, metavar='HZ',
                   help='frames per second of each camera')
    p.add_argument('--resolution', type=parse_resolution, default='1280x720', metavar='WxH',
                   help='WxH of the bgr8 camera frames')
    p.add_argument('--overlay', action=argparse.BooleanOptionalAction, default=False,
                   help='subscribe to the overlays too, so the node computes and publishes '
                        'them (latency is still camera stamp -> mask)')
    p.add_argument('--node-param', action='append', default=[], metavar='NAME:=VALUE',
                   help='more segment_node parameters, e.g. max_batch:=1 or '
                        '"input_size:=[720, 1280]" (repeatable)')
    p.add_argument('--startup-timeout', type=at_least(0, float, inclusive=False), default=180.0,
                   metavar='S',
                   help='seconds the node may take to deliver the first mask of every camera')
    p.add_argument('--log-dir', default=None, metavar='DIR',
                   help='keep the logs of the node and the publishers here (default: a '
                        'temporary folder; a failure shows the end of the log)')


def get_args_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of ``python -m eunet_ros.benchmark node``."""
    p = argparse.ArgumentParser(
        prog='python -m eunet_ros.benchmark node',
        description='End-to-end node benchmark: camera publisher processes -> segment_node '
                    '(its own process) -> mask subscriber, over DDS on this machine. Prints '
                    'a table; appends a row to --json.',
        formatter_class=HelpFormatter)
    add_node_options(p)
    p.add_argument('--duration', type=at_least(0, float, inclusive=False), default=20.0,
                   metavar='S',
                   help='seconds measured')
    p.add_argument('--warmup', type=at_least(0, float), default=3.0, metavar='S',
                   help='seconds after the node is ready (first mask of every camera) that '
                        'do not count')
    p.add_argument('--json', default='benchmark_node.json', metavar='PATH',
                   help="file the result row is appended to ('' : none)")
    return p


# --------------------------------------------------------------------------- main
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the node benchmark; print the table; return the exit status (0: measured)."""
    args = get_args_parser().parse_args(argv)
    try:
        env, row = run(args)
    except KeyboardInterrupt:
        print('node benchmark interrupted: every process it started is stopped',
              file=sys.stderr)
        return 130
    except BenchError as e:  # bad input: 2, a failed run: 1
        bad = isinstance(e, BadInput)
        print(f'error: {e}' if bad else f'node benchmark FAILED: {e}', file=sys.stderr)
        return 2 if bad else 1
    print()
    print(format_table(row), flush=True)
    if args.json:
        n = append_json(args.json, env, _args_dict(args), row)
        print(f'\nappended the row to {args.json} ({n} rows)')
    if row['node_exit_code'] != 0:
        print(f'node benchmark FAILED: segment_node did not stop cleanly on Ctrl-C (exit '
              f'status {row["node_exit_code"]})', file=sys.stderr)
        return 1
    return 0


def _args_dict(args: argparse.Namespace) -> Dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()}


def read_json(path: str) -> Optional[Dict[str, Any]]:
    """
    Read an existing result file to append to.

    :returns: its content, or None when there is no file.
    :raises BadInput: the file is not a result file of the benchmark.
    """
    p = Path(path)
    if not p.exists():
        if not p.resolve().parent.is_dir():
            raise BadInput(f'--json {path}: the folder {p.resolve().parent} does not exist')
        return None
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise BadInput(f'--json {path} exists but cannot be read as JSON ({e}); give another '
                       'file or move it away') from None
    if not isinstance(data, dict) or not isinstance(data.get('rows'), list):
        raise BadInput(f'--json {path} is not a benchmark result file (no "rows" list); give '
                       'another file or move it away')
    return data


def append_json(path: str, env: Dict[str, Any], args: Dict[str, Any],
                row: Dict[str, Any]) -> int:
    """Append ``row`` to the result file (atomically); return how many rows it holds."""
    data = read_json(path) or {'rows': []}
    data['environment'] = env
    data['args'] = args
    data['rows'].append(row)
    atomic_write_json(path, data, durable=False)
    return len(data['rows'])


def resolve_checkpoint(args: argparse.Namespace, folder: Path) -> Path:
    """
    Return the checkpoint the node loads: ``--checkpoint``, the packaged one, or a random one.

    :param folder: where a ``--variant`` checkpoint (random init) is written.
    :raises BadInput: no checkpoint file is there.
    """
    if args.variant:
        import torch
        from eunet_ros.core.checkpoint import save_checkpoint
        from eunet_ros.core.model import build_eunet, VARIANTS
        torch.manual_seed(0)
        return save_checkpoint(folder / f'random_{args.variant}.pt',
                               model=build_eunet(variant=args.variant),
                               input_size=VARIANTS[args.variant].input_size,
                               variant=args.variant,
                               provenance={'note': 'random init, for timing only'})
    if args.checkpoint:
        path = Path(args.checkpoint)
    else:
        from eunet_ros.resources import default_checkpoint_path
        path = default_checkpoint_path()
        if path is None:
            raise BadInput('no --checkpoint given and no packaged model found '
                           '(models/eunet_fs_synthetic.pt, $EUNET_CHECKPOINT): give '
                           '--checkpoint PATH, or --variant fast to time a random-init network')
    if not path.is_file():
        raise BadInput(f'checkpoint {path} does not exist or is not a file: give --checkpoint '
                       'PATH of an eunet_ros checkpoint, or --variant fast to time a '
                       'random-init network')
    return path.resolve()


def environment_info(device: Any) -> Dict[str, Any]:
    """Describe the machine, versions and middleware for the JSON output."""
    env = environment(device)
    env['ros_distro'] = os.environ.get('ROS_DISTRO')
    env['rmw_implementation'] = os.environ.get('RMW_IMPLEMENTATION') or 'default'
    env['ros_domain_id'] = os.environ.get('ROS_DOMAIN_ID')
    env['dds_profile'] = dds_profile.apply_large_message_profile(dict(os.environ))[1]
    try:  # Fast DDS shares images through /dev/shm; a small one (containers) hurts
        env['dev_shm_mib'] = round(shutil.disk_usage('/dev/shm').total / 2**20)
    except OSError:
        env['dev_shm_mib'] = None
    return env


def check_node_options(args: argparse.Namespace) -> Tuple[Any, str]:
    """
    Check the options of :func:`add_node_options` that argparse cannot.

    :returns: ``(device, precision)`` resolved (a torch.device and a precision name).
    :raises BadInput: the device or precision is unavailable, or a ``--node-param`` is
        not ``NAME:=VALUE``.
    """
    from eunet_ros.core.engine import EngineError, resolve_device, resolve_precision
    try:
        device = resolve_device(args.device)
        precision = resolve_precision(args.precision, device)
    except EngineError as e:
        raise BadInput(str(e)) from None
    for p in args.node_param:
        if ':=' not in p:
            raise BadInput(f'--node-param {p!r} is not NAME:=VALUE (e.g. max_batch:=1)')
    return device, precision


def check_ros(tool: str) -> None:
    """Raise BadInput naming ``tool`` when rclpy cannot be imported."""
    try:
        import rclpy  # noqa: F401
    except ImportError as e:
        raise BadInput(f'{tool} needs ROS 2 ({e}): source your ROS 2 set-up, or '
                       'pip install -r requirements-ros-pypi.txt') from None


def run(args: argparse.Namespace) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """
    Check the options, run the measurement, summarise it.

    :returns: ``(environment, row)``.
    :raises BadInput: an option or the environment does not allow the run.
    :raises BenchError: a process failed or no masks came.
    """
    device, precision = check_node_options(args)
    if args.json:
        read_json(args.json)  # refuse a bad file now, not after the run
    check_ros('the node benchmark')
    env = environment_info(device)
    with tempfile.TemporaryDirectory(prefix='eunet_bench_node_') as tmp:
        logs = Path(args.log_dir) if args.log_dir else Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        checkpoint = resolve_checkpoint(args, Path(tmp))
        res = _measure(args, checkpoint, logs)
    w, h = args.resolution
    engine = res['engine_diag']
    row: Dict[str, Any] = {
        'mode': 'node', 'model': engine.get('model'),
        'checkpoint': None if args.variant else str(checkpoint), 'variant': args.variant,
        'cameras': args.cameras, 'rate_hz': args.rate, 'resolution': f'{w}x{h}',
        'encoding': 'bgr8', 'device': engine.get('device', str(device)),
        'precision': engine.get('precision', precision), 'input_size': engine.get('input_size'),
        'backend': engine.get('backend'),
        'overlay': args.overlay, 'node_params': list(args.node_param),
        'duration_s': args.duration, 'warmup_s': args.warmup,
        'startup_s': round(res['startup_s'], 2)}
    row.update(res['summary'])
    row['node_inference_ms_p50'] = _float(engine.get('inference_p50_ms'))
    row['node_mean_batch_size'] = _float(engine.get('mean_batch_size'))
    row['node_exit_code'] = res['node_exit_code']
    if res['overlays'] is not None:
        row['overlays_received'] = res['overlays']  # of frames in the window
    return env, row


def _float(v: Any) -> Optional[float]:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# --------------------------------------------------------------------------- measurement
def _stay_on_this_machine(env: MutableMapping[str, str]) -> None:
    """Keep the benchmark's DDS traffic on this machine unless the user chose otherwise."""
    if 'ROS_AUTOMATIC_DISCOVERY_RANGE' in env or 'ROS_LOCALHOST_ONLY' in env:
        return
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'  # Iron and later
    if env.get('ROS_DISTRO', '').lower() == 'humble':
        env['ROS_LOCALHOST_ONLY'] = '1'


def _child_env() -> Dict[str, str]:
    env = dict(os.environ)
    # the children import this very eunet_ros, installed or a source checkout
    env['PYTHONPATH'] = os.pathsep.join(
        [PACKAGE_PARENT] + [p for p in [env.get('PYTHONPATH')] if p])
    env['PYTHONUNBUFFERED'] = '1'
    env['RCUTILS_LOGGING_BUFFERED_STREAM'] = '0'
    return env


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class _Probe(SpinningNode):
    """This process's subscriber: mask arrival times by camera, overlays, diagnostics."""

    def __init__(self, context: Any, name: str, ns: str, cameras: Sequence[str],
                 overlay: bool, node_name: str) -> None:
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image
        super().__init__(name, context=context)
        self.masks: Dict[str, List[Tuple[int, int]]] = {c: [] for c in cameras}
        self.overlays: Dict[str, List[int]] = {c: [] for c in cameras}  # stamps (ns)
        # (arrival ns, camera, the node's frames_received, frames_dropped)
        self.counters: List[Tuple[int, str, int, int]] = []
        self.engine: Dict[str, str] = {}
        self._engine_name = f'{node_name}: engine'
        self._camera_names = {f'{node_name}: camera {c}': c for c in cameras}
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
        for c in cameras:
            self.node.create_subscription(Image, f'{ns}/{c}/mask',
                                          lambda m, c=c: self._on_mask(c, m), qos)
            if overlay:
                self.node.create_subscription(Image, f'{ns}/{c}/overlay',
                                              lambda m, c=c: self._on_overlay(c, m), qos)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)

    def _on_mask(self, camera: str, msg: Any) -> None:
        t = time.time_ns()
        s = msg.header.stamp
        self.masks[camera].append((s.sec * NS + s.nanosec, t))

    def _on_overlay(self, camera: str, msg: Any) -> None:
        s = msg.header.stamp
        self.overlays[camera].append(s.sec * NS + s.nanosec)

    def _on_diag(self, msg: Any) -> None:
        t = time.time_ns()
        for st in msg.status:
            values = {kv.key: kv.value for kv in st.values}
            if st.name == self._engine_name:
                self.engine = values
            elif st.name in self._camera_names:
                try:
                    self.counters.append((t, self._camera_names[st.name],
                                          int(values['frames_received']),
                                          int(values['frames_dropped'])))
                except (KeyError, ValueError):
                    pass


def _measure(args: argparse.Namespace, checkpoint: Path, logs: Path) -> Dict[str, Any]:
    """Start the node and the cameras, measure the window, stop everything, summarise."""
    run = NodeRun(args, checkpoint, logs)  # rclpy.init; SIGTERM raises KeyboardInterrupt
    try:
        run.start_node()
        run.start_probe()
        run.start_cameras()
        run.wait_until_ready()
        w0, w1 = run.measure_window()
        run.drain(w1)
        got = run.stop_and_collect(w0, w1)
    finally:
        run.close()
    return run.result(got, w0, w1)


class NodeRun:
    """
    One measurement: its processes, its probe and its rclpy context.

    Creating it initialises a context of its own and, in the main thread, makes
    SIGTERM raise KeyboardInterrupt; :meth:`close` (in a ``finally``) stops every
    process still running, closes the probe, shuts the context down and restores
    the SIGTERM handler.
    """

    def __init__(self, args: argparse.Namespace, checkpoint: Path, logs: Path) -> None:
        import rclpy
        self.args = args
        self.checkpoint = checkpoint
        self.logs = logs
        self.tag = f'eunet_bench_{os.getpid()}'
        self.ns = '/' + self.tag
        self.node_name = f'segment_node_{os.getpid()}'
        self.cams = [f'cam{i}' for i in range(args.cameras)]
        _stay_on_this_machine(os.environ)  # before rclpy.init; the children inherit it
        self.env = _child_env()
        self.children: List[ChildProcess] = []
        self.probe: Optional[_Probe] = None
        self.node: Optional[ChildProcess] = None
        self.pubs: Dict[str, ChildProcess] = {}
        self.t_start = self.t_ready = 0  # wall clock (ns): cameras started, node ready
        # a context of its own: rclpy installs no signal handlers for it, so Ctrl-C (and
        # SIGTERM, below) raises KeyboardInterrupt here and close() stops every process
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.in_main = threading.current_thread() is threading.main_thread()
        self.old_term = signal.signal(signal.SIGTERM, _raise_interrupt) \
            if self.in_main else None

    def start_node(self) -> None:
        """Start segment_node in the run's namespace, one node camera per publisher."""
        args = self.args
        w, h = args.resolution
        model = f'random {args.variant}' if args.variant else self.checkpoint.name
        print(f'# starting segment_node ({args.device}, {args.precision}, {model}) and '
              f'{len(self.cams)} camera publisher(s) at {args.rate:g} Hz, {w}x{h} bgr8',
              flush=True)
        cmd = [sys.executable, '-m', 'eunet_ros.ros.segment_node', '--ros-args',
               '-r', f'__ns:={self.ns}', '-r', f'__node:={self.node_name}',
               '-p', f'checkpoint:={self.checkpoint}', '-p', f'device:={args.device}',
               '-p', f'precision:={args.precision}',
               '-p', f'cameras:=[{",".join(self.cams)}]',
               '-p', f'publish_overlay:={str(args.overlay).lower()}',
               '-p', 'diagnostics_period:=0.25']
        for p in args.node_param:
            cmd += ['-p', p]
        self.node = ChildProcess('segment_node', cmd, env=self.env,
                                 logfile=self.logs / 'segment_node.log')
        self.children.append(self.node)

    def start_probe(self) -> None:
        """Subscribe here to the masks (overlays) of every camera and to /diagnostics."""
        self.probe = _Probe(self.context, f'{self.tag}_probe', self.ns, self.cams,
                            self.args.overlay, self.node_name)

    def start_cameras(self) -> None:
        """Start one camera publisher process per camera."""
        args = self.args
        w, h = args.resolution
        # a publisher whose parent died without stopping it gives up by itself
        max_s = args.startup_timeout + args.warmup + args.duration + 120.0
        self.t_start = time.time_ns()
        for i, cam in enumerate(self.cams):
            self.pubs[cam] = ChildProcess(f'camera publisher {cam}', [
                sys.executable, '-m', 'eunet_ros.tools.bench_camera',
                '--topic', f'{self.ns}/{cam}/image', '--frame-id', cam, '--width', str(w),
                '--height', str(h), '--rate', repr(float(args.rate)), '--seed', str(i),
                '--out', str(self.logs / f'{cam}_sent.npy'), '--max-seconds', f'{max_s:.0f}'],
                env=self.env, logfile=self.logs / f'{cam}_publisher.log')
            self.children.append(self.pubs[cam])

    def check_alive(self) -> None:
        """Raise BenchError with the end of its log if a process has exited."""
        for c in self.children:
            try:
                c.check_alive()
            except ChildExited as e:
                raise BenchError(str(e)) from None

    def wait_until_ready(self, announce: bool = True) -> None:
        """
        Wait until every camera has had a mask (or fail after --startup-timeout).

        :param announce: print the start-up time and the benchmark's warm-up and window.
        """
        args, probe = self.args, self.probe
        deadline = time.monotonic() + args.startup_timeout
        while not all(probe.masks[c] for c in self.cams):
            self.check_alive()
            if time.monotonic() > deadline:
                missing = [c for c in self.cams if not probe.masks[c]]
                raise BenchError(f'no mask for camera(s) {", ".join(missing)} within '
                                 f'{args.startup_timeout:g} s (--startup-timeout); last lines '
                                 f'of the segment_node log:\n{self.node.tail()}')
            time.sleep(0.05)
        self.t_ready = time.time_ns()
        if announce:
            print(f'# segment_node ready after {self.startup_s:.1f} s (a mask from every '
                  f'camera); warm-up {args.warmup:g} s, then measuring {args.duration:g} s',
                  flush=True)

    @property
    def startup_s(self) -> float:
        """Seconds from starting the cameras until every camera had a mask."""
        return (self.t_ready - self.t_start) / NS

    def measure_window(self) -> Tuple[int, int]:
        """Let the warm-up and the measured window pass; return the window (ns)."""
        args = self.args
        w0 = self.t_ready + int(args.warmup * NS)
        w1 = w0 + int(args.duration * NS)
        next_note = w0 + 30 * NS
        while time.time_ns() < w1:
            self.check_alive()
            if time.time_ns() >= next_note and args.duration >= 30:
                done = max(0, time.time_ns() - w0) / NS
                print(f'# {done:.0f} of {args.duration:g} s', flush=True)
                next_note += 30 * NS
            time.sleep(0.05)
        return w0, w1

    def drain(self, w1: int) -> None:
        """Wait for the masks of the window's last frames (at most 5 s)."""
        # the masks of the window's last frames are on their way: wait until every camera
        # has a mask of a later frame (per camera they come in order) or 5 s passed
        probe = self.probe
        drain = time.monotonic() + 5.0
        while time.monotonic() < drain and not all(probe.masks[c][-1][0] >= w1
                                                   for c in self.cams):
            self.check_alive()
            time.sleep(0.01)

    def stop_and_collect(self, w0: int, w1: int) -> Dict[str, Any]:
        """
        Stop the publishers, then the node; collect what they sent and what arrived.

        :returns: ``engine`` (the node's last engine diagnostics), ``sent`` (per camera,
            the stamps its publisher sent), ``node_exit_code``, ``masks``, ``overlays``
            (of frames in the window; None without --overlay) and ``counters``.
        :raises BenchError: a publisher did not stop cleanly.
        """
        probe, cams = self.probe, self.cams
        engine = dict(probe.engine)
        sent: Dict[str, np.ndarray] = {}
        for cam, pub in self.pubs.items():
            rc = pub.stop()
            path = self.logs / f'{cam}_sent.npy'
            if rc != 0 or not path.is_file():
                raise BenchError(f'{pub.name} did not stop cleanly (status {rc}); last lines of '
                                 f'{pub.logfile}:\n{pub.tail()}')
            sent[cam] = np.load(path)
        node_rc = self.node.stop()
        self.children.clear()
        masks = {c: list(probe.masks[c]) for c in cams}
        overlays = sum(sum(1 for s in set(probe.overlays[c]) if w0 <= s < w1) for c in cams) \
            if self.args.overlay else None
        return {'engine': engine, 'sent': sent, 'node_exit_code': node_rc, 'masks': masks,
                'overlays': overlays, 'counters': list(probe.counters)}

    def close(self) -> None:
        """Stop every process still running, close the probe, end the context, restore SIGTERM."""
        import rclpy
        for c in reversed(self.children):  # the publishers first, then the node
            c.stop()
        if self.probe is not None:
            self.probe.close()
        rclpy.try_shutdown(context=self.context)
        if self.in_main:
            signal.signal(signal.SIGTERM, self.old_term)

    def result(self, got: Dict[str, Any], w0: int, w1: int) -> Dict[str, Any]:
        """
        Summarise what :meth:`stop_and_collect` returned over the window ``[w0, w1)``.

        :raises BenchError: no mask of a frame sent in the window arrived.
        """
        summary = summarise(got['sent'], got['masks'], w0, w1, self.args.rate)
        if summary['received'] == 0:
            raise BenchError('no mask of a frame sent in the measured window arrived; last '
                             f'lines of the segment_node log:\n{self.node.tail()}')
        _node_drops(summary, got['counters'], w0, w1)
        return {'summary': summary, 'engine_diag': got['engine'], 'startup_s': self.startup_s,
                'node_exit_code': got['node_exit_code'], 'overlays': got['overlays']}


def _node_drops(summary: Dict[str, Any], counters: Sequence[Tuple[int, str, int, int]],
                w0: int, w1: int) -> None:
    """Add the node's own counts over the window (diagnostics nearest its edges)."""
    total_rx = total_drop = 0
    known = True
    for cam in summary['per_camera']:
        rows = [(t, rx, dr) for t, c, rx, dr in counters if c == cam['camera']]
        if not rows:
            known = False
            continue
        a = min(rows, key=lambda r: abs(r[0] - w0))
        b = min(rows, key=lambda r: abs(r[0] - w1))
        cam['node_received'] = b[1] - a[1]
        cam['node_dropped'] = b[2] - a[2]
        total_rx += cam['node_received']
        total_drop += cam['node_dropped']
    summary['node_received'] = total_rx if known else None
    summary['node_dropped'] = total_drop if known else None


# --------------------------------------------------------------------------- statistics
def _entry(sent: int, received: int, lat_ms: np.ndarray, first: np.ndarray, last: np.ndarray,
           seconds: float) -> Dict[str, Any]:
    p50, p99 = percentiles(lat_ms, (50.0, 99.0))
    f50, = percentiles(first, (50.0,))
    l50, = percentiles(last, (50.0,))
    e = {'sent': int(sent), 'received': int(received),
         'dropped_pct': 100.0 * (1.0 - received / sent) if sent else None,
         'latency_ms_p50': p50, 'latency_ms_p99': p99,
         'latency_ms_max': float(lat_ms.max()) if lat_ms.size else None,
         'latency_ms_mean': float(lat_ms.mean()) if lat_ms.size else None,
         'latency_p50_first_quarter_ms': f50, 'latency_p50_last_quarter_ms': l50,
         'mask_hz': received / seconds}
    e['latency_grows'] = bool(l50 > 1.2 * f50 and l50 - f50 > 1.0) \
        if first.size and last.size else None
    return {k: (None if not math.isfinite(v) else round(v, 3)) if isinstance(v, float) else v
            for k, v in e.items()}


def summarise(sent: Dict[str, np.ndarray], masks: Dict[str, Sequence[Tuple[int, int]]],
              w0: int, w1: int, rate_hz: float) -> Dict[str, Any]:
    """
    Count and time the frames stamped in the window ``[w0, w1)`` (nanoseconds).

    :param sent: per camera, the stamps (ns) of every frame its publisher sent.
    :param masks: per camera, ``(stamp ns, arrival ns)`` of every mask that arrived.
    :param rate_hz: the rate the publishers were asked for.
    :returns: totals over all cameras (``sent``, ``received``, ``dropped_pct``,
        ``latency_ms_*``, ``latency_p50_first/last_quarter_ms``, ``latency_grows``,
        ``achieved_hz_per_camera``, ``mask_hz_per_camera``) and ``per_camera``, a list
        of the same per camera with ``achieved_hz`` and ``send_jitter_ms_p99`` (how far
        the publisher's intervals strayed from 1 / rate).
    """
    seconds = (w1 - w0) / NS
    quarter = (w1 - w0) // 4
    per, lats, firsts, lasts = [], [], [], []
    for cam in sent:
        s = np.asarray(sent[cam], np.int64)
        s = np.sort(s[(s >= w0) & (s < w1)])
        in_window = set(s.tolist())
        got: Dict[int, int] = {}
        for stamp, t in masks.get(cam, ()):
            if stamp in in_window and stamp not in got:
                got[stamp] = t
        stamps = np.fromiter(got.keys(), np.int64, len(got))
        lat = (np.fromiter(got.values(), np.int64, len(got)) - stamps) / 1e6
        first, last = lat[stamps < w0 + quarter], lat[stamps >= w1 - quarter]
        e = {'camera': cam}
        e.update(_entry(s.size, len(got), lat, first, last, seconds))
        e['achieved_hz'] = round(s.size / seconds, 3)
        jitter = np.abs(np.diff(s) / 1e6 - 1000.0 / rate_hz)
        e['send_jitter_ms_p99'] = round(percentiles(jitter, (99.0,))[0], 3) \
            if jitter.size else None
        per.append(e)
        lats.append(lat)
        firsts.append(first)
        lasts.append(last)

    def cat(parts: List[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0)
    out = _entry(sum(e['sent'] for e in per), sum(e['received'] for e in per), cat(lats),
                 cat(firsts), cat(lasts), seconds)
    out['achieved_hz_per_camera'] = round(float(np.mean([e['achieved_hz'] for e in per])), 3) \
        if per else None
    out['mask_hz_per_camera'] = round(out.pop('mask_hz') / max(1, len(per)), 3)
    out['per_camera'] = per
    return out


def _fmt(v: Any, spec: str = '.1f') -> str:
    return '-' if v is None else format(v, spec)


def format_table(row: Dict[str, Any]) -> str:
    """Render a node row: a heading line and one line per camera plus the total."""
    head = ('camera', 'sent', 'received', 'dropped %', 'node dropped', 'sent Hz', 'mask Hz',
            'p50 ms', 'p99 ms', 'max ms', 'p50 1st 1/4', 'p50 last 1/4')
    lines = [head]
    entries = list(row['per_camera'])
    if len(entries) > 1:
        total = dict(row, camera='all', achieved_hz=row['achieved_hz_per_camera'],
                     mask_hz=row['mask_hz_per_camera'])
        entries.append(total)
    for e in entries:
        lines.append((
            e['camera'], str(e['sent']), str(e['received']), _fmt(e['dropped_pct'], '.2f'),
            _fmt(e.get('node_dropped'), 'd'), _fmt(e['achieved_hz'], '.2f'),
            _fmt(e['mask_hz'], '.2f'), _fmt(e['latency_ms_p50']), _fmt(e['latency_ms_p99']),
            _fmt(e['latency_ms_max']), _fmt(e['latency_p50_first_quarter_ms']),
            _fmt(e['latency_p50_last_quarter_ms'])))
    heading = [
        f'segment_node end to end: {row["cameras"]} camera(s) x {row["rate_hz"]:g} Hz, '
        f'{row["resolution"]} {row["encoding"]}, {row["device"]} {row["precision"]}, '
        f'network input {row["input_size"] or "?"}, overlay {"on" if row["overlay"] else "off"}, '
        f'{row["duration_s"]:g} s after {row["warmup_s"]:g} s warm-up (ready after '
        f'{row["startup_s"]:.1f} s)',
        f'model: {row["model"] or "?"}; node inference p50 '
        f'{_fmt(row["node_inference_ms_p50"])} ms, mean batch '
        f'{_fmt(row["node_mean_batch_size"], ".2f")}; latency = mask arrival - camera stamp; '
        f'latency grows: {row["latency_grows"]}', '']
    return '\n'.join(heading) + '\n' + text_table(lines)


if __name__ == '__main__':
    sys.exit(main())
