# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""Every command and path the README quotes exists, so the README cannot drift."""

import ast
import importlib.util
import json
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / 'README.md').read_text()
PATH_RE = re.compile(
    r'(?<![\w./-])((?:eunet_ros|training|config|launch|scripts|models|test|docs|\.ci)/'
    r'[\w.*/-]*[\w*])')


def code_text():
    """Return the README's code: fenced blocks and inline `code` spans."""
    blocks = re.findall(r'```[^\n]*\n(.*?)```', README, flags=re.S)
    spans = re.findall(r'`([^`\n]+)`', re.sub(r'```.*?```', '', README, flags=re.S))
    return '\n'.join(blocks + spans)


CODE = code_text()


def make_targets():
    text = (ROOT / 'Makefile').read_text()
    return set(re.findall(r'^([A-Za-z][\w-]*)\s*:(?!=)', text, flags=re.M))


def test_make_targets_exist():
    quoted = set(re.findall(r'\bmake ([a-z][\w-]*)', CODE))
    assert {'test', 'demo'} <= quoted, 'the README must name make test and make demo'
    missing = sorted(quoted - make_targets())
    assert not missing, f'README quotes make targets the Makefile lacks: {missing}'


def test_python_modules_exist():
    mods = set(re.findall(r'python3? -m ([A-Za-z_][\w.]*\w)', CODE))
    assert mods, 'no python -m command found in the README'
    sys.path.insert(0, str(ROOT))
    try:
        missing = sorted(m for m in mods if m.split('.')[0] in ('eunet_ros', 'training')
                         and importlib.util.find_spec(m) is None)
    finally:
        sys.path.remove(str(ROOT))
    assert not missing, f'README quotes modules that do not exist: {missing}'


def test_quoted_paths_exist():
    paths = set(PATH_RE.findall(CODE))
    assert paths, 'no repository path found in the README'
    missing = []
    for p in sorted(paths):
        if '<' in p or p.startswith('models/') and p.endswith('.pt') and 'eunet_fs' not in p:
            continue
        if '*' in p:
            if not list(ROOT.glob(p)):
                missing.append(p)
        elif not (ROOT / p).exists():
            missing.append(p)
    assert not missing, f'README quotes paths that do not exist: {missing}'


def launch_arguments():
    tree = ast.parse((ROOT / 'launch' / 'segment.launch.py').read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, 'id', '') == \
                'DeclareLaunchArgument' and node.args and isinstance(node.args[0], ast.Constant):
            names.add(node.args[0].value)
    return names


def test_launch_arguments_exist():
    lines = [line for line in CODE.splitlines() if 'segment.launch.py' in line]
    assert lines, 'the README must show ros2 launch eunet_ros segment.launch.py'
    quoted = {a for line in lines for a in re.findall(r'(\w+):=', line)}
    missing = sorted(quoted - launch_arguments())
    assert not missing, f'README quotes launch arguments that are not declared: {missing}'


def test_ros2_run_executables_exist():
    setup = (ROOT / 'setup.py').read_text()
    scripts = set(re.findall(r"'(\w+) = eunet_ros\.", setup))
    quoted = set(re.findall(r'ros2 run eunet_ros (\w+)', CODE))
    missing = sorted(quoted - scripts)
    assert not missing, f'README runs executables setup.py does not install: {missing}'


@pytest.mark.parametrize('req', ['requirements.txt', 'requirements-training.txt'])
def test_requirements_files_are_named(req):
    assert req in README and (ROOT / req).exists()


# ---------------------------------------------------------------------------------------
# The cheap README commands, run as a newcomer runs them: from a clean shell (no
# PYTHONPATH, no ROS or colcon variables) that activates the venv, and sources the
# install space only where the README says so.

INSTALL = ROOT / '.ws' / 'install'
EXE_DIR = INSTALL / 'eunet_ros' / 'lib' / 'eunet_ros'
ACTIVATE = Path(sys.prefix) / 'bin' / 'activate'
KEEP_ENV = ('HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'USER', 'ROS_DOMAIN_ID',
            'ROS_AUTOMATIC_DISCOVERY_RANGE', 'EUNET_ROS_CACHE_DIR', 'RMW_IMPLEMENTATION')
needs_install = pytest.mark.skipif(
    not (EXE_DIR / 'segment_node').exists() or not (INSTALL / 'local_setup.bash').exists(),
    reason='no colcon install space in .ws/install (make build)')
needs_venv = pytest.mark.skipif(not ACTIVATE.exists(),
                                reason='the tests do not run in a venv with bin/activate')


def clean_env():
    """Return a newcomer's environment: a plain PATH, plus the tests' ROS isolation."""
    env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
    env.update(PATH='/usr/local/bin:/usr/bin:/bin', PYTHONUNBUFFERED='1',
               PYTHONDONTWRITEBYTECODE='1', RCUTILS_LOGGING_BUFFERED_STREAM='0')
    return env


def shell(script, *, sourced=False, timeout=120, cwd=ROOT):
    """Run ``script`` in bash after ``source <venv>/bin/activate`` (and the install space)."""
    pre = [f'source "{ACTIVATE}"']
    if sourced:
        pre.append(f'source "{INSTALL / "local_setup.bash"}"')
    return subprocess.run(['bash', '-c', '\n'.join(pre + [script])], cwd=cwd, env=clean_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)


def readme_block(heading):
    """Return the first fenced code block after ``heading``."""
    rest = README[README.index(heading):]
    return re.search(r'```[^\n]*\n(.*?)```', rest, flags=re.S).group(1)


def test_the_venv_is_activated_before_the_first_python_command():
    first = re.search(r'python3? -m [A-Za-z_]', README).start()  # the first real command
    assert 'source .venv/bin/activate' in README[:first], \
        'the README must say to activate .venv before the first python -m line'
    assert '.venv/bin/python' in README[:first]


def quoted_tools():
    mods = set(re.findall(r'python3? -m ((?:eunet_ros|training)[\w.]*\w)', CODE))
    mods.discard('eunet_ros.ros.node_params')  # prints the table, see below
    assert 'scripts/demo.py --help' in CODE
    return [f'python -m {m}' for m in sorted(mods)] + [
        'python -m eunet_ros.benchmark node', 'python scripts/demo.py']


@needs_venv
@pytest.mark.parametrize('command', quoted_tools())
def test_help_of_every_quoted_tool_runs_in_a_clean_shell(command):
    r = shell(f'{command} --help')
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'usage:' in r.stdout and 'Traceback' not in r.stderr, r.stdout + r.stderr


@needs_venv
def test_node_params_prints_the_readme_parameter_table():
    r = shell('python -m eunet_ros.ros.node_params')
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() and r.stdout.strip() in README


def executables():
    setup = (ROOT / 'setup.py').read_text()
    return sorted(set(re.findall(r"'(\w+) = eunet_ros\.", setup)))


@needs_venv
@needs_install
@pytest.mark.parametrize('name', executables())
def test_an_executable_started_without_sourcing_says_what_to_source(name):
    r = shell(f'{EXE_DIR / name} --help')
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    # what the README predicts, then the exact line to source
    predicted = re.search(r'exits with `segment_node: (.*?) \(\.\.\.\)\.\s+(Source.*?:)`',
                          README, flags=re.S)
    assert predicted, 'the README should quote the message of an unsourced executable'
    assert r.stderr.startswith(f'{name}: {predicted.group(1)} ('), out
    assert re.sub(r'\s+', ' ', predicted.group(2)) in r.stderr, out
    assert f'source {INSTALL.resolve() / "local_setup.bash"}' in r.stderr, out
    assert 'Traceback' not in out and 'PackageNotFoundError' not in out, out


@needs_venv
@needs_install
@pytest.mark.parametrize('name', executables())
def test_help_of_every_executable_prints_its_parameters_without_starting_ros(name):
    from eunet_ros.ros.camera_replay import REPLAY_PARAMS
    from eunet_ros.ros.node_params import all_specs
    expected = {'segment_node': [s.name for s in all_specs()],
                'segment_lifecycle_node': [s.name for s in all_specs()],
                'camera_replay': [s.name for s in REPLAY_PARAMS],
                'benchmark': ['--device', '--variants', '--max-time'],
                'eunet_bag': ['info', 'segment', 'export', 'compare']}[name]
    block = readme_block('### Without a ROS install')
    assert 'source .ws/install/local_setup.bash' in block
    assert 'EXE=.ws/install/eunet_ros/lib/eunet_ros' in block
    r = shell(f'EXE=.ws/install/eunet_ros/lib/eunet_ros\n$EXE/{name} --help', sourced=True)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert out.startswith('usage:') and '[INFO]' not in out and 'Traceback' not in out, out
    missing = [n for n in expected if n not in r.stdout]
    assert not missing, f'{name} --help does not list {missing}:\n{out}'


def node_start_line():
    block = readme_block('### Without a ROS install')
    lines = [ln.split('#')[0].strip() for ln in block.splitlines()]
    starts = [ln for ln in lines if ln.startswith('$EXE/segment_node --ros-args')]
    assert len(starts) == 1, block
    return starts[0].rstrip('&').strip()


@needs_venv
@needs_install
def test_the_node_starts_with_the_packaged_model_and_stops_cleanly_on_ctrl_c(tmp_path):
    """The README's start line, sourced as it says; ready, class table over DDS, SIGINT, 0."""
    import node_harness as H
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String
    log_path = tmp_path / 'node.log'
    script = '\n'.join([f'source "{ACTIVATE}"', f'source "{INSTALL / "local_setup.bash"}"',
                        'EXE=.ws/install/eunet_ros/lib/eunet_ros', 'exec ' + node_start_line()])
    ros = H.Ros()
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(['bash', '-c', script], cwd=ROOT, env=clean_env(),
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        tables, _ = ros.collect(String, '/segment_node/class_table', latched)
        H.wait_for(lambda: (tables and 'ready:' in log_path.read_text())
                   or proc.poll() is not None, timeout=120,
                   what='the class table and the ready line of the node')
        assert tables and proc.poll() is None, log_path.read_text()
        time.sleep(3.0)  # running: the 3-second start of the README
        assert proc.poll() is None, log_path.read_text()
    finally:
        ros.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    text = log_path.read_text()
    assert rc == 0 and 'Traceback' not in text, text
    table = json.loads(tables[0].data)
    assert table['checkpoint'] == 'eunet_fs_synthetic.pt'
    assert [c['name'] for c in table['classes']][:2] == ['background', 'track']
    assert f'{INSTALL.resolve()}' in text or '.ws/install' in text, text  # the packaged model


@needs_venv
@needs_install
def test_the_without_ros_walkthrough_runs_as_written(tmp_path):
    """
    The block of "Without a ROS install", line for line, in a checkout after make demo.

    The working folder links the venv, the install space and config/ of this
    checkout, so what the block writes (overlay.mp4) lands there; the drive make demo
    leaves in .cache/demo/ is stood in for by a short small video of the same name.
    Job control is on (``set -m``), as in the terminal the block is typed into, so
    ``kill -INT %1 %2`` reaches the processes as Ctrl-C does.
    """
    import cv2
    block = readme_block('### Without a ROS install')
    drive = re.search(r'source:=(\S+\.mp4)', block).group(1)
    work = tmp_path / 'checkout'
    work.mkdir()
    (work / '.venv').symlink_to(Path(sys.prefix))
    for name in ('.ws', 'config'):
        (work / name).symlink_to(ROOT / name)
    (work / drive).parent.mkdir(parents=True)
    vw = cv2.VideoWriter(str(work / drive), cv2.VideoWriter_fourcc(*'mp4v'), 30, (320, 240))
    for i in range(30):
        frame = np.zeros((240, 320, 3), np.uint8)
        frame[:, 8 * i:8 * i + 40] = (255, 80, 30)
        vw.write(frame)
    vw.release()
    script = '\n'.join(['set -m', block, 'wait'])
    r = subprocess.run(['bash', '-c', script], cwd=work, env=clean_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=300)
    out = r.stdout
    # bash reports each job as it ends: Done (status 0), Exit N, or the signal that killed it
    for job, name in ((1, 'segment_node'), (2, 'camera_replay')):
        assert re.search(rf'\[{job}\][-+ ]\s+Done\s+\$EXE/{name} ', out), out
    assert 'Traceback' not in out and 'usage: segment_node' in out, out
    assert '90 frame(s) of /camera/overlay -> overlay.mp4' in out, out
    assert 'inference paused' in out, out
    cap = cv2.VideoCapture(str(work / 'overlay.mp4'))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = cap.read()
    cap.release()
    assert ok and n == 90 and first.shape == (240, 320, 3)


def test_quoted_commands_never_write_over_a_tracked_file():
    """A --json or --out of a README command is a git-ignored path, never the repo's records."""
    docs = README + (ROOT / 'docs' / 'performance.md').read_text()
    text = re.sub(r'\\\n\s*', ' ', docs)  # join continued lines
    targets = set(re.findall(r'python3? -m (?:eunet_ros|training)[\w. ]*?[^\n`]*?--json (\S+)',
                             text))
    assert 'benchmark_results_cpu.json' in targets, targets
    try:
        tracked = subprocess.run(['git', 'ls-files'], cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip('not a git checkout')
    overwritten = sorted(t for t in targets if t in tracked.splitlines())
    assert not overwritten, f'README/performance commands write over tracked files: {overwritten}'


def test_the_drive_the_readme_replays_is_the_one_make_demo_leaves():
    spec = importlib.util.spec_from_file_location('eunet_demo', ROOT / 'scripts' / 'demo.py')
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    video = demo.drive_video(demo.get_args_parser().parse_args([]))
    quoted = str(video.relative_to(ROOT))
    assert quoted.startswith('.cache/demo/drive_1280x720_30fps_20s_seed2026')
    assert README.count(quoted) >= 2, f'the README should name {quoted} where it replays it'
    assert 'source:=drive.mp4' not in readme_block('### Without a ROS install')
