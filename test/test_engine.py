# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""The ROS-free inference engine: pixel alignment, batching, colour order, overlays."""

from eunet_ros.core.checkpoint import Checkpoint, DEFAULT_CLASSES, load_checkpoint, save_checkpoint
from eunet_ros.core.engine import EngineError, letterbox_geometry, SegmentationEngine
from eunet_ros.core.model import build_eunet, config_for_variant
import numpy as np
import pytest
import torch
from torch import nn


class RedIsClassOne(nn.Module):
    """Known answer: class 1 where the (normalised) red channel is > 0, else class 0."""

    def forward(self, x):
        r = x[:, 0:1]
        return torch.cat([-r, r], dim=1)


def red_checkpoint(input_size=(96, 128)):
    cfg = config_for_variant('fast', num_classes=2)
    return Checkpoint(config=cfg, state_dict={}, class_names=['background', 'red'],
                      palette=[(0, 0, 0), (255, 0, 0)], mean=(0.5, 0.5, 0.5),
                      std=(0.5, 0.5, 0.5), color_order='rgb', input_size=input_size)


def red_engine(input_size=(96, 128)):
    return SegmentationEngine(red_checkpoint(input_size), device='cpu',
                              model=RedIsClassOne(), warmup=False)


def halves(h, w, boundary, order='bgr'):
    """Red for columns < boundary, black from boundary on."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :boundary, 2 if order == 'bgr' else 0] = 255
    return img


@pytest.mark.parametrize('h,w,boundary', [
    (480, 640, 321),     # 4:3, downscaled into a 16:9-ish net input
    (720, 1280, 517),    # 16:9
    (1080, 1440, 800),   # 4:3, large
    (300, 1200, 299),    # very wide
    (96, 128, 40),       # exactly the net input: no resize
    (50, 70, 33),        # smaller than the net input: upscaled
])
def test_mask_boundary_lands_on_the_image_boundary(h, w, boundary):
    engine = red_engine()
    (res,) = engine.infer([halves(h, w, boundary)], color_order='bgr')
    assert res.mask.shape == (h, w) and res.mask.dtype == np.uint8
    # for every row, the first class-0 column is the image's boundary column; at most
    # 1 px off where the frame is scaled (up to 10x here: a tenth of a network pixel)
    first_zero = (res.mask == 0).argmax(axis=1)
    assert np.all(np.abs(first_zero - boundary) <= 1), np.unique(first_zero)
    if (h, w) == engine.input_size:
        assert np.all(first_zero == boundary)
    assert res.mask[:, :boundary - 1].min() == 1 and res.mask[:, boundary + 1:].max() == 0


def test_vertical_alignment_too():
    engine = red_engine()
    img = np.zeros((720, 1280, 3), np.uint8)
    img[:250, :, 2] = 255
    (res,) = engine.infer([img], color_order='bgr')
    first_zero = (res.mask == 0).argmax(axis=0)
    assert np.median(first_zero) == 250 and np.all(np.abs(first_zero - 250) <= 1)


def test_colour_order_is_honoured():
    engine = red_engine()
    rgb = halves(60, 80, 30, order='rgb')
    (a,) = engine.infer([rgb], color_order='rgb')
    (b,) = engine.infer([rgb[..., ::-1]], color_order='bgr')
    assert np.array_equal(a.mask, b.mask)
    # declaring the wrong order sees blue, not red: nothing is class 1
    (c,) = engine.infer([rgb], color_order='bgr')
    assert c.mask.max() == 0


def test_several_cameras_with_their_own_resolutions_in_one_batch():
    engine = red_engine()
    calls = []
    engine.model.register_forward_hook(lambda m, i, o: calls.append(i[0].shape))
    frames = [halves(480, 640, 100), halves(720, 1280, 900), halves(200, 200, 10)]
    out = engine.infer(frames, color_order='bgr')
    assert calls == [(3, 3, 96, 128)]  # one network call for all cameras
    for f, r, b in zip(frames, out, (100, 900, 10)):
        assert r.mask.shape == f.shape[:2]
        assert np.median((r.mask == 0).argmax(axis=1)) == b


def test_overlay_only_when_asked_and_coloured_by_palette():
    engine = red_engine()
    frames = [halves(40, 60, 20), halves(40, 60, 20)]
    out = engine.infer(frames, color_order='bgr', overlay=[True, False], alpha=1.0)
    assert out[1].overlay is None
    ov = out[0].overlay
    assert ov.shape == (40, 60, 3) and ov.dtype == np.uint8
    assert tuple(ov[5, 5]) == (0, 0, 255)  # palette red, as bgr8
    assert tuple(ov[5, 50]) == (0, 0, 0)   # background keeps the image
    half = engine.infer(frames[:1], color_order='bgr', overlay=True, alpha=0.5)[0].overlay
    assert tuple(half[5, 5]) == (0, 0, 255)  # red over red stays red
    img = np.full((10, 10, 3), 100, np.uint8)
    m = np.ones((10, 10), np.uint8)
    blended = engine.overlay(img, m, color_order='bgr', alpha=0.5)
    assert tuple(blended[0, 0]) == (50, 50, 178)


def test_real_eunet_checkpoint_end_to_end(tmp_path):
    model = build_eunet(variant='fast', num_classes=len(DEFAULT_CLASSES))
    path = save_checkpoint(tmp_path / 'fast.pt', model=model, variant='fast',
                           input_size=(96, 160))
    engine = SegmentationEngine(path, device='cpu', precision='auto')
    assert engine.precision == 'fp32'
    frames = [np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
              for h, w in ((480, 640), (720, 1280))]
    out = engine.infer(frames, color_order='bgr', overlay=True)
    for f, r in zip(frames, out):
        assert r.mask.shape == f.shape[:2]
        assert r.mask.max() < len(DEFAULT_CLASSES)
        assert r.overlay.shape == f.shape
    # same answer when each frame goes alone (batching does not change results)
    alone = engine.infer(frames[:1], color_order='bgr')[0].mask
    assert (alone == out[0].mask).mean() > 0.999
    assert 'fast.pt' in engine.description and 'cpu' in engine.description


def test_bf16_on_cpu_runs():
    ckpt = load_checkpoint(save_checkpoint(
        '/tmp/eunet_bf16_test.pt', model=build_eunet(variant='fast'), input_size=(64, 64)))
    engine = SegmentationEngine(ckpt, device='cpu', precision='bf16')
    out = engine.infer([np.zeros((30, 40, 3), np.uint8)], color_order='rgb')
    assert out[0].mask.shape == (30, 40)


@pytest.mark.parametrize('frame,msg', [
    (np.zeros((10, 10), np.uint8), 'H x W x 3'),
    (np.zeros((10, 10, 4), np.uint8), 'H x W x 3'),
    (np.zeros((10, 10, 3), np.float32), 'uint8'),
    (np.zeros((0, 10, 3), np.uint8), 'empty'),
    ([[1, 2, 3]], 'numpy array'),
])
def test_bad_frames_are_refused_clearly(frame, msg):
    with pytest.raises(EngineError, match=msg):
        red_engine().infer([frame], color_order='bgr')


def test_bad_settings_are_refused_clearly():
    with pytest.raises(EngineError, match='color_order'):
        red_engine().infer([halves(8, 8, 4)], color_order='yuv')
    with pytest.raises(EngineError, match='precision'):
        SegmentationEngine(red_checkpoint(), device='cpu', precision='int3',
                           model=RedIsClassOne())
    with pytest.raises(EngineError, match='fp16.*CPU'):
        SegmentationEngine(red_checkpoint(), device='cpu', precision='fp16',
                           model=RedIsClassOne())
    with pytest.raises(EngineError, match='device'):
        SegmentationEngine(red_checkpoint(), device='tpu', model=RedIsClassOne())
    if not torch.cuda.is_available():
        with pytest.raises(EngineError, match='CUDA is not available'):
            SegmentationEngine(red_checkpoint(), device='cuda:0', model=RedIsClassOne())


def test_letterbox_geometry_keeps_aspect():
    assert letterbox_geometry((720, 1280), (384, 640)) == (360, 640)
    assert letterbox_geometry((480, 640), (384, 640)) == (384, 512)
    assert letterbox_geometry((384, 640), (384, 640)) == (384, 640)


def test_channel_argmax_matches_torch_including_ties():
    from eunet_ros.core.engine import channel_argmax
    g = torch.Generator().manual_seed(0)
    logits = torch.randint(0, 3, (7, 33, 47), generator=g).float()  # many ties
    assert torch.equal(channel_argmax(logits), logits.argmax(0).to(torch.uint8))


@pytest.mark.parametrize('order', ['bgr', 'rgb'])
def test_cpu_overlay_matches_the_device_arithmetic(order):
    """The OpenCV overlay of the CPU path equals the torch blend used on CUDA, pixel for pixel."""
    engine = red_engine()
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    mask = rng.integers(0, 2, (37, 53), dtype=np.uint8)
    fast = engine.overlay(frame, mask, color_order=order, alpha=0.37)
    ref = engine._overlay(torch.from_numpy(frame), torch.from_numpy(mask), order, 0.37).numpy()
    assert np.array_equal(fast, ref)
    bgr = frame if order == 'bgr' else frame[..., ::-1]
    assert np.array_equal(fast[mask == 0], bgr[mask == 0])


def test_cuda_graphs_are_ignored_on_the_cpu():
    engine = SegmentationEngine(_packaged_or_random(), device='cpu', cuda_graphs=True)
    assert 'CUDA graphs' not in engine.description and engine.graphs_error is None
    out = engine.infer([np.zeros((48, 64, 3), np.uint8)], color_order='bgr')
    assert out[0].mask.shape == (48, 64)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_cuda_graph_replay_gives_the_eager_masks(precision):
    """Run by scripts/gpu_suite.sh on a GPU machine: graphs change speed, not answers."""
    ckpt = _packaged_or_random()
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(4)]
    eager = SegmentationEngine(ckpt, device='cuda', precision=precision, cuda_graphs=False)
    graph = SegmentationEngine(ckpt, device='cuda', precision=precision, cuda_graphs=True)
    assert 'CUDA graphs' in graph.description, graph.graphs_error
    for n in (1, 4, 1):  # a second batch size gets its own graph; the first is replayed
        want = eager.infer(frames[:n], color_order='bgr', overlay=True)
        got = graph.infer(frames[:n], color_order='bgr', overlay=True)
        for a, b in zip(want, got):
            assert np.array_equal(a.mask, b.mask)
            assert np.array_equal(a.overlay, b.overlay)
    assert graph.graphs_error is None


def _packaged_or_random():
    from eunet_ros.resources import default_checkpoint_path
    path = default_checkpoint_path()
    if path is not None and path.exists():
        return load_checkpoint(path)
    torch.manual_seed(0)
    return Checkpoint(config=config_for_variant('fast', num_classes=7),
                      state_dict=build_eunet(variant='fast', num_classes=7).state_dict(),
                      class_names=DEFAULT_CLASSES, palette=[(0, 0, 0)] * 7,
                      input_size=(192, 320), variant='fast')


def test_confidence_is_the_largest_softmax_probability_and_off_by_default(tmp_path):
    ckpt = load_checkpoint(save_checkpoint(
        tmp_path / 'c.pt', model=build_eunet(variant='fast'), input_size=(32, 48)))
    engine = SegmentationEngine(ckpt, device='cpu', backend='torch', warmup=False)
    frame = np.random.default_rng(3).integers(0, 255, (32, 48, 3), dtype=np.uint8)
    plain = engine.infer([frame], color_order='rgb')[0]
    assert plain.probability is None and plain.confidence() is None
    res = engine.infer([frame], color_order='rgb', confidence=True)[0]
    np.testing.assert_array_equal(res.mask, plain.mask)
    # the network by hand on the same (unresized, rgb) frame
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float()
    mean = torch.tensor(ckpt.mean).view(1, 3, 1, 1) * 255
    std = torch.tensor(ckpt.std).view(1, 3, 1, 1) * 255
    with torch.no_grad():
        logits = engine.model((x - mean) / std)[0]
    want = torch.softmax(logits, 0).amax(0).numpy()
    np.testing.assert_allclose(res.confidence(), want, atol=1e-4)
    assert res.confidence().dtype == np.float32 and res.confidence().shape == (32, 48)
    # at another resolution it is resized with the mask
    big = engine.infer([np.zeros((64, 96, 3), np.uint8)], color_order='rgb',
                       confidence=True)[0]
    assert big.confidence().shape == (64, 96)
    assert 1 / 7 - 1e-6 <= big.confidence().min() <= big.confidence().max() <= 1 + 1e-6
