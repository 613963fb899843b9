# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The engine's CPU speed paths give the masks of the plain torch path.

ONNX Runtime backend (lazy export into a cache folder: reused, rebuilt when
corrupt, never fatal when unwritable), the uint8 resize of the pre-processing and
the sparse upsample + argmax of the post-processing; the backend parameter of the
node and the benchmark's backend rows.
"""

import hashlib
import json
from pathlib import Path

from eunet_ros.core.checkpoint import load_checkpoint, save_checkpoint
from eunet_ros.core.engine import (EngineError, letterbox_geometry, SegmentationEngine,
                                   upsample_argmax)
from eunet_ros.core.model import build_eunet
from eunet_ros.ros.node_params import ConfigError, GLOBAL_PARAMS, parse_settings
from eunet_ros.tools import benchmark
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from training.synthetic import render_sample

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ROOT / 'models' / 'eunet_fs_synthetic.pt'


@pytest.fixture(scope='module')
def packaged(tmp_path_factory):
    """Return the packaged checkpoint in a torch engine and in an onnxruntime engine."""
    ckpt = load_checkpoint(PACKAGED)
    cache = tmp_path_factory.mktemp('onnx_cache')
    torch_engine = SegmentationEngine(ckpt, device='cpu', backend='torch')
    ort_engine = SegmentationEngine(ckpt, device='cpu', backend='onnxruntime',
                                    cache_dir=cache)
    return torch_engine, ort_engine, cache


def synthetic_bgr(index, w, h):
    return np.ascontiguousarray(render_sample(3000, index, w, h)[0][..., ::-1])


@pytest.mark.parametrize('w,h', [(640, 480), (1280, 720), (320, 180)])
def test_onnxruntime_masks_equal_torch_on_synthetic_frames(packaged, w, h):
    torch_engine, ort_engine, _ = packaged
    assert torch_engine.backend == 'torch' and ort_engine.backend == 'onnxruntime'
    frames = [synthetic_bgr(i, w, h) for i in range(2)]
    a = torch_engine.infer(frames, color_order='bgr')
    b = ort_engine.infer(frames, color_order='bgr')
    for ra, rb in zip(a, b):
        assert ra.mask.shape == rb.mask.shape == (h, w)
        assert (ra.mask == rb.mask).mean() >= 0.999
        # the frames show track and cones: the comparison is not between empty masks
        assert len(np.unique(ra.mask)) >= 3


def test_cpu_speed_paths_keep_the_masks_of_the_float_path(packaged):
    """uint8 resize + sparse upsample vs the float torch path the engine had before."""
    torch_engine, _, _ = packaged
    ckpt = torch_engine.checkpoint
    model = ckpt.build_model().eval()
    nh, nw = ckpt.input_size
    frame = synthetic_bgr(5, 1280, 720)
    rh, rw = letterbox_geometry((720, 1280), (nh, nw))
    x = torch.from_numpy(frame).flip(-1).permute(2, 0, 1).unsqueeze(0).float()
    x = F.interpolate(x, size=(rh, rw), mode='bilinear', align_corners=False,
                      antialias=True)
    mean = torch.tensor(ckpt.mean).view(1, 3, 1, 1) * 255
    std = torch.tensor(ckpt.std).view(1, 3, 1, 1) * 255
    batch = torch.zeros(1, 3, nh, nw)
    batch[:, :, :rh, :rw] = (x - mean) / std
    with torch.inference_mode():
        logits = model(batch)[:, :, :rh, :rw]
        ref = F.interpolate(logits, size=(720, 1280), mode='bilinear',
                            align_corners=False)[0].argmax(0).numpy()
    got = torch_engine.infer([frame], color_order='bgr')[0].mask
    assert (got == ref).mean() >= 0.999


def smooth_logits(c, h, w, seed, noise=0.0):
    """Class logits with large regions (as a trained network gives) plus optional noise."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, c, max(2, h // 8), max(2, w // 8), generator=g)
    lg = F.interpolate(coarse, size=(h, w), mode='bilinear', align_corners=False)[0]
    return (lg + noise * torch.randn(c, h, w, generator=g)).numpy()


@pytest.mark.parametrize('c,src,dst,noise', [
    (7, (45, 80), (720, 1280), 0.0),     # sparse path: few boundary pixels
    (7, (45, 80), (721, 1283), 0.0),     # odd factors
    (7, (60, 80), (37, 50), 0.0),        # downscale (frame smaller than the input)
    (3, (30, 40), (240, 320), 3.0),      # noise: dense fallback
    (2, (1, 5), (4, 20), 0.0),           # a single source row
])
def test_upsample_argmax_equals_interpolate_then_argmax(c, src, dst, noise):
    lg = smooth_logits(c, *src, seed=sum(dst), noise=noise)
    ref = F.interpolate(torch.from_numpy(lg)[None], size=dst, mode='bilinear',
                        align_corners=False)[0].argmax(0).numpy()
    got = upsample_argmax(lg, dst)
    assert got.dtype == np.uint8 and got.shape == dst
    assert (got == ref).mean() >= 0.9999


def test_upsample_argmax_ties_go_to_the_first_class():
    lg = np.zeros((4, 6, 8), np.float32)
    lg[2, :, 4:] = 1.0
    lg[3, :, 4:] = 1.0   # tie with class 2: class 2 wins, as torch's argmax
    got = upsample_argmax(lg, (24, 32))
    assert set(np.unique(got)) == {0, 2}
    assert np.all(got[:, :14] == 0) and np.all(got[:, 18:] == 2)


def test_auto_backend_choice():
    ckpt = load_checkpoint(PACKAGED)
    auto = SegmentationEngine(ckpt, device='cpu', warmup=False)
    assert auto.backend == 'onnxruntime' and 'onnxruntime' in auto.description
    # bf16 and other networks than EUnet stay on torch
    assert SegmentationEngine(ckpt, device='cpu', precision='bf16',
                              warmup=False).backend == 'torch'
    toy = torch.nn.Conv2d(3, 7, 1)
    assert SegmentationEngine(ckpt, device='cpu', model=toy, warmup=False).backend == 'torch'


def test_auto_falls_back_to_torch_when_the_export_fails(monkeypatch):
    from eunet_ros.core import ort_backend

    def broken(*args, **kwargs):
        raise RuntimeError('exporter exploded')
    monkeypatch.setattr(ort_backend, 'export_onnx_bytes', broken)
    ckpt = load_checkpoint(PACKAGED)
    eng = SegmentationEngine(ckpt, device='cpu', cache_dir='', warmup=False)
    assert eng.backend == 'torch' and 'exporter exploded' in eng.backend_note
    assert eng.infer([np.zeros((48, 64, 3), np.uint8)], color_order='bgr')[0].mask.shape \
        == (48, 64)
    with pytest.raises(EngineError, match='exporter exploded'):
        SegmentationEngine(ckpt, device='cpu', backend='onnxruntime', cache_dir='',
                           warmup=False)


def test_bad_backend_settings_are_refused_clearly():
    ckpt = load_checkpoint(PACKAGED)
    with pytest.raises(EngineError, match='backend .*tensorrt'):
        SegmentationEngine(ckpt, device='cpu', backend='tensorrt')
    with pytest.raises(EngineError, match='fp32'):
        SegmentationEngine(ckpt, device='cpu', backend='onnxruntime', precision='bf16')
    values = {s.name: s.default for s in GLOBAL_PARAMS}
    values.update({'camera.topic': '', 'camera.transport': 'raw',
                   'group.cones': ['blue_cone'], 'group.track': ['track']})
    assert parse_settings(values).backend == 'auto'
    values['backend'] = 'tensorrt'
    with pytest.raises(ConfigError, match='"backend".*auto, torch, onnxruntime'):
        parse_settings(values)


def onnx_files(folder):
    return sorted(Path(folder).glob('**/*.onnx'))


def test_onnx_cache_is_reused_rebuilt_when_corrupt_and_keyed(tmp_path):
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / 'fast.pt', model=build_eunet(variant='fast'),
                           input_size=(64, 96))
    cache = tmp_path / 'cache'
    frame = np.random.default_rng(0).integers(0, 256, (60, 90, 3), dtype=np.uint8)

    first = SegmentationEngine(path, device='cpu', backend='onnxruntime', cache_dir=cache)
    assert first.backend_note.startswith('onnx exported')
    (cached,) = onnx_files(cache)
    assert first._ort.path == cached and '64x96' in cached.name
    ref = first.infer([frame], color_order='bgr')[0].mask

    again = SegmentationEngine(path, device='cpu', backend='onnxruntime', cache_dir=cache)
    assert again.backend_note.startswith('onnx cache')
    assert np.array_equal(again.infer([frame], color_order='bgr')[0].mask, ref)

    cached.write_bytes(cached.read_bytes()[:1000])   # truncated, as after a full disk
    rebuilt = SegmentationEngine(path, device='cpu', backend='onnxruntime', cache_dir=cache)
    assert rebuilt.backend_note.startswith('onnx rebuilt')
    assert np.array_equal(rebuilt.infer([frame], color_order='bgr')[0].mask, ref)
    assert cached.stat().st_size > 100_000 and onnx_files(cache) == [cached]
    assert not list(cache.glob('**/*.tmp'))

    # another input size or other weights: another file, never the stale one
    SegmentationEngine(path, device='cpu', backend='onnxruntime', cache_dir=cache,
                       input_size=(96, 128), warmup=False)
    other = save_checkpoint(tmp_path / 'other.pt', model=build_eunet(variant='fast'),
                            input_size=(64, 96))
    SegmentationEngine(other, device='cpu', backend='onnxruntime', cache_dir=cache,
                       warmup=False)
    assert len(onnx_files(cache)) == 3


def test_unwritable_cache_folder_is_not_fatal(tmp_path):
    blocker = tmp_path / 'not_a_folder'
    blocker.write_text('a file where the cache folder should be')
    ckpt = load_checkpoint(PACKAGED)
    eng = SegmentationEngine(ckpt, device='cpu', backend='onnxruntime',
                             cache_dir=blocker / 'onnx')
    assert eng.backend == 'onnxruntime' and 'not writable' in eng.backend_note
    assert eng.infer([synthetic_bgr(0, 160, 120)], color_order='bgr')[0].mask.shape == (120, 160)


def test_default_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    from eunet_ros.core.ort_backend import default_cache_dir
    monkeypatch.setenv('EUNET_ROS_CACHE_DIR', str(tmp_path / 'c'))
    assert default_cache_dir() == tmp_path / 'c' / 'onnx'
    monkeypatch.delenv('EUNET_ROS_CACHE_DIR')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'x'))
    assert default_cache_dir() == tmp_path / 'x' / 'eunet_ros' / 'onnx'


def test_benchmark_times_both_backends_side_by_side(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    rc = benchmark.main(['--device', 'cpu', '--variants', 'fast', '--peers',
                         '--checkpoints', str(PACKAGED), '--backends', 'torch', 'onnxruntime',
                         '--resolutions', '96x64', '--iters', '2', '--warmup', '1',
                         '--min-time', '0', '--json', str(out)])
    assert rc == 0
    assert 'onnxruntime' in capsys.readouterr().out
    rows = json.loads(out.read_text())['rows']
    got = {(r['model'], r['backend']) for r in rows}
    assert got == {(m, b) for m in ('eunet-fast', 'eunet_fs_synthetic.pt')
                   for b in ('torch', 'onnxruntime')}
    h, w = load_checkpoint(PACKAGED).input_size   # a checkpoint runs at its own input size
    for r in rows:
        assert r['net_ms'] > 0 and r['engine_ms'] > 0
        assert r['input'] == (f'{w}x{h}' if r['model'].endswith('.pt') else '96x64')


def test_engine_leaves_the_torch_thread_count_as_it_was(packaged):
    torch_engine, ort_engine, _ = packaged
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        for eng in (torch_engine, ort_engine):
            eng.infer([synthetic_bgr(1, 320, 240)], color_order='bgr', overlay=True)
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)


def test_onnx_cache_file_is_checked_against_its_hash_before_it_is_run(tmp_path, caplog):
    """A cached graph that ONNX Runtime would load, but not the one written: rebuilt."""
    from eunet_ros.core.ort_backend import export_onnx_bytes, OrtNetwork
    torch.manual_seed(0)
    model = build_eunet(variant='fast').eval()
    impostor = build_eunet(variant='fast').eval()  # same graph, other weights
    cache = tmp_path / 'cache'
    x = torch.rand(1, 3, 32, 48)
    first = OrtNetwork(model, (32, 48), cache_dir=cache)
    assert first.source == 'exported'
    want = first(x)
    digest = first.path.with_name(first.path.name + '.sha256')
    assert digest.read_text().strip() == hashlib.sha256(first.path.read_bytes()).hexdigest()
    assert OrtNetwork(model, (32, 48), cache_dir=cache).source == 'cache'

    # swap in a valid ONNX file of another network: it loads, but must not be run
    first.path.write_bytes(export_onnx_bytes(impostor, (32, 48)))
    with caplog.at_level('WARNING', logger='eunet_ros.core.ort_backend'):
        again = OrtNetwork(model, (32, 48), cache_dir=cache)
    assert again.source == 'rebuilt'
    assert 'SHA-256 mismatch' in caplog.text and str(first.path) in caplog.text
    assert torch.equal(again(x), want)
    assert OrtNetwork(model, (32, 48), cache_dir=cache).source == 'cache'

    # a cache file without its hash (older version, or cut off between the writes)
    digest.unlink()
    caplog.clear()
    with caplog.at_level('WARNING', logger='eunet_ros.core.ort_backend'):
        assert OrtNetwork(model, (32, 48), cache_dir=cache).source == 'rebuilt'
    assert 'no SHA-256 beside it' in caplog.text and digest.is_file()
