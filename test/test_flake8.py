# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""ament_flake8 over the package, its launch files, training/ and the tests."""

import os

from ament_flake8.main import main_with_errors
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATHS = [p for p in ('eunet_ros', 'launch', 'training', 'test', 'scripts', 'setup.py')
         if os.path.exists(os.path.join(ROOT, p))]


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    rc, errors = main_with_errors(argv=[os.path.join(ROOT, p) for p in PATHS])
    assert rc == 0, 'Found %d code style errors / warnings:\n' % len(errors) + \
        '\n'.join(errors)
