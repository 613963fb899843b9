# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
sensor_msgs Image / CompressedImage <-> numpy, with cv_bridge's semantics, ROS-free.

The node needs uint8 H x W x 3 frames in a known colour order. cv_bridge gives
them where a ROS install has a working one; everywhere else (PyPI ROS wheels,
numpy 2) :class:`BuiltinConverter` does the same conversions with OpenCV:

=================================  ====================================  =========
encoding                           conversion                            order out
=================================  ====================================  =========
``bgr8`` / ``rgb8``                none (a view of the message buffer)   bgr / rgb
``bgra8`` / ``rgba8``              alpha dropped (view)                  bgr / rgb
``mono8``                          grey replicated to 3 channels         bgr
``yuv422`` / ``uyvy``              ``COLOR_YUV2BGR_UYVY``                bgr
``yuv422_yuy2`` / ``yuyv``         ``COLOR_YUV2BGR_YUY2``                bgr
``bayer_rggb8`` ...                ``COLOR_Bayer*2BGR`` as cv_bridge      bgr
compressed (jpeg, png)             ``cv2.imdecode(..., IMREAD_COLOR)``   bgr
=================================  ====================================  =========

Every message is validated first (the same checks for both converters): a known
8-bit encoding, non-zero and sane dimensions, ``step`` at least one row of pixels,
``data`` exactly ``step * height`` bytes; compressed data non-empty, its header
size sane before anything is decoded, decodable. A bad message raises
:class:`ImageConversionError` whose message says what is wrong and what to do.

Messages are duck-typed (``height``, ``width``, ``encoding``, ``step``, ``data``;
``format``, ``data``), so this module imports neither rclpy nor sensor_msgs.
"""

from __future__ import annotations

import array
from dataclasses import dataclass
import struct
from typing import Any, Dict, Optional, Tuple

import cv2
from eunet_ros.core.options import MAX_FRAME_SIDE
import numpy as np

__all__ = [
    'ImageConversionError',
    'BuiltinConverter',
    'CvBridgeConverter',
    'SUPPORTED_ENCODINGS',
    'MAX_SIDE',
    'check_image',
    'image_to_array',
    'compressed_to_array',
    'peek_compressed_size',
    'to_byte_array',
    'make_converter',
]

# Larger than any camera a car carries (16K); a bigger header is corrupt, and
# believing it would allocate gigabytes.
MAX_SIDE = MAX_FRAME_SIDE


class ImageConversionError(ValueError):
    """An image message cannot be converted; the message says why and what to do."""


@dataclass(frozen=True)
class _Encoding:
    bytes_per_pixel: int   # per pixel in a row (yuv422: 2 bytes for each pixel)
    channels: int          # channels of the numpy view of one row
    order: str             # colour order of what image_to_array returns
    cv_code: Optional[int] = None  # cv2.cvtColor code, None: a view is enough
    min_side: int = 1
    even_width: bool = False


SUPPORTED_ENCODINGS: Dict[str, _Encoding] = {
    'bgr8': _Encoding(3, 3, 'bgr'),
    'rgb8': _Encoding(3, 3, 'rgb'),
    'bgra8': _Encoding(4, 4, 'bgr'),
    'rgba8': _Encoding(4, 4, 'rgb'),
    'mono8': _Encoding(1, 1, 'bgr', cv2.COLOR_GRAY2BGR),
    # sensor_msgs: "yuv422" is UYVY; "yuv422_yuy2" is YUYV (a.k.a. YUY2)
    'yuv422': _Encoding(2, 2, 'bgr', cv2.COLOR_YUV2BGR_UYVY, even_width=True),
    'uyvy': _Encoding(2, 2, 'bgr', cv2.COLOR_YUV2BGR_UYVY, even_width=True),
    'yuv422_yuy2': _Encoding(2, 2, 'bgr', cv2.COLOR_YUV2BGR_YUY2, even_width=True),
    'yuyv': _Encoding(2, 2, 'bgr', cv2.COLOR_YUV2BGR_YUY2, even_width=True),
    # OpenCV names a Bayer pattern by its second row's first two pixels; these are
    # cv_bridge's codes (and test_node_conversion checks them on known mosaics).
    'bayer_rggb8': _Encoding(1, 1, 'bgr', cv2.COLOR_BayerBG2BGR, min_side=2),
    'bayer_bggr8': _Encoding(1, 1, 'bgr', cv2.COLOR_BayerRG2BGR, min_side=2),
    'bayer_gbrg8': _Encoding(1, 1, 'bgr', cv2.COLOR_BayerGR2BGR, min_side=2),
    'bayer_grbg8': _Encoding(1, 1, 'bgr', cv2.COLOR_BayerGB2BGR, min_side=2),
}

# Known ROS encodings this node refuses on purpose (not 8-bit colour or grey).
_KNOWN_UNSUPPORTED = (
    'mono16', 'rgb16', 'bgr16', 'rgba16', 'bgra16', 'bayer_rggb16', 'bayer_bggr16',
    'bayer_gbrg16', 'bayer_grbg16', '16UC1', '16UC3', '32FC1', '32FC3', '64FC1', 'nv21',
    'nv24', 'nv12')


def _supported_list() -> str:
    return ', '.join(sorted(SUPPORTED_ENCODINGS))


def _check_sides(h: int, w: int, what: str, verdict: str) -> None:
    """
    Refuse a zero size or more than :data:`MAX_SIDE` pixels on a side.

    :param what: the image, for the message (``'image'``, ``'decoded image'``, ...).
    :param verdict: what an absurd size means or what is done about it.
    :raises ImageConversionError: ``zero-size ...`` or ``absurd ... size ...``.
    """
    if h == 0 or w == 0:
        raise ImageConversionError(f'zero-size {what} ({w}x{h}): nothing to segment.')
    if h > MAX_SIDE or w > MAX_SIDE:
        raise ImageConversionError(
            f'absurd {what} size {w}x{h} (more than {MAX_SIDE} pixels on a side): {verdict}.')


def check_image(msg: Any) -> _Encoding:
    """
    Validate the fields of a sensor_msgs/Image; return its encoding's description.

    :raises ImageConversionError: naming the field that is wrong.
    """
    enc_name = str(msg.encoding)
    enc = SUPPORTED_ENCODINGS.get(enc_name)
    if enc is None:
        if not enc_name:
            raise ImageConversionError(
                'empty encoding field: the publisher must set sensor_msgs/Image.encoding '
                f'(one of {_supported_list()}).')
        lower = enc_name.lower()
        if lower != enc_name and lower in SUPPORTED_ENCODINGS:
            raise ImageConversionError(
                f'unknown encoding {enc_name!r}: encodings are case-sensitive, did you mean '
                f'{lower!r}?')
        if enc_name.startswith('8UC'):
            raise ImageConversionError(
                f'encoding {enc_name!r} carries no colour order; publish bgr8, rgb8 or mono8.')
        if enc_name in _KNOWN_UNSUPPORTED:
            raise ImageConversionError(
                f'encoding {enc_name!r} is not supported: the network takes 8-bit colour or '
                f'grey images ({_supported_list()}); convert on the camera side.')
        raise ImageConversionError(
            f'unknown encoding {enc_name!r}; supported: {_supported_list()}.')
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    _check_sides(h, w, 'image', 'the header is corrupt')
    if h < enc.min_side or w < enc.min_side:
        raise ImageConversionError(
            f'{enc_name} image of {w}x{h} is too small to demosaic (at least '
            f'{enc.min_side}x{enc.min_side}).')
    if enc.even_width and w % 2:
        raise ImageConversionError(
            f'{enc_name} packs 2 pixels per 4 bytes: the width must be even, got {w}.')
    row = w * enc.bytes_per_pixel
    if step < row:
        raise ImageConversionError(
            f'step {step} is smaller than one row of {w} {enc_name} pixels ({row} bytes): '
            'step/size mismatch.')
    size = len(msg.data)
    if size != step * h:
        what = 'truncated' if size < step * h else 'longer than the header says'
        raise ImageConversionError(
            f'data is {what}: {size} bytes, but step x height = {step} x {h} = {step * h}.')
    return enc


def image_to_array(msg: Any) -> Tuple[np.ndarray, str]:
    """
    Convert a sensor_msgs/Image to a uint8 H x W x 3 array and its colour order.

    rgb8 / bgr8 (and their alpha variants) come back as views of the message buffer,
    no copy; everything else is converted to bgr like cv_bridge's ``bgr8``.

    :returns: ``(frame, order)`` with ``order`` ``'bgr'`` or ``'rgb'``.
    :raises ImageConversionError: the message is invalid (see :func:`check_image`).
    """
    return _to_array(msg, check_image(msg))


def _to_array(msg: Any, enc: _Encoding) -> Tuple[np.ndarray, str]:
    """Convert a sensor_msgs/Image that :func:`check_image` passed as ``enc``."""
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    flat = np.frombuffer(msg.data, dtype=np.uint8)
    rows = flat.reshape(h, step)[:, :w * enc.bytes_per_pixel]
    img = rows.reshape(h, w, enc.channels) if enc.channels > 1 else rows
    if enc.cv_code is None:
        return img[:, :, :3], enc.order
    try:
        out = cv2.cvtColor(np.ascontiguousarray(img), enc.cv_code)
    except cv2.error as e:  # pragma: no cover - the checks above should prevent it
        raise ImageConversionError(f'OpenCV could not convert {msg.encoding} ({e}).') from None
    return out, 'bgr'


def peek_compressed_size(data: bytes) -> Optional[Tuple[int, int]]:
    """
    Read (height, width) from a PNG or JPEG header without decoding; None if unknown.

    Used to refuse absurd sizes before a decoder allocates them.
    """
    if len(data) >= 24 and data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR':
        w, h = struct.unpack('>II', data[16:24])
        return int(h), int(w)
    if len(data) >= 4 and data[:2] == b'\xff\xd8':
        i = 2
        n = len(data)
        while i + 4 <= n:
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            seg_len = struct.unpack('>H', data[i + 2:i + 4])[0]
            # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                if i + 9 > n:
                    return None
                h, w = struct.unpack('>HH', data[i + 5:i + 9])
                return int(h), int(w)
            if marker == 0xDA:  # start of scan before any SOF: malformed
                return None
            i += 2 + seg_len
    return None


def _check_compressed(msg: Any) -> bytes:
    fmt = str(getattr(msg, 'format', ''))
    data = msg.data
    buf = data.tobytes() if isinstance(data, array.array) else bytes(data)
    if not buf:
        raise ImageConversionError(f'empty CompressedImage data (format {fmt!r}).')
    if 'compresseddepth' in fmt.lower().replace(' ', ''):
        raise ImageConversionError(
            f'format {fmt!r} is a compressed depth image; the node segments colour images '
            '(jpeg or png).')
    size = peek_compressed_size(buf[:65536])
    if size is not None:
        _check_sides(*size, 'compressed image', 'its header is corrupt; refused before decoding')
    return buf


def compressed_to_array(msg: Any) -> Tuple[np.ndarray, str]:
    """
    Decode a sensor_msgs/CompressedImage (jpeg, png) to uint8 H x W x 3 bgr.

    :returns: ``(frame, 'bgr')``.
    :raises ImageConversionError: empty, absurd or undecodable data.
    """
    buf = _check_compressed(msg)
    try:
        img = cv2.imdecode(np.frombuffer(buf, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as e:
        raise _undecodable(msg, buf, str(e).strip().splitlines()[-1]) from None
    if img is None:
        raise _undecodable(msg, buf)
    return _sane_decoded(img), 'bgr'


def _undecodable(msg: Any, buf: bytes, detail: str = '') -> ImageConversionError:
    return ImageConversionError(
        f'could not decode {len(buf)} bytes of format {getattr(msg, "format", "")!r} as '
        f'jpeg or png{f" ({detail})" if detail else ""}.')


def _sane_decoded(img: np.ndarray) -> np.ndarray:
    _check_sides(*img.shape[:2], 'decoded image', 'refused')
    if img.dtype != np.uint8:  # pragma: no cover - IMREAD_COLOR always gives 8 bit
        img = (img // 256).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    return img


def to_byte_array(a: np.ndarray) -> 'array.array[int]':
    """Copy a uint8 array into the ``array('B')`` that ROS message ``data`` fields take."""
    out = array.array('B')
    out.frombytes(np.ascontiguousarray(a, dtype=np.uint8).reshape(-1).data)
    return out


class BuiltinConverter:
    """The package's own conversion (OpenCV), used where cv_bridge is missing or broken."""

    name = 'builtin'

    def image(self, msg: Any) -> Tuple[np.ndarray, str]:
        """Convert a sensor_msgs/Image; see :func:`image_to_array`."""
        return image_to_array(msg)

    def compressed(self, msg: Any) -> Tuple[np.ndarray, str]:
        """Convert a sensor_msgs/CompressedImage; see :func:`compressed_to_array`."""
        return compressed_to_array(msg)


class CvBridgeConverter:
    """cv_bridge behind the same validation and interface as :class:`BuiltinConverter`."""

    name = 'cv_bridge'

    def __init__(self) -> None:
        from cv_bridge import CvBridge  # noqa: I900 - optional, only on real ROS installs
        self._bridge = CvBridge()

    def image(self, msg: Any) -> Tuple[np.ndarray, str]:
        """
        Validate like the built-in converter, then convert with cv_bridge.

        The message is valid at that point, so where this cv_bridge does not know an
        encoding (older ones lack yuv422_yuy2 and the uyvy/yuyv aliases) or returns
        another size (padded rows in some versions), the built-in conversion is used.
        """
        enc = check_image(msg)
        want = 'rgb8' if enc.order == 'rgb' else 'bgr8'
        try:
            img = np.asarray(self._bridge.imgmsg_to_cv2(msg, desired_encoding=want))
        except Exception:  # noqa: B902 - CvBridgeError or a numpy error
            return _to_array(msg, enc)
        if img.shape != (int(msg.height), int(msg.width), 3) or img.dtype != np.uint8:
            return _to_array(msg, enc)
        return img, enc.order

    def compressed(self, msg: Any) -> Tuple[np.ndarray, str]:
        """Validate like the built-in converter, then decode with cv_bridge."""
        buf = _check_compressed(msg)
        try:
            img = self._bridge.compressed_imgmsg_to_cv2(msg, desired_encoding='bgr8')
        except Exception as e:  # noqa: B902 - CvBridgeError, cv2.error
            raise _undecodable(msg, buf, str(e)) from None
        if img is None:
            raise _undecodable(msg, buf)
        return _sane_decoded(np.asarray(img)), 'bgr'


def _cv_bridge_self_test(conv: CvBridgeConverter) -> None:
    """Raise unless cv_bridge round-trips a small image (the PyPI port breaks on numpy 2)."""
    from sensor_msgs.msg import CompressedImage, Image  # noqa: I900 - with ROS only
    img = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
    msg = Image(height=2, width=4, encoding='bgr8', step=12, data=to_byte_array(img))
    out, order = conv.image(msg)
    if order != 'bgr' or not np.array_equal(out, img):
        raise RuntimeError('cv_bridge returned a different image')
    ok, png = cv2.imencode('.png', img)
    cmsg = CompressedImage(format='png', data=to_byte_array(png))
    out, _ = conv.compressed(cmsg)
    if not np.array_equal(out, img):
        raise RuntimeError('cv_bridge decoded a different image')


def make_converter(prefer: str = 'auto') -> Tuple[Any, str]:
    """
    Pick the image converter: cv_bridge when it imports and works, else the built-in one.

    :param prefer: ``'auto'``, ``'cv_bridge'`` (fail if unusable) or ``'builtin'``.
    :returns: ``(converter, why)``: ``why`` says which one and, for the fallback, why.
    """
    if prefer not in ('auto', 'cv_bridge', 'builtin'):
        raise ValueError(f'prefer must be auto, cv_bridge or builtin, got {prefer!r}')
    if prefer == 'builtin':
        return BuiltinConverter(), 'built-in OpenCV conversion (requested)'
    try:
        conv = CvBridgeConverter()
        _cv_bridge_self_test(conv)
        return conv, 'cv_bridge'
    except Exception as e:  # noqa: B902 - ImportError, numpy ABI errors, ...
        if prefer == 'cv_bridge':
            raise RuntimeError(f'cv_bridge is not usable here: {type(e).__name__}: {e}') \
                from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else ''
        return BuiltinConverter(), (f'built-in OpenCV conversion (cv_bridge not usable: '
                                    f'{type(e).__name__}: {first})')
