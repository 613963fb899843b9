# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Make Fast DDS deliver large best-effort images, without overriding the user's choice.

Fast DDS (ROS 2's default middleware) with its default 512 KiB shared-memory
segment does not deliver best-effort messages of about 1 MB and more between
processes (a 640x480 bgr8 image is 0.9 MB). ``config/fastdds_large_images.xml``
gives the participant a 64 MiB segment, which fixes it; what counts is the
publishing side. :func:`apply_large_message_profile` points Fast DDS at that
file through the environment, and must run before ``rclpy.init`` (Fast DDS reads
its profiles once, when the first participant is created).

It changes nothing when the user has made a choice of their own:

* ``RMW_IMPLEMENTATION`` names another middleware (CycloneDDS, Zenoh, ...);
* ``FASTDDS_DEFAULT_PROFILES_FILE`` or ``FASTRTPS_DEFAULT_PROFILES_FILE`` is set;
* ``FASTDDS_BUILTIN_TRANSPORTS`` is set (e.g. ``LARGE_DATA``);
* the working directory holds ``DEFAULT_FASTDDS_PROFILES.xml`` or
  ``DEFAULT_FASTRTPS_PROFILES.xml`` (Fast DDS loads those by itself);
* ``EUNET_DDS_PROFILE`` is ``0``/``off``/``false`` (explicit opt-out).

Fast DDS 2.x (Humble, Iron, Jazzy) reads ``FASTRTPS_DEFAULT_PROFILES_FILE``;
Fast DDS 3.x (Kilted and later) reads ``FASTDDS_DEFAULT_PROFILES_FILE``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import MutableMapping, Optional, Tuple

from eunet_ros.resources import DDS_PROFILE_FILE as PROFILE_FILE, dds_profile_path

__all__ = ['PROFILE_FILE', 'profile_path', 'apply_large_message_profile', 'profile_env_var']

ENV_VARS = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
CWD_FILES = ('DEFAULT_FASTDDS_PROFILES.xml', 'DEFAULT_FASTRTPS_PROFILES.xml')
FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')


def profile_path() -> Optional[Path]:
    """Find the shipped profile: share/eunet_ros/config, else the source tree's config/."""
    return dds_profile_path()


def profile_env_var(distro: Optional[str]) -> str:
    """Return the variable the installed Fast DDS reads, from ``ROS_DISTRO``."""
    if (distro or '').strip().lower() in FAST_DDS_2_DISTROS:
        return 'FASTRTPS_DEFAULT_PROFILES_FILE'
    return 'FASTDDS_DEFAULT_PROFILES_FILE'


def apply_large_message_profile(environ: Optional[MutableMapping[str, str]] = None,
                                cwd: Optional[Path] = None,
                                path: Optional[Path] = None) -> Tuple[bool, str]:
    """
    Point Fast DDS at the shipped large-message profile unless the user chose otherwise.

    :param environ: the environment to read and change (default ``os.environ``).
    :param cwd: the working directory Fast DDS looks in (default: the current one).
    :param path: the profile file (default: :func:`profile_path`).
    :returns: ``(applied, what)``: whether a variable was set and a sentence saying
        what was done or why not (for the node's start-up log).
    """
    env = os.environ if environ is None else environ
    flag = env.get('EUNET_DDS_PROFILE', '').strip().lower()
    if flag in ('0', 'off', 'false', 'no'):
        return False, 'DDS profile: not applied (EUNET_DDS_PROFILE=%s)' % flag
    rmw = env.get('RMW_IMPLEMENTATION', '').strip()
    if rmw and not rmw.startswith('rmw_fastrtps'):
        return False, f'DDS profile: not needed (RMW_IMPLEMENTATION={rmw})'
    for var in ENV_VARS:
        if env.get(var, '').strip():
            return False, f'DDS profile: using yours ({var}={env[var]})'
    if env.get('FASTDDS_BUILTIN_TRANSPORTS', '').strip():
        return False, ('DDS profile: using your transports (FASTDDS_BUILTIN_TRANSPORTS='
                       f'{env["FASTDDS_BUILTIN_TRANSPORTS"]})')
    folder = Path.cwd() if cwd is None else Path(cwd)
    for name in CWD_FILES:
        if (folder / name).is_file():
            return False, f'DDS profile: using yours ({folder / name})'
    p = path if path is not None else profile_path()
    if p is None or not Path(p).is_file():
        return False, (f'DDS profile: {PROFILE_FILE} not found; best-effort images of 640x480 '
                       'and larger may not reach other processes with Fast DDS')
    var = profile_env_var(env.get('ROS_DISTRO'))
    env[var] = str(p)
    return True, f'DDS profile: {var}={p} (64 MiB shared memory for large best-effort images)'
