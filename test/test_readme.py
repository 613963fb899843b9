# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""Every command and path the README quotes exists, so the README cannot drift."""

import ast
import importlib.util
from pathlib import Path
import re
import sys

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
