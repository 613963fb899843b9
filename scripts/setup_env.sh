#!/usr/bin/env bash
# Creates (or reuses) the Python environment that `make test` / `make demo` use.
#
# * With a system ROS 2 sourced (ROS_DISTRO set): a venv on the system Python with
#   --system-site-packages, so rclpy, message packages and colcon come from ROS;
#   torch and the other pip requirements are installed into it.
# * Without ROS: a venv on Python 3.11 with ROS 2 from the PyPI wheels
#   (requirements-ros-pypi.txt) and a CPU build of torch.
#
# Idempotent: a stamp records a hash of the inputs; a second run is a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

inputs_hash() {
  cat requirements*.txt scripts/setup_env.sh | sha256sum | cut -d' ' -f1
  echo "ros=${ROS_DISTRO:-none} torch=${TORCH_SPEC:-default}"
}
want=$(inputs_hash)
if [ -f "$VENV/.setup-stamp" ] && [ "$(cat "$VENV/.setup-stamp")" = "$want" ]; then
  exit 0
fi

if [ -n "${ROS_DISTRO:-}" ]; then
  echo "[setup] ROS 2 ${ROS_DISTRO} is sourced: venv with system site packages"
  PY=${PYTHON:-python3}
  [ -d "$VENV" ] || "$PY" -m venv --system-site-packages "$VENV"
  TORCH_SPEC=${TORCH_SPEC:-torch}
  ROS_REQ=()
else
  echo "[setup] no ROS sourced: venv with ROS 2 from PyPI wheels (Python 3.11)"
  PY=${PYTHON:-}
  if [ -z "$PY" ]; then
    for c in python3.11 python3; do
      if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        PY=$c; break
      fi
    done
  fi
  if [ -z "$PY" ]; then
    echo "[setup] error: the ROS 2 PyPI wheels need Python 3.11; install python3.11 (or source a ROS 2 install) and run again" >&2
    exit 1
  fi
  [ -d "$VENV" ] || "$PY" -m venv "$VENV"
  # A CPU build: a plain `torch` would pull several GB of CUDA libraries.
  TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
  ROS_REQ=(-r requirements-ros-pypi.txt)
fi
# colcon must never crawl into the venv
touch "$VENV/COLCON_IGNORE"
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install -q --upgrade pip >/dev/null 2>&1 || true
# torch first, alone, so the resolver does not pick a CUDA build for us
"${PIP[@]}" install -q "$TORCH_SPEC"
"${PIP[@]}" install -q "${ROS_REQ[@]}" -r requirements-training.txt -r requirements-dev.txt \
  "$TORCH_SPEC" 'setuptools<80'
"$VENV/bin/python" - <<'PY'
import importlib, sys
missing = []
for m in ('torch', 'numpy', 'cv2', 'yaml', 'rclpy', 'sensor_msgs.msg', 'diagnostic_msgs.msg',
          'std_srvs.srv', 'pycocotools', 'albumentations', 'lion_pytorch', 'onnxruntime',
          'ament_flake8', 'ament_pep257', 'rosbags', 'mcap', 'tqdm', 'hypothesis', 'matplotlib'):
    try:
        importlib.import_module(m)
    except Exception as e:  # report every missing piece at once
        missing.append(f'{m}: {e}')
if missing:
    sys.exit('[setup] error: these imports fail after installing:\n  ' + '\n  '.join(missing))
PY
echo "$want" > "$VENV/.setup-stamp"
echo "[setup] environment ready in $VENV"
