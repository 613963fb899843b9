# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
``python -m eunet_ros.benchmark`` and the ``benchmark`` console script.

``benchmark [options]`` measures the network and the engine
(:mod:`eunet_ros.tools.benchmark`); ``benchmark node [options]`` measures the node
end to end over DDS (:mod:`eunet_ros.tools.bench_node`); ``benchmark cones
[options]`` the mask-to-cones step (:mod:`eunet_ros.tools.bench_cones`). The code lives in
``eunet_ros/tools/``; this module only picks one.
"""

import sys
from typing import Optional, Sequence

__all__ = ['main']


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark named by the first argument (``node``, ``cones``) or the network one."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['node']:
        from eunet_ros.tools import bench_node
        return bench_node.main(argv[1:])
    if argv[:1] == ['cones']:
        from eunet_ros.tools import bench_cones
        return bench_cones.main(argv[1:])
    from eunet_ros.tools import benchmark
    return benchmark.main(argv)


if __name__ == '__main__':
    sys.exit(main())
