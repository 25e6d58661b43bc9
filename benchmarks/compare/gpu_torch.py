"""PyTorch's side of `./ds bench gpu` on the same GPU: GPT-2 124M training (bf16 autocast, context 1024, AdamW) in
eager mode and under torch.compile, a 4096^3 bf16 matmul (cuBLAS) and causal scaled_dot_product_attention forward +
backward at GPT-2's head shape, as benchmarks/gpu_bench.cpp times them. Prints one JSON line: eager_ms, compile_ms,
gemm_bf16_ms, attention_ms (medians, the device synchronised around each step).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from models_torch import GPT


def bench(step, steps, warmup=3):
    for _ in range(warmup):
        step()
    t = []
    for _ in range(steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        torch.cuda.synchronize()
        t.append(time.perf_counter() - t0)
    return statistics.median(t) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)
    dev = "cuda"
    out = {}
    B, T, V = args.batch, 1024, 50257
    idx = torch.randint(0, V, (B, T), device=dev)
    tgt = torch.randint(0, V, (B, T), device=dev)
    for mode in ["eager"] + ([] if args.no_compile else ["compile"]):
        model = GPT(V, T, 12, 12, 768).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=6e-4, weight_decay=0.1)
        fwd = torch.compile(model) if mode == "compile" else model

        def step():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = F.cross_entropy(fwd(idx).flatten(0, 1).float(), tgt.flatten())
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        out[mode + "_ms"] = bench(step, args.steps, warmup=3 if mode == "eager" else 5)
        del model, opt, fwd
        torch.cuda.empty_cache()
    a = torch.randn(4096, 4096, device=dev, dtype=torch.bfloat16)
    b = torch.randn(4096, 4096, device=dev, dtype=torch.bfloat16)
    out["gemm_bf16_ms"] = bench(lambda: a @ b, args.steps)
    q, k, v = (torch.randn(8, 12, T, 64, device=dev, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    out["attention_ms"] = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward(),
                                args.steps)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
