# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
DDS faults of issue 14 over real rclpy and DDS: the node must ride them out.

A camera process SIGKILLed and restarted, one of four cameras going silent, the
mask subscriber gone and back, ``/clock`` jumping back under ``use_sim_time`` (a
looped bag), ``~/enable`` toggled 100 times while frames flow, and ``respawn`` in
the launch file. Small frames and the palette engine keep it quick; every wait is
on a condition with a generous timeout, because the tests run beside a training run.
"""

import ast
import os
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from eunet_ros.ros.spin import SpinningNode
import node_harness as H
import pytest
import rclpy
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from std_srvs.srv import SetBool

ROOT = Path(__file__).resolve().parent.parent
FRAME = H.bands(48, 64)


@pytest.fixture
def ros():
    # one context per test: a fault left behind (a dead publisher, a silent camera) must
    # not load the executor of the next test
    r = H.Ros()
    yield r
    r.close()


def _kv(status):
    return {k.key: k.value for k in status.values}


def camera_status(diags, node_name, camera):
    """Return the newest (status, values) of one camera of one node, or (None, {})."""
    for d in reversed(list(diags)):
        for s in d.status:
            if s.name == f'{node_name}: camera {camera}':
                return s, _kv(s)
    return None, {}


def timed_collect(ros, topic):
    """Subscribe best effort; return a list of (wall receive time, message)."""
    got = []
    ros.probe.create_subscription(Image, topic, lambda m: got.append((time.time(), m)),
                                  qos_profile_sensor_data)
    return got


class Feeder:
    """Publish a frame to each active camera every ``period`` s from a thread."""

    def __init__(self, ros, topics, period=0.1, stamp=None):
        self.pubs = {t: ros.probe.create_publisher(Image, t, qos_profile_sensor_data)
                     for t in topics}
        self.active = set(topics)
        self.period = period
        self.stamp = stamp or (lambda: _stamp(time.time()))
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        next_t = time.monotonic()
        while not self._stop.is_set():
            msg = H.image(FRAME, stamp=self.stamp())
            for t in list(self.active):
                self.pubs[t].publish(msg)
            self.sent += 1
            next_t += self.period
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    def stop(self):
        self._stop.set()
        self._thread.join(5)


def _stamp(t):
    return divmod(int(round(t * 1e9)), 1_000_000_000)


def _seconds(stamp):
    return stamp.sec + stamp.nanosec * 1e-9


# ------------------------------------------------------------------ 1: camera process killed
CAMERA = textwrap.dedent("""
    import time
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    rclpy.init()
    node = rclpy.create_node('fault_camera')
    pub = node.create_publisher(Image, {topic!r}, qos_profile_sensor_data)
    while pub.get_subscription_count() < 1:   # like camera_replay's wait_for_subscribers
        time.sleep(0.01)
    msg = Image(height=48, width=64, encoding='bgr8', step=64 * 3, data=bytes({frame!r}))
    first = True
    while True:
        t = time.time()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(t * 1e9), 1000000000)
        pub.publish(msg)
        if first:
            print('FIRST', repr(t), flush=True)
            first = False
        time.sleep(0.05)
""")


def start_camera(topic, log_path):
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    log = open(log_path, 'w')
    proc = subprocess.Popen([sys.executable, '-c', CAMERA.format(
        topic=topic, frame=FRAME.tobytes())], cwd=ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT)
    log.close()
    proc.log_path = log_path
    return proc


def first_stamp(proc):
    """Return the wall time of the child's first frame once it has printed it, else None."""
    text = Path(proc.log_path).read_text()
    assert proc.poll() is None, f'the camera process exited:\n{text}'
    for line in text.splitlines():
        if line.startswith('FIRST '):
            return float(line.split()[1])
    return None


def test_a_killed_camera_process_is_served_again_within_1_s_of_its_first_frame(ros, tmp_path):
    topic = '/kill/camera/image'
    node = ros.segment_node('/kill', engine=H.palette_engine(), diagnostics_period=0.2,
                            no_frames_warning_s=0.5, camera_topic=topic)
    masks = timed_collect(ros, '/kill/camera/mask')
    diags, _ = ros.collect(DiagnosticArray, '/diagnostics', 50)
    name = node.get_name()
    cams = []
    try:
        cams.append(start_camera(topic, tmp_path / 'camera1.log'))
        H.wait_for(lambda: first_stamp(cams[0]) is not None and len(masks) >= 5, timeout=60,
                   what='masks of the first camera process')
        cams[0].send_signal(signal.SIGKILL)
        cams[0].wait(10)
        killed = time.time()

        def silent_warn():
            s, _ = camera_status(diags, name, 'camera')
            return s is not None and s.level == DiagnosticStatus.WARN and 'no frames' in s.message
        H.wait_for(silent_warn, timeout=30, what='WARN "no frames" after the kill')
        s, kv = camera_status(diags, name, 'camera')
        assert s.message.startswith(f'no frames on {topic}'), s.message

        cams.append(start_camera(topic, tmp_path / 'camera2.log'))
        H.wait_for(lambda: first_stamp(cams[1]) is not None, timeout=60,
                   what='the restarted camera process to publish')
        t_first = first_stamp(cams[1])
        assert t_first > killed

        def served():
            return [(r, m) for r, m in list(masks) if _seconds(m.header.stamp) >= t_first - 1e-6]
        H.wait_for(served, timeout=30, what='a mask of the restarted camera')
        received, msg = served()[0]
        recovery = received - t_first
        print(f'\nrecovery after the camera restart: {recovery * 1e3:.0f} ms from its first '
              f'frame (that mask: {(received - _seconds(msg.header.stamp)) * 1e3:.0f} ms after '
              'its own frame)')
        assert recovery < 1.0, f'served again {recovery:.2f} s after the first frame'
        H.wait_for(lambda: camera_status(diags, name, 'camera')[0].level == DiagnosticStatus.OK,
                   timeout=30, what='the camera OK again')
    finally:
        for p in cams:
            if p.poll() is None:
                p.kill()
                p.wait(10)


# ------------------------------------------------------------------ 2: one camera of four silent
def test_one_of_four_cameras_going_silent_leaves_the_others_their_rate(ros):
    cams = ['c0', 'c1', 'c2', 'c3']
    node = ros.segment_node('/four', engine=H.palette_engine(), cameras=cams,
                            no_frames_warning_s=0.5, diagnostics_period=0.2)
    masks = {c: timed_collect(ros, f'/four/{c}/mask') for c in cams}
    feeder = Feeder(ros, [f'/four/{c}/image' for c in cams], period=0.1)
    try:
        H.wait_for(lambda: all(len(masks[c]) >= 3 for c in cams), timeout=60,
                   what='masks of all four cameras')

        def rates(window):
            before = {c: len(masks[c]) for c in cams}
            t0 = time.monotonic()
            time.sleep(window)
            dt = time.monotonic() - t0
            return {c: (len(masks[c]) - before[c]) / dt for c in cams}
        before = rates(3.0)
        feeder.active.discard('/four/c3/image')
        H.wait_for(lambda: node.camera_stats('c3').totals()['received'] ==
                   node.camera_stats('c3').totals()['processed']
                   + node.camera_stats('c3').totals()['dropped'], timeout=10,
                   what='c3 settled')
        after = rates(3.0)
        print(f'\nmask rates (Hz) before {before}, after c3 went silent {after}')
        assert after['c3'] < 0.5, after  # at most a mask that was on its way
        for c in cams[:3]:
            assert before[c] >= 1.0, before  # 10 Hz sent; slower under a training run
            assert after[c] >= 0.7 * before[c], (c, before, after)
    finally:
        feeder.stop()


# ------------------------------------------------------------------ 3: mask subscriber gone, back
def test_the_mask_subscriber_gone_and_back_gets_masks_again(ros):
    node = ros.segment_node('/sub', engine=H.palette_engine())
    feeder = Feeder(ros, ['/sub/camera/image'], period=0.1)

    def subscriber(name):
        # its own executor: closing it stops its spinning before the node is destroyed
        # (destroying a node that another thread's executor still waits on races)
        spinning = SpinningNode(name, context=ros.ctx)
        got = []
        spinning.node.create_subscription(Image, '/sub/camera/mask', got.append,
                                          qos_profile_sensor_data)
        listeners.append(spinning)
        return spinning, got
    listeners = []
    try:
        first, got1 = subscriber('mask_listener_1')
        H.wait_for(lambda: len(got1) >= 3, timeout=60, what='masks at the first subscriber')
        first.close()
        mask_pub = node._cams['camera'].mask_pub
        H.wait_for(lambda: mask_pub.get_subscription_count() == 0, timeout=30,
                   what='the node to see the subscriber gone')
        processed = node.camera_stats('camera').totals()['processed']
        H.wait_for(lambda: node.camera_stats('camera').totals()['processed'] >= processed + 5,
                   timeout=30, what='the node to go on without a subscriber')
        t0 = time.monotonic()
        second, got2 = subscriber('mask_listener_2')
        H.wait_for(lambda: got2, timeout=60, what='a mask at the new subscriber')
        print(f'\nfirst mask at the new subscriber {(time.monotonic() - t0) * 1e3:.0f} ms after '
              'it was created')
        H.wait_for(lambda: len(got2) >= 3, timeout=60, what='masks at the new subscriber')
        assert node._worker.is_alive() and rclpy.ok(context=ros.ctx)
        H.check_bands(H.as_array(got2[-1]))
    finally:
        feeder.stop()
        for spinning in listeners:
            spinning.close()


# ------------------------------------------------------------------ 4: clock jumps back
def test_sim_time_clock_jumping_back_resets_latencies_and_never_goes_negative(ros):
    node = ros.segment_node('/sim', engine=H.palette_engine(), diagnostics_period=0.2,
                            no_frames_warning_s=0.0, use_sim_time=True)
    name = node.get_name()
    clock_pub = ros.probe.create_publisher(Clock, '/clock', 10)
    diags, _ = ros.collect(DiagnosticArray, '/diagnostics', 50)
    masks = timed_collect(ros, '/sim/camera/mask')
    state = {'t': 1000.0, 'lag': 2.0}  # the bag's clock, and how old its frames are
    lock = threading.Lock()
    stop = threading.Event()

    def run_clock():
        while not stop.is_set():
            with lock:
                state['t'] += 0.02
                t = state['t']
            clock_pub.publish(Clock(clock=_msg_time(t)))
            stop.wait(0.02)
    clock = threading.Thread(target=run_clock, daemon=True)
    clock.start()

    def bag_stamp():
        with lock:
            return _stamp(state['t'] - state['lag'])
    feeder = Feeder(ros, ['/sim/camera/image'], period=0.05, stamp=bag_stamp)
    window = node.camera_stats('camera').stamp_latency

    def status(cond):
        s, kv = camera_status(diags, name, 'camera')
        return s is not None and kv.get('latency_stamp_p99_ms', '-') != '-' and cond(kv)
    try:
        # before the jump: frames 2 s old on the bag's clock
        H.wait_for(lambda: status(lambda kv: 1500 < float(kv['latency_stamp_p50_ms']) < 10000),
                   timeout=60, what='stamp latencies of about 2 s')
        before_jump = len(diags)
        # the bag loops: /clock jumps back 900 s while the frames of the end of the loop
        # (stamped before the jump: far ahead of the clock now) are still on their way
        with lock:
            late = _stamp(state['t'] - 0.5)
            state['t'] -= 900.0
            state['lag'] = 0.05
        stamped_ahead = node.camera_stats('camera').totals()['stamped_ahead']
        H.publish_until(feeder.pubs['/sim/camera/image'], H.image(FRAME, stamp=late),
                        lambda: node.camera_stats('camera').totals()['stamped_ahead']
                        > stamped_ahead, timeout=30, what='a late frame processed', period=0.1)
        jumped = time.monotonic()
        # the latencies start again on the new timeline instead of keeping the 2 s ones
        # for their 10 s window, and the late frames are not negative latencies
        H.wait_for(lambda: status(lambda kv: kv['latency_stamp_resets'] == '1'
                                  and float(kv['latency_stamp_p99_ms']) < 1500),
                   timeout=30, what='the stamp latencies to reset after the jump')
        print(f'\nstamp latencies reset; diagnostics show the new timeline '
              f'{(time.monotonic() - jumped) * 1e3:.0f} ms after the late frames')
        assert all(v >= 0 for _, v in list(window._samples))
        values = [_kv(s) for d in list(diags)[before_jump:] for s in d.status
                  if s.name == f'{name}: camera camera']
        for kv in values:
            for k in ('latency_stamp_p50_ms', 'latency_stamp_p99_ms'):
                assert kv[k] == '-' or float(kv[k]) >= 0, (k, kv[k])
        assert int(values[-1]['frames_stamped_ahead']) >= 1
        # no deadlock: frames are answered and the service responds
        n = len(masks)
        H.wait_for(lambda: len(masks) >= n + 5, timeout=30, what='masks after the jump')
        assert ros.call(SetBool, '/sim/segment_node/enable', SetBool.Request(data=False)).success
        assert ros.call(SetBool, '/sim/segment_node/enable', SetBool.Request(data=True)).success
        n = len(masks)
        H.wait_for(lambda: len(masks) >= n + 3, timeout=30, what='masks after re-enabling')
        assert node._worker.is_alive()
    finally:
        feeder.stop()
        stop.set()
        clock.join(5)


def _msg_time(t):
    from builtin_interfaces.msg import Time
    sec, nsec = _stamp(t)
    return Time(sec=sec, nanosec=nsec)


# ------------------------------------------------------------------ 5: ~/enable 100 times
def test_enable_toggled_100_times_while_frames_flow(ros):
    engine = H.palette_engine()
    node = ros.segment_node('/toggle', engine=engine)
    masks = timed_collect(ros, '/toggle/camera/mask')
    feeder = Feeder(ros, ['/toggle/camera/image'], period=0.05)
    client = ros.probe.create_client(SetBool, '/toggle/segment_node/enable')
    try:
        assert client.wait_for_service(timeout_sec=30)
        H.wait_for(lambda: len(masks) >= 3, timeout=60, what='masks before toggling')
        t0 = time.monotonic()
        for i in range(100):
            want = i % 2 == 1   # False, True, ..., the 100th request is True
            future = client.call_async(SetBool.Request(data=want))
            H.wait_for(future.done, timeout=30, what=f'the response to request {i + 1}')
            assert future.result().success
            assert node.enabled == want
        assert node.enabled and node._worker.is_alive()
        toggled = time.monotonic()
        n = len(masks)
        H.wait_for(lambda: len(masks) > n, timeout=30, what='a mask after the toggling')
        print(f'\n100 ~/enable calls in {(toggled - t0):.1f} s; the next mask '
              f'{(time.monotonic() - toggled) * 1e3:.0f} ms after the last call')
        H.wait_for(lambda: len(masks) >= n + 5, timeout=30, what='masks after the toggling')
        H.check_bands(H.as_array(masks[-1][1]))
        # a last False is kept too: no frame is answered while paused but the one that was
        # already in inference when the call came
        paused = node.camera_stats('camera').totals()['paused']
        future = client.call_async(SetBool.Request(data=False))
        H.wait_for(future.done, timeout=30, what='the last response')
        processed = node.camera_stats('camera').totals()['processed']
        H.wait_for(lambda: node.camera_stats('camera').totals()['paused'] >= paused + 8,
                   timeout=30, what='paused frames')
        assert not node.enabled
        assert node.camera_stats('camera').totals()['processed'] <= processed + 1
    finally:
        feeder.stop()
        ros.probe.destroy_client(client)


# ------------------------------------------------------------------ 6: respawn in the launch file
def test_the_launch_file_declares_respawn_default_false_and_passes_it_to_the_nodes():
    """
    Without the launch package here, check the source: the argument and its use.

    ``launch`` is not installed on this machine, so the file is read with ``ast``:
    a ``DeclareLaunchArgument('respawn', default_value='false')`` and every segment
    node action (Node and LifecycleNode) built with ``respawn=`` from it.
    """
    tree = ast.parse((ROOT / 'launch' / 'segment.launch.py').read_text())
    declared = {}
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, 'id', '') == 'DeclareLaunchArgument':
            kw = {k.arg: k.value for k in call.keywords}
            name = call.args[0].value
            declared[name] = kw
    assert 'respawn' in declared and 'respawn_delay' in declared
    assert declared['respawn']['default_value'].value == 'false'
    assert ast.literal_eval(declared['respawn_delay']['default_value']) == '2.0'
    assert 'description' in declared['respawn']
    segment = [c for c in ast.walk(tree) if isinstance(c, ast.Call)
               and getattr(c.func, 'id', '') in ('Node', 'LifecycleNode')
               and any(k.arg == 'executable' and getattr(k.value, 'value', '').startswith(
                   'segment') for k in c.keywords)]
    assert len(segment) == 2
    for call in segment:
        kw = {k.arg: ast.unparse(k.value) for k in call.keywords}
        assert kw.get('respawn') == 'respawn', kw
        assert kw.get('respawn_delay') == 'respawn_delay', kw
    source = ast.unparse(tree)
    assert "respawn = _truthy(LaunchConfiguration('respawn').perform(context))" in source
    assert "respawn_delay = float(LaunchConfiguration('respawn_delay').perform(context))" \
        in source
    readme = (ROOT / 'README.md').read_text()
    assert '`respawn`' in readme and '`respawn_delay`' in readme
