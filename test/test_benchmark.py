# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""The benchmark CLI runs, prints its table and writes JSON rows (no timing asserted)."""

import json

from eunet_ros.tools import benchmark


def test_benchmark_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    rc = benchmark.main(['--device', 'cpu', '--variants', 'fast', '--peers',
                         '--resolutions', '64x48', '96x64', '--iters', '2', '--warmup', '1',
                         '--min-time', '0', '--json', str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert 'eunet-fast' in text and 'engine FPS' in text
    data = json.loads(out.read_text())
    assert [r['resolution'] for r in data['rows']] == ['64x48', '96x64']
    for r in data['rows']:
        assert r['net_ms'] > 0 and r['engine_ms'] > 0 and r['params'] > 0
        assert r['precision'] == 'fp32' and r['device'] == 'cpu'
    assert data['environment']['torch']


def test_bad_resolution_is_refused(capsys):
    import pytest
    with pytest.raises(SystemExit):
        benchmark.main(['--resolutions', '640by480'])
    assert 'WxH' in capsys.readouterr().err
