# Shared by the launch scripts (tools/dist_train.sh, tools/dist_test.sh, tools/slurm_train.sh);
# sourced, not run:
#   source "$(dirname "${BASH_SOURCE[0]}")/_launch_env.sh"
# Sets ROOT (the repository) and PYTHON (if unset: the repository's .venv, else python3), and
# defines crbench_torchrun NGPUS TOOL [TOOL ARGS...], which checks NGPUS and replaces the
# shell with torchrun running tools/TOOL in NGPUS processes per node. torchrun reads
# NNODES (default 1), NODE_RANK (0), MASTER_ADDR (127.0.0.1) and PORT (29500).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

crbench_torchrun() {
    local ngpus=$1 tool=$2
    shift 2
    case "$ngpus" in
        ''|*[!0-9]*|0) echo "$0: NGPUS must be a positive integer, got '$ngpus'" >&2; exit 2 ;;
    esac
    PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
    exec "$PYTHON" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --master_port="${PORT:-29500}" \
        --nproc_per_node="$ngpus" \
        "$ROOT/tools/$tool" "$@"
}
