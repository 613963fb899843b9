# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""ament_pep257 docstring checks over the package and training/."""

import os

from ament_pep257.main import main
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATHS = [p for p in ('eunet_ros', 'launch', 'training', 'test', 'scripts')
         if os.path.exists(os.path.join(ROOT, p))]


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257():
    rc = main(argv=[os.path.join(ROOT, p) for p in PATHS])
    assert rc == 0, 'Found code style errors / warnings'
