# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Atomic file writes: a reader never sees half a file, a crash never loses the old one.

Used for checkpoints, dataset caches, rendered datasets, reports and summaries
(:func:`atomic_write_json` for every JSON file the package and training/ write).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
import tempfile
from typing import Any, BinaryIO, Callable, Union

PathLike = Union[str, 'os.PathLike[str]']


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# errors that mean the disk (or the process's file size limit or quota) is full
_FULL = {errno.ENOSPC: ' (the disk is full: free space and run again)',
         errno.EFBIG: " (over the file size limit: ulimit -f, or the file system's maximum)",
         errno.EDQUOT: ' (over the disk quota: free space and run again)'}


def atomic_write(path: PathLike, write: Callable[[BinaryIO], object], *,
                 durable: bool = True) -> Path:
    """
    Write ``path`` through ``write(fileobj)`` on a temporary file beside it, then rename.

    :param path: the destination; its folder is created.
    :param write: called with the open temporary file (binary).
    :param durable: fsync the file and its folder, so the new content survives a power
        loss too (checkpoints); without it a killed process still never leaves half a
        file (bulk dataset files, where fsync per file costs too much).
    :returns: ``path`` as a Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        # mkstemp creates 0600 files; give the permissions a plain open() would, so a
        # checkpoint copied to models/ or a shared server stays readable by others
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, 'wb') as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and e.errno is not None:
            why = _FULL.get(e.errno, '')
            kept = (f'the previous {path.name} is unchanged' if path.exists()
                    else f'{path.name} was not created')
            raise OSError(e.errno, f'could not write {path}: {e.strerror}{why}; {kept}, '
                                   'no partial file is left') from e
        raise
    if durable:
        try:  # make the rename itself durable
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
    return path


def atomic_write_bytes(path: PathLike, data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data), durable=durable)


def atomic_write_json(path: PathLike, obj: Any, *, indent: int = 2,
                      durable: bool = True) -> Path:
    """Write ``obj`` as indented JSON (with a final newline) atomically."""
    return atomic_write_bytes(path, (json.dumps(obj, indent=indent) + '\n').encode(),
                              durable=durable)
