#!/usr/bin/env bash
# The GPU check of the CUDA backend, prepared here and run on the lent GPU machine (DEVELOPERS.md, "The lent GPU"):
#   tools/scripts/device_check.sh pack    # here: build, then pack ds_cuda_tests and ds_bench_gpu into .device/
#   tools/scripts/device_check.sh run     # there (the device tool's run, carry [".device"]), from the repo root
# `run` prints the GPU, runs every `cuda` test (each kernel against the CPU; then matmul again on ds's SIMT GEMM),
# then `./ds bench gpu`'s program against PyTorch; its last line is the benchmark's JSON.
set -uo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
  pack)
    ./ds build release >/dev/null || exit 1
    ../shared/tools/device-pack build/release/tests/ds_cuda_tests build/release/benchmarks/ds_bench_gpu
    ;;
  run)
    .device/run --check
    .device/run ds_cuda_tests --durations yes; tests=$?
    DS_CUDA_GEMM=simt .device/run ds_cuda_tests "cuda matmul*"; simt=$?
    .device/run ds_bench_gpu "${@:2}"; bench=$?
    echo "device_check: cuda tests rc=$tests, SIMT matmul tests rc=$simt, bench rc=$bench"
    [ $tests -eq 0 ] && [ $simt -eq 0 ] && [ $bench -eq 0 ]
    ;;
  *) sed -n '2,6p' "$0"; exit 2 ;;
esac
