# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Image message -> numpy conversion: cv_bridge semantics, and every bad input refused.

Both converters are held to the same expectations: cv_bridge where the ROS install
has a working one, and the package's own OpenCV conversion. On this machine there
is no working cv_bridge (the PyPI port breaks on numpy 2), so only the built-in
converter runs here; the cv_bridge cases are skipped with that reason.
"""

import cv2
from eunet_ros.ros.image_conversion import (BuiltinConverter, ImageConversionError, make_converter,
                                            MAX_SIDE, peek_compressed_size, to_byte_array)
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image


@pytest.fixture(params=['builtin', 'cv_bridge'])
def conv(request):
    if request.param == 'builtin':
        return BuiltinConverter()
    try:
        return make_converter('cv_bridge')[0]
    except RuntimeError as e:
        pytest.skip(f'only the built-in conversion runs here: {e}')


def image_msg(array, encoding, step=None, pad_value=7):
    """Build a sensor_msgs/Image from an H x W (x C) uint8 array, rows padded to step."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    h, w = a.shape[:2]
    row = a.reshape(h, -1)
    step = row.shape[1] if step is None else step
    buf = np.full((h, step), pad_value, np.uint8)
    buf[:, :row.shape[1]] = row
    return Image(height=h, width=w, encoding=encoding, step=step, data=to_byte_array(buf))


def scene(h=48, w=64, seed=0):
    """Return a smooth colour image (gradients) every conversion can be compared to."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), (xx + yy) * 255 // (w + h - 2)],
                   axis=-1).astype(np.uint8)
    return img


def yuv422(bgr, order):
    """
    Pack a bgr image (even width) as UYVY or YUYV, as a camera does.

    BT.601 studio-swing YCbCr (Y 16..235), chroma averaged over each pixel pair.
    """
    b, g, r = (bgr[:, :, i].astype(np.float64) / 255.0 for i in range(3))
    y = np.round(16 + 65.481 * r + 128.553 * g + 24.966 * b)
    cb = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    cr = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    u = np.round((cb[:, 0::2] + cb[:, 1::2]) / 2)
    v = np.round((cr[:, 0::2] + cr[:, 1::2]) / 2)
    h, w = y.shape
    out = np.zeros((h, w, 2), np.uint8)
    if order == 'uyvy':
        out[:, 0::2, 0], out[:, 1::2, 0] = u, v
        out[:, :, 1] = y
    else:
        out[:, :, 0] = y
        out[:, 0::2, 1], out[:, 1::2, 1] = u, v
    return out


def mosaic(bgr, pattern):
    """Sample a bgr image with a Bayer pattern such as 'RGGB' (2x2, row-major)."""
    chan = {'B': 0, 'G': 1, 'R': 2}
    out = np.zeros(bgr.shape[:2], np.uint8)
    for dy in range(2):
        for dx in range(2):
            out[dy::2, dx::2] = bgr[dy::2, dx::2, chan[pattern[dy * 2 + dx]]]
    return out


def as_bgr(result):
    frame, order = result
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert order in ('bgr', 'rgb')
    return frame if order == 'bgr' else frame[:, :, ::-1]


def test_bgr8_and_rgb8_pass_through_exactly(conv):
    img = scene()
    out = as_bgr(conv.image(image_msg(img, 'bgr8')))
    assert np.array_equal(out, img)
    frame, order = conv.image(image_msg(img[:, :, ::-1], 'rgb8'))
    assert np.array_equal(as_bgr((frame, order)), img)


def test_builtin_bgr8_is_a_view_of_the_message_no_copy():
    msg = image_msg(scene(), 'bgr8')
    frame, _ = BuiltinConverter().image(msg)
    assert np.shares_memory(frame, np.frombuffer(msg.data, np.uint8))


def test_alpha_is_dropped(conv):
    img = scene()
    alpha = np.full(img.shape[:2] + (1,), 200, np.uint8)
    assert np.array_equal(as_bgr(conv.image(image_msg(np.concatenate([img, alpha], -1),
                                                      'bgra8'))), img)
    rgba = np.concatenate([img[:, :, ::-1], alpha], -1)
    assert np.array_equal(as_bgr(conv.image(image_msg(rgba, 'rgba8'))), img)


def test_mono8_becomes_grey_bgr(conv):
    grey = scene()[:, :, 1]
    out = as_bgr(conv.image(image_msg(grey, 'mono8')))
    assert all(np.array_equal(out[:, :, c], grey) for c in range(3))


def test_padded_rows_are_cropped(conv):
    img = scene(30, 50)
    out = as_bgr(conv.image(image_msg(img, 'bgr8', step=50 * 3 + 10, pad_value=255)))
    assert np.array_equal(out, img)
    grey = img[:, :, 0]
    out = as_bgr(conv.image(image_msg(grey, 'mono8', step=64, pad_value=255)))
    assert np.array_equal(out[:, :, 0], grey)


@pytest.mark.parametrize('encoding,order', [('yuv422', 'uyvy'), ('uyvy', 'uyvy'),
                                            ('yuv422_yuy2', 'yuyv'), ('yuyv', 'yuyv')])
def test_yuv422_byte_orders(conv, encoding, order):
    # stripes two pixels wide, so chroma subsampling loses nothing
    img = np.zeros((16, 32, 3), np.uint8)
    colours = [(200, 40, 30), (20, 180, 60), (30, 60, 220), (128, 128, 128)]
    for i in range(0, 32, 2):
        img[:, i:i + 2] = colours[(i // 2) % 4]
    out = as_bgr(conv.image(image_msg(yuv422(img, order), encoding)))
    assert np.abs(out.astype(int) - img).max() <= 4
    # the other byte order would give very different colours: the test can fail
    wrong = 'yuv422_yuy2' if order == 'uyvy' else 'yuv422'
    other = as_bgr(conv.image(image_msg(yuv422(img, order), wrong)))
    assert np.abs(other.astype(int) - img).max() > 40


@pytest.mark.parametrize('pattern', ['RGGB', 'BGGR', 'GBRG', 'GRBG'])
def test_bayer_patterns_demosaic_to_the_right_colours(conv, pattern):
    img = np.zeros((32, 32, 3), np.uint8)
    img[:, :16] = (30, 90, 200)   # orange-ish
    img[:, 16:] = (220, 120, 20)  # blue-ish
    out = as_bgr(conv.image(image_msg(mosaic(img, pattern), f'bayer_{pattern.lower()}8')))
    inner = np.s_[4:-4, 4:12]
    assert np.abs(out[inner].astype(int) - img[inner]).max() <= 2
    inner = np.s_[4:-4, 20:-4]
    assert np.abs(out[inner].astype(int) - img[inner]).max() <= 2


def test_compressed_png_and_jpeg(conv):
    img = scene(60, 80)
    ok, png = cv2.imencode('.png', img)
    out = as_bgr(conv.compressed(CompressedImage(format='png', data=to_byte_array(png))))
    assert np.array_equal(out, img)
    ok, jpg = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    out = as_bgr(conv.compressed(CompressedImage(format='rgb8; jpeg compressed bgr8',
                                                 data=to_byte_array(jpg))))
    assert out.shape == img.shape and np.abs(out.astype(int) - img).mean() < 3
    ok, grey = cv2.imencode('.png', img[:, :, 0])
    out = as_bgr(conv.compressed(CompressedImage(format='png', data=to_byte_array(grey))))
    assert np.array_equal(out[:, :, 2], img[:, :, 0])


BAD_IMAGES = {
    'unknown encoding': ({'encoding': 'bgr9'}, 'unknown encoding'),
    'wrong case': ({'encoding': 'BGR8'}, "did you mean 'bgr8'"),
    'empty encoding': ({'encoding': ''}, 'empty encoding'),
    '16-bit': ({'encoding': 'mono16'}, 'not supported'),
    'no colour order': ({'encoding': '8UC3'}, 'no colour order'),
    'zero height': ({'height': 0, 'data': []}, 'zero-size'),
    'zero width': ({'width': 0, 'step': 0, 'data': []}, 'zero-size'),
    'absurd size': ({'width': 100000, 'step': 300000}, 'absurd'),
    'step too small': ({'step': 10}, 'step 10 is smaller'),
    'truncated data': ({'data_len': 8 * 12 * 3 - 5}, 'truncated'),
    'data too long': ({'data_len': 8 * 12 * 3 + 12}, 'longer than the header'),
    'odd yuv width': ({'encoding': 'yuv422', 'width': 11, 'step': 22, 'data_len': 8 * 22},
                      'even'),
    'bayer too small': ({'encoding': 'bayer_rggb8', 'width': 1, 'height': 1, 'step': 1,
                         'data_len': 1}, 'too small'),
}


@pytest.mark.parametrize('case', sorted(BAD_IMAGES))
def test_bad_images_are_refused_with_a_clear_message(conv, case):
    change, expected = BAD_IMAGES[case]
    msg = image_msg(scene(8, 12), 'bgr8')
    change = dict(change)
    n = change.pop('data_len', None)
    for k, v in change.items():
        setattr(msg, k, to_byte_array(np.asarray(v, np.uint8)) if k == 'data' else v)
    if n is not None:
        msg.data = to_byte_array(np.zeros(n, np.uint8))
    with pytest.raises(ImageConversionError, match=expected):
        conv.image(msg)


def png_header(width, height):
    import struct
    import zlib
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    chunk = b'IHDR' + ihdr
    return (b'\x89PNG\r\n\x1a\n' + struct.pack('>I', len(ihdr)) + chunk
            + struct.pack('>I', zlib.crc32(chunk)))


@pytest.mark.parametrize('case', ['empty', 'garbage', 'truncated png', 'absurd png',
                                  'compressed depth'])
def test_bad_compressed_images_are_refused(conv, case):
    ok, png = cv2.imencode('.png', scene())
    data, fmt, expected = {
        'empty': (b'', 'jpeg', 'empty CompressedImage'),
        'garbage': (b'this is not an image' * 10, 'jpeg', 'could not decode'),
        'truncated png': (png.tobytes()[:len(png) // 2], 'png', 'could not decode'),
        'absurd png': (png_header(100000, 100000) + b'\0' * 64, 'png',
                       'refused before decoding'),
        'compressed depth': (png.tobytes(), '16UC1; compressedDepth png', 'depth'),
    }[case]
    msg = CompressedImage(format=fmt, data=to_byte_array(np.frombuffer(data, np.uint8)))
    with pytest.raises(ImageConversionError, match=expected):
        conv.compressed(msg)


def test_peek_reads_png_and_jpeg_sizes_without_decoding():
    img = np.zeros((37, 53, 3), np.uint8)
    for ext in ('.png', '.jpg'):
        ok, buf = cv2.imencode(ext, img)
        assert peek_compressed_size(buf.tobytes()) == (37, 53)
    assert peek_compressed_size(png_header(MAX_SIDE + 1, 5)) == (5, MAX_SIDE + 1)
    assert peek_compressed_size(b'not an image') is None


def test_make_converter_falls_back_and_says_why():
    conv, why = make_converter()
    assert conv.name in ('builtin', 'cv_bridge')
    if conv.name == 'builtin':
        assert 'cv_bridge' in why
    conv, why = make_converter('builtin')
    assert conv.name == 'builtin'
