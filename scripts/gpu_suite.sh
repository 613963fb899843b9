#!/usr/bin/env bash
# The GPU suite of issue 6: every speed figure of one GPU machine in one unattended run.
#
#   bash scripts/gpu_suite.sh OUTDIR               # on a fresh GPU machine (< 10 min)
#   SUITE_SMOKE=1 scripts/gpu_suite.sh /tmp/out    # CPU smoke test: tiny sizes (< 3 min)
#
# Made for a machine that has Python 3.12 with torch (CUDA), torchvision, numpy,
# OpenCV, PyYAML, nvidia-ml-py but no network and none of lion-pytorch, albumentations
# or ROS 2: fill .whl/ first with scripts/fetch_gpu_wheels.sh (on a machine with pip
# access), and carry .whl along with the repository. The suite then
#
# 1. prints nvidia-smi and the versions (also recorded in suite.json);
# 2. installs .whl/*.whl into /tmp/site when something it needs does not import
#    (pip --prefix, not --target: the ROS wheels keep their shared libraries in
#    <prefix>/lib, which --target drops) and exports PYTHONPATH, LD_LIBRARY_PATH and
#    AMENT_PREFIX_PATH for it;
# 3. runs the steps below, each under its own `timeout`, each continuing when an
#    earlier one failed, and writes into OUTDIR only two files, so they all come back
#    from a device run: suite.log (everything printed) and suite.json ({suite,
#    environment, steps: [{name, status, rc, seconds, budget_s, reason, command,
#    result}]}, where result is the step's own JSON document; rewritten after every
#    step, so a suite killed half way still leaves its results). The step's own
#    files stay in a work folder (SUITE_WORK, default a fresh /tmp folder).
#
# Steps and budgets on an H100 (timeout per step; expected wall time in brackets).
# The whole suite stops starting steps once SUITE_DEADLINE (570 s) has passed, and
# trims the last step's timeout to what is left, so it always ends inside a 10-minute
# device command:
#   install        90 s  [~15 s]  pip install of ~65 wheels, import check
#   cuda_checks    60 s  [~20 s]  pytest: CUDA-graph masks and overlays equal eager ones
#   net_graphs    120 s  [~50 s]  network+engine, 1280x720 and 640x480, fp16 and bf16,
#                                 batch 1, EUnet seed+fast and LRASPP, CUDA graphs
#   net_eager     100 s  [~50 s]  the same without graphs (network and engine): what
#                                 the engine's CUDA graphs buy
#   net_b4         75 s  [~30 s]  batch 4 (four cameras) at 1280x720, fp16 and bf16
#   render         60 s  [~10 s]  512 synthetic scenes at 640x384 for training
#   train_bf16     90 s  [~60 s]  training throughput, batch 64, bf16 AMP, 40 s timed
#   train_fp16     60 s  [~40 s]  the same with fp16 AMP, 20 s timed
#   train_bf16_wmax 50 s [~35 s]  bf16 again with nproc-2 loader workers instead of 8
#   node_1cam      75 s  [~45 s]  end to end over DDS, 1 camera 1280x720 @ 60 Hz, 30 s
#   node_4cam     170 s  [~135 s] 4 cameras 1280x720 @ 60 Hz each, 120 s
# (node last: it is the newest and the most likely to hang; the node steps are skipped
# with the reason printed when rclpy is missing)
#
# Environment: SUITE_SMOKE=1 (CPU, tiny sizes), SUITE_DEVICE (cuda; smoke: cpu),
# SUITE_PYTHON (default: python3 when it imports torch, else .venv/bin/python),
# SUITE_DEADLINE (seconds), SUITE_WORK, SUITE_SITE (/tmp/site), SUITE_TRAIN_WORKERS (8),
# SUITE_INSTALL (auto | 1 | 0).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
OUT=${1:?usage: scripts/gpu_suite.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SMOKE=${SUITE_SMOKE:-0}
WORK=${SUITE_WORK:-$(mktemp -d /tmp/gpu_suite.XXXXXX)}
mkdir -p "$WORK"
: > "$WORK/steps.tsv"
rm -f "$OUT/suite.log" "$OUT/suite.json"
exec > >(tee -a "$OUT/suite.log") 2>&1
export PYTHONUNBUFFERED=1

if [ "$SMOKE" = 1 ]; then
  DEVICE=${SUITE_DEVICE:-cpu}
  DEADLINE=${SUITE_DEADLINE:-170}
else
  DEVICE=${SUITE_DEVICE:-cuda}
  DEADLINE=${SUITE_DEADLINE:-570}
fi
if [ -n "${SUITE_PYTHON:-}" ]; then
  PY=$SUITE_PYTHON
elif python3 -c 'import torch' >/dev/null 2>&1; then
  PY=python3
elif [ -x .venv/bin/python ]; then
  PY=$ROOT/.venv/bin/python
else
  echo "error: no Python with torch found; set SUITE_PYTHON" >&2
  exit 2
fi

say() { printf '\n[suite %4ds] %s\n' "$SECONDS" "$*"; }
report() { "$PY" scripts/gpu_suite_report.py combine "$WORK" "$OUT" "$@"; }
# record NAME STATUS RC SECONDS BUDGET REASON COMMAND
record() {
  local reason=${6//$'\t'/ } cmd=${7//$'\t'/ }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${reason//$'\n'/ }" \
    "${cmd//$'\n'/ }" >> "$WORK/steps.tsv"
  report >/dev/null 2>&1 || true
}
skip() {  # skip NAME BUDGET REASON
  say "step $1: skipped ($3)"
  record "$1" skipped '' 0 "$2" "$3" ''
}
# step NAME BUDGET COMMAND...: run under timeout (trimmed to the suite deadline)
step() {
  local name=$1 budget=$2
  shift 2
  local left=$((DEADLINE - SECONDS))
  if [ "$left" -lt 15 ]; then
    skip "$name" "$budget" "suite deadline ${DEADLINE}s reached"
    return
  fi
  local limit=$budget
  [ "$limit" -gt "$left" ] && limit=$left
  local shown=${STEP_SHOW:-$*}
  say "step $name (budget ${budget}s, timeout ${limit}s): $shown"
  local t0=$SECONDS rc status reason=''
  timeout --kill-after=10 "$limit" "$@"
  rc=$?
  case $rc in
    0) status=ok ;;
    124 | 137) status=timeout; reason="no result within ${limit}s" ;;
    *) status=failed; reason="exit code $rc (see suite.log)" ;;
  esac
  say "step $name: $status after $((SECONDS - t0))s"
  record "$name" "$status" "$rc" "$((SECONDS - t0))" "$budget" "$reason" "$shown"
}

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$COMMIT" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  COMMIT="$COMMIT+dirty"
fi
export SUITE_COMMIT=$COMMIT
"$PY" - "$WORK/suite_meta.json" "$SMOKE" "$DEVICE" "$DEADLINE" "$COMMIT" <<'PY'
import datetime, json, socket, sys
path, smoke, device, deadline, commit = sys.argv[1:]
json.dump({'started': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
           'host': socket.gethostname(), 'smoke': smoke == '1', 'device': device,
           'deadline_s': int(deadline), 'commit': commit}, open(path, 'w'), indent=1)
PY
say "eunet_ros GPU suite: commit $COMMIT, device $DEVICE, smoke $SMOKE, out $OUT, work $WORK"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit \
    --format=csv
else
  echo "no nvidia-smi on this machine"
fi
echo "python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))  cpus: $(nproc)"
free -g 2>/dev/null | head -2
df -h /dev/shm 2>/dev/null | tail -1

# ---- install the carried wheels where needed ------------------------------------------
SITE=${SUITE_SITE:-/tmp/site}
NEEDED='import lion_pytorch, albumentations, rclpy, sensor_msgs.msg'
INSTALL=${SUITE_INSTALL:-auto}
if [ "$INSTALL" = auto ]; then
  if "$PY" -c "$NEEDED" >/dev/null 2>&1; then INSTALL=0; else INSTALL=1; fi
fi
if [ "$INSTALL" = 1 ]; then
  if compgen -G '.whl/*.whl' >/dev/null; then
    WHEELS=(.whl/*.whl)
    STEP_SHOW="$PY -m pip install --no-index --no-deps --prefix $SITE .whl/*.whl (${#WHEELS[@]} wheels)" \
      step install 90 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --upgrade --prefix "$SITE" "${WHEELS[@]}"
    SP=$(find "$SITE" -maxdepth 6 -type d -name lion_pytorch 2>/dev/null | head -1)
    SP=${SP%/lion_pytorch}
    if [ -n "$SP" ]; then
      export PYTHONPATH="$SP:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
      LIBS=$(find "$SITE" -maxdepth 6 -name librcl.so -printf '%h\n' 2>/dev/null | head -1)
      for d in "$SP"/*.libs; do [ -d "$d" ] && LIBS="$LIBS${LIBS:+:}$d"; done
      export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      export AMENT_PREFIX_PATH="$SITE${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
      echo "PYTHONPATH=$PYTHONPATH"
      echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    fi
  else
    skip install 90 "needed packages do not import and .whl/ holds no wheels (run scripts/fetch_gpu_wheels.sh)"
  fi
else
  skip install 90 "everything needed imports already"
fi
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$((RANDOM % 80 + 20))}
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
say "versions"
"$PY" scripts/gpu_suite_report.py env "$WORK/environment.json" || echo "(environment record failed)"
report >/dev/null 2>&1 || true

# ---- sizes per mode ----------------------------------------------------------------------
if [ "$SMOKE" = 1 ]; then
  NET_COMMON=(--device "$DEVICE" --variants fast --peers lraspp_mobilenet_v3_large
              --warmup 1 --iters 2 --min-time 0 --max-time 5)
  NET_RES=(128x96 96x64); NET_PREC=(fp32); NET_B4_RES=(128x96)
  RENDER=(--count 16 --width 96 --height 64 --workers 1)
  TRAIN_COMMON=(--device "$DEVICE" --input-size 64 96 --batch-size 8 --warmup-steps 2
                --workers 1)
  NODE_COMMON=(--device "$DEVICE" --resolution 160x120 --warmup 1)
  NODE_1=(--cameras 1 --rate 10 --duration 3); NODE_4=(--cameras 4 --rate 5 --duration 4)
else
  NET_COMMON=(--device "$DEVICE" --variants seed fast --peers lraspp_mobilenet_v3_large
              --warmup 3 --iters 5 --min-time 2 --max-time 20)
  NET_RES=(1280x720 640x480); NET_PREC=(fp16 bf16); NET_B4_RES=(1280x720)
  WMAX=$(($(nproc) > 2 ? $(nproc) - 2 : 1))
  RENDER=(--count 512 --width 640 --height 384 --workers "$WMAX")
  TRAIN_COMMON=(--device "$DEVICE" --batch-size 64 --warmup-steps 15
                --workers "${SUITE_TRAIN_WORKERS:-8}")
  NODE_COMMON=(--device "$DEVICE" --resolution 1280x720 --warmup 3)
  NODE_1=(--cameras 1 --rate 60 --duration 30); NODE_4=(--cameras 4 --rate 60 --duration 120)
fi

# ---- 0) correctness on the GPU first: CUDA-graph replay gives the eager masks ----------
if [ "$SMOKE" = 1 ]; then
  skip cuda_checks 60 "the CUDA tests need a GPU (they are skipped on the CPU)"
else
  step cuda_checks 60 "$PY" -m pytest -q -p no:cacheprovider test/test_engine.py -k cuda
fi

# ---- a) the network (and engine) against the torchvision peer --------------------------
step net_graphs 120 "$PY" -m eunet_ros.benchmark "${NET_COMMON[@]}" --resolutions "${NET_RES[@]}" \
  --precisions "${NET_PREC[@]}" --batch 1 --cuda-graphs --json "$WORK/net_graphs.json"
step net_eager 100 "$PY" -m eunet_ros.benchmark "${NET_COMMON[@]}" --resolutions "${NET_RES[@]}" \
  --precisions "${NET_PREC[@]}" --batch 1 --json "$WORK/net_eager.json"
step net_b4 75 "$PY" -m eunet_ros.benchmark "${NET_COMMON[@]}" --resolutions "${NET_B4_RES[@]}" \
  --precisions "${NET_PREC[@]}" --batch 4 --cuda-graphs --json "$WORK/net_b4.json"

# ---- c) training throughput --------------------------------------------------------------
step render 60 "$PY" -m training.synthetic --out "$WORK/synthetic" --seed 7 --quiet "${RENDER[@]}"
if [ -d "$WORK/synthetic/images" ]; then
  DATA=(--data "$WORK/synthetic")
else
  DATA=()   # training.throughput renders its own set
fi
if [ "$SMOKE" = 1 ]; then
  step train_fp32 90 "$PY" -m training.throughput "${TRAIN_COMMON[@]}" "${DATA[@]}" \
    --amp none --duration 5 --json "$WORK/train_fp32.json"
  skip train_bf16 90 "AMP trains on CUDA only (the smoke run trains in fp32 once)"
  skip train_fp16 60 "AMP trains on CUDA only (the smoke run trains in fp32 once)"
else
  step train_bf16 90 "$PY" -m training.throughput "${TRAIN_COMMON[@]}" "${DATA[@]}" \
    --amp bf16 --duration 40 --json "$WORK/train_bf16.json"
  step train_fp16 60 "$PY" -m training.throughput "${TRAIN_COMMON[@]}" "${DATA[@]}" \
    --amp fp16 --duration 20 --json "$WORK/train_fp16.json"
  # the recipe's 8 loader workers against all but two cores: is loading the limit?
  step train_bf16_wmax 50 "$PY" -m training.throughput "${TRAIN_COMMON[@]}" "${DATA[@]}" \
    --workers "$WMAX" --amp bf16 --duration 20 --json "$WORK/train_bf16_wmax.json"
fi

# ---- b) the node end to end over DDS -----------------------------------------------------
NODE_WHY=''
if ! "$PY" -c 'import rclpy, sensor_msgs.msg' >/dev/null 2>&1; then
  NODE_WHY="rclpy does not import: $("$PY" -c 'import rclpy, sensor_msgs.msg' 2>&1 | tail -1)"
fi
if [ -z "$NODE_WHY" ]; then
  step node_1cam 75 "$PY" -m eunet_ros.benchmark node "${NODE_COMMON[@]}" "${NODE_1[@]}" \
    --json "$WORK/node_1cam.json"
  step node_4cam 170 "$PY" -m eunet_ros.benchmark node "${NODE_COMMON[@]}" "${NODE_4[@]}" \
    --json "$WORK/node_4cam.json"
else
  skip node_1cam 75 "$NODE_WHY"
  skip node_4cam 170 "$NODE_WHY"
fi

# ---- summary -----------------------------------------------------------------------------
"$PY" - "$WORK/suite_meta.json" "$SECONDS" <<'PY'
import datetime, json, sys
meta = json.load(open(sys.argv[1]))
meta['finished'] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
meta['wall_s'] = int(sys.argv[2])
json.dump(meta, open(sys.argv[1], 'w'), indent=1)
PY
say "summary (suite.json and suite.log in $OUT; step files in $WORK)"
report --summary
FAILED=$(awk -F'\t' '$2 == "failed" || $2 == "timeout" {print $1}' "$WORK/steps.tsv" | xargs)
if [ -n "$FAILED" ]; then
  say "done in ${SECONDS}s; failed or timed out: $FAILED"
  exit 1
fi
say "done in ${SECONDS}s; every step that ran passed"
