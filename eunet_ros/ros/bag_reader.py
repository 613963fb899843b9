# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Read a rosbag2 (sqlite3 or MCAP storage) with the pure-Python ``rosbags``; ROS-free.

Shared by ``python -m eunet_ros.bag`` and ``camera_replay`` (``source:=`` a bag).
Every failure is a :class:`BagError` that names the bag and, once reading has
started, the topic, the message number and its time: a missing or unreadable
``metadata.yaml``, a storage plugin other than sqlite3 and mcap, a truncated or
corrupt database or MCAP file, a message that does not deserialise.

``rosbags`` is imported here and only here (and by the bag tool): the node and a
camera replay of videos never need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import yaml

__all__ = ['BagError', 'Bag', 'TopicInfo', 'IMAGE_TYPES', 'is_bag', 'STORAGES']

# message type -> how segment_node's camera receives it (<camera>.transport)
IMAGE_TYPES = {'sensor_msgs/msg/Image': 'raw', 'sensor_msgs/msg/CompressedImage': 'compressed'}
STORAGES = ('sqlite3', 'mcap')
_SUFFIXES = {'.db3': 'sqlite3', '.mcap': 'mcap'}


class BagError(RuntimeError):
    """A bag cannot be read (or written); the message names the bag, topic and message."""


def is_bag(path: str) -> bool:
    """Return whether ``path`` is a rosbag2 folder (metadata.yaml) or a .db3 / .mcap file."""
    p = Path(path).expanduser()
    return (p.is_dir() and (p / 'metadata.yaml').is_file()) or (
        p.is_file() and p.suffix.lower() in _SUFFIXES)


@dataclass
class TopicInfo:
    """One connection of a bag: topic, message type, message count and rosbags connection."""

    topic: str
    msgtype: str
    count: int
    connection: Any

    @property
    def is_image(self) -> bool:
        """Return whether it carries sensor_msgs/Image or CompressedImage."""
        return self.msgtype in IMAGE_TYPES


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f'{type(e).__name__}: {text.splitlines()[0].rstrip(".")}' if text else type(e).__name__


def _stamp(t_ns: int) -> str:
    return f'{t_ns / 1e9:.3f} s'


class Bag:
    """
    An open rosbag2 for reading; use as a context manager.

    :param path: a bag folder (``metadata.yaml`` and its files) or one ``.db3`` /
        ``.mcap`` file.

    :ivar storage: ``sqlite3`` or ``mcap``.
    :ivar version: the rosbag2 metadata version (None for a bare file).
    :ivar compression_mode: ``file``, ``message`` or None.
    :ivar compression_format: ``zstd`` or None.
    :ivar topics: one :class:`TopicInfo` per connection, in the bag's order.
    :ivar typestore: a rosbags typestore with the standard ROS 2 types and those
        defined in the bag.
    :raises BagError: the bag cannot be opened.

    """

    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser()
        self._reader = None
        if not self.path.exists():
            raise BagError(f'{self.path}: no such bag (give a rosbag2 folder or a .db3 / .mcap '
                           'file).')
        self.version: Optional[int] = None
        if self.path.is_dir():
            self.storage, self.version = self._read_metadata()
        else:
            self.storage = _SUFFIXES.get(self.path.suffix.lower(), '')
            if not self.storage:
                raise BagError(f'{self.path}: not a bag: a rosbag2 folder holds metadata.yaml, '
                               f'a bag file ends in {" or ".join(_SUFFIXES)}.')
        try:
            from rosbags.rosbag2 import Reader
        except ImportError as e:
            raise BagError(f'reading bags needs the rosbags package ({e}): '
                           'pip install rosbags') from None
        try:
            self._reader = Reader(self.path)
            self._reader.open()
        except Exception as e:  # noqa: B902 - ReaderError, sqlite3, mcap, OS and zstd errors
            self._reader = None
            raise BagError(f'{self.path}: cannot open the {self.storage} bag: {_first_line(e)}. '
                           'Is it complete (a recording that was cut off, or a file still being '
                           'written)?') from None
        r = self._reader
        self.compression_mode = r.compression_mode
        self.compression_format = r.compression_format
        self.message_count = int(r.message_count)
        self.start_ns = int(r.start_time) if self.message_count else 0
        self.end_ns = int(r.end_time) if self.message_count else 0
        self.topics = [TopicInfo(c.topic, c.msgtype, int(c.msgcount), c) for c in r.connections]
        self.typestore = self._make_typestore()

    def _read_metadata(self) -> Tuple[str, Optional[int]]:
        meta_path = self.path / 'metadata.yaml'
        if not meta_path.is_file():
            raise BagError(f'{self.path}: not a rosbag2 folder (no metadata.yaml in it).')
        try:
            meta = yaml.safe_load(meta_path.read_text())['rosbag2_bagfile_information']
            storage = str(meta['storage_identifier'])
            version = int(meta['version'])
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as e:
            raise BagError(f'{meta_path}: not a readable rosbag2 metadata file '
                           f'({_first_line(e)}).') from None
        if storage not in STORAGES:
            raise BagError(f'{self.path}: storage plugin {storage!r} is not supported; this '
                           f'tool reads {" and ".join(STORAGES)} bags (convert with `ros2 bag '
                           'convert` where ROS is installed).')
        return storage, version

    def _make_typestore(self) -> Any:
        """Return the standard ROS 2 typestore plus the types the bag defines."""
        from rosbags.typesys import get_types_from_idl, get_types_from_msg, get_typestore
        from rosbags.typesys import Stores
        store = get_typestore(Stores.LATEST)
        for t in self.topics:
            c = t.connection
            if t.msgtype in store.fielddefs or not c.msgdef.data:
                continue
            try:
                if c.msgdef.format.name == 'IDL':
                    store.register(get_types_from_idl(c.msgdef.data))
                else:
                    store.register(get_types_from_msg(c.msgdef.data, t.msgtype))
            except Exception:  # noqa: B902 - an unparsable definition: the type stays unknown
                pass
        return store

    # ---------------------------------------------------------------- reading
    @property
    def duration_ns(self) -> int:
        """Return the time between the first and the last message (ns)."""
        return max(0, self.end_ns - self.start_ns)

    def image_topics(self) -> List[TopicInfo]:
        """Return the sensor_msgs/Image and CompressedImage connections."""
        return [t for t in self.topics if t.is_image]

    def messages(self, topics: Optional[Sequence[TopicInfo]] = None) -> Iterator[
            Tuple[TopicInfo, int, bytes]]:
        """
        Yield ``(topic, bag time in ns, serialised message)`` in the bag's order.

        :param topics: only these connections (None: all).
        :raises BagError: the storage is truncated or corrupt, naming the last good
            message.
        """
        infos = list(self.topics if topics is None else topics)
        by_id: Dict[int, TopicInfo] = {t.connection.id: t for t in infos}
        if not infos:
            return
        it = self._reader.messages(connections=[t.connection for t in infos])
        n = 0
        last = 'before the first message'
        while True:
            try:
                conn, t_ns, raw = next(it)
            except StopIteration:
                return
            except Exception as e:  # noqa: B902 - sqlite3, mcap, zstd and struct errors
                raise BagError(f'{self.path}: the {self.storage} storage is truncated or '
                               f'corrupt: reading failed after {n} message(s) ({last}): '
                               f'{_first_line(e)}.') from None
            n += 1
            info = by_id[conn.id]
            last = f'the last one on {info.topic} at {_stamp(t_ns)}'
            yield info, int(t_ns), raw

    def deserialize(self, raw: bytes, info: TopicInfo, t_ns: int) -> Any:
        """
        Return the rosbags message of ``raw`` (a dataclass with the ROS field names).

        :raises BagError: the message does not deserialise as its type.
        """
        try:
            return self.typestore.deserialize_cdr(raw, info.msgtype)
        except Exception as e:  # noqa: B902 - struct, index and type errors of a bad message
            raise BagError(f'{self.path}: message on {info.topic} at {_stamp(t_ns)} is not a '
                           f'valid {info.msgtype} ({len(raw)} bytes): {_first_line(e)}.') \
                from None

    def close(self) -> None:
        """Close the storage files."""
        if self._reader is not None:
            try:
                self._reader.close()
            finally:
                self._reader = None

    def __enter__(self) -> 'Bag':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
