# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Where the package's shipped files are: the packaged checkpoint and the Fast DDS profile.

No torch and no rclpy: the node, the tools and the tests look paths up here
without loading the engine. Installed with colcon, the files are found under
``share/eunet_ros`` through the ament index; in a source checkout (``python -m``
from the repository, or a plain ``pip install -e``) under the repository's
``models/`` and ``config/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

__all__ = ['CHECKPOINT_FILE', 'DDS_PROFILE_FILE', 'default_checkpoint_path',
           'dds_profile_path', 'share_folders']

CHECKPOINT_FILE = 'eunet_fs_synthetic.pt'
DDS_PROFILE_FILE = 'fastdds_large_images.xml'
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def share_folders(folder: str) -> List[Path]:
    """Return where ``folder`` (``models``, ``config``) may be: the install space, the source."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(Path(get_package_share_directory('eunet_ros')) / folder)
    except Exception:  # noqa: B902 - not installed with ament: fall back to the source tree
        pass
    candidates.append(SOURCE_ROOT / folder)
    return candidates


def _first(folder: str, name: str) -> Optional[Path]:
    for f in share_folders(folder):
        p = f / name
        if p.is_file():
            return p
    return None


def default_checkpoint_path() -> Optional[Path]:
    """Find the packaged model: $EUNET_CHECKPOINT, share/eunet_ros/models, or ./models."""
    env = os.environ.get('EUNET_CHECKPOINT')
    if env:
        return Path(env)
    return _first('models', CHECKPOINT_FILE)


def dds_profile_path() -> Optional[Path]:
    """Find the shipped Fast DDS profile: share/eunet_ros/config, else the source's config/."""
    return _first('config', DDS_PROFILE_FILE)
