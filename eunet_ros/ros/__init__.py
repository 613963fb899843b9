# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The ROS 2 side: the nodes and the parts they are made of.

``segment_node`` and ``camera_replay`` are thin rclpy adapters. Their parts that
need no rclpy stay testable without it: ``node_params`` (declarations and
validation), ``image_conversion``, ``frame_slots`` (newest frame per camera),
``stats`` (diagnostics figures), ``frame_source`` (video / image folder), and
``dds_profile``. ``ros_util`` and ``spin`` hold the rclpy helpers shared by the
nodes, the tools, the demo and the tests. Imports ``eunet_ros.core`` and the base
helpers, never ``eunet_ros.tools``.
"""
