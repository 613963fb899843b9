# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Launch file, configs, rviz view and install space, checked as far as this machine allows.

Here (no launch / launch_ros / rviz2 / ros2 CLI) the launch file is checked by
parsing it: every argument has a description, no eval or subprocess, the files and
executables it names exist in the colcon install space and in setup.py. Where
launch_ros and the ros2 CLI are present (a real ROS install), a launch test starts
it for real; here that test is skipped with the reason.
"""

import ast
import importlib.util
import os
from pathlib import Path
import shutil
import signal
import subprocess

from eunet_ros.core.checkpoint import DEFAULT_CLASSES
from eunet_ros.ros.node_params import (camera_params, GLOBAL_PARAMS, group_param, parse_settings,
                                       resolve_groups)
import node_harness as H
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = ROOT / 'launch' / 'segment.launch.py'
EXPECTED_ARGS = {'config', 'checkpoint', 'device', 'backend', 'namespace', 'camera_topic',
                 'use_sim_time', 'rviz', 'lifecycle', 'respawn', 'respawn_delay'}
CONFIGS = ('default.yaml', 'eufs_sim.yaml', 'fsds.yaml')


def calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and (
        getattr(n.func, 'id', None) == name or getattr(n.func, 'attr', None) == name)]


def keyword(call, name):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def const(node):
    return node.value if isinstance(node, ast.Constant) else None


@pytest.fixture(scope='module')
def launch_tree():
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def console_scripts():
    tree = ast.parse((ROOT / 'setup.py').read_text())
    out = {}
    for d in (n for n in ast.walk(tree) if isinstance(n, ast.Dict)):
        for k, v in zip(d.keys, d.values):
            if const(k) == 'console_scripts':
                for e in v.elts:
                    name, target = (s.strip() for s in const(e).split('='))
                    out[name] = target
    return out


def install_share():
    """share/eunet_ros of the colcon install space, or None (then the test is skipped)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        share = Path(get_package_share_directory('eunet_ros'))
        if (share / 'package.xml').exists():
            return share
    except Exception:  # noqa: B902 - PackageNotFoundError, no AMENT_PREFIX_PATH
        pass
    for cand in (ROOT / '.ws' / 'install' / 'eunet_ros' / 'share' / 'eunet_ros',
                 ROOT / '.ws' / 'install' / 'share' / 'eunet_ros'):
        if (cand / 'package.xml').exists():
            return cand
    return None


def test_every_launch_argument_has_a_description(launch_tree):
    declared = calls(launch_tree, 'DeclareLaunchArgument')
    names = {const(c.args[0]) for c in declared}
    assert names == EXPECTED_ARGS
    for c in declared:
        desc = const(keyword(c, 'description'))
        assert isinstance(desc, str) and len(desc) > 15, f'{const(c.args[0])}: {desc!r}'
        assert keyword(c, 'default_value') is not None


def test_launch_file_uses_no_eval_or_subprocess(launch_tree):
    banned = {'eval', 'exec', 'subprocess', 'system', 'popen', 'Popen', 'ExecuteProcess'}
    used = {getattr(n, 'id', None) or getattr(n, 'attr', None) for n in ast.walk(launch_tree)
            if isinstance(n, (ast.Name, ast.Attribute))}
    imports = [n for n in ast.walk(launch_tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    imported = {a.name for n in imports for a in n.names}
    imported |= {n.module for n in imports if isinstance(n, ast.ImportFrom)}
    assert not (used | imported) & banned
    assert any(c for c in calls(launch_tree, 'Node'))
    assert calls(launch_tree, 'generate_launch_description') == []  # defined, not called
    assert any(isinstance(n, ast.FunctionDef) and n.name == 'generate_launch_description'
               for n in launch_tree.body)


def test_launch_executables_match_setup_py(launch_tree):
    scripts = console_scripts()
    assert scripts['segment_node'] == 'eunet_ros.ros.segment_node:main'
    assert scripts['camera_replay'] == 'eunet_ros.ros.camera_replay:main'
    assert 'benchmark' in scripts
    assert scripts['segment_lifecycle_node'] == 'eunet_ros.ros.segment_lifecycle_node:main'
    named = []
    # the launch file names the package as PACKAGE = 'eunet_ros'
    package = {t.id: const(a.value) for a in launch_tree.body if isinstance(a, ast.Assign)
               for t in a.targets if isinstance(t, ast.Name)}
    for call in calls(launch_tree, 'Node') + calls(launch_tree, 'LifecycleNode'):
        pkg = keyword(call, 'package')
        if (const(pkg) if not isinstance(pkg, ast.Name) else package.get(pkg.id)) == 'eunet_ros':
            named.append(const(keyword(call, 'executable')))
            assert named[-1] in scripts
    assert sorted(named) == ['segment_lifecycle_node', 'segment_node']
    for name in ('segment_node', 'camera_replay'):
        module, func = scripts[name].split(':')
        assert callable(getattr(importlib.import_module(module), func))


def test_files_named_by_the_launch_file_are_installed(launch_tree):
    share = install_share()
    if share is None:
        pytest.skip('no colcon install space (run under `make test` / colcon test)')
    named = {const(n) for n in ast.walk(launch_tree) if isinstance(const(n), str)
             and const(n).endswith(('.yaml', '.rviz', '.xml'))}
    assert {'default.yaml', 'eunet.rviz'} <= named
    for f in named:
        assert (share / 'config' / f).is_file(), f'{f} is not installed in {share}/config'
    for f in CONFIGS + ('eunet.rviz', 'fastdds_large_images.xml'):
        assert (share / 'config' / f).is_file()
    assert (share / 'launch' / 'segment.launch.py').is_file()
    prefix = share.parent.parent
    for exe in ('segment_node', 'camera_replay'):
        path = prefix / 'lib' / 'eunet_ros' / exe
        assert path.is_file() and os.access(path, os.X_OK), f'{path}: ros2 run would miss it'


def flatten(d, prefix=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


@pytest.mark.parametrize('config', CONFIGS)
def test_configs_are_valid_and_use_only_declared_parameters(config):
    data = yaml.safe_load((ROOT / 'config' / config).read_text())
    (key,) = data
    assert key == '/**/segment_node'
    params = flatten(data[key]['ros__parameters'])
    values = {s.name: s.default for s in GLOBAL_PARAMS}
    values.update(params)
    known = {s.name for s in GLOBAL_PARAMS}
    for c in values['cameras']:
        known |= {s.name for s in camera_params(c)}
        for s in camera_params(c):
            values.setdefault(s.name, s.default)
    for g in values['class_groups']:
        known.add(group_param(g).name)
        values.setdefault(group_param(g).name, group_param(g).default)
    assert set(params) <= known, f'unknown parameters in {config}: {set(params) - known}'
    settings = parse_settings(values)
    resolve_groups(settings.groups, DEFAULT_CLASSES)
    topics = {c.name: c.input_topic for c in settings.cameras}
    if config == 'eufs_sim.yaml':
        assert topics == {'left': '/zed/left/image_rect_color',
                          'right': '/zed/right/image_rect_color'}
    elif config == 'fsds.yaml':
        assert all(t == f'/fsds/{c}/image_color' for c, t in topics.items())
    else:
        assert topics == {'camera': 'camera/image'}
        assert settings.input_reliability == 'best_effort' and settings.input_depth == 1


def test_rviz_shows_the_first_cameras_overlay_and_masks():
    data = yaml.safe_load((ROOT / 'config' / 'eunet.rviz').read_text())
    displays = data['Visualization Manager']['Displays']
    images = {d['Topic']['Value']: d for d in displays
              if d['Class'] == 'rviz_default_plugins/Image'}
    assert {'/camera/overlay', '/camera/mask'} <= set(images)
    assert images['/camera/overlay']['Enabled'] is True
    # every topic it shows is one the node publishes with config/default.yaml
    outputs = {'/camera/overlay', '/camera/mask', '/camera/cones/mask', '/camera/track/mask'}
    assert set(images) <= outputs
    # the cones in base_link: the markers (on) and the cloud (off), with base_link fixed
    by_class = {d['Class']: d for d in displays}
    assert by_class['rviz_default_plugins/MarkerArray']['Topic']['Value'] == \
        '/camera/cone_markers'
    assert by_class['rviz_default_plugins/MarkerArray']['Enabled'] is True
    assert by_class['rviz_default_plugins/PointCloud2']['Topic']['Value'] == '/camera/cones'
    assert data['Visualization Manager']['Global Options']['Fixed Frame'] == 'base_link'


def test_launch_for_real_where_launch_ros_exists(tmp_path):
    if importlib.util.find_spec('launch_ros') is None or shutil.which('ros2') is None:
        pytest.skip('launch_ros and the ros2 CLI are not installed here (PyPI ROS wheels); '
                    'on a real ROS install this test starts segment.launch.py')
    ckpt = H.random_checkpoint(tmp_path / 'm.pt')
    log = open(tmp_path / 'launch.log', 'w')
    proc = subprocess.Popen(['ros2', 'launch', 'eunet_ros', 'segment.launch.py',
                             f'checkpoint:={ckpt}', 'namespace:=launch_test', 'device:=cpu'],
                            stdout=log, stderr=subprocess.STDOUT)
    ros = H.Ros()
    try:
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from std_msgs.msg import String
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        got, _ = ros.collect(String, '/launch_test/segment_node/class_table', latched)
        H.wait_for(lambda: got or proc.poll() is not None, timeout=90,
                   what='the class table of the launched node')
        assert got, (tmp_path / 'launch.log').read_text()
    finally:
        ros.close()
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(60)
        log.close()
    text = (tmp_path / 'launch.log').read_text()
    assert rc == 0 and 'Traceback' not in text, text


def test_readme_parameter_table_matches_the_declarations():
    from eunet_ros.ros.node_params import markdown_table
    readme = (ROOT / 'README.md').read_text()
    assert markdown_table() in readme, ('the README parameter table is out of date: paste '
                                        'the output of `python -m eunet_ros.ros.node_params`')
