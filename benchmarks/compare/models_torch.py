"""PyTorch's side of `./ds bench models`: GPT-mini and ResNet-18, the same shapes, loss and AdamW as
benchmarks/models_bench.cpp, timed per step (forward + loss, backward, step + zero_grad). Prints one JSON line with
<model>_ms (the median step). GPT is written out as GPT-2 / nanoGPT build it (pre-LN, learned positions, tied head,
tanh GELU, F.scaled_dot_product_attention); ResNet-18 comes from train_torch.py.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from train_torch import ResNet18


class Block(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.c_attn, self.attn_proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.c_fc, self.mlp_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, ctx, layers, heads, c):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, c), nn.Embedding(ctx, c)
        self.h = nn.ModuleList(Block(c, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in self.h:
            x = b(x)
        return F.linear(self.ln_f(x), self.wte.weight)


def bench(step, steps):
    for _ in range(2):
        step()
    t = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        t.append(time.perf_counter() - t0)
    return statistics.median(t) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--only", default="")
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {}
    if args.only in ("", "gpt_mini"):
        model = GPT(8192, 256, 6, 6, 384)
        idx, tgt = torch.randint(0, 8192, (8, 256)), torch.randint(0, 8192, (8, 256))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step():
            F.cross_entropy(model(idx).flatten(0, 1), tgt.flatten()).backward()
            opt.step()
            opt.zero_grad()
        out["gpt_mini_ms"] = bench(step, args.steps)
    if args.only in ("", "resnet18"):
        model = ResNet18(10)
        x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step():
            F.cross_entropy(model(x), y).backward()
            opt.step()
            opt.zero_grad()
        out["resnet18_ms"] = bench(step, args.steps)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
