#!/usr/bin/env bash
# Distributed testing with torchrun, on GPUs (one process per GPU) or on CPU
# (gloo; NGPUS is then the number of processes). Metrics are gathered over all
# ranks and equal a single-process test of the same checkpoint.
#
#   tools/dist_test.sh CONFIG CHECKPOINT NGPUS [tools/test.py options]
#
# Several nodes: run the same command on every node with
#   NNODES=<number of nodes> NODE_RANK=<0..NNODES-1> MASTER_ADDR=<address of node 0> PORT=<free port>
# Defaults: NNODES=1, NODE_RANK=0, MASTER_ADDR=127.0.0.1, PORT=29500.
# PYTHON selects the interpreter (default: the repository's .venv, else python3).
set -euo pipefail

if [ "$#" -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NGPUS [tools/test.py options]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NGPUS=$3
shift 3

source "$(dirname "${BASH_SOURCE[0]}")/_launch_env.sh"
crbench_torchrun "$NGPUS" test.py "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
