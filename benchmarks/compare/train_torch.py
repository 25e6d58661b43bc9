"""PyTorch's side of `./ds bench train`: the same three models, batches, loss and AdamW, timed the same way.

One training step = forward + cross-entropy (fwd), backward (bwd), optimizer.step() + zero_grad() (optim). Prints
one JSON line with <model>_ms, <model>_fwd_ms, <model>_bwd_ms, <model>_optim_ms (medians over the timed steps).
Run by benchmarks/train_bench between ds's rounds, never by the tests. ResNet-18 is written out here (torchvision's
architecture) so that torchvision is not needed.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inp != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet18(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, inp = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers.append(nn.Sequential(BasicBlock(inp, planes, stride), BasicBlock(planes, planes, 1)))
            inp = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 10))


def lenet5():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def bench(model, shape, steps):
    x, y = torch.randn(*shape), torch.randint(0, 10, (shape[0],))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    fwd, bwd, opt_t, total = [], [], [], []
    for i in range(steps + 2):  # two warm-up steps
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad()
        t3 = time.perf_counter()
        if i >= 2:
            fwd.append(t1 - t0), bwd.append(t2 - t1), opt_t.append(t3 - t2), total.append(t3 - t0)
    ms = lambda v: statistics.median(v) * 1e3
    return ms(total), ms(fwd), ms(bwd), ms(opt_t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = (("mlp", mlp, (128, 1, 28, 28), 20), ("lenet", lenet5, (64, 1, 28, 28), 20),
             ("resnet18", ResNet18, (32, 3, 32, 32), 5))
    out = {}
    for name, make, shape, steps in cases:
        if args.only and args.only != name:
            continue
        total, f, b, o = bench(make(), shape, steps)
        out.update({f"{name}_ms": total, f"{name}_fwd_ms": f, f"{name}_bwd_ms": b, f"{name}_optim_ms": o})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
