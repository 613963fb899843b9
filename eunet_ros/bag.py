# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
``python -m eunet_ros.bag`` and the ``eunet_bag`` console script: recorded drives.

``info``, ``segment``, ``export`` and ``compare`` of rosbag2 bags (sqlite3 or MCAP)
without ROS; the code lives in :mod:`eunet_ros.tools.bag`.
"""

import sys
from typing import Optional, Sequence

__all__ = ['main']


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``eunet_bag`` with ``argv`` (default: the command line)."""
    from eunet_ros.tools import bag
    return bag.main(argv)


if __name__ == '__main__':
    sys.exit(main())
