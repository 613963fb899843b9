# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Test session set-up shared by every test module.

* ``training/`` is a sibling tree that is not installed with the package: make it
  importable from the source checkout.
* ROS 2 traffic of the tests stays on this machine (localhost discovery) and on a
  domain of its own, so parallel test runs never see each other's topics.
* The engine's ONNX cache (backend onnxruntime, the CPU default) goes to a
  temporary folder removed at exit, not into the user's ~/.cache; node processes
  the tests start inherit it.
"""

import atexit
import os
import random
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.append(ROOT)

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(20, 99)))

if 'EUNET_ROS_CACHE_DIR' not in os.environ:
    _cache = tempfile.mkdtemp(prefix='eunet_ros_test_cache_')
    os.environ['EUNET_ROS_CACHE_DIR'] = _cache
    atexit.register(shutil.rmtree, _cache, True)
