"""PyTorch's side of `./ds bench compile`: the same five training steps (forward, cross-entropy, backward, AdamW
step, zero_grad), eager and under torch.compile (default mode), timed the same way. Prints one JSON line with
<case>_eager_ms and <case>_compile_ms (medians over the timed steps; compile's warm-up steps, which compile, are
not timed). A case torch.compile cannot run reports no _compile_ms. Run by benchmarks/compile_bench between ds's
rounds, never by the tests.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from models_torch import GPT
from train_torch import ResNet18, lenet5, mlp


def mlp8():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def timed(step, warmup, steps):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def make_step(model, x, y, loss_fn, compiled):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def train_step():
        loss = loss_fn(model, x, y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    return torch.compile(train_step) if compiled else train_step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--only", default="")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ce = lambda m, x, y: F.cross_entropy(m(x), y)
    gpt_loss = lambda m, x, y: F.cross_entropy(m(x).flatten(0, 1), y.flatten())
    cases = (
        ("mlp8", mlp8, lambda: (torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))), ce, 50),
        ("mlp128", mlp, lambda: (torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))), ce, 20),
        ("lenet", lenet5, lambda: (torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))), ce, 20),
        ("resnet18", ResNet18, lambda: (torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))), ce, 5),
        ("gpt_mini", lambda: GPT(8192, 256, 6, 6, 384),
         lambda: (torch.randint(0, 8192, (8, 256)), torch.randint(0, 8192, (8, 256))), gpt_loss, 3),
    )
    out = {}
    for name, make, data, loss_fn, steps in cases:
        if args.only and name not in args.only.split(","):
            continue
        x, y = data()
        out[f"{name}_eager_ms"] = timed(make_step(make(), x, y, loss_fn, False), 2, steps)
        if args.no_compile:
            continue
        try:
            out[f"{name}_compile_ms"] = timed(make_step(make(), x, y, loss_fn, True), 3, steps)
        except Exception as e:  # no C++ compiler for inductor, an unsupported op, ...
            print(f"torch.compile failed on {name}: {e}", flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
