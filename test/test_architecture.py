# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The layers of docs/architecture.md, checked on the import graph of the source.

Every ``import`` and ``from ... import`` statement of ``eunet_ros/`` and
``training/`` counts, also those inside functions (a lazy import is still a
dependency, and a circle through one still ties two modules together).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROS_MODULES = ('rclpy', 'ament_index_python', 'rcl_interfaces', 'sensor_msgs', 'std_msgs',
               'std_srvs', 'diagnostic_msgs', 'geometry_msgs', 'visualization_msgs',
               'lifecycle_msgs', 'builtin_interfaces', 'cv_bridge', 'launch', 'launch_ros')
BASE = ('eunet_ros', 'eunet_ros.fileio', 'eunet_ros.argtypes', 'eunet_ros.resources')


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def source_modules():
    """Return {module name: path} for every module of eunet_ros/ and training/."""
    found = {}
    for top in ('eunet_ros', 'training'):
        for p in sorted((ROOT / top).rglob('*.py')):
            found[module_name(p)] = p
    return found


MODULES = source_modules()


def imports_of(path):
    """Return every module ``path`` imports (absolute names, submodules resolved)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f'{node.module}.{a.name}'
                out.add(sub if sub in MODULES else node.module)
    return out


GRAPH = {m: imports_of(p) for m, p in MODULES.items()}


def in_package(name, *packages):
    return any(name == p or name.startswith(p + '.') for p in packages)


def offenders(modules, forbidden):
    """Return 'module -> import' for each import of ``modules`` in the ``forbidden`` packages."""
    return sorted(f'{m} -> {i}' for m in modules for i in GRAPH[m]
                  if in_package(i, *forbidden))


def layer(prefix):
    return [m for m in GRAPH if in_package(m, prefix)]


def test_the_graph_sees_the_known_imports():
    # guards the checks below against parsing nothing
    assert 'eunet_ros.core.model' in GRAPH['eunet_ros.core.engine']
    assert 'eunet_ros.ros.node_params' in GRAPH['eunet_ros.ros.segment_node']
    assert 'rclpy' in GRAPH['eunet_ros.ros.spin']  # an import inside a function counts
    assert len(layer('eunet_ros.core')) >= 6 and len(layer('training')) >= 10


def test_core_imports_no_ros_and_nothing_above_it():
    bad = offenders(layer('eunet_ros.core'),
                    ROS_MODULES + ('eunet_ros.ros', 'eunet_ros.tools', 'training'))
    assert not bad, 'eunet_ros.core must stay ROS-free and import only the base:\n' + \
        '\n'.join(bad)


def test_base_imports_no_torch_no_ros_no_layer():
    bad = offenders([m for m in BASE if m in GRAPH],
                    ROS_MODULES + ('torch', 'eunet_ros.core', 'eunet_ros.ros',
                                   'eunet_ros.tools', 'training'))
    # resources may ask the ament index where share/ is: a lookup, not a ROS dependency
    bad = [b for b in bad if not b.startswith('eunet_ros.resources -> ament_index_python')]
    assert not bad, 'the base helpers import no torch, no rclpy and no layer:\n' + '\n'.join(bad)


def test_ros_layer_never_imports_the_tools_or_training():
    bad = offenders(layer('eunet_ros.ros'), ('eunet_ros.tools', 'training'))
    assert not bad, 'eunet_ros.ros runs on the car; the tools and training/ do not:\n' + \
        '\n'.join(bad)


def test_tools_never_import_training():
    bad = offenders(layer('eunet_ros.tools'), ('training',))
    assert not bad, '\n'.join(bad)


def test_training_imports_no_ros():
    bad = offenders(layer('training'), ROS_MODULES + ('eunet_ros.ros',))
    assert not bad, 'training/ trains offline and never needs ROS:\n' + '\n'.join(bad)


def test_no_import_circles():
    """No module reaches itself through the imports of eunet_ros/ and training/."""
    edges = {m: sorted(i for i in deps if i in GRAPH and i != m) for m, deps in GRAPH.items()}
    circles = []
    state = {}

    def visit(m, stack):
        state[m] = 'open'
        stack.append(m)
        for n in edges[m]:
            if state.get(n) == 'open':
                circles.append(' -> '.join(stack[stack.index(n):] + [n]))
            elif n not in state:
                visit(n, stack)
        stack.pop()
        state[m] = 'done'

    for m in sorted(edges):
        if m not in state:
            visit(m, [])
    assert not circles, 'import circles:\n' + '\n'.join(circles)


@pytest.mark.parametrize('shim', ['eunet_ros.engine', 'eunet_ros.checkpoint'])
def test_compatibility_paths_are_the_core_modules(shim):
    import importlib
    old = importlib.import_module(shim)
    assert old is importlib.import_module(shim.replace('eunet_ros.', 'eunet_ros.core.'))
