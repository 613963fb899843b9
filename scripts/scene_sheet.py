#!/usr/bin/env python3
# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Contact sheet of synthetic scenes: this checkout's renderer beside an older revision's.

    python scripts/scene_sheet.py --baseline e465386 --out docs/synthetic_scenes.png

Renders samples ``--first`` .. ``--first + --count - 1`` of ``--seed`` at 1280x720 with
the renderer of this checkout and, in a temporary git worktree, with the one of
``--baseline``; each row shows old image | new image | new class mask (255 = ignore,
grey). Used for the sim-to-real comparison of issue 11 in docs/.
"""

import argparse
from pathlib import Path
import subprocess
import sys
import tempfile

ROOT = Path(__file__).resolve().parent.parent

RENDER = """
import sys, numpy as np, cv2
sys.path.insert(0, sys.argv[1])
from training.synthetic import render_sample
out = []
for i in range(int(sys.argv[3]), int(sys.argv[3]) + int(sys.argv[4])):
    img, mask = render_sample(int(sys.argv[2]), i, 1280, 720)[:2]
    out.append((img, mask))
np.savez_compressed(sys.argv[5], img=np.stack([o[0] for o in out]),
                    mask=np.stack([o[1] for o in out]))
"""


def render(root: Path, seed: int, first: int, count: int, dest: Path):
    """Render with the training.synthetic of ``root``; return (images, masks)."""
    subprocess.run([sys.executable, '-c', RENDER, str(root), str(seed), str(first), str(count),
                    str(dest)], check=True)
    data = __import__('numpy').load(dest)
    return data['img'], data['mask']


def main() -> int:
    """Write the sheet; return the exit status."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--baseline', required=True, help='git revision of the old renderer')
    p.add_argument('--seed', type=int, default=3000)
    p.add_argument('--first', type=int, default=0)
    p.add_argument('--count', type=int, default=6)
    p.add_argument('--out', type=Path, default=Path('docs/synthetic_scenes.png'))
    a = p.parse_args()
    import cv2
    import numpy as np
    sys.path.insert(0, str(ROOT))
    from eunet_ros.core.checkpoint import DEFAULT_PALETTE
    lut = np.full((256, 3), 128, np.uint8)
    lut[:len(DEFAULT_PALETTE)] = np.array(DEFAULT_PALETTE, np.uint8)
    with tempfile.TemporaryDirectory(prefix='scene_sheet_') as tmp:
        old_tree = Path(tmp) / 'old'
        subprocess.run(['git', '-C', str(ROOT), 'worktree', 'add', '-q', '--detach',
                        str(old_tree), a.baseline], check=True)
        try:
            old_img, _ = render(old_tree, a.seed, a.first, a.count, Path(tmp) / 'old.npz')
        finally:
            subprocess.run(['git', '-C', str(ROOT), 'worktree', 'remove', '--force',
                            str(old_tree)], check=False)
        new_img, new_mask = render(ROOT, a.seed, a.first, a.count, Path(tmp) / 'new.npz')
    rows = []
    for o, n, m in zip(old_img, new_img, new_mask):
        tiles = [cv2.resize(o, (480, 270), interpolation=cv2.INTER_AREA),
                 cv2.resize(n, (480, 270), interpolation=cv2.INTER_AREA),
                 cv2.resize(lut[m], (480, 270), interpolation=cv2.INTER_NEAREST)]
        rows.append(np.concatenate(tiles, axis=1))
    sheet = np.concatenate(rows, axis=0)
    head = np.full((32, sheet.shape[1], 3), 255, np.uint8)
    for j, text in enumerate((f'before ({a.baseline})', 'now', 'now: class mask')):
        cv2.putText(head, text, (j * 480 + 10, 23), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2,
                    cv2.LINE_AA)
    sheet = np.concatenate([head, sheet], axis=0)
    ok, buf = cv2.imencode('.png', sheet[:, :, ::-1])
    from eunet_ros.fileio import atomic_write_bytes
    atomic_write_bytes(a.out, buf.tobytes())
    print(f'wrote {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
