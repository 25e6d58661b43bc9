#!/usr/bin/env bash
# ./ds bench train: runs the training-step benchmark from the repository root (so it finds benchmarks/compare/).
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./build/release/benchmarks/ds_bench_train "$@"
