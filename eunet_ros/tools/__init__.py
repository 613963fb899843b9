# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Measuring tools, never needed on the car.

``benchmark`` (network and engine, peers in the same run), ``bench_node`` (the node
end to end over DDS) with ``bench_camera`` (its camera processes), ``soak`` (the
node for a long time on bench_node's processes: RSS, CPU, threads, fds, latency
and drops every second, a verdict and a plot), ``common``
(tables, ``WxH`` options, the environment record), ``child_process`` (processes
with a log, stopped like Ctrl-C; also used by the demo) and ``view`` (the node's
overlay or mask to PNGs or an MP4, and ``~/enable``, without rviz or the ros2 CLI).
``python -m eunet_ros.benchmark`` is the benchmarks' command line. May import every
layer below.
"""
