# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Offline training of EUnet: datasets, transforms, losses, metrics, loop, CLIs.

Imports eunet_ros.core.model and eunet_ros.core.checkpoint, never rclpy.
"""
