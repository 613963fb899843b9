# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
ROS-free inference: what runs on the car besides rclpy.

``model`` (EUnet, pure torch), ``checkpoint`` (the one file format), ``engine``
(device, precision, pre/post-processing, batching, overlay), ``ort_backend`` (the
CPU backend), ``peers`` (torchvision networks in the checkpoint format),
``options`` (vocabularies and bounds, torch-free). Imports only the base helpers
(``eunet_ros.fileio``); never rclpy or ament (test/test_architecture.py).
"""
