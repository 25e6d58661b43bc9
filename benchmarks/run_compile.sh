#!/usr/bin/env bash
# ./ds bench compile: eager vs ds::compile training steps (and PyTorch eager / torch.compile when importable), from
# the repository root (so it finds benchmarks/compare/).
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./build/release/benchmarks/ds_bench_compile "$@"
