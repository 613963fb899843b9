# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Security properties of issue 14 that hold by construction; these tests keep them.

* YAML is parsed with safe loaders only, everywhere in the source tree.
* The node never opens a path that a message gives it: the code that handles a
  message (segment_node's frame callback, its publisher step and the whole image
  conversion module) calls nothing that opens a file, and converting messages whose
  ``frame_id`` and ``format`` name real files opens nothing.

The crafted-checkpoint test is in test_fuzz_checkpoint.py, the ONNX cache hash test
in test_engine_backend.py and the dataset path traversal test in
test_fuzz_datasets.py.
"""

import ast
import builtins
import io
import os
from pathlib import Path
import re

import cv2
from eunet_ros.ros import image_conversion
from eunet_ros.ros.image_conversion import BuiltinConverter, ImageConversionError, to_byte_array
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ('eunet_ros', 'training', 'scripts', 'launch', 'test')
UNSAFE_YAML = re.compile(
    r'yaml\s*\.\s*(load|load_all|unsafe_load|unsafe_load_all|full_load|full_load_all)\s*\('
    r'|Loader\s*=\s*(yaml\s*\.\s*)?(Loader|UnsafeLoader|FullLoader)\b'
    r'|yaml\s*\.\s*(Unsafe|Full)?Loader\s*\(')
# calls that open, read or map a file, or run a program
FILE_CALLS = {'open', 'imread', 'imreadmulti', 'VideoCapture', 'load', 'load_checkpoint',
              'read_text', 'read_bytes', 'Path', 'PurePath', 'fromfile', 'memmap', 'system',
              'popen', 'Popen', 'run', 'check_output', 'exec', 'eval', 'SegmentationEngine'}


def _sources():
    for d in SOURCE_DIRS:
        yield from sorted((ROOT / d).rglob('*.py'))


def test_unsafe_yaml_pattern_catches_what_it_should():
    for bad in ('yaml.load(f)', 'yaml.unsafe_load(s)', 'yaml.load(f, Loader=yaml.Loader)',
                'yaml.full_load(s)', 'x = yaml . load_all(s)', 'Loader=yaml.UnsafeLoader',
                'Loader=FullLoader'):
        assert UNSAFE_YAML.search(bad), bad
    for good in ('yaml.safe_load(f)', 'yaml.safe_load_all(s)', 'yaml.safe_dump(x)',
                 'Loader=yaml.SafeLoader'):
        assert not UNSAFE_YAML.search(good), good


def test_yaml_is_loaded_with_safe_loaders_everywhere():
    me = Path(__file__).resolve()
    found = []
    for path in _sources():
        if path.resolve() == me:
            continue
        for no, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
            if UNSAFE_YAML.search(line):
                found.append(f'{path.relative_to(ROOT)}:{no}: {line.strip()}')
    assert not found, 'use yaml.safe_load:\n' + '\n'.join(found)
    assert sum('safe_load' in p.read_text(encoding='utf-8') for p in _sources()) >= 3


def _called_names(node):
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            f = n.func
            yield f.attr if isinstance(f, ast.Attribute) else getattr(f, 'id', '')


@pytest.mark.parametrize('module, functions', [
    ('eunet_ros/ros/segment_node.py', ('_on_frame', '_publish')),
    ('eunet_ros/ros/image_conversion.py', None),
])
def test_message_handling_code_opens_no_files(module, functions):
    tree = ast.parse((ROOT / module).read_text(encoding='utf-8'))
    if functions is None:
        scopes = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                  and not n.name.startswith('_cv_bridge_self_test')]
    else:
        scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                  and n.name in functions]
        assert sorted(n.name for n in scopes) == sorted(functions)
    bad = sorted({c for s in scopes for c in _called_names(s)} & FILE_CALLS)
    assert not bad, f'{module}: message-handling code calls {bad}'


@pytest.fixture
def no_file_access(monkeypatch):
    """Make every way of opening a file fail loudly while the test runs."""
    opened = []

    def refuse(*args, **kwargs):
        opened.append(args[:1])
        raise AssertionError(f'a file was opened: {args[:1]}')

    for mod, name in ((builtins, 'open'), (io, 'open'), (os, 'open'), (cv2, 'imread'),
                      (cv2, 'VideoCapture')):
        monkeypatch.setattr(mod, name, refuse)
    return opened


@pytest.fixture
def secret(tmp_path):
    """Write a real PNG that a hostile message could name."""
    path = tmp_path / 'secret.png'
    ok, png = cv2.imencode('.png', np.zeros((4, 4, 3), np.uint8))
    path.write_bytes(png.tobytes())
    return path


def test_converting_messages_that_name_files_opens_nothing(secret, no_file_access):
    conv = BuiltinConverter()
    img = Image(height=2, width=2, encoding='bgr8', step=6,
                data=to_byte_array(np.arange(12, dtype=np.uint8)))
    img.header.frame_id = str(secret)
    frame, _ = conv.image(img)
    assert frame.shape == (2, 2, 3)
    for fmt in (str(secret), f'file://{secret}', '../../' + secret.name, 'png'):
        for data in (str(secret).encode(), b'\x89PNG\r\n\x1a\n' + str(secret).encode()):
            msg = CompressedImage(format=fmt, data=to_byte_array(np.frombuffer(data, np.uint8)))
            msg.header.frame_id = str(secret)
            with pytest.raises(ImageConversionError, match='could not decode'):
                conv.compressed(msg)
    assert not no_file_access
    assert image_conversion.cv2.imread is cv2.imread  # the patched one was in effect
