#!/usr/bin/env bash
# ./ds bench models: GPT-mini and ResNet-18 training throughput, from the repository root (so it finds
# benchmarks/compare/).
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./build/release/benchmarks/ds_bench_models "$@"
