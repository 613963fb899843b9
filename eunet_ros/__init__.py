# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
eunet_ros: EUnet semantic segmentation for Formula Student driverless cars.

The folders are the layers (docs/architecture.md); each imports only those below:

* ``eunet_ros.core``: ROS-free inference: the network, the checkpoint format, the
  engine, the ONNX Runtime backend, the torchvision peers, the option vocabularies;
* ``eunet_ros.ros``: the rclpy nodes (segment_node, camera_replay) and their parts;
* ``eunet_ros.tools``: the benchmarks, never needed on the car;
* ``eunet_ros.fileio``, ``argtypes``, ``resources``: base helpers, no torch, no rclpy.

The public inference API is re-exported here (imported on first use, so that
``import eunet_ros`` stays light): ``SegmentationEngine``, ``EngineError``,
``load_checkpoint``, ``save_checkpoint``, ``Checkpoint``, ``CheckpointError``.
"""

__version__ = '0.1.0'

_LAZY = {
    'SegmentationEngine': 'eunet_ros.core.engine',
    'EngineError': 'eunet_ros.core.engine',
    'load_checkpoint': 'eunet_ros.core.checkpoint',
    'save_checkpoint': 'eunet_ros.core.checkpoint',
    'Checkpoint': 'eunet_ros.core.checkpoint',
    'CheckpointError': 'eunet_ros.core.checkpoint',
}


def __getattr__(name):
    """Import a re-exported name of the inference API on first use (PEP 562)."""
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    """List the module's names, the lazily re-exported ones included."""
    return sorted(list(globals()) + list(_LAZY))
