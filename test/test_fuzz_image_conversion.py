# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Property tests of the image conversion over every field of Image and CompressedImage.

The node converts every message it receives (``segment_node``: ``cam.convert(msg)``,
catching :class:`ImageConversionError` only). Whatever a publisher sends, the
conversion must either refuse it with that error or return a uint8 H x W x 3 frame
of the message's size; any other exception would escape the node's callback.

Real ``sensor_msgs`` messages are built, so every field holds what DDS can deliver
(uint32 sizes, a uint8 ``is_bigendian``, any string, any byte length).
"""

import cv2
from eunet_ros.ros.image_conversion import (BuiltinConverter, ImageConversionError, MAX_SIDE,
                                            SUPPORTED_ENCODINGS, to_byte_array)
from hypothesis import example, given, strategies as st
import numpy as np
from sensor_msgs.msg import CompressedImage, Image

CONV = BuiltinConverter()
U32 = 2**32 - 1
KNOWN = sorted(SUPPORTED_ENCODINGS) + ['mono16', '16UC1', '32FC1', '8UC3', 'BGR8', 'nv12',
                                       'bayer_rggb16', 'compressedDepth']
ENCODINGS = st.one_of(st.sampled_from(KNOWN), st.text(max_size=24))
# mostly small sides (so the conversion runs), sometimes anything a uint32 holds
SIDES = st.one_of(st.integers(0, 9), st.integers(0, U32))


def _frame(h, w):
    rng = np.random.default_rng(h * 131 + w)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _encoded(kind):
    img = _frame(12, 16)
    ok, buf = cv2.imencode('.png' if kind == 'png' else '.jpg', img)
    assert ok
    return buf.tobytes()


PNG, JPEG = _encoded('png'), _encoded('jpeg')


@st.composite
def image_messages(draw):
    """Draw a sensor_msgs/Image, every field at random; data often step x height."""
    enc = draw(ENCODINGS)
    h, w = draw(SIDES), draw(SIDES)
    bpp = SUPPORTED_ENCODINGS[enc].bytes_per_pixel if enc in SUPPORTED_ENCODINGS else 3
    row = min(w * bpp, U32)
    step = draw(st.one_of(st.just(row), st.integers(max(0, row - 2), min(U32, row + 5)),
                          st.integers(0, U32)))
    want = step * h
    size = draw(st.one_of(st.just(want), st.integers(max(0, want - 3), want + 3),
                          st.integers(0, 4096)))
    size = min(size, 1 << 16)  # never allocate what a corrupt header claims
    data = bytes(draw(st.binary(min_size=min(size, 64), max_size=min(size, 64))))
    data = (data * (size // max(1, len(data)) + 1))[:size] if data else bytes(size)
    return Image(height=h, width=w, encoding=enc, is_bigendian=draw(st.integers(0, 255)),
                 step=step, data=to_byte_array(np.frombuffer(data, np.uint8)))


@given(image_messages())
@example(Image(height=2, width=2, encoding='bgr8', step=6, data=to_byte_array(
    np.zeros(12, np.uint8))))
@example(Image(height=1, width=2**31, encoding='bgr8', step=U32, data=to_byte_array(
    np.zeros(0, np.uint8))))
def test_image_message_is_converted_or_refused(msg):
    try:
        frame, order = CONV.image(msg)
    except ImageConversionError as e:
        assert str(e)
        return
    h, w = msg.height, msg.width
    assert msg.encoding in SUPPORTED_ENCODINGS
    assert 0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE
    assert len(msg.data) == msg.step * h
    assert frame.shape == (h, w, 3) and frame.dtype == np.uint8
    assert order in ('bgr', 'rgb')
    if msg.encoding in ('bgr8', 'rgb8'):
        want = np.frombuffer(bytes(msg.data), np.uint8).reshape(h, msg.step)[:, :w * 3]
        assert np.array_equal(frame.reshape(h, w * 3), want)


@st.composite
def compressed_payloads(draw):
    """Random bytes, or a real PNG / JPEG with bytes flipped, cut or appended."""
    kind = draw(st.sampled_from(['random', 'png', 'jpeg']))
    if kind == 'random':
        return draw(st.binary(max_size=256))
    buf = bytearray(PNG if kind == 'png' else JPEG)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(['flip', 'cut', 'append', 'set']))
        if not buf:
            break
        i = draw(st.integers(0, len(buf) - 1))
        if op == 'flip':
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == 'set':
            buf[i] = draw(st.integers(0, 255))
        elif op == 'cut':
            del buf[i:]
        else:
            buf[i:i] = draw(st.binary(min_size=1, max_size=32))
    return bytes(buf)


@given(compressed_payloads(), st.one_of(st.sampled_from(
    ['jpeg', 'png', 'rgb8; jpeg compressed bgr8', '16UC1; compressedDepth png', '']),
    st.text(max_size=40)))
@example(PNG, 'png')
@example(JPEG, 'jpeg')
def test_compressed_message_is_decoded_or_refused(data, fmt):
    msg = CompressedImage(format=fmt, data=to_byte_array(np.frombuffer(data, np.uint8)))
    try:
        frame, order = CONV.compressed(msg)
    except ImageConversionError as e:
        assert str(e)
        return
    assert data, 'empty data must be refused'
    assert 'compresseddepth' not in fmt.lower().replace(' ', '')
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert 0 < frame.shape[0] <= MAX_SIDE and 0 < frame.shape[1] <= MAX_SIDE
    if data not in (PNG, JPEG):
        return
    assert frame.shape == (12, 16, 3)
    if data == PNG:
        assert np.array_equal(frame, _frame(12, 16))
