#!/usr/bin/env bash
# ./ds launch -n N [--threads T] [-- ] COMMAND [ARGS...]: runs N copies of COMMAND under OpenMPI's mpirun with what
# this machine needs: allowed as root, oversubscription (more ranks than cores), no core binding, T CPU threads
# per rank (default: cores / N, at least 1), idle ranks that yield their core, and shared memory without the
# single-copy mechanism that containers forbid. Extra mpirun options can go in DS_MPIRUN_ARGS.
set -euo pipefail
usage() { echo "usage: ./ds launch -n N [--threads T] -- COMMAND [ARGS...]" >&2; exit 2; }
n="" threads=""
while [ $# -gt 0 ]; do
  case "$1" in
    -n|-np|--nproc) [ $# -ge 2 ] || usage; n=$2; shift 2 ;;
    --threads) [ $# -ge 2 ] || usage; threads=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "ds launch: unknown option '$1'" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || usage
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "ds launch: -n needs a positive number of ranks, got '${n}'" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "ds launch: mpirun not found; ./ds setup installs openmpi-bin" >&2; exit 2; }
cores=$(nproc)
if [ -z "$threads" ]; then threads=$(( cores / n )); [ "$threads" -ge 1 ] || threads=1; fi
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || { echo "ds launch: --threads needs a positive number, got '${threads}'" >&2; exit 2; }
args=(-n "$n" --oversubscribe --bind-to none
      --mca mpi_yield_when_idle 1 --mca btl_vader_single_copy_mechanism none
      -x OMP_NUM_THREADS="$threads" -x OMP_WAIT_POLICY=PASSIVE)
[ "$(id -u)" -eq 0 ] && args+=(--allow-run-as-root)
# shellcheck disable=SC2206
[ -n "${DS_MPIRUN_ARGS:-}" ] && args+=(${DS_MPIRUN_ARGS})
exec mpirun "${args[@]}" "$@"
