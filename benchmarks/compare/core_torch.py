"""PyTorch's side of `./ds bench core`: the same GEMMs, the 64 MB add and the 1-element add, timed the same way.

Prints one JSON line: gemm_<n>_t<threads> (GFLOP/s), add_gbs, tiny_op_ns. Run by benchmarks/core_bench between
ds's rounds, never by the tests.
"""
import json
import time

import torch


def seconds(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main():
    out = {}
    max_threads = torch.get_num_threads()
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        for t in (1, 2):
            if t > max_threads:
                continue
            torch.set_num_threads(t)
            torch.mm(a, b)
            out[f"gemm_{n}_t{t}"] = 2.0 * n ** 3 / seconds(lambda: torch.mm(a, b)) / 1e9
    torch.set_num_threads(max_threads)
    x, y = torch.rand(16 << 20), torch.rand(16 << 20)
    torch.add(x, y)
    out["add_gbs"] = 3.0 * (16 << 20) * 4 / seconds(lambda: torch.add(x, y)) / 1e9
    a, b = torch.ones(1), torch.ones(1)
    reps = 200000
    with torch.no_grad():
        for _ in range(20000):
            torch.add(a, b)
        t = seconds(lambda: [torch.add(a, b) for _ in range(reps)])
    out["tiny_op_ns"] = t / reps * 1e9
    print(json.dumps(out))


if __name__ == "__main__":
    main()
