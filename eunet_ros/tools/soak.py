# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Soak test: segment_node under camera load for a long time, sampled every second.

``python -m eunet_ros.tools.soak [options]`` starts segment_node and one camera
publisher process per camera exactly as the node benchmark does (it reuses
:class:`eunet_ros.tools.bench_node.NodeRun`: the node in a process and namespace
of its own, best-effort bgr8 frames stamped with the wall clock, a probe here that
subscribes to the masks and to /diagnostics). From the moment every camera has had
a mask (t = 0), every second it samples:

* from ``/proc/<node pid>/``: RSS (MiB), CPU (% of one core over that second),
  threads and open file descriptors;
* the masks that arrived in that second: their latency (arrival - camera stamp)
  p50 and p99, and the running count per camera;
* the node's own counters from /diagnostics: frames received and dropped;
* after the run, from the stamps the publishers kept: the frames stamped in that
  second and how many of them never got a mask (``lost``).

``--duration`` counts from t = 0 and includes ``--warmup``. The verdict
(:func:`verdict`, a pure function of the samples) fails the soak when

* RSS grows: the median of the last 3 samples is more than ``--max-rss-growth``
  (5 %) above the median of the first 3 after the warm-up;
* latency grows: the median of the per-second p50s over the last quarter after
  the warm-up is more than ``--max-latency-growth`` (20 %) and 1 ms above that of
  the first quarter;
* a counter stops: the masks of a camera, or the frames the node received from
  it, do not increase for more than ``--max-stall`` (5) seconds while the cameras
  publish (a camera publisher that exits ends the soak with an error).

Output: ``--json`` (every sample, the summary and the verdict) and ``--plot``
(a PNG: RSS and latency over time, the warm-up shaded), both written atomically.
Exit status: 0 every check passed; 1 a check failed (one line per failed check);
2 bad input or a run that could not finish (a checkpoint the node cannot load, the
node dying mid-soak, an unwritable output path): one line saying what and what to
do, and no output files. Example (docs/reliability.md)::

    python -m eunet_ros.tools.soak --cameras 4 --rate 60 --resolution 640x480 --duration 1800
"""

from __future__ import annotations

import argparse
import io
import math
import os
from pathlib import Path
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from eunet_ros.argtypes import at_least
from eunet_ros.fileio import atomic_write_bytes, atomic_write_json
from eunet_ros.ros.stats import percentiles
from eunet_ros.tools import bench_node
from eunet_ros.tools.bench_node import BadInput, BenchError
import numpy as np

__all__ = ['get_args_parser', 'main', 'run', 'verdict', 'summarise_samples', 'plot',
           'ProcSampler', 'SoakError']

NS = 1_000_000_000
EDGE_SAMPLES = 3  # samples whose median is the RSS level right after the warm-up, and at the end


class SoakError(BadInput):
    """The soak could not run or finish (exit status 2); the message says what to do."""


# --------------------------------------------------------------------------- options
def get_args_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of ``python -m eunet_ros.tools.soak``."""
    p = argparse.ArgumentParser(
        prog='python -m eunet_ros.tools.soak',
        description='Soak test: camera publisher processes -> segment_node (its own '
                    'process) -> mask subscriber over DDS for --duration seconds; samples '
                    'the node RSS, CPU, threads, fds, mask latency and drops every second; '
                    'fails (status 1) when RSS or latency grows or a counter stops.',
        formatter_class=bench_node.HelpFormatter)
    bench_node.add_node_options(p)
    p.add_argument('--duration', type=at_least(0, float, inclusive=False), default=1800.0,
                   metavar='S',
                   help='seconds of the soak, from the node being ready (a mask from every '
                        'camera), warm-up included')
    p.add_argument('--warmup', type=at_least(0, float), default=60.0, metavar='S',
                   help='the first seconds, sampled but not judged; the RSS and latency '
                        'after it are the baseline')
    p.add_argument('--max-rss-growth', type=at_least(0, float), default=5.0, metavar='PCT',
                   help='fail when the RSS at the end is more than this %% above the RSS '
                        'right after the warm-up')
    p.add_argument('--max-latency-growth', type=at_least(0, float), default=20.0,
                   metavar='PCT',
                   help='fail when the p50 latency of the last quarter is more than this %% '
                        '(and 1 ms) above that of the first quarter after the warm-up')
    p.add_argument('--max-stall', type=at_least(0, float, inclusive=False), default=5.0,
                   metavar='S',
                   help='fail when a counter (masks of a camera, frames the node received '
                        'from it) does not move for longer than this')
    p.add_argument('--json', default='runs/soak.json', metavar='PATH',
                   help='JSON written at the end: every sample, the summary and the verdict')
    p.add_argument('--plot', default='runs/soak.png', metavar='PATH',
                   help="PNG of RSS and latency over time ('' : none)")
    return p


# --------------------------------------------------------------------------- main
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the soak; print the summary; return 0 (passed), 1 (a check failed) or 2 (error)."""
    args = get_args_parser().parse_args(argv)
    try:
        result = run(args)
    except KeyboardInterrupt:
        print('soak interrupted: every process it started is stopped; nothing written',
              file=sys.stderr)
        return 130
    except (BenchError, OSError) as e:
        first, _, rest = str(e).partition('\n')
        print(f'error: {first}', file=sys.stderr)
        if rest:
            print(rest, file=sys.stderr)
        return 2
    print(format_summary(result), flush=True)
    print(f'\nwrote {args.json}' + (f' and {args.plot}' if args.plot else ''))
    failed = [c for c in result['verdict']['checks'] if not c['passed']]
    for c in failed:
        print(f'soak FAILED: {c["message"]}', file=sys.stderr)
    if result['summary']['node_exit_code'] != 0:
        print('soak FAILED: segment_node did not stop cleanly on Ctrl-C (exit status '
              f'{result["summary"]["node_exit_code"]})', file=sys.stderr)
        return 1
    return 1 if failed else 0


def _check_output(option: str, path: str) -> None:
    """Refuse an output path that cannot be written now, before a long soak."""
    p = Path(path)
    if p.is_dir():
        raise SoakError(f'{option} {path} is a folder: give a file path')
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{p.name}.', suffix='.probe', dir=p.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise SoakError(f'{option} {path} cannot be written ({e.strerror or e}): give a path '
                        'in a writable folder') from None


def _check_plotting() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise SoakError(f'--plot needs matplotlib ({e}): pip install -r requirements-dev.txt, '
                        "or give --plot ''") from None


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """
    Check the options, soak, judge, write the JSON and the plot.

    :returns: the JSON document (``environment``, ``args``, ``samples``, ``summary``,
        ``verdict``).
    :raises BadInput: an option, a file or the environment does not allow the soak.
    :raises BenchError: a process died or no mask came.
    """
    judged = args.duration - args.warmup
    if judged < 4.0:
        raise SoakError(f'--duration {args.duration:g} s leaves {judged:g} s after --warmup '
                        f'{args.warmup:g} s; at least 4 s are needed to compare the first and '
                        'last quarters: give a longer --duration or a shorter --warmup')
    device, _ = bench_node.check_node_options(args)
    if not args.json:
        raise SoakError('--json is empty: give the path of the JSON to write')
    _check_output('--json', args.json)
    if args.plot:
        _check_output('--plot', args.plot)
        _check_plotting()
    bench_node.check_ros('the soak')
    env = bench_node.environment_info(device)
    with tempfile.TemporaryDirectory(prefix='eunet_soak_') as tmp:
        logs = Path(args.log_dir) if args.log_dir else Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        checkpoint = bench_node.resolve_checkpoint(args, Path(tmp))
        samples, extra = _soak(args, checkpoint, logs)
    w, h = args.resolution
    thresholds = {'warmup_s': args.warmup, 'max_rss_growth_pct': args.max_rss_growth,
                  'max_latency_growth_pct': args.max_latency_growth,
                  'max_stall_s': args.max_stall}
    summary = summarise_samples(samples, args.warmup)
    summary.update(extra)
    summary.update({'cameras': args.cameras, 'rate_hz': args.rate, 'resolution': f'{w}x{h}',
                    'checkpoint': None if args.variant else str(checkpoint),
                    'variant': args.variant})
    doc = {'tool': 'soak', 'environment': env,
           'args': {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()},
           'thresholds': thresholds, 'summary': summary,
           'verdict': verdict(samples, **thresholds), 'samples': samples}
    if args.plot:  # the plot first: the JSON appears only when everything is written
        atomic_write_bytes(args.plot, plot(samples, args.warmup, title=_title(doc),
                                           rss_limit_pct=args.max_rss_growth), durable=False)
    atomic_write_json(args.json, doc, durable=False)
    return doc


def _title(doc: Dict[str, Any]) -> str:
    s = doc['summary']
    v = 'PASSED' if doc['verdict']['passed'] else 'FAILED'
    return (f'segment_node soak: {s["cameras"]} camera(s) x {s["rate_hz"]:g} Hz '
            f'{s["resolution"]}, {s["device"]}, {s["duration_s"]:.0f} s - {v}')


# --------------------------------------------------------------------------- sampling
class ProcSampler:
    """
    Resource use of one process from ``/proc/<pid>/`` (Linux; no psutil).

    :meth:`sample` returns RSS (MiB), CPU (% of one core since the previous call),
    threads and open file descriptors.
    """

    def __init__(self, pid: int, proc: str = '/proc') -> None:
        self.pid = pid
        self.root = Path(proc) / str(pid)
        self._tick = os.sysconf('SC_CLK_TCK')
        self._cpu, self._t = self._cpu_s(), time.monotonic()

    def _cpu_s(self) -> float:
        # /proc/<pid>/stat: the command may hold spaces and parentheses; fields after the
        # last ')' start at field 3 (state), so utime and stime (14 and 15) are [11] and [12]
        fields = (self.root / 'stat').read_text().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self._tick

    def sample(self) -> Dict[str, Any]:
        """Return ``rss_mib``, ``cpu_pct``, ``threads`` and ``fds`` now (raises OSError)."""
        status = {}
        for line in (self.root / 'status').read_text().splitlines():
            k, _, v = line.partition(':')
            status[k] = v.strip()
        cpu, t = self._cpu_s(), time.monotonic()
        pct = 100.0 * (cpu - self._cpu) / max(t - self._t, 1e-6)
        self._cpu, self._t = cpu, t
        return {'rss_mib': round(int(status['VmRSS'].split()[0]) / 1024.0, 2),
                'cpu_pct': round(pct, 1), 'threads': int(status['Threads']),
                'fds': len(os.listdir(self.root / 'fd'))}


def _soak(args: argparse.Namespace, checkpoint: Path,
          logs: Path) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """Start everything, sample every second for --duration, stop; return (samples, extra)."""
    run = bench_node.NodeRun(args, checkpoint, logs)  # rclpy.init; SIGTERM: KeyboardInterrupt
    samples: List[Dict[str, Any]] = []
    edges: List[Tuple[int, int]] = []  # wall clock (ns) of each sample's second
    try:
        run.start_node()
        run.start_probe()
        run.start_cameras()
        try:
            run.wait_until_ready(announce=False)
        except BenchError as e:
            rc = run.node.proc.poll()
            if rc is None:  # no mask in time, or a camera publisher died
                raise SoakError(str(e)) from None
            raise SoakError(f'segment_node exited with status {rc} before its first mask, with '
                            f'checkpoint {checkpoint}: check that --checkpoint is an eunet_ros '
                            'checkpoint the node can load (the end of its log is below)\n'
                            f'{run.node.tail()}') from None
        print(f'# segment_node ready after {run.startup_s:.1f} s; soaking {args.duration:g} s '
              f'(warm-up {args.warmup:g} s), a sample every second', flush=True)
        _sample_loop(run, args, samples, edges)
        got = run.stop_and_collect(edges[0][0], edges[-1][1])
    finally:
        run.close()
    _add_sent_and_lost(samples, edges, got['sent'], got['masks'])
    return samples, {'startup_s': round(run.startup_s, 2), 'node_exit_code':
                     got['node_exit_code'], 'device': got['engine'].get('device'),
                     'model': got['engine'].get('model'),
                     'input_size': got['engine'].get('input_size'),
                     'backend': got['engine'].get('backend')}


def _died(run: Any, t_s: float) -> SoakError:
    rc = run.node.proc.poll()
    return SoakError(f'segment_node died {t_s:.0f} s into the soak (exit status {rc}); the '
                     'soak is void and nothing was written: see the segment_node log below '
                     '(--log-dir keeps it)\n' + run.node.tail())


def _sample_loop(run: Any, args: argparse.Namespace, samples: List[Dict[str, Any]],
                 edges: List[Tuple[int, int]]) -> None:
    """Take one sample a second from the node being ready until --duration has passed."""
    probe, cams = run.probe, run.cams
    try:
        proc = ProcSampler(run.node.proc.pid)
    except OSError:
        raise _died(run, 0.0) from None
    read = dict.fromkeys(cams, 0)  # masks of each camera already counted
    n_diag = 0
    node_rx: Dict[str, int] = {}
    node_drop: Dict[str, int] = {}
    prev_drop = 0
    t_prev = run.t_ready
    n = max(1, int(math.ceil(args.duration - 1e-9)))
    for k in range(1, n + 1):
        tick = run.t_ready + k * NS
        while time.time_ns() < tick:
            if run.node.proc.poll() is not None:
                raise _died(run, (time.time_ns() - run.t_ready) / NS)
            try:
                run.check_alive()  # a camera publisher that exits ends the soak
            except BenchError as e:
                raise SoakError(f'{str(e).splitlines()[0]} during the soak; nothing was '
                                'written (--log-dir keeps the logs)') from None
            time.sleep(min(0.05, max(0.0, (tick - time.time_ns()) / NS)))
        now = time.time_ns()
        try:
            s = proc.sample()
        except (OSError, KeyError, ValueError, IndexError):
            raise _died(run, (now - run.t_ready) / NS) from None
        lat: List[float] = []
        totals = {}
        for c in cams:
            got = probe.masks[c]
            m = len(got)
            lat.extend((t - st) / 1e6 for st, t in got[read[c]:m])
            read[c] = m
            totals[c] = m
        counters = probe.counters
        m = len(counters)
        for _, c, rx, dr in counters[n_diag:m]:
            node_rx[c], node_drop[c] = rx, dr
        n_diag = m
        p50, p99 = percentiles(lat, (50.0, 99.0))
        drop_total = sum(node_drop.values())
        t_s = round((now - run.t_ready) / NS, 3)
        s.update({
            't_s': t_s, 'warmup': t_s <= args.warmup,  # as verdict() splits them
            'latency_ms_p50': _num(p50), 'latency_ms_p99': _num(p99), 'masks': len(lat),
            'masks_total': sum(totals.values()), 'masks_total_by_camera': totals,
            'node_received_total_by_camera': dict(node_rx),
            'node_dropped_total': drop_total, 'node_dropped': drop_total - prev_drop})
        prev_drop = drop_total
        samples.append(s)
        edges.append((t_prev, now))
        t_prev = now
        if k % 60 == 0:
            print(f'# {t_s:.0f} of {args.duration:g} s: RSS {s["rss_mib"]:.0f} MiB, latency '
                  f'p50 {_fmt(s["latency_ms_p50"])} ms', flush=True)


def _add_sent_and_lost(samples: List[Dict[str, Any]], edges: Sequence[Tuple[int, int]],
                       sent: Dict[str, np.ndarray],
                       masks: Dict[str, Sequence[Tuple[int, int]]]) -> None:
    """Per sample: frames stamped in its second (``sent``) and those never masked (``lost``)."""
    stamps = np.sort(np.concatenate([np.asarray(v, np.int64) for v in sent.values()])) \
        if sent else np.zeros(0, np.int64)
    masked = np.array(sorted({st for c in masks for st, _ in masks[c]}), np.int64)
    for s, (a, b) in zip(samples, edges):
        inside = stamps[(stamps >= a) & (stamps < b)]
        s['sent'] = int(inside.size)
        s['lost'] = int(inside.size - np.isin(inside, masked).sum())


def _num(v: float) -> Optional[float]:
    return round(v, 3) if math.isfinite(v) else None


def _fmt(v: Any, spec: str = '.1f') -> str:
    return '-' if v is None else format(v, spec)


# --------------------------------------------------------------------------- judging
def _judged(samples: Sequence[Dict[str, Any]], warmup_s: float) -> List[Dict[str, Any]]:
    return [s for s in samples if s['t_s'] > warmup_s]


def _median(values: Sequence[Optional[float]]) -> Optional[float]:
    v = [x for x in values if x is not None]
    return float(np.median(v)) if v else None


def _quarters(judged: Sequence[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]],
                                                         List[Dict[str, Any]]]:
    """Return the samples of the first and the last quarter (by time) of ``judged``."""
    if not judged:
        return [], []
    t0, t1 = judged[0]['t_s'], judged[-1]['t_s']
    q = (t1 - t0) / 4.0
    first = [s for s in judged if s['t_s'] <= t0 + q]
    last = [s for s in judged if s['t_s'] >= t1 - q]
    return first, last


def _counters(samples: Sequence[Dict[str, Any]]) -> Dict[str, List[Tuple[float, int]]]:
    """Return every counter that must keep moving: name -> [(t_s, value)]."""
    out: Dict[str, List[Tuple[float, int]]] = {}
    for s in samples:
        for key, what in (('masks_total_by_camera', 'masks received from {}'),
                          ('node_received_total_by_camera', 'frames the node received from {}')):
            for cam, v in (s.get(key) or {}).items():
                out.setdefault(what.format(cam), []).append((s['t_s'], v))
    return out


def verdict(samples: Sequence[Dict[str, Any]], *, warmup_s: float,
            max_rss_growth_pct: float = 5.0, max_latency_growth_pct: float = 20.0,
            max_stall_s: float = 5.0) -> Dict[str, Any]:
    """
    Judge a soak from its samples (a pure function: no clock, no files).

    :param samples: one dict a second, in order, with ``t_s`` (seconds since the node
        was ready), ``rss_mib``, ``latency_ms_p50`` (None for a second without masks) and
        the running counters ``masks_total_by_camera`` and, where the node reported them,
        ``node_received_total_by_camera`` (camera -> count).
    :param warmup_s: samples at or before it are not judged; the first
        :data:`EDGE_SAMPLES` after it are the RSS baseline.
    :returns: ``passed`` and ``checks``: one dict per check (``rss_growth``,
        ``latency_growth``, ``counters_move``) with ``passed``, ``message`` and its
        figures.
    """
    judged = _judged(samples, warmup_s)
    checks = []
    # RSS: the median of the first and of the last few samples, so one odd reading does
    # not decide
    base = _median([s['rss_mib'] for s in judged[:EDGE_SAMPLES]])
    end = _median([s['rss_mib'] for s in judged[-EDGE_SAMPLES:]])
    if base is None or end is None or len(judged) < 2:
        checks.append({'name': 'rss_growth', 'passed': False, 'rss_mib_after_warmup': base,
                       'rss_mib_end': end, 'growth_pct': None,
                       'message': f'RSS cannot be judged: {len(judged)} sample(s) after the '
                                  f'{warmup_s:g} s warm-up (need 2 or more)'})
    else:
        growth = 100.0 * (end - base) / base
        ok = growth <= max_rss_growth_pct
        checks.append({
            'name': 'rss_growth', 'passed': ok, 'rss_mib_after_warmup': round(base, 2),
            'rss_mib_end': round(end, 2), 'growth_pct': round(growth, 2),
            'message': f'RSS {"grew" if growth > 0 else "changed"} {growth:+.1f} % after the '
                       f'warm-up ({base:.1f} -> {end:.1f} MiB; limit +{max_rss_growth_pct:g} '
                       '%)'})
    first, last = _quarters(judged)
    f50 = _median([s.get('latency_ms_p50') for s in first])
    l50 = _median([s.get('latency_ms_p50') for s in last])
    if f50 is None or l50 is None:
        checks.append({'name': 'latency_growth', 'passed': False,
                       'latency_ms_p50_first_quarter': f50, 'latency_ms_p50_last_quarter': l50,
                       'growth_pct': None,
                       'message': 'latency cannot be judged: no mask arrived in the first or '
                                  'the last quarter after the warm-up'})
    else:
        growth = 100.0 * (l50 - f50) / f50 if f50 > 0 else math.inf
        ok = not (growth > max_latency_growth_pct and l50 - f50 > 1.0)
        checks.append({
            'name': 'latency_growth', 'passed': ok,
            'latency_ms_p50_first_quarter': round(f50, 3),
            'latency_ms_p50_last_quarter': round(l50, 3),
            'growth_pct': round(growth, 2) if math.isfinite(growth) else None,
            'message': f'latency p50 {"grew" if l50 > f50 else "changed"} '
                       f'{growth:+.1f} % from the first to the last quarter after the warm-up '
                       f'({f50:.1f} -> {l50:.1f} ms; limit +{max_latency_growth_pct:g} % '
                       'and 1 ms)'})
    stalls = []
    worst = 0.0
    for name, series in sorted(_counters(samples).items()):
        since_t, since_v = series[0]
        for t, v in series[1:]:
            if v > since_v:
                since_t, since_v = t, v
            elif t - since_t > max_stall_s:
                stalls.append((name, since_t, t))
            worst = max(worst, t - since_t)
    if not _counters(samples):
        checks.append({'name': 'counters_move', 'passed': False, 'longest_stall_s': None,
                       'message': 'no counter was sampled (no masks_total_by_camera)'})
    elif stalls:
        spans: Dict[Tuple[str, float], float] = {}
        for name, t0, t in stalls:  # one line per stop: its start and how long it lasted
            spans[(name, t0)] = max(spans.get((name, t0), t), t)
        what = '; '.join(f'{name} stopped at {t0:.0f} s for {t - t0:.0f} s'
                         for (name, t0), t in sorted(spans.items(), key=lambda x: x[0][1]))
        checks.append({'name': 'counters_move', 'passed': False,
                       'longest_stall_s': round(worst, 2),
                       'message': f'a counter stopped moving for more than {max_stall_s:g} s '
                                  f'while the cameras published: {what}'})
    else:
        checks.append({'name': 'counters_move', 'passed': True,
                       'longest_stall_s': round(worst, 2),
                       'message': f'every counter moved (longest pause {worst:.0f} s; limit '
                                  f'{max_stall_s:g} s)'})
    return {'passed': all(c['passed'] for c in checks), 'checks': checks}


def summarise_samples(samples: Sequence[Dict[str, Any]], warmup_s: float) -> Dict[str, Any]:
    """Figures over the samples after the warm-up (min, mean, max), for the JSON and the table."""
    judged = _judged(samples, warmup_s)

    def stats(key: str) -> Dict[str, Optional[float]]:
        v = [s[key] for s in judged if s.get(key) is not None]
        if not v:
            return {'min': None, 'mean': None, 'max': None}
        return {'min': min(v), 'mean': round(float(np.mean(v)), 2), 'max': max(v)}
    sent = sum(s.get('sent', 0) for s in judged)
    lost = sum(s.get('lost', 0) for s in judged)
    return {
        'duration_s': samples[-1]['t_s'] if samples else 0.0, 'warmup_s': warmup_s,
        'samples': len(samples), 'samples_judged': len(judged),
        'rss_mib': stats('rss_mib'), 'cpu_pct': stats('cpu_pct'),
        'threads': stats('threads'), 'fds': stats('fds'),
        'latency_ms_p50': stats('latency_ms_p50'), 'latency_ms_p99': stats('latency_ms_p99'),
        'sent': sent, 'lost': lost,
        'lost_pct': round(100.0 * lost / sent, 3) if sent else None,
        'node_dropped': sum(s.get('node_dropped', 0) for s in judged)}


def format_summary(doc: Dict[str, Any]) -> str:
    """Render the summary and the verdict as a few lines of text."""
    s = doc['summary']

    def mmm(key: str, spec: str = '.1f') -> str:
        v = s[key]
        return f'{_fmt(v["min"], spec)} / {_fmt(v["mean"], spec)} / {_fmt(v["max"], spec)}'
    lines = [
        f'soak: {s["cameras"]} camera(s) x {s["rate_hz"]:g} Hz {s["resolution"]}, device '
        f'{s["device"]}, model {s["model"]}, {s["duration_s"]:.0f} s ({s["samples"]} samples; '
        f'warm-up {s["warmup_s"]:g} s; ready after {s["startup_s"]:.1f} s)',
        'after the warm-up (min / mean / max):',
        f'  RSS MiB        {mmm("rss_mib")}',
        f'  CPU % (1 core) {mmm("cpu_pct")}',
        f'  threads        {mmm("threads", ".0f")}',
        f'  open fds       {mmm("fds", ".0f")}',
        f'  latency p50 ms {mmm("latency_ms_p50")}',
        f'  latency p99 ms {mmm("latency_ms_p99")}',
        f'  frames sent {s["sent"]}, never masked {s["lost"]} ({_fmt(s["lost_pct"], ".2f")} %), '
        f'dropped by the node {s["node_dropped"]}',
        'checks:']
    for c in doc['verdict']['checks']:
        lines.append(f'  {"ok  " if c["passed"] else "FAIL"} {c["name"]}: {c["message"]}')
    lines.append(f'verdict: {"PASSED" if doc["verdict"]["passed"] else "FAILED"}')
    return '\n'.join(lines)


# --------------------------------------------------------------------------- plot
def plot(samples: Sequence[Dict[str, Any]], warmup_s: float, title: str = '',
         rss_limit_pct: float = 5.0) -> bytes:
    """Return a PNG: RSS (top) and latency p50/p99 (bottom) over time, the warm-up shaded."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib.figure import Figure
    t = [s['t_s'] for s in samples]
    fig = Figure(figsize=(10, 6.5), dpi=100)
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(t, [s['rss_mib'] for s in samples], color='tab:blue', lw=1.2, label='RSS')
    judged = _judged(samples, warmup_s)
    base = _median([s['rss_mib'] for s in judged[:EDGE_SAMPLES]])
    if base is not None:
        top.axhline(base * (1.0 + rss_limit_pct / 100.0), color='tab:red', ls=':', lw=1,
                    label=f'limit: +{rss_limit_pct:g} % of the RSS after the warm-up')
    top.set_ylabel('node RSS (MiB)')
    nan = float('nan')
    bottom.plot(t, [nan if s['latency_ms_p50'] is None else s['latency_ms_p50']
                    for s in samples], color='tab:green', lw=1.2, label='p50')
    bottom.plot(t, [nan if s['latency_ms_p99'] is None else s['latency_ms_p99']
                    for s in samples], color='tab:orange', lw=1, label='p99')
    bottom.set_ylabel('mask latency per second (ms)')
    bottom.set_xlabel('time since the node was ready (s)')
    for ax in (top, bottom):
        if warmup_s > 0:
            ax.axvspan(0, warmup_s, color='0.85', label='warm-up (not judged)')
        ax.grid(True, alpha=0.3)
        ax.legend(loc='best', fontsize=8)
        ax.set_xlim(0, max(t) if t else 1)
    bottom.set_ylim(bottom=0)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png')
    return buf.getvalue()


if __name__ == '__main__':
    sys.exit(main())
