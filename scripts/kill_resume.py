# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
SIGKILL a short training run at random points, resume each time, compare with a clean run.

Issue 14, training faults: "SIGKILL at 20 random points of a short run, each followed
by ``--resume auto``: the final weights are bit-identical to an uninterrupted run on
the CPU". The run is the shipped recipe (``training/configs/synthetic_fs.yaml``:
copy-paste, Lovasz, EMA, augmentation) on a small synthetic set rendered here, with a
small EUnet and ``last.pt`` written after every step, so that kills land before,
during and after checkpoint writes alike::

    python scripts/kill_resume.py --kills 20 --json runs/kill_resume.json

It trains once without interruption, then starts the same run again and SIGKILLs
it ``--kills`` times, once at each of that many random distinct steps (a random part
of a step's time after last.pt shows that step), each restart with ``--resume auto``,
then lets it finish. It
prints where each kill landed (the step in last.pt after it) and compares every
tensor of the final model and EMA weights and of the optimizer state. Exit status 0
when all are bit-identical, 1 when one differs, 2 on a setup error.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _train_cmd(cfg_data: Dict[str, Path], out: Path, args: argparse.Namespace) -> List[str]:
    return [sys.executable, '-m', 'training.train', '--config',
            str(ROOT / 'training' / 'configs' / 'synthetic_fs.yaml'),
            '--output-dir', str(out), '--variant', 'fast', '--input-size', '96', '160',
            '--epochs', str(args.epochs), '--batch-size', '4', '--lr', '4e-4',
            '--workers', '0', '--device', 'cpu', '--no-progress',
            '--set', f"data.train.0.root={cfg_data['train']}",
            '--set', f"data.val.0.root={cfg_data['val']}",
            '--set', 'train.checkpoint_every=1', '--set', 'train.log_every=1000']


def _render(out: Path, count: int, seed: int) -> Path:
    subprocess.run([sys.executable, '-m', 'training.synthetic', '--out', str(out),
                    '--count', str(count), '--seed', str(seed), '--width', '160',
                    '--height', '96', '--min-cone-px', '4', '--quiet'],
                   cwd=ROOT, check=True)
    return out


def _step(path: Path) -> Optional[int]:
    from eunet_ros.core.checkpoint import CheckpointError, load_checkpoint
    try:
        return int(load_checkpoint(path).training_state['progress']['global_step'])
    except (CheckpointError, FileNotFoundError, KeyError, TypeError):
        return None


def _compare(a: Path, b: Path) -> List[str]:
    """Return the names of the tensors that differ between two checkpoints' states."""
    import torch
    ca = torch.load(a, map_location='cpu', weights_only=False)
    cb = torch.load(b, map_location='cpu', weights_only=False)
    differ: List[str] = []

    def walk(x: Any, y: Any, name: str) -> None:
        if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
            if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
                    and x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y)):
                differ.append(name)
        elif isinstance(x, dict) and isinstance(y, dict):
            if set(x) != set(y):
                differ.append(name + ' (keys)')
            for k in set(x) & set(y):
                walk(x[k], y[k], f'{name}.{k}')
        elif isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
            if len(x) != len(y):
                differ.append(name + ' (length)')
            for i, (p, q) in enumerate(zip(x, y)):
                walk(p, q, f'{name}[{i}]')

    for key in ('state_dict', 'training_state'):
        walk(ca.get(key), cb.get(key), key)
    return differ


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the experiment; print the kill points and the verdict."""
    p = argparse.ArgumentParser('python scripts/kill_resume.py',
                                description=__doc__.split('\n\n')[0].strip())
    p.add_argument('--kills', type=int, default=20)
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--train-count', type=int, default=48)
    p.add_argument('--seed', type=int, default=0, help='seed of the kill delays')
    p.add_argument('--work', help='keep the runs here (default: a temporary folder)')
    p.add_argument('--json', help='write the kill points and the verdict here')
    args = p.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix='kill_resume_'))
    work.mkdir(parents=True, exist_ok=True)
    data = {'train': _render(work / 'train', args.train_count, 11),
            'val': _render(work / 'val', 8, 12)}
    clean, killed = work / 'clean', work / 'killed'
    for d in (clean, killed):
        shutil.rmtree(d, ignore_errors=True)
    t0 = time.monotonic()
    subprocess.run(_train_cmd(data, clean, args), cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    total = _step(clean / 'last.pt')
    print(f'clean run: {total} steps in {wall:.1f} s')
    rng = random.Random(args.seed)
    # each kill point: a random step (distinct, sorted), then a random part of a step's
    # time, so that kills land in the forward/backward pass and while last.pt is written
    targets = sorted(rng.sample(range(1, total), min(args.kills, total - 1)))
    step_s = wall / max(total, 1)
    kills: List[Dict[str, Any]] = []
    cmd = _train_cmd(data, killed, args) + ['--resume', 'auto']
    for i, target in enumerate(targets):
        before = _step(killed / 'last.pt')
        extra = rng.uniform(0.0, 1.5 * step_s)
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        seen, mtime = before, None
        while proc.poll() is None and (seen is None or seen < target):
            time.sleep(0.02)
            try:
                m = (killed / 'last.pt').stat().st_mtime_ns
            except FileNotFoundError:
                continue
            if m != mtime:
                mtime, seen = m, _step(killed / 'last.pt')
        time.sleep(extra)
        finished = proc.poll() is not None
        if not finished:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = _step(killed / 'last.pt')
        kills.append({'kill': i + 1, 'target_step': target, 'extra_s': round(extra, 3),
                      'step_before': before, 'step_after': after,
                      'finished_before_kill': finished})
        print(f'kill {i + 1:2d}: at step {target} + {extra:.2f} s, last.pt step {before} '
              f'-> {after}' + (' (the run had finished)' if finished else ''))
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return 2
    differ = _compare(clean / 'last.pt', killed / 'last.pt')
    best = _compare(clean / 'best.pt', killed / 'best.pt')
    ok = not differ and not best
    for name, d in (('last.pt', differ), ('best.pt', best)):
        print(f'final {name}: ' + ('bit-identical' if not d else 'DIFFERS: ' + ', '.join(d[:10])))
    if args.json:
        from eunet_ros.fileio import atomic_write_json
        atomic_write_json(args.json, {'clean_steps': total, 'clean_wall_s': round(wall, 1),
                                      'kills': kills, 'last_identical': not differ,
                                      'best_identical': not best, 'differ': differ + best})
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
