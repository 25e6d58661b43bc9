#!/usr/bin/env bash
# ./ds bench core: runs the core benchmark from the repository root (so it finds benchmarks/compare/).
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./build/release/benchmarks/ds_bench_core "$@"
