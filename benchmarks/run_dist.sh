#!/usr/bin/env bash
# ./ds bench dist: data-parallel GPT-mini and ResNet-18 on 1, 2 and 4 ranks (cores / ranks threads each) with none,
# fp16 and int8 gradient reduction; the table and a JSON line at the end (benchmarks/dist_bench.cpp says what each
# column means). Extra arguments go to every run (--steps S, --only gpt_mini|resnet18).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/release/benchmarks/ds_bench_dist
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "ds bench dist: $(nproc) cores; ranks 1, 2, 4 under ./ds launch"
for n in 1 2 4; do ./tools/scripts/launch.sh -n "$n" -- "$bin" --emit "$out/ranks$n.txt" "$@"; done
"$bin" --summarize "$out/ranks1.txt" "$out/ranks2.txt" "$out/ranks4.txt"
