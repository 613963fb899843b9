# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Export a checkpoint to ONNX: ``python -m training.export --checkpoint X --onnx out.onnx``.

The graph takes ``image`` (float32 N x 3 x H x W, RGB, normalised with the
checkpoint's mean/std, any N, H, W) and returns ``logits`` (N x C x H x W). EUnet
pads its input to its multiple inside ``forward`` and crops the logits back; the
export traces that with a size that is *not* a multiple, so the padding amounts
are computed from the input's shape in the graph and every H x W works.

Class names, palette, normalisation and input size travel as ONNX metadata. After
writing, the model is run in ONNX Runtime at two sizes and compared with PyTorch
(argmax agreement and the largest logit difference are printed); a mismatch is an
error (exit 1).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from eunet_ros.core.checkpoint import CheckpointError, load_checkpoint
from eunet_ros.core.ort_backend import export_onnx_bytes
from eunet_ros.fileio import atomic_write_bytes
import numpy as np
import torch

log = logging.getLogger('training.export')

__all__ = ['export_onnx', 'check_onnx', 'get_args_parser', 'main']


def _example_size(multiple: int) -> Tuple[int, int]:
    """Return a small H x W that is not a multiple of ``multiple`` (so the padding is traced)."""
    return 2 * multiple + 1, 3 * multiple + 1


def export_onnx(checkpoint: os.PathLike, onnx_path: os.PathLike, *, opset: int = 17) -> Path:
    """
    Write the checkpoint's network as ONNX with dynamic batch, height and width.

    :returns: the path written (atomically).
    """
    import onnx
    ckpt = load_checkpoint(checkpoint)
    model = ckpt.build_model().eval()
    h, w = _example_size(ckpt.config.multiple)
    proto = onnx.load_from_string(export_onnx_bytes(model, (h, w), dynamic_hw=True,
                                                    opset=int(opset)))
    onnx.checker.check_model(proto)
    meta = {
        'eunet_ros.classes': json.dumps(list(ckpt.class_names)),
        'eunet_ros.palette': json.dumps([list(p) for p in ckpt.palette]),
        'eunet_ros.mean': json.dumps(list(ckpt.mean)),
        'eunet_ros.std': json.dumps(list(ckpt.std)),
        'eunet_ros.color_order': ckpt.color_order,
        'eunet_ros.input_size': json.dumps(list(ckpt.input_size)),
        'eunet_ros.model_config': json.dumps(ckpt.config.to_dict()),
        'eunet_ros.source_checkpoint': str(Path(checkpoint).name),
    }
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.doc_string = ('EUnet semantic segmentation; input: normalised RGB float32 '
                        'N x 3 x H x W (any H, W); output: logits N x C x H x W.')
    return atomic_write_bytes(onnx_path, proto.SerializeToString())


def check_onnx(checkpoint: os.PathLike, onnx_path: os.PathLike,
               sizes: Sequence[Tuple[int, int]], batch: int = 2,
               seed: int = 0) -> List[Dict[str, Any]]:
    """
    Run PyTorch and ONNX Runtime (CPU) on the same inputs at each size; compare.

    :returns: per size: ``size``, ``argmax_agreement`` (fraction of pixels),
        ``max_abs_diff`` and ``max_abs_logit`` (for scale).
    """
    import onnxruntime as ort
    ckpt = load_checkpoint(checkpoint)
    model = ckpt.build_model().eval()
    sess = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    g = torch.Generator().manual_seed(seed)
    rows = []
    for h, w in sizes:
        x = torch.randn(batch, ckpt.config.in_channels, int(h), int(w), generator=g)
        with torch.no_grad():
            ref = model(x).numpy()
        got = sess.run(['logits'], {'image': x.numpy()})[0]
        if got.shape != ref.shape:
            raise RuntimeError(f'ONNX output {got.shape} differs from PyTorch {ref.shape} at '
                               f'{h}x{w}')
        agree = float((got.argmax(1) == ref.argmax(1)).mean())
        rows.append({'size': [int(h), int(w)], 'argmax_agreement': agree,
                     'max_abs_diff': float(np.abs(got - ref).max()),
                     'max_abs_logit': float(np.abs(ref).max())})
    return rows


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(description='Export an eunet_ros checkpoint to ONNX and check '
                                'it against PyTorch in ONNX Runtime.', add_help=add_help)
    p.add_argument('--checkpoint', required=True, help='the .pt checkpoint')
    p.add_argument('--onnx', required=True, help='the .onnx file to write')
    p.add_argument('--opset', type=int, default=17, help='ONNX opset (default 17)')
    p.add_argument('--check-size', type=int, nargs=2, action='append', metavar=('H', 'W'),
                   help='sizes checked in ONNX Runtime (repeatable; default: the checkpoint '
                   'input size and a smaller odd one)')
    p.add_argument('--tolerance', type=float, default=1e-3,
                   help='largest logit difference accepted, relative to the largest logit')
    p.add_argument('--min-agreement', type=float, default=0.999,
                   help='smallest argmax agreement accepted')
    return p


def main(args: argparse.Namespace) -> Dict[str, Any]:
    """Export and check; return ``{'onnx': path, 'checks': [...], 'ok': bool}``."""
    out = export_onnx(args.checkpoint, args.onnx, opset=args.opset)
    ckpt = load_checkpoint(args.checkpoint)
    ih, iw = ckpt.input_size
    sizes = [tuple(s) for s in args.check_size] if args.check_size else [
        (ih, iw), (max(17, ih * 3 // 4 + 3), max(17, iw * 3 // 5 + 5))]
    rows = check_onnx(args.checkpoint, out, sizes)
    ok = True
    print(f'wrote {out} ({out.stat().st_size / 1e6:.2f} MB, opset {args.opset}, dynamic '
          'batch/height/width)')
    print(f'{"size":>11}  {"argmax agreement":>16}  {"max |logit diff|":>16}')
    for r in rows:
        good = (r['argmax_agreement'] >= args.min_agreement and
                r['max_abs_diff'] <= args.tolerance * max(1.0, r['max_abs_logit']))
        ok &= good
        print(f'{r["size"][0]:>5}x{r["size"][1]:<5}  {100 * r["argmax_agreement"]:>15.3f}%  '
              f'{r["max_abs_diff"]:>16.3e}{"" if good else "  MISMATCH"}')
    print('ONNX Runtime matches PyTorch' if ok else 'ONNX Runtime does NOT match PyTorch')
    return {'onnx': str(out), 'checks': rows, 'ok': ok}


def cli(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; exit 0 when the export matches, 1 when not, 2 on a bad checkpoint."""
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    args = get_args_parser().parse_args(argv)
    try:
        result = main(args)
    except CheckpointError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 0 if result['ok'] else 1


if __name__ == '__main__':
    sys.exit(cli())
