#!/usr/bin/env bash
# ./ds bench gpu: GPT-2 124M, GEMM and attention on the GPU against PyTorch eager and torch.compile, from the
# repository root (so it finds benchmarks/compare/). On the lent GPU machine, run the packed program instead:
# tools/scripts/device_check.sh says how.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./build/release/benchmarks/ds_bench_gpu "$@"
