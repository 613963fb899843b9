# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
``make demo``: segment a synthetic drive with segment_node over ROS 2 and record it.

Steps (each failure names its step and exits non-zero):

1. render (or reuse) a synthetic drive around a track (training.synthetic);
2. start segment_node from the colcon install space with the packaged checkpoint;
3. warm up: stream ``--warmup`` s of the drive through the node, not recorded (the
   first frames meet a node that is still allocating and a recorder still
   subscribing), then start camera_replay streaming the drive at the given rate;
4. record the node's outputs over ROS (a real subscriber) for ``--duration`` s,
   then stop both processes cleanly;
5. write the overlay video, a contact sheet and summary.json into ``--out``.

The previous run's results in ``--out`` (summary.json, contact_sheet.png,
overlay.mp4, logs/, FAILED.txt) are removed first, so a failed run never leaves
them looking like its own; a failed run writes ``FAILED.txt`` saying which step
failed and why.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # eunet_ros of this checkout (the demo runs before sourcing)

from eunet_ros.ros.spin import SpinningNode  # noqa: E402
from eunet_ros.ros.stats import percentiles  # noqa: E402
from eunet_ros.tools.child_process import ChildExited, ChildProcess  # noqa: E402
import numpy as np  # noqa: E402


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and why."""


def log(msg: str) -> None:
    """Print a progress line of the demo."""
    print(f'[demo] {msg}', flush=True)


def get_args_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--out', type=Path, default=ROOT / 'demo_out', help='output folder')
    p.add_argument('--ws', type=Path, default=ROOT / '.ws', help='colcon workspace (built)')
    p.add_argument('--cache', type=Path, default=ROOT / '.cache' / 'demo',
                   help='where the rendered drive is kept for the next run')
    p.add_argument('--width', type=int, default=1280)
    p.add_argument('--height', type=int, default=720)
    p.add_argument('--fps', type=float, default=30.0, help='camera rate (Hz)')
    p.add_argument('--drive-seconds', type=float, default=20.0,
                   help='length of the rendered drive (it loops)')
    p.add_argument('--duration', type=float, default=20.0, help='seconds to record')
    p.add_argument('--warmup', type=float, default=3.0,
                   help='seconds of the drive streamed through the node before recording '
                        '(not counted; 0: none)')
    p.add_argument('--seed', type=int, default=2026, help='track of the drive')
    p.add_argument('--checkpoint', default='', help="'' = the packaged model")
    p.add_argument('--device', default='auto', help='auto, cpu, cuda, cuda:N')
    p.add_argument('--sheet-frames', type=int, default=4, help='rows of the contact sheet')
    return p


# The files a run writes into --out; removed at the start of the next run.
OUTPUTS = ('summary.json', 'contact_sheet.png', 'overlay.mp4', 'FAILED.txt')


def clear_previous(out: Path) -> List[str]:
    """Remove the previous run's results from ``out`` (only those); return their names."""
    import shutil
    gone = []
    for name in OUTPUTS:
        if (out / name).is_file():
            (out / name).unlink()
            gone.append(name)
    if (out / 'logs').is_dir():
        shutil.rmtree(out / 'logs')
        gone.append('logs/')
    return gone


# --------------------------------------------------------------------------- steps
def drive_video(args: argparse.Namespace) -> Path:
    """Return where the drive of these options is kept (``--cache``/drive_WxH_....mp4)."""
    from training.synthetic.samples import GENERATOR_VERSION  # a new renderer: a new drive
    return args.cache / (f'drive_{args.width}x{args.height}_{args.fps:g}fps_'
                         f'{args.drive_seconds:g}s_seed{args.seed}_v{GENERATOR_VERSION}.mp4')


def render_drive(args: argparse.Namespace) -> Path:
    """Step 1: render the drive video, or reuse the one rendered before."""
    video = drive_video(args)
    if video.exists() and video.stat().st_size > 0:
        log(f'step 1/5: reusing the rendered drive {video}')
        return video
    log(f'step 1/5: rendering a {args.drive_seconds:g} s drive at {args.width}x{args.height} '
        f'{args.fps:g} fps -> {video}')
    args.cache.mkdir(parents=True, exist_ok=True)
    tmp = video.with_name('.tmp_' + video.name)
    cmd = [sys.executable, '-m', 'training.synthetic', '--video', str(tmp),
           '--width', str(args.width), '--height', str(args.height), '--fps', f'{args.fps:g}',
           '--drive-seconds', f'{args.drive_seconds:g}', '--seed', str(args.seed),
           # edges without supersampling: 0.4 instead of 1 s of CPU per 1280x720 frame,
           # so a first make demo renders its 600 frames in minutes
           '--supersample', '1']
    r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode != 0 or not tmp.exists():
        raise DemoError('rendering the drive failed:\n' + r.stdout[-2000:])
    os.replace(tmp, video)
    return video


def ros_env(ws: Path) -> Dict[str, str]:
    """Environment of the install space (what `source install/local_setup.bash` gives)."""
    setup = ws / 'install' / 'local_setup.bash'
    if not setup.exists():
        raise DemoError(f'{setup} is missing: build first (make build)')
    out = subprocess.run(['bash', '-c', f'source "{setup}" >/dev/null && env -0'],
                         stdout=subprocess.PIPE, check=True).stdout
    env = dict(kv.split('=', 1) for kv in out.decode().split('\0') if '=' in kv)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(100, 200)))
    env['PYTHONUNBUFFERED'] = '1'
    return env


def install_prefix(ws: Path) -> Path:
    """Return the install prefix of eunet_ros (isolated or merged colcon layout)."""
    for prefix in (ws / 'install' / 'eunet_ros', ws / 'install'):
        if (prefix / 'share' / 'eunet_ros' / 'package.xml').exists():
            return prefix
    raise DemoError(f'eunet_ros is not installed under {ws / "install"} (make build)')


def executable(ws: Path, name: str) -> Path:
    """Path of a console script of eunet_ros in the install space (as `ros2 run` finds it)."""
    exe = install_prefix(ws) / 'lib' / 'eunet_ros' / name
    if not exe.exists():
        raise DemoError(f'{exe} is missing: the install space has no {name} (make build)')
    return exe


# --------------------------------------------------------------------------- recorder
class Recorder(SpinningNode):
    """An rclpy node that records masks, overlays, input frames and diagnostics."""

    def __init__(self, out: Path, fps: float) -> None:
        from rclpy.qos import (DurabilityPolicy, qos_profile_sensor_data, QoSProfile,
                               ReliabilityPolicy)
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
        super().__init__('eunet_demo_recorder')
        self.out = out
        self.fps = fps
        self.lock = threading.Lock()
        self.recording = False
        self.images: Dict[Tuple[int, int], np.ndarray] = {}
        self.image_order: List[Tuple[int, int]] = []
        self.masks = 0
        self.overlays = 0
        self.latencies_ms: List[float] = []
        self.samples: List[Tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.sample_stamps: List[Tuple[int, int]] = []
        self._pending_mask: Optional[Tuple[Tuple[int, int], np.ndarray]] = None
        self.writer = None
        self.video_path = out / 'overlay.mp4'
        self.class_table: Optional[dict] = None
        self.diagnostics: Dict[str, Dict[str, str]] = {}
        self.first_t: Optional[float] = None
        self.last_t: Optional[float] = None
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        n = self.node
        n.create_subscription(Image, 'camera/image', self._on_image, qos_profile_sensor_data)
        n.create_subscription(Image, 'camera/mask', self._on_mask, 10)
        n.create_subscription(Image, 'camera/overlay', self._on_overlay, 10)
        n.create_subscription(String, '/segment_node/class_table', self._on_table, latched)
        n.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)

    @staticmethod
    def _to_array(msg) -> np.ndarray:
        ch = {'mono8': 1, 'bgr8': 3, 'rgb8': 3}[msg.encoding]
        a = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)
        a = a[:, :msg.width * ch].reshape(msg.height, msg.width, ch)
        if msg.encoding == 'rgb8':
            a = a[..., ::-1]
        return a[..., 0] if ch == 1 else np.ascontiguousarray(a)

    @staticmethod
    def _key(msg) -> Tuple[int, int]:
        return msg.header.stamp.sec, msg.header.stamp.nanosec

    def _on_image(self, msg) -> None:
        with self.lock:
            if not self.recording:
                return
            k = self._key(msg)
            self.images[k] = self._to_array(msg)
            self.image_order.append(k)
            while len(self.image_order) > 120:
                self.images.pop(self.image_order.pop(0), None)

    def _on_mask(self, msg) -> None:
        now = self.node.get_clock().now().nanoseconds
        with self.lock:
            if not self.recording:
                return
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            self.latencies_ms.append((now - stamp) / 1e6)
            self.masks += 1
            t = time.monotonic()
            self.first_t = self.first_t or t
            self.last_t = t
            self._pending_mask = (self._key(msg), self._to_array(msg))

    def _on_overlay(self, msg) -> None:
        import cv2
        with self.lock:
            if not self.recording:
                return
            ov = self._to_array(msg)
            self.overlays += 1
            if self.writer is None:
                fourcc = cv2.VideoWriter_fourcc(*'mp4v')
                self.writer = cv2.VideoWriter(str(self.video_path), fourcc, self.fps,
                                              (ov.shape[1], ov.shape[0]))
            if self.writer.isOpened():
                self.writer.write(ov)
            k = self._key(msg)
            pending = self._pending_mask
            if pending is not None and pending[0] == k and k in self.images:
                self.samples.append((self.images[k], pending[1], ov))
                self.sample_stamps.append(k)
                if len(self.samples) > 400:  # keep memory bounded: thin out evenly
                    self.samples = self.samples[::2]
                    self.sample_stamps = self.sample_stamps[::2]

    def _on_table(self, msg) -> None:
        try:
            self.class_table = json.loads(msg.data)
        except ValueError:
            self.class_table = None

    def _on_diag(self, msg) -> None:
        for st in msg.status:
            with self.lock:
                lvl = st.level[0] if isinstance(st.level, (bytes, bytearray)) else st.level
                self.diagnostics[st.name] = dict(
                    {kv.key: kv.value for kv in st.values}, level=str(int(lvl)),
                    message=st.message)

    def close(self, timeout: Optional[float] = 5.0) -> None:
        """Stop spinning and release the video writer (again: no-op)."""
        with self.lock:
            self.recording = False
            if self.writer is not None:
                self.writer.release()
                self.writer = None
        super().close(timeout)


def contact_sheet(samples, rows: int, palette: Dict[int, Tuple[int, int, int]]) -> np.ndarray:
    """Return a bgr8 image: ``rows`` evenly spaced frames as image | mask | overlay."""
    import cv2
    if not samples:
        raise DemoError('no frame had its image, mask and overlay recorded together')
    idx = np.linspace(0, len(samples) - 1, min(rows, len(samples))).round().astype(int)
    lut = np.zeros((256, 3), np.uint8)
    for cid, rgb in palette.items():
        lut[cid] = rgb[::-1]
    tiles = []
    for i in idx:
        img, mask, ov = samples[i]
        h, w = img.shape[:2]
        scale = 480.0 / w
        size = (480, int(round(h * scale)))
        row = [cv2.resize(img, size, interpolation=cv2.INTER_AREA),
               cv2.resize(lut[mask], size, interpolation=cv2.INTER_NEAREST),
               cv2.resize(ov, size, interpolation=cv2.INTER_AREA)]
        tiles.append(np.concatenate(row, axis=1))
    sheet = np.concatenate(tiles, axis=0)
    header = np.full((36, sheet.shape[1], 3), 255, np.uint8)
    for j, text in enumerate(('camera image', 'class mask', 'overlay')):
        cv2.putText(header, text, (j * 480 + 10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                    (0, 0, 0), 2, cv2.LINE_AA)
    return np.concatenate([header, sheet], axis=0)


def legend(sheet: np.ndarray, palette: Dict[int, Tuple[int, int, int]],
           names: Dict[int, str]) -> np.ndarray:
    """Append a legend strip of the class colours to the contact sheet."""
    import cv2
    strip = np.full((40, sheet.shape[1], 3), 255, np.uint8)
    x = 10
    for cid in sorted(palette):
        rgb = palette[cid]
        cv2.rectangle(strip, (x, 10), (x + 20, 30), tuple(int(c) for c in rgb[::-1]), -1)
        cv2.rectangle(strip, (x, 10), (x + 20, 30), (0, 0, 0), 1)
        label = names.get(cid, str(cid))
        cv2.putText(strip, label, (x + 26, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
        x += 34 + 9 * len(label)
    return np.concatenate([sheet, strip], axis=0)


# --------------------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict:
    """Run all steps; return the summary."""
    import cv2  # noqa: F401  (step 5 writes with it: fail before anything starts)
    args.out.mkdir(parents=True, exist_ok=True)
    gone = clear_previous(args.out)
    if gone:
        log(f'removed the previous run\'s {", ".join(gone)} from {args.out}')
    video = render_drive(args)
    demo = Demo(args)  # checks the install space; rclpy.init
    try:
        demo.start_node()
        demo.wait_for_node()
        demo.warm_up(video)
        demo.start_replay(video)
        diag = demo.record()
        demo.stop_cleanly()
        return demo.write_outputs(diag)
    finally:
        demo.close()


class Demo:
    """
    Steps 2 to 5 of the demo, with the processes and the recorder they share.

    Creating it takes the environment of the install space and initialises rclpy;
    :meth:`close` (in a ``finally``) stops every process still running, closes the
    recorder and shuts rclpy down.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.env = ros_env(args.ws)
        os.environ.update({k: self.env[k]
                           for k in ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_DOMAIN_ID')})
        self.logs = args.out / 'logs'
        self.logs.mkdir(exist_ok=True)
        self.config = install_prefix(args.ws) / 'share' / 'eunet_ros' / 'config' / 'default.yaml'
        if not self.config.exists():
            raise DemoError(f'{self.config} is missing from the install space (make build)')
        self.children: List[ChildProcess] = []
        self.recorder: Optional[Recorder] = None
        self.node: Optional[ChildProcess] = None
        self.replay: Optional[ChildProcess] = None
        self.n_frames = 0
        import rclpy
        rclpy.init()

    def start_node(self) -> None:
        """Step 2: start segment_node from the install space."""
        args = self.args
        node_exe = executable(args.ws, 'segment_node')
        log(f'step 2/5: starting segment_node from the install space ({node_exe})')
        node_cmd = [str(node_exe), '--ros-args',
                    '--params-file', str(self.config), '-p', f'device:={args.device}']
        if args.checkpoint:
            node_cmd += ['-p', f'checkpoint:={args.checkpoint}']
        self.node = ChildProcess('segment_node', node_cmd, env=self.env, cwd=ROOT,
                                 new_session=True, logfile=self.logs / 'segment_node.log')
        self.children.append(self.node)

    def wait_for_node(self) -> None:
        """Start the recorder; wait (120 s at most) for the node's class table."""
        self.recorder = recorder = Recorder(self.args.out, self.args.fps)
        deadline = time.monotonic() + 120
        while recorder.class_table is None:
            self.node.check_alive()
            if time.monotonic() > deadline:
                raise DemoError('segment_node did not publish its class table within 120 s; '
                                f'log:\n{self.node.tail()}')
            time.sleep(0.2)
        log(f'         segment_node is up: checkpoint {recorder.class_table.get("checkpoint")}')

    def replay_cmd(self, video: Path, frames: int) -> List[str]:
        """Return camera_replay's command: ``frames`` frames of ``video``, then exit."""
        args = self.args
        # max_frames: camera_replay exits by itself after exactly that many frames, so
        # the count of frames sent is known; it holds the first frame until the node and
        # the recorder are both subscribed.
        return [str(executable(args.ws, 'camera_replay')), '--ros-args',
                '-p', f'source:={video}', '-p', f'rate:={float(args.fps)!r}', '-p', 'loop:=true',
                '-p', f'max_frames:={frames}', '-p', 'wait_for_subscribers:=2',
                '-p', 'topic:=camera/image', '-p', 'frame_id:=camera']

    def warm_up(self, video: Path) -> None:
        """Step 3a: stream ``--warmup`` s of the drive through the node, not recorded."""
        args = self.args
        frames = int(round(args.warmup * args.fps))
        if frames <= 0:
            return
        log(f'step 3/5: warming up: {frames} frames ({args.warmup:g} s) through the node, '
            'not recorded')
        warm = ChildProcess('camera_replay (warm-up)', self.replay_cmd(video, frames),
                            env=self.env, cwd=ROOT, new_session=True,
                            logfile=self.logs / 'camera_replay_warmup.log')
        self.children.append(warm)
        self.wait_for(warm, args.warmup + 60, f'the warm-up camera_replay did not finish '
                      f'{frames} frames in time')
        self.children.remove(warm)
        time.sleep(1.0)  # masks of the last warm-up frames still on their way

    def wait_for(self, replay: ChildProcess, seconds: float, late: str) -> None:
        """Wait until ``replay`` exits while the node stays alive; fail after ``seconds``."""
        deadline = time.monotonic() + seconds
        while replay.proc.poll() is None:
            self.node.check_alive()
            if time.monotonic() > deadline:
                raise DemoError(f'{late}; log:\n{replay.tail()}')
            time.sleep(0.2)
        if replay.proc.returncode != 0:
            replay.check_alive()

    def start_replay(self, video: Path) -> None:
        """Step 3: start recording and camera_replay streaming ``video``."""
        args = self.args
        self.n_frames = n_frames = max(1, int(round(args.duration * args.fps)))
        log(f'step 3/5: camera_replay streams {video.name} at {args.fps:g} Hz '
            f'({n_frames} frames)')
        with self.recorder.lock:
            self.recorder.recording = True
        self.replay = ChildProcess('camera_replay', self.replay_cmd(video, n_frames),
                                   env=self.env, cwd=ROOT, new_session=True,
                                   logfile=self.logs / 'camera_replay.log')
        self.children.append(self.replay)

    def record(self) -> Dict[str, Dict[str, str]]:
        """Step 4: record until camera_replay has sent its frames; return the diagnostics."""
        args, node, replay, recorder = self.args, self.node, self.replay, self.recorder
        log(f'step 4/5: recording the node outputs for {args.duration:g} s')
        self.wait_for(replay, args.duration + 60,
                      f'camera_replay did not finish {self.n_frames} frames in time')
        time.sleep(1.5)  # masks of the last frames still on their way
        with recorder.lock:
            recorder.recording = False
        if recorder.masks == 0:
            raise DemoError('no mask arrived from segment_node; its log:\n' + node.tail())
        return dict(recorder.diagnostics)

    def stop_cleanly(self) -> None:
        """Stop camera_replay, then segment_node, as Ctrl-C does; fail unless both exit cleanly."""
        codes = {}
        for c in reversed(self.children):
            codes[c.name] = c.stop()
        self.children.clear()
        bad = {k: v for k, v in codes.items() if v not in (0, -signal.SIGINT, 130)}
        if bad:
            raise DemoError(f'processes did not stop cleanly on Ctrl-C: {bad} (see {self.logs})')
        log('         segment_node and camera_replay stopped cleanly')

    def write_outputs(self, diag: Dict[str, Dict[str, str]]) -> dict:
        """Step 5: write the contact sheet and summary.json (the video is written); return it."""
        args = self.args
        log(f'step 5/5: writing {args.out}')
        self.recorder.close()
        sheet_path = self.write_contact_sheet()
        summary = self.summary(diag, sheet_path)
        tmp = args.out / '.summary.json.tmp'
        tmp.write_text(json.dumps(summary, indent=2))
        os.replace(tmp, args.out / 'summary.json')
        return summary

    def write_contact_sheet(self) -> Path:
        """Write the contact sheet with the legend of the node's classes; return its path."""
        import cv2
        table = self.recorder.class_table or {}
        palette = {c['id']: tuple(c['color_rgb']) for c in table.get('classes', [])}
        names = {c['id']: c['name'] for c in table.get('classes', [])}
        sheet = legend(contact_sheet(self.recorder.samples, self.args.sheet_frames, palette),
                       palette, names)
        sheet_path = self.args.out / 'contact_sheet.png'
        if not cv2.imwrite(str(sheet_path), sheet):
            raise DemoError(f'cannot write {sheet_path}')
        return sheet_path

    def summary(self, diag: Dict[str, Dict[str, str]], sheet_path: Path) -> dict:
        """Return the summary of the run (what summary.json holds)."""
        args, recorder = self.args, self.recorder
        table = recorder.class_table or {}
        elapsed = (recorder.last_t - recorder.first_t) if recorder.first_t else 0.0
        cam_diag = next((v for k, v in diag.items() if 'camera' in k), {})
        sent = self.n_frames
        received = recorder.masks
        p50, p99 = percentiles(recorder.latencies_ms)  # one per mask: not empty (checked)
        return {
            'frames_sent': sent,
            'frames_received': received,
            'frames_dropped': max(0, sent - received),
            'drop_rate': round(max(0, sent - received) / sent, 4) if sent else None,
            'latency_ms_p50': p50,
            'latency_ms_p99': p99,
            'throughput_fps': round(received / elapsed, 2) if elapsed > 0 else None,
            'camera_rate_hz': args.fps,
            'resolution': f'{args.width}x{args.height}',
            'recorded_seconds': args.duration,
            'warmup_seconds': args.warmup,
            'device': cam_diag.get('device') or next(
                (v.get('device') for v in diag.values() if v.get('device')), None),
            'checkpoint': table.get('checkpoint'),
            'node_diagnostics': diag,
            'files': {'overlay_video': str(recorder.video_path.relative_to(args.out.parent))
                      if recorder.overlays else None,
                      'contact_sheet': str(sheet_path.relative_to(args.out.parent)),
                      'logs': str(self.logs.relative_to(args.out.parent))},
            'notes': 'frames_sent: frames camera_replay published (max_frames); '
                     'latency: from the camera header stamp to the mask arriving at the '
                     'recorder, through DDS both ways; dropped frames are those the node '
                     'replaced with a newer one while busy (it never queues).',
        }

    def close(self) -> None:
        """Stop every process still running, close the recorder, shut rclpy down."""
        import rclpy
        for c in self.children:
            c.stop()
        if self.recorder is not None:
            self.recorder.close()
        rclpy.try_shutdown()


def _write_failed(out: Path, why: str) -> None:
    """Leave FAILED.txt in ``out``: when and why this run failed (it has no results)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime('%Y-%m-%d %H:%M:%S')
        (out / 'FAILED.txt').write_text(f'make demo failed at {stamp}:\n{why}\n')
    except OSError:
        pass


def main(argv: Optional[List[str]] = None) -> int:
    """Run the demo; print a summary; return the exit status."""
    args = get_args_parser().parse_args(argv)
    try:
        s = run(args)
    except (DemoError, ChildExited) as e:
        print(f'[demo] FAILED: {e}', file=sys.stderr)
        _write_failed(args.out, str(e))
        return 1
    except KeyboardInterrupt:
        print('[demo] interrupted', file=sys.stderr)
        _write_failed(args.out, 'interrupted (Ctrl-C)')
        return 130
    p50, p99 = s['latency_ms_p50'], s['latency_ms_p99']
    log('done.')
    print(f'  device        {s["device"]}   checkpoint {s["checkpoint"]}')
    print(f'  frames        sent {s["frames_sent"]}, segmented {s["frames_received"]}, '
          f'dropped {s["frames_dropped"]} (newest-frame policy: the node never queues)')
    print(f'  throughput    {s["throughput_fps"]} masks/s at {s["resolution"]}, camera at '
          f'{s["camera_rate_hz"]:g} Hz')
    print(f'  latency       p50 {p50:.1f} ms, p99 {p99:.1f} ms (camera stamp -> mask)')
    print(f'  files         {args.out}/overlay.mp4, {args.out}/contact_sheet.png, '
          f'{args.out}/summary.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
