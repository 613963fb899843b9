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

# Property tests (test_fuzz_*.py) run under a hypothesis profile: `ci`, the default,
# runs a fixed, reproducible set of examples (derandomize) and no per-example deadline
# (a loaded CI machine must not turn a slow example into a failure); `long`
# (`pytest --hypothesis-profile=long test/test_fuzz_*.py`) explores far more, at random.
# Without hypothesis installed only the property tests fail (they import it).
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    pass
else:
    _SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large,
                HealthCheck.function_scoped_fixture]
    settings.register_profile('ci', max_examples=500, deadline=None, derandomize=True,
                              suppress_health_check=_SLOW_OK, print_blob=True)
    settings.register_profile('long', max_examples=20000, deadline=None,
                              suppress_health_check=_SLOW_OK, print_blob=True)
    settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))
