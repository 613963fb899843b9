# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Compatibility path: this name is :mod:`eunet_ros.core.engine` itself.

Kept because user code loads checkpoints and builds engines through
``eunet_ros.engine``; new code imports ``eunet_ros.core.engine`` (or the names
re-exported by :mod:`eunet_ros` itself). Importing this module binds the core
module under both names, so every attribute (and monkeypatching) is shared.
"""

import sys

from eunet_ros.core import engine as _core

sys.modules[__name__] = _core
