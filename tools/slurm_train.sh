#!/usr/bin/env bash
# Training on a Slurm cluster with srun, one task per GPU (or per CPU process).
#
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py options]
#
# GPUS is the total number of tasks; GPUS_PER_NODE=0 asks for no GPU at all
# (CPU training with gloo, GPUS tasks spread over the nodes Slurm gives).
# Each task exports RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT
# from Slurm's variables and runs tools/train.py with the 'pytorch' launcher,
# which initialises torch.distributed from these variables (gloo on CPU).
# PORT (default 29500) is the rendezvous port on the first node.
set -euo pipefail

if [ "$#" -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py options]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4

GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
PORT=${PORT:-29500}
source "$(dirname "${BASH_SOURCE[0]}")/_launch_env.sh"

RESOURCES=(--ntasks="$GPUS" --cpus-per-task="$CPUS_PER_TASK")
if [ "$GPUS_PER_NODE" -gt 0 ]; then
    RESOURCES+=(--gres=gpu:"$GPUS_PER_NODE" --ntasks-per-node="$GPUS_PER_NODE")
fi

# Runs once per task, on its node: derive the torch.distributed variables.
TASK='
export RANK="$SLURM_PROCID"
export WORLD_SIZE="$SLURM_NTASKS"
export LOCAL_RANK="$SLURM_LOCALID"
export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"
export MASTER_PORT="$CRBENCH_PORT"
exec "$CRBENCH_PYTHON" -u "$@"
'

# shellcheck disable=SC2086  # SRUN_ARGS is a list of options
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" CRBENCH_PORT="$PORT" CRBENCH_PYTHON="$PYTHON" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    "${RESOURCES[@]}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    bash -c "$TASK" crbench-task \
    "$ROOT/tools/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher pytorch "$@"
