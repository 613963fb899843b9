#!/usr/bin/env bash
# Fetch the wheels the GPU suite (scripts/gpu_suite.sh) needs on a GPU machine that has
# PyTorch but no network, into .whl/ (ignored by git; the suite installs them from there).
#
#   scripts/fetch_gpu_wheels.sh            # into .whl/ for CPython 3.12, manylinux x86_64
#   WHL_DIR=/tmp/w PY_VERSION=3.12 scripts/fetch_gpu_wheels.sh
#
# The target image (see the device notes) is Python 3.12 with torch, torchvision,
# numpy, opencv-python-headless, pyyaml, scipy, tensorboard, nvidia-ml-py, psutil, ...
# but no lion-pytorch, albumentations (nor its pydantic / albucore deps), no ROS.
# Starting from the roots below, every Requires-Dist (markers evaluated for that
# Python on Linux x86_64; extras only where a root asks for one) is downloaded as a
# wheel with --no-deps unless the image already has the distribution (IMAGE_HAS).
# One version per name: a later requirement the fetched version does not satisfy is
# an error. pycocotools is not fetched: nothing on the suite's path imports it
# (training.datasets imports the COCO reader lazily).
#
# ROS 2: the same index that gives this machine its Python 3.11 ROS wheels
# (PyPI, the ros-* Kilted wheels) has cp312 manylinux_2_28 wheels too; they are fetched
# so the suite can run the node benchmark over real DDS. Those wheels put their shared
# libraries in <prefix>/lib and their ament index in <prefix>/share (wheel data files).
# `pip install --target DIR` silently drops <prefix>/lib (it keeps only what it can
# move beside the packages), so the suite installs with `--prefix DIR` and sets
# PYTHONPATH, LD_LIBRARY_PATH (DIR/lib and the *.libs folders) and AMENT_PREFIX_PATH=DIR
# itself (ros-wheels-bootstrapper's .pth, which does that in a venv, is not run for a
# PYTHONPATH folder). Checked here with CPython 3.12.1: rclpy publishes and receives a
# sensor_msgs/Image over Fast DDS from such a prefix.
#
# The working tree that travels to the GPU machine must stay under 64 MiB, wheels
# included: the total size is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${WHL_DIR:-.whl}
PY_VERSION=${PY_VERSION:-3.12}
if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
elif [ -x .venv/bin/python ]; then
  PY=.venv/bin/python
else
  PY=python3
fi
mkdir -p "$DEST"
"$PY" - "$DEST" "$PY_VERSION" <<'PY'
import re
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

dest, py_version = Path(sys.argv[1]), sys.argv[2]

# What the suite imports beyond the image; pinned to what the CPU venv runs.
ROOTS = [
    'lion-pytorch==0.2.5',                 # training.train / training.throughput (Lion)
    'albumentations==2.0.8',               # training.transforms (TrainTransform)
    'ros-rclpy[fastrtps]==9.1.2',          # eunet_ros.ros.segment_node, benchmark node mode
    'ros-sensor-msgs==5.5.1',
    'ros-std-msgs==5.5.1',
    'ros-std-srvs==5.5.1',
    'ros-diagnostic-msgs==5.5.1',
]
# Distributions on the GPU image (device notes, KINDS.md, read 2026-11-17).
IMAGE_HAS = set(canonicalize_name(n) for n in '''
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs
botorch build certifi charset-normalizer chex click cloudpickle cmake colorama contourpy
coverage cuda-bindings cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython
diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools formulaic
frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize
hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin
jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities
linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl
meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind
narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti
nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile
nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py
nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime
onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix
orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker
prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments
pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich
sacrebleu safetensors scikit-build-core scikit-image scikit-learn scipy seaborn
sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server
tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio
torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton
typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt
xarray xxhash yarl zipp
'''.split())
# Declared by the ROS wheels but used only to generate message code at build time
# (rosidl/ament CMake tooling, empy templates, the IDL parser); the node runs without
# them (checked: rclpy pub/sub of sensor_msgs/Image from a --target folder on 3.12).
BUILD_ONLY = set(canonicalize_name(n) for n in '''
empy lark-parser ros-rosidl-adapter ros-rosidl-cli ros-rosidl-cmake
ros-rosidl-pycommon ros-rosidl-generator-type-description ros-ament-cmake-flake8
ros-ament-cmake-cppcheck ros-ament-cmake-cpplint ros-ament-cmake-pep257
ros-ament-cmake-uncrustify
'''.split())
PLATFORMS = ['manylinux1_x86_64', 'manylinux2010_x86_64', 'manylinux2014_x86_64'] + [
    f'manylinux_2_{n}_x86_64' for n in range(17, 40)]
ENV = {'python_version': py_version, 'python_full_version': py_version + '.0',
       'implementation_name': 'cpython', 'platform_python_implementation': 'CPython',
       'sys_platform': 'linux', 'platform_system': 'Linux', 'os_name': 'posix',
       'platform_machine': 'x86_64', 'implementation_version': py_version + '.0'}


def wanted(req, extras):
    if req.marker is None:
        return True
    for extra in sorted(extras) or ['']:
        if req.marker.evaluate(dict(ENV, extra=extra)):
            return True
    return False


def download(reqs, into):
    cmd = [sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps',
           '--only-binary=:all:', '--python-version', py_version, '--implementation', 'cp',
           '-d', str(into)]
    for p in PLATFORMS:
        cmd += ['--platform', p]
    cmd += [f'{r.name}{r.specifier}' for r in reqs]   # markers were evaluated here
    res = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    # pip warns about each file:// extra index that lacks a package: noise here
    noise = 'is ignored: it is neither a file nor a directory'
    sys.stderr.write(''.join(line for line in res.stderr.splitlines(True) if noise not in line))
    if res.returncode:
        sys.exit(f'error: pip download failed for {" ".join(cmd[-len(reqs):])}')


have = {}   # canonical name -> (version, wheel path)
for w in dest.glob('*.whl'):
    name, ver, _, _ = parse_wheel_filename(w.name)
    if name in have:
        sys.exit(f'error: {dest} holds two versions of {name}; remove one (or the folder) '
                 'and run again')
    have[name] = (ver, w)
kept = set()
queue = [(Requirement(r), 'root') for r in ROOTS]
skipped_image = {}
skipped_build = set()
while queue:
    todo = []
    for req, by in queue:
        name = canonicalize_name(req.name)
        if name in IMAGE_HAS:
            skipped_image.setdefault(name, set()).add(by)
            continue
        if name in BUILD_ONLY:
            skipped_build.add(name)
            continue
        if name in have:
            ver = have[name][0]
            if req.specifier and not req.specifier.contains(ver, prereleases=True):
                sys.exit(f'error: {by} needs {req}, but {have[name][1].name} is fetched; '
                         f'remove it from {dest} and run again')
            if name in kept and not req.extras:
                continue
        todo.append((req, by))
    fresh = [r for r, _ in todo if canonicalize_name(r.name) not in have]
    if fresh:
        with tempfile.TemporaryDirectory() as tmp:
            download(fresh, tmp)
            for w in Path(tmp).glob('*.whl'):
                name, ver, _, _ = parse_wheel_filename(w.name)
                target = dest / w.name
                w.replace(target)
                have[name] = (ver, target)
                print(f'  fetched {w.name}')
    queue = []
    for req, by in todo:
        name = canonicalize_name(req.name)
        ver, path = have[name]
        first = name not in kept
        kept.add(name)
        with zipfile.ZipFile(path) as z:
            meta_name = next(n for n in z.namelist() if re.match(r'[^/]+\.dist-info/METADATA$', n))
            meta = Parser().parsestr(z.read(meta_name).decode())
        for line in meta.get_all('Requires-Dist') or []:
            dep = Requirement(line)
            # base requirements once per package; extra-only ones for requested extras
            extra_only = dep.marker is not None and 'extra' in str(dep.marker)
            if (extra_only and wanted(dep, req.extras)) or (first and not extra_only
                                                              and wanted(dep, set())):
                queue.append((dep, f'{name}=={ver}'))
stale = sorted(set(have) - kept)
for name in stale:
    print(f'  note: {have[name][1].name} in {dest} is not needed by the roots (left alone)')
print(f'{len(kept)} wheels needed in {dest}; already on the GPU image, not fetched: '
      + ', '.join(sorted(skipped_image)))
print('build-time only, not fetched: ' + ', '.join(sorted(skipped_build)))
PY
echo "wheels in $DEST:"
du -k "$DEST"/*.whl | sort -k2 | awk '{printf "%7d KiB  %s\n", $1, $2}'
du -ch "$DEST"/*.whl | tail -1 | sed 's/total/total size of the wheels/'
