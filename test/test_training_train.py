# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The training loop on a tiny EUnet and 32x48 toy scenes (CPU).

Learning, exact resume, early stopping, --init-from, a 2-process DDP run and a run
killed with SIGKILL that resumes to completion.
"""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from eunet_ros.core.checkpoint import load_checkpoint, save_checkpoint
from eunet_ros.core.model import EUnet, EUnetConfig
import pytest
import torch
from training.train import cli, config_differences, get_args_parser, load_matching_weights, main
from training_helpers import one_thread, write_config, write_folder_dataset  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp('toy')
    return (write_folder_dataset(base / 'train', 24, seed=1),
            write_folder_dataset(base / 'val', 7, seed=2), base)


def _run(cfg, *flags):
    return main(get_args_parser().parse_args(['--config', str(cfg), '--no-progress', *flags]))


@pytest.fixture(scope='module')
def straight(data):
    """Three epochs of 6 steps without interruption."""
    train, val, base = data
    cfg = write_config(base / 'straight.yaml', train, val, base / 'straight', epochs=3)
    return cfg, _run(cfg)


def _tensors_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_few_steps_reduce_the_loss(straight):
    _, summary = straight
    h = summary['history']
    assert summary['finished'] and summary['epochs_run'] == 3 and summary['global_step'] == 18
    assert h[-1]['train_loss'] < h[0]['train_loss']
    assert h[-1]['val_loss'] < h[0]['val_loss']
    out = Path(summary['output_dir'])
    for name in ('best.pt', 'last.pt', 'summary.json', 'config.yaml', 'train.log'):
        assert (out / name).exists(), name
    assert list((out / 'tb').glob('events.out.tfevents.*'))
    best = load_checkpoint(out / 'best.pt')
    assert best.training_state is None and best.input_size == (32, 48)
    umask = os.umask(0o022)
    os.umask(umask)
    assert (out / 'best.pt').stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    assert best.provenance['epoch'] == summary['best_epoch']
    assert best.provenance['metrics']['miou'] == pytest.approx(summary['best_miou'])
    raw = torch.load(out / 'last.pt', weights_only=True)  # everything survives weights_only
    assert raw['training_state']['progress']['epoch'] == 3
    assert json.loads((out / 'summary.json').read_text())['best_epoch'] == summary['best_epoch']


def test_resume_mid_epoch_gives_the_same_weights(straight, data):
    cfg, summary = straight
    train, val, base = data
    out = base / 'resumed'
    first = _run(cfg, '--output-dir', str(out), '--stop-after-steps', '8')
    assert not first['finished'] and first['global_step'] == 8
    ts = load_checkpoint(out / 'last.pt').training_state
    assert ts['progress']['epoch'] == 1 and ts['progress']['step_in_epoch'] == 2
    # the rest, with data-loader workers this time: augmentations do not depend on them
    second = _run(cfg, '--output-dir', str(out), '--resume', 'auto', '--workers', '2')
    assert second['finished'] and second['global_step'] == 18
    a = torch.load(Path(summary['output_dir']) / 'last.pt', weights_only=True)
    b = torch.load(out / 'last.pt', weights_only=True)
    _tensors_equal(a['state_dict'], b['state_dict'])
    sa, sb = a['training_state']['optimizer']['state'], b['training_state']['optimizer']['state']
    for k in sa:
        _tensors_equal(sa[k], sb[k])
    assert a['training_state']['scheduler'] == b['training_state']['scheduler']
    assert [r['miou'] for r in summary['history']] == [r['miou'] for r in second['history']]
    _tensors_equal(torch.load(Path(summary['output_dir']) / 'best.pt',
                              weights_only=True)['state_dict'],
                   torch.load(out / 'best.pt', weights_only=True)['state_dict'])


def test_resume_refuses_a_run_with_other_settings(straight, data, capsys):
    cfg, summary = straight
    out = summary['output_dir']
    argv = ['--config', str(cfg), '--no-progress', '--output-dir', out, '--resume', 'auto']
    before = (Path(out) / 'last.pt').read_bytes()
    # the trial run's last.pt is not trained on with a longer schedule, other data or lr
    for flags, named in ((['--epochs', '5'], 'train.epochs: 3 -> 5'),
                         (['--lr', '0.01'], 'optim.lr: '),
                         (['--set', f'data.train.0.root={data[1]}'], 'data.train: ')):
        assert cli(argv + flags) == 2
        err = capsys.readouterr().err
        assert 'belongs to a run with other settings' in err and named in err, err
        assert '--init-from' in err and 'Traceback' not in err
    assert (Path(out) / 'last.pt').read_bytes() == before
    # where and how it runs may change: workers, device, checkpointing, patience
    again = _run(cfg, '--output-dir', out, '--resume', 'auto', '--workers', '0',
                 '--device', 'cpu', '--checkpoint-every', '3', '--patience', '9')
    assert again['global_step'] == summary['global_step']


def test_config_differences_treat_keys_added_later_as_their_default():
    old = {'train': {'epochs': 3}, 'loss': {'region': 'none'}}
    new = {'train': {'epochs': 3}, 'loss': {'region': 'none', 'lovasz_max_pixels': None}}
    assert config_differences(old, new) == []
    new['loss']['lovasz_max_pixels'] = 4096
    assert config_differences(old, new) == ['loss.lovasz_max_pixels: None -> 4096']


def test_early_stopping(data):
    train, val, base = data
    cfg = write_config(base / 'early.yaml', train, val, base / 'early', epochs=50,
                       patience=2, max_steps_per_epoch=1, min_delta=0.5)
    summary = _run(cfg)
    assert summary['stopped_early'] and summary['finished']
    assert summary['epochs_run'] == 3 and summary['best_epoch'] == 1
    # resuming a stopped run does not train on
    again = _run(cfg, '--resume', 'auto')
    assert again['epochs_run'] == 3 and again['global_step'] == summary['global_step']


def test_init_from_loads_matching_weights_and_reinitialises_the_head(tmp_path, caplog):
    cfg = EUnetConfig(widths=(8, 16, 16), num_classes=2, stem='spd2', attention=False)
    torch.manual_seed(3)
    src = EUnet(cfg)
    path = save_checkpoint(tmp_path / 'coco.pt', model=src,
                           class_names=['background', 'object'])
    torch.manual_seed(4)
    dst = EUnet(EUnetConfig(widths=(8, 16, 16), num_classes=7, stem='spd2', attention=False))
    head_before = dst.head.weight.clone()
    with caplog.at_level('INFO'):
        report = load_matching_weights(dst, str(path), ['bg'] * 7)
    assert set(report['skipped']) == {'head.weight', 'head.bias'}
    assert 're-initialised' in report['skipped']['head.weight']
    assert torch.equal(dst.head.weight, head_before)
    sd_src, sd_dst = src.state_dict(), dst.state_dict()
    assert all(torch.equal(sd_src[k], sd_dst[k]) for k in report['loaded'])
    assert len(report['loaded']) == len(sd_dst) - 2
    assert 'loaded' in caplog.text and 'head.weight' in caplog.text


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT), env.get('PYTHONPATH', '')])
    env['OMP_NUM_THREADS'] = '1'
    return env


def test_two_process_ddp_on_cpu(data):
    train, val, base = data
    out = base / 'ddp'
    cfg = write_config(base / 'ddp.yaml', train, val, out, epochs=1)
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
         '-m', 'training.train', '--config', str(cfg), '--no-progress'],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / 'summary.json').read_text())
    # global batch 4 = 2 per rank: 24 samples -> 6 steps per epoch on each rank
    assert summary['global_step'] == 6
    # the validation metrics were reduced over both ranks: every pixel of the 7 images once
    assert summary['history'][0]['pixels'] == 7 * 32 * 48
    ts = load_checkpoint(out / 'last.pt').training_state
    assert ts['world_size'] == 2
    # rank 0 logs; rank 1 only warns
    assert 'INFO [rank 0] epoch 1/1' in proc.stderr
    assert not [ln for ln in proc.stderr.splitlines() if 'INFO [rank 1]' in ln]


def test_sigkill_mid_epoch_then_resume_to_completion(data):
    train, val, base = data
    many = write_folder_dataset(base / 'many', 80, seed=5)
    out = base / 'killed'
    cfg = write_config(base / 'killed.yaml', many, val, out, epochs=2, batch_size=2,
                       checkpoint_every=2)
    cmd = [sys.executable, '-m', 'training.train', '--config', str(cfg), '--no-progress']
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    seen = None
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if (out / 'last.pt').exists():
                seen = load_checkpoint(out / 'last.pt').training_state['progress']
                if seen['global_step'] >= 4:
                    break
            time.sleep(0.05)
        assert proc.poll() is None, 'the run ended before it could be killed'
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert seen is not None and 0 < seen['step_in_epoch'] < 40
    # whatever instant it died at, the checkpoint on disk is whole
    state = load_checkpoint(out / 'last.pt').training_state['progress']
    assert state['global_step'] >= seen['global_step']
    done = subprocess.run(cmd + ['--resume', 'auto'], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'resumed from' in done.stderr
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['finished'] and summary['epochs_run'] == 2 and summary['global_step'] == 80
    load_checkpoint(out / 'best.pt')
    assert not list(out.glob('.*.tmp'))


def test_bad_config_is_one_clear_line(tmp_path):
    cfg = tmp_path / 'bad.yaml'
    cfg.write_text('train:\n  epocs: 3\n')
    proc = subprocess.run([sys.executable, '-m', 'training.train', '--config', str(cfg)],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown config key 'train.epocs'" in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_help_names_only_files_that_exist():
    """The --help text points to docs and configs that are in the repository."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    text = get_args_parser().format_help()
    paths = re.findall(r'\b((?:training|docs)/[\w./-]*\w|README\.md)', text)
    assert paths, text
    assert all((root / p).exists() for p in paths), paths


def test_a_missing_init_from_file_is_named_as_the_flag(tmp_path):
    from training.utils import ConfigError
    model = EUnet(EUnetConfig(widths=(8, 16, 16), num_classes=7, stem='spd2', attention=False))
    with pytest.raises(ConfigError, match='--init-from .*missing.pt does not exist') as e:
        load_matching_weights(model, str(tmp_path / 'missing.pt'), ['bg'] * 7)
    assert 'parameter' not in str(e.value)


def test_missing_data_is_one_clear_line_and_leaves_no_run_folder(tmp_path, data):
    train, val, base = data
    out = tmp_path / 'runs' / 'new'
    cfg = write_config(tmp_path / 'c.yaml', tmp_path / 'no_such_data', val, out)
    proc = subprocess.run([sys.executable, '-m', 'training.train', '--config', str(cfg),
                           '--no-progress'], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if 'no_such_data' in ln]
    assert len(lines) == 1 and 'ERROR' in lines[0], proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not out.exists() and (tmp_path / 'runs').is_dir()
    # a folder that was there before (a run to resume, say) is left as it was
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    proc = subprocess.run([sys.executable, '-m', 'training.train', '--config', str(cfg),
                           '--no-progress'], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert (out / 'notes.txt').read_text() == 'mine'
